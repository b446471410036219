import { multiaddr } from '@multiformats/multiaddr'
import durationMs from 'parse-duration'
import type { Profile, RelayServiceLimits, Role } from '../constants.ts'
import {
  DEFAULT_API_ADDRS,
  DEFAULT_DELEGATED_ROUTERS,
  DEFAULT_LISTEN_ADDRS,
  DEFAULT_ROLE,
  PUBLIC_BOOTSTRAP_PEERS,
  PUBLIC_DHT_PREFIX,
  RELAY_MAX_DURATION_LIMIT_MS
} from '../constants.ts'
import { RepoError } from '../errors.ts'
import { delegatedRouterUrlProblem } from '../libp2p/discovery/delegated-url.ts'
import { parseNoAnnounce } from '../libp2p/peer/multiaddr.ts'

/**
 * The repo's `config` file: Kubo's field names where Kubo has the field, our own
 * under `Kit`. Written once by `init`, read on every start.
 */
export interface KitConfig {
  Identity: {
    /** the peer id, base58btc */
    PeerID: string
    /** the libp2p private key, protobuf, base64 (as in Kubo) */
    PrivKey: string
  }
  Kit: {
    Role: Role
    Profile: Profile
  }
  Addresses: {
    /** swarm listen multiaddrs */
    Swarm: string[]
    /** HTTP RPC API and gateway multiaddr */
    API: string
    /** addresses to announce instead of the listen addresses (empty: announce what we listen on) */
    Announce: string[]
    /** addresses to announce besides the listen addresses */
    AppendAnnounce: string[]
    /** addresses never announced: multiaddrs, and `/ip4/<ip>/ipcidr/<bits>` ranges */
    NoAnnounce: string[]
  }
  /** multiaddrs of peers dialled on start */
  Bootstrap: string[]
  Discovery: {
    MDNS: { Enabled: boolean }
  }
  Routing: {
    /** kad-dht protocol prefix: `/ipfs` joins the public Amino DHT, anything else is a private swarm */
    DHTProtocolPrefix: string
    /**
     * HTTP delegated routers (IPFS HTTP Routing v1 base URLs, http or https) asked for
     * providers next to the DHT; on the `local` profile, loopback URLs only
     */
    DelegatedRouters: string[]
  }
  Swarm: {
    /** circuit relay v2 client: dial through relays, and take a reservation on one (`public`) */
    RelayClient: { Enabled: boolean }
    /**
     * circuit relay v2 server; a field absent: the role decides (RELAY_SERVICE_LIMITS[role];
     * `Enabled`: on for masters), so a node that changes role changes these too
     */
    RelayService: {
      Enabled?: boolean
      /** bytes one relayed connection may carry; 0: no limit */
      ConnectionDataLimit?: number
      /**
       * how long one relayed connection may stay open: a Go duration (`"2m"`, `"1h30m"`, `"0s"`)
       * as Kubo writes it, or a number of ms; 0: no limit
       */
      ConnectionDurationLimit?: string | number
      /** reservations held at once */
      MaxReservations?: number
    }
    /** DCUtR: upgrade relayed connections to direct ones */
    EnableHolePunching: boolean
    /** true: no UPnP port mapping (the default); false: map ports on the gateway (`public` only) */
    DisableNatPortMap: boolean
  }
  AutoNAT: {
    /** AutoNAT v2: ask peers to verify our addresses, and verify theirs */
    ServiceMode: AutoNATServiceMode
  }
}

/** `AutoNAT.ServiceMode`: Kubo's values; `disabled` turns AutoNAT off altogether. */
export type AutoNATServiceMode = 'enabled' | 'disabled'

/** The `Swarm` section of a config that has none (or lacks a field). */
export function defaultSwarmConfig(): KitConfig['Swarm'] {
  return {
    RelayClient: { Enabled: true },
    RelayService: {},
    EnableHolePunching: true,
    DisableNatPortMap: true
  }
}

/** The parts of a config that `init` takes from its caller. */
export interface ConfigInit {
  role?: Role
  profile?: Profile
}

/** A fresh config for a profile (identity filled in by the caller). */
export function defaultConfig(
  identity: KitConfig['Identity'],
  init: { role?: Role | undefined; profile: Profile }
): KitConfig {
  const local = init.profile === 'local'
  return {
    Identity: identity,
    Kit: { Role: init.role ?? DEFAULT_ROLE, Profile: init.profile },
    Addresses: {
      Swarm: [...DEFAULT_LISTEN_ADDRS[init.profile]],
      API: DEFAULT_API_ADDRS[init.profile],
      Announce: [],
      AppendAnnounce: [],
      NoAnnounce: []
    },
    Bootstrap: local ? [] : [...PUBLIC_BOOTSTRAP_PEERS],
    Discovery: { MDNS: { Enabled: !local } },
    Routing: {
      DHTProtocolPrefix: PUBLIC_DHT_PREFIX,
      DelegatedRouters: [...DEFAULT_DELEGATED_ROUTERS[init.profile]]
    },
    Swarm: defaultSwarmConfig(),
    AutoNAT: { ServiceMode: 'enabled' }
  }
}

const ROLES_ALLOWED: ReadonlySet<string> = new Set(['master', 'worker', 'leecher'])
const PROFILES_ALLOWED: ReadonlySet<string> = new Set(['public', 'local'])

type JsonObject = Record<string, unknown>

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Parse and check a config file's text; every problem is a {@link RepoError} that names the
 * file, and a config that parses has every field of the type the node relies on (absent
 * optional fields are filled with their defaults; a field of the wrong type is an error, never
 * a silent default).
 */
export function parseConfig(text: string, file: string): KitConfig {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new RepoError(
      `the config file ${file} is not valid JSON (${(err as Error).message}); fix or restore it, it is never reset silently`,
      { cause: err }
    )
  }
  const fail = (what: string): never => {
    throw new RepoError(`the config file ${file} is invalid: ${what}`)
  }
  const multiaddrs = (value: unknown, what: string): string[] => {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      return fail(`${what} must be a list of multiaddrs`)
    }
    for (const addr of value) {
      try {
        multiaddr(addr).toString()
      } catch {
        fail(`${what}: "${addr}" is not a multiaddr`)
      }
    }
    return value
  }
  if (!isObject(raw)) return fail('not a JSON object')
  const { Identity, Kit, Addresses, Discovery, Routing } = raw
  if (!isObject(Identity) || typeof Identity.PeerID !== 'string' || typeof Identity.PrivKey !== 'string') {
    return fail('Identity.PeerID and Identity.PrivKey are required')
  }
  if (!isObject(Kit) || typeof Kit.Role !== 'string' || !ROLES_ALLOWED.has(Kit.Role)) {
    return fail('Kit.Role must be master, worker or leecher')
  }
  if (typeof Kit.Profile !== 'string' || !PROFILES_ALLOWED.has(Kit.Profile)) {
    return fail('Kit.Profile must be public or local')
  }
  const profile = Kit.Profile as Profile
  if (!isObject(Addresses)) return fail('Addresses.Swarm must be a list of multiaddrs')
  multiaddrs(Addresses.Swarm, 'Addresses.Swarm')
  Addresses.Announce = Addresses.Announce == null ? [] : multiaddrs(Addresses.Announce, 'Addresses.Announce')
  Addresses.AppendAnnounce =
    Addresses.AppendAnnounce == null ? [] : multiaddrs(Addresses.AppendAnnounce, 'Addresses.AppendAnnounce')
  Addresses.NoAnnounce =
    Addresses.NoAnnounce == null ? [] : multiaddrs(Addresses.NoAnnounce, 'Addresses.NoAnnounce')
  try {
    parseNoAnnounce(Addresses.NoAnnounce as string[])
  } catch (err) {
    fail(`Addresses.NoAnnounce: ${(err as Error).message}`)
  }
  if (Addresses.API == null) Addresses.API = DEFAULT_API_ADDRS[profile]
  else multiaddrs([Addresses.API], 'Addresses.API')
  multiaddrs(raw.Bootstrap, 'Bootstrap')
  if (Discovery == null) raw.Discovery = { MDNS: { Enabled: profile !== 'local' } }
  else if (!isObject(Discovery) || !isObject(Discovery.MDNS) || typeof Discovery.MDNS.Enabled !== 'boolean') {
    return fail('Discovery.MDNS.Enabled must be true or false')
  }
  if (Routing == null) raw.Routing = { DHTProtocolPrefix: PUBLIC_DHT_PREFIX }
  else if (!isObject(Routing) || typeof Routing.DHTProtocolPrefix !== 'string') {
    return fail('Routing.DHTProtocolPrefix must be a text such as /ipfs')
  }
  const routing = raw.Routing as JsonObject
  if (routing.DelegatedRouters == null) routing.DelegatedRouters = [...DEFAULT_DELEGATED_ROUTERS[profile]]
  else {
    const routers = routing.DelegatedRouters
    if (!Array.isArray(routers) || !routers.every((v) => typeof v === 'string')) {
      return fail('Routing.DelegatedRouters must be a list of http or https URLs')
    }
    for (const url of routers) {
      const problem = delegatedRouterUrlProblem(url, { loopbackOnly: profile === 'local' })
      if (problem != null) fail(`Routing.DelegatedRouters: ${problem}`)
    }
  }
  raw.Swarm = parseSwarm(raw.Swarm, fail)
  raw.AutoNAT = parseAutoNAT(raw.AutoNAT, fail)
  return raw as unknown as KitConfig
}

/** `Swarm`, with defaults for what is absent; a field of the wrong type fails. */
function parseSwarm(value: unknown, fail: (what: string) => never): KitConfig['Swarm'] {
  const swarm = defaultSwarmConfig()
  if (value == null) return swarm
  if (!isObject(value)) return fail('Swarm must be an object')
  const enabled = (section: 'RelayClient' | 'RelayService'): boolean | undefined => {
    const v = value[section]
    if (v == null) return swarm[section].Enabled
    if (!isObject(v) || (v.Enabled != null && typeof v.Enabled !== 'boolean')) {
      return fail(`Swarm.${section}.Enabled must be true or false`)
    }
    return v.Enabled ?? swarm[section].Enabled
  }
  const relayService = enabled('RelayService')
  const flag = (name: 'EnableHolePunching' | 'DisableNatPortMap'): boolean => {
    const v = value[name]
    if (v == null) return swarm[name]
    if (typeof v !== 'boolean') return fail(`Swarm.${name} must be true or false`)
    return v
  }
  // the relay's limits: absent or null, the role's; given, checked
  const service = isObject(value.RelayService) ? value.RelayService : {}
  for (const name of ['ConnectionDataLimit', 'MaxReservations'] as const) {
    const v = service[name]
    if (v != null && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
      return fail(`Swarm.RelayService.${name} must be a whole number (0 or more), not ${JSON.stringify(v)}`)
    }
  }
  const duration = service.ConnectionDurationLimit
  if (duration != null && durationLimitMs(duration) == null) {
    return fail(
      `Swarm.RelayService.ConnectionDurationLimit must be a duration such as "2m" or "0s", or a number of ms up to ${RELAY_MAX_DURATION_LIMIT_MS}, not ${JSON.stringify(duration)}`
    )
  }
  return {
    ...value,
    RelayClient: { ...(value.RelayClient as object), Enabled: enabled('RelayClient') ?? true },
    // Enabled: null (Kubo's "default") is the same as absent
    RelayService:
      relayService == null
        ? withoutEnabled(value.RelayService)
        : { ...(value.RelayService as object), Enabled: relayService },
    EnableHolePunching: flag('EnableHolePunching'),
    DisableNatPortMap: flag('DisableNatPortMap')
  }
}

/** A Go duration (`"2m"`, `"1h30m"`, `"500ms"`, `"0"`), as Kubo's config takes it. */
const GO_DURATION = /^(0|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/

/**
 * `Swarm.RelayService.ConnectionDurationLimit` in ms: a Go duration or a number of ms, whole and
 * from 0 (no limit) to RELAY_MAX_DURATION_LIMIT_MS; undefined for anything else.
 */
export function durationLimitMs(value: unknown): number | undefined {
  const ms =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && GO_DURATION.test(value)
        ? value === '0'
          ? 0
          : durationMs(value)
        : undefined
  if (ms == null || !Number.isInteger(ms) || ms < 0 || ms > RELAY_MAX_DURATION_LIMIT_MS) return undefined
  return ms
}

/**
 * What the config's `Swarm.RelayService` grants, as the peer takes it (the config was parsed):
 * a field absent (undefined here) is the role's.
 */
export function relayServiceLimitsOf(config: KitConfig): Partial<RelayServiceLimits> {
  const service = config.Swarm.RelayService
  return {
    dataLimitBytes: service.ConnectionDataLimit ?? undefined,
    durationLimitMs: durationLimitMs(service.ConnectionDurationLimit),
    maxReservations: service.MaxReservations ?? undefined
  }
}

/** A section without its `Enabled` field (absent or null: the default applies). */
function withoutEnabled(section: unknown): Record<string, unknown> {
  if (!isObject(section)) return {}
  const { Enabled: _default, ...rest } = section
  return rest
}

/** `AutoNAT`, `{ ServiceMode: 'enabled' }` when absent. */
function parseAutoNAT(value: unknown, fail: (what: string) => never): KitConfig['AutoNAT'] {
  if (value == null) return { ServiceMode: 'enabled' }
  if (!isObject(value)) return fail('AutoNAT must be an object')
  const mode = value.ServiceMode ?? 'enabled'
  if (mode !== 'enabled' && mode !== 'disabled') {
    return fail(`AutoNAT.ServiceMode must be "enabled" or "disabled", not ${JSON.stringify(mode)}`)
  }
  return { ...value, ServiceMode: mode }
}
