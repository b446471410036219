import type { Profile, Role } from '../constants.ts'
import {
  DEFAULT_API_ADDRS,
  DEFAULT_LISTEN_ADDRS,
  DEFAULT_ROLE,
  PUBLIC_BOOTSTRAP_PEERS,
  PUBLIC_DHT_PREFIX
} from '../constants.ts'
import { RepoError } from '../errors.ts'

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
  }
  /** multiaddrs of peers dialled on start */
  Bootstrap: string[]
  Discovery: {
    MDNS: { Enabled: boolean }
  }
  Routing: {
    /** kad-dht protocol prefix: `/ipfs` joins the public Amino DHT, anything else is a private swarm */
    DHTProtocolPrefix: string
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
      Announce: []
    },
    Bootstrap: local ? [] : [...PUBLIC_BOOTSTRAP_PEERS],
    Discovery: { MDNS: { Enabled: !local } },
    Routing: { DHTProtocolPrefix: PUBLIC_DHT_PREFIX }
  }
}

const ROLES_ALLOWED = new Set(['master', 'worker', 'leecher'])
const PROFILES_ALLOWED = new Set(['public', 'local'])

/** Parse and check a config file's text; every problem names the file. */
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
  if (typeof raw !== 'object' || raw == null) fail('not a JSON object')
  const c = raw as Partial<KitConfig>
  if (typeof c.Identity?.PeerID !== 'string' || typeof c.Identity?.PrivKey !== 'string')
    fail('Identity.PeerID and Identity.PrivKey are required')
  if (!ROLES_ALLOWED.has(String(c.Kit?.Role))) fail(`Kit.Role must be master, worker or leecher`)
  if (!PROFILES_ALLOWED.has(String(c.Kit?.Profile))) fail(`Kit.Profile must be public or local`)
  if (!Array.isArray(c.Addresses?.Swarm)) fail('Addresses.Swarm must be a list of multiaddrs')
  if (!Array.isArray(c.Bootstrap)) fail('Bootstrap must be a list of multiaddrs')
  const config = c as KitConfig
  config.Addresses.Announce ??= []
  config.Addresses.API ??= DEFAULT_API_ADDRS[config.Kit.Profile]
  config.Discovery ??= { MDNS: { Enabled: config.Kit.Profile !== 'local' } }
  config.Routing ??= { DHTProtocolPrefix: PUBLIC_DHT_PREFIX }
  return config
}
