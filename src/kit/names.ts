/**
 * IPNS names (`ipfs name publish|resolve`, `ipfs resolve`, `ipfs routing get|put` of
 * `/ipns/` records) on `@helia/ipns`: V1+V2 records signed by the repo's keys, kept in the
 * repo's datastore (where the DHT serves them from), put to the DHT and to IPNS-over-pubsub
 * topics when online, republished by the daemon with each name's lifetime.
 *
 * @packageDocumentation
 */
import type { Helia } from '@helia/interface'
import type { IPNS, IPNSComponents, IPNSEntry, IPNSRouting } from '@helia/ipns'
import type { AbortOptions, ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import { walkPath } from 'ipfs-unixfs-exporter'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { parseCIDPath, toKitError } from '../cids.ts'
import {
  DEFAULT_IPNS_LIFETIME_MS,
  IPNS_REBROADCAST_BOOTSTRAP_WAIT_MS,
  IPNS_REPUBLISH_INTERVAL_MS
} from '../constants.ts'
import { InvalidParametersError, InvalidRecordError, NameNotFoundError, OfflineError } from '../errors.ts'
import type { PeerServices } from '../libp2p/peer/types.ts'
import { type KeyStore, LIBP2P_KEY_CODE, parseKeyId } from './keys.ts'

/** Options of {@link NameService}. Every option is optional. */
export interface NameServiceInit {
  /** how often published names are checked for republishing @default IPNS_REPUBLISH_INTERVAL_MS (1 h) */
  republishInterval?: number
}

/** What a {@link NameService} works with. */
export interface NameServiceComponents {
  helia: Helia
  keys: KeyStore
  /** the node's libp2p (DHT and gossipsub); none when offline */
  libp2p?: Libp2p<PeerServices>
  /** settles when the node has reached its bootstrap peers (or tried them all) */
  waitForBootstrap?: (options: AbortOptions) => Promise<void>
  logger: ComponentLogger
}

/** Options of {@link NameService.publish}. */
export interface NamePublishOptions extends AbortOptions {
  /** the key's name or id @default 'self' */
  key?: string
  /** how long the record is valid, ms @default DEFAULT_IPNS_LIFETIME_MS (48 h) */
  lifetime?: number
  /** how long resolvers may cache the record, ms @default Helia's (5 min) */
  ttl?: number
  /** check that the path resolves first (Kubo's `--resolve`) @default true */
  resolve?: boolean
  /** on an offline node, keep the record in the repo only (Kubo's `--allow-offline`) @default false */
  allowOffline?: boolean
}

/** What {@link NameService.publish} made. */
export interface NamePublishResult {
  /** the IPNS name: the key's id, a libp2p-key CID */
  name: CID
  /** the path the record holds (Helia writes `/ipfs/` CIDs as CIDv1) */
  value: string
  record: IPNSEntry
}

/** Options of {@link NameService.resolve}. */
export interface NameResolveOptions extends AbortOptions {
  /** follow names that point at names, to an `/ipfs/` path @default true */
  recursive?: boolean
  /** ask the network even when the cached record's TTL has not run out @default false */
  nocache?: boolean
  /** only what the repo holds @default the node's own state */
  offline?: boolean
}

const LOCAL_STORE_ROUTER = 'LocalStoreRouting()'

/** kad-dht's routing table: its size, and `peer:add` when a peer joins it. */
interface DhtTable {
  size: number
  addEventListener(type: 'peer:add', listener: () => void): void
  removeEventListener(type: 'peer:add', listener: () => void): void
}

/** `/ipns/<name>[/path]` or `<name>[/path]`: the name's key id and the path below it. */
export function parseIpnsPath(value: string): { id: CID; rest: string } {
  const text = value
    .trim()
    .replace(/^\/ipns\//, '')
    .replace(/^ipns:\/\//, '')
  const [head = '', ...segments] = text.split('/')
  const id = parseKeyId(head)
  if (id == null || id.code !== LIBP2P_KEY_CODE) {
    throw new InvalidParametersError(
      `"${head}" is not an IPNS name: use a key's id (k51…, 12D3Koo…); DNSLink names are not resolved`
    )
  }
  const rest = segments.filter((s) => s !== '').join('/')
  return { id, rest: rest === '' ? '' : `/${rest}` }
}

/** Kubo's printable IPNS name of a key id: base36 CIDv1. */
export function ipnsName(id: CID): string {
  return id.toV1().toString(base36)
}

/** A path `name publish` takes: a CID, `/ipfs/…` or `/ipns/…`, returned as a path. */
function publishPath(value: string): string {
  const text = value.trim()
  if (text.startsWith('/ipns/')) {
    parseIpnsPath(text)
    return text
  }
  const { cid, path } = parseCIDPath(text)
  return `/ipfs/${cid}${path == null ? '' : `/${path}`}`
}

/**
 * IPNS on the kit: publish and resolve names, and get or put `/ipns/` records.
 *
 * @example
 * ```ts
 * const { name } = await kit.names.publish(`/ipfs/${cid}`, { key: 'blog' })
 * console.log(await kit.names.resolve(`/ipns/${ipnsName(name)}`)) // /ipfs/bafy…
 * ```
 */
export class NameService {
  readonly #components: NameServiceComponents
  readonly #init: NameServiceInit
  readonly #log: Logger
  readonly #events = new EventTarget()
  readonly #stop = new AbortController()
  #ipns?: Promise<{ ipns: IPNS; network: IPNSRouting[]; stopRouters: () => void }>
  #started = false

  constructor(components: NameServiceComponents, init: NameServiceInit = {}) {
    this.#components = components
    this.#init = init
    this.#log = components.logger.forComponent('kit:names')
  }

  /** True when records go only to the repo (no libp2p). */
  get offline(): boolean {
    return this.#components.libp2p == null
  }

  async #load(): Promise<{ ipns: IPNS; network: IPNSRouting[]; stopRouters: () => void }> {
    this.#ipns ??= (async () => {
      const { ipns, pubSubIPNSRouting } = await import('@helia/ipns')
      const { helia, keys, libp2p, logger } = this.#components
      const components: IPNSComponents & { libp2p?: Libp2p<PeerServices> } = {
        datastore: helia.datastore,
        routing: helia.routing,
        logger,
        keychain: keys.keychain,
        events: this.#events as IPNSComponents['events'],
        // @helia/ipns finds the DHT here and gives it the IPNS record validator and selector
        ...(libp2p == null ? {} : { libp2p })
      }
      const pubsub =
        libp2p == null
          ? undefined
          : pubSubIPNSRouting({
              datastore: helia.datastore,
              logger,
              keychain: keys.keychain,
              libp2p: libp2p as unknown as Parameters<typeof pubSubIPNSRouting>[0]['libp2p']
            })
      const name = ipns(components, {
        routers: pubsub == null ? [] : [pubsub],
        republishInterval: this.#init.republishInterval ?? IPNS_REPUBLISH_INTERVAL_MS
      })
      await (pubsub as { start?: () => Promise<void> } | undefined)?.start?.()
      return {
        ipns: name,
        network: name.routers.filter((r) => r.toString() !== LOCAL_STORE_ROUTER),
        stopRouters: () => (pubsub as { stop?: () => void } | undefined)?.stop?.()
      }
    })()
    return this.#ipns
  }

  /**
   * Online: give the DHT the IPNS validator, start republishing the names published here, and
   * send the valid records of this repo's keys to the network once (a record published while
   * offline, or before a restart, is held by peers again).
   */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#load()
    if (this.offline) return
    this.#events.dispatchEvent(new Event('start'))
    void this.#rebroadcast().catch((err: Error) => this.#log('rebroadcast failed: %s', err.message))
  }

  /** Stop republishing and leave the IPNS pubsub topics. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return
    this.#stop.abort()
    if (this.#ipns == null) return
    const { stopRouters } = await this.#ipns
    this.#events.dispatchEvent(new Event('stop'))
    stopRouters()
  }

  /**
   * Settles once the DHT's routing table holds a peer (a put before that reaches nobody), or
   * when `signal` aborts.
   */
  async #dhtPeer(signal: AbortSignal): Promise<void> {
    const table = (
      this.#components.libp2p?.services.dht as unknown as { routingTable?: DhtTable } | undefined
    )?.routingTable
    if (table == null || table.size > 0 || signal.aborted) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        table.removeEventListener('peer:add', done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      table.addEventListener('peer:add', done)
      signal.addEventListener('abort', done)
    })
  }

  async #rebroadcast(): Promise<void> {
    const signal = this.#stop.signal
    const waiting = AbortSignal.any([signal, AbortSignal.timeout(IPNS_REBROADCAST_BOOTSTRAP_WAIT_MS)])
    await this.#components.waitForBootstrap?.({ signal: waiting })
    await this.#dhtPeer(waiting)
    const { ipns, network } = await this.#load()
    const local = ipns.routers.find((r) => r.toString() === LOCAL_STORE_ROUTER)
    if (local == null || network.length === 0) return
    const { ipnsValidator, multihashToIPNSRoutingKey } = await import('@helia/ipns')
    for (const entry of await this.#components.keys.list({ signal })) {
      const routingKey = multihashToIPNSRoutingKey(entry.publicKey.toMultihash())
      let record: Uint8Array
      try {
        record = await local.get(routingKey, { signal })
        // an expired record is re-signed by the republisher instead
        await ipnsValidator(routingKey, record, this.#components.keys.keychain, { signal })
      } catch {
        continue
      }
      const results = await Promise.allSettled(
        network.map(async (r) => r.put(routingKey, record, { signal }))
      )
      this.#log(
        'rebroadcast %s: %d of %d routers took it',
        entry.name,
        results.filter((r) => r.status === 'fulfilled').length,
        results.length
      )
    }
  }

  /**
   * Sign a record pointing the key's name at `value` and publish it (`name publish`): in the
   * repo, and online to the DHT and pubsub. @throws {KeyNotFoundError} @throws {OfflineError}
   */
  async publish(value: string, options: NamePublishOptions = {}): Promise<NamePublishResult> {
    const path = publishPath(value)
    const lifetime = options.lifetime ?? DEFAULT_IPNS_LIFETIME_MS
    for (const [what, v] of [
      ['lifetime', lifetime],
      ['ttl', options.ttl]
    ] as const) {
      if (v != null && !(Number.isSafeInteger(v) && v > 0)) {
        throw new InvalidParametersError(`the ${what} must be a positive duration, not ${v}`)
      }
    }
    const { name: keyName, key } = await this.#components.keys.get(options.key ?? 'self', options)
    if (this.offline && options.allowOffline !== true) {
      throw new OfflineError(
        "can't publish while offline: pass --allow-offline to keep the record in the repo (the daemon sends it to the network when it runs)"
      )
    }
    if (options.resolve !== false) await this.resolvePath(path, { signal: options.signal })
    const { ipns } = await this.#load()
    try {
      const result = await ipns.publish(keyName, path, {
        lifetime,
        ...(options.ttl == null ? {} : { ttl: options.ttl }),
        offline: this.offline,
        signal: options.signal
      })
      return { name: key.publicKey.toCID(), value: recordValue(result.record), record: result.record }
    } catch (err) {
      throw toKitError(err, `name publish ${path}`, options.signal)
    }
  }

  /**
   * The path a name points at (`name resolve`): `/ipns/<name>[/path]` or `<name>[/path]`,
   * followed to an `/ipfs/` path unless `recursive` is false; the path below the name is kept.
   * @throws {NameNotFoundError}
   */
  async resolve(name: string, options: NameResolveOptions = {}): Promise<string> {
    const { id, rest } = parseIpnsPath(name)
    const { ipns } = await this.#load()
    let value: string | undefined
    try {
      for await (const step of ipns.resolve(id, {
        // offline, the repo's record is the only one: nocache cannot skip it
        nocache: options.nocache === true && !(options.offline ?? this.offline),
        offline: options.offline ?? this.offline,
        signal: options.signal
      })) {
        value = step.value
        if (options.recursive === false) break
      }
    } catch (err) {
      throw nameError(err, `/ipns/${ipnsName(id)}`, options.signal)
    }
    if (value == null) throw new NameNotFoundError(`could not resolve name /ipns/${ipnsName(id)}`)
    return `${value.replace(/\/+$/, '')}${rest}`
  }

  /**
   * Resolve a path (`ipfs resolve`): IPNS names to the `/ipfs/` path they point at (one step
   * unless `recursive`), then, with `recursive`, the path through the DAG to the CID it ends at
   * (what is left below a non-UnixFS node is kept).
   */
  async resolvePath(path: string, options: NameResolveOptions = {}): Promise<string> {
    let p = path.trim()
    if (p.startsWith('/ipns/')) {
      p = await this.resolve(p, options)
      if (options.recursive === false) return p
      if (p.startsWith('/ipns/')) throw new NameNotFoundError(`could not resolve ${path} to an /ipfs/ path`)
    }
    const { cid, path: sub } = parseCIDPath(p)
    if (sub == null) return `/ipfs/${cid}`
    const segments = sub.split('/')
    let last: { cid: CID; path: string } | undefined
    try {
      for await (const entry of walkPath(`${cid}/${sub}`, this.#components.helia.blockstore, {
        signal: options.signal
      })) {
        last = entry
      }
    } catch (err) {
      throw toKitError(err, p, options.signal)
    }
    if (last == null) throw new NameNotFoundError(`could not resolve ${p}`)
    // the entry's own path is `<root>/<segments it took>`; the rest is inside its block
    const taken = last.path.split('/').length - 1
    const remainder = segments.slice(taken)
    return `/ipfs/${last.cid}${remainder.length === 0 ? '' : `/${remainder.join('/')}`}`
  }

  /** The best valid `/ipns/` record for a name (`routing get /ipns/<name>`), marshalled. */
  async getRecord(key: string, options: NameResolveOptions = {}): Promise<Uint8Array> {
    const { id } = parseIpnsPath(recordKey(key))
    const { ipns } = await this.#load()
    const { IPNSEntry } = await import('@helia/ipns')
    try {
      for await (const step of ipns.resolve(id, {
        // offline, the repo's record is the only one: nocache cannot skip it
        nocache: options.nocache === true && !(options.offline ?? this.offline),
        offline: options.offline ?? this.offline,
        signal: options.signal
      })) {
        return IPNSEntry.encode(step.record)
      }
    } catch (err) {
      throw nameError(err, `/ipns/${ipnsName(id)}`, options.signal)
    }
    throw new NameNotFoundError(`no record for /ipns/${ipnsName(id)} was found`)
  }

  /**
   * Store a signed `/ipns/` record (`routing put`): checked first (signed by the name's key,
   * not expired, not older than the record held), then kept in the repo and, online, put to
   * the DHT and pubsub. @throws {InvalidRecordError} @throws {OfflineError}
   */
  async putRecord(
    key: string,
    record: Uint8Array,
    options: AbortOptions & { allowOffline?: boolean } = {}
  ): Promise<void> {
    const { id } = parseIpnsPath(recordKey(key))
    const { ipnsValidator, ipnsSelector, multihashToIPNSRoutingKey, IPNSEntry } = await import('@helia/ipns')
    const routingKey = multihashToIPNSRoutingKey(id.multihash)
    const name = `/ipns/${ipnsName(id)}`
    let entry: IPNSEntry
    try {
      entry = await ipnsValidator(routingKey, record, this.#components.keys.keychain, options)
    } catch (err) {
      throw new InvalidRecordError(
        `the record is not a valid IPNS record for ${name}: ${(err as Error).message}`,
        {
          cause: err
        }
      )
    }
    if (this.offline && options.allowOffline !== true) {
      throw new OfflineError(
        "can't put while offline: pass --allow-offline to keep the record in the repo only"
      )
    }
    const { ipns, network } = await this.#load()
    const local = ipns.routers.find((r) => r.toString() === LOCAL_STORE_ROUTER)
    const held = await local?.get(routingKey, options).catch(() => undefined)
    if (held != null) {
      const current = IPNSEntry.decode(held)
      if (ipnsSelector(routingKey, [current, entry]) === 0 && !bytesEqual(held, record)) {
        throw new InvalidRecordError(
          `a newer record for ${name} is held already (sequence ${current.sequence}): the record put is older`
        )
      }
    }
    try {
      await local?.put(routingKey, record, options)
      if (!this.offline) await Promise.all(network.map(async (r) => r.put(routingKey, record, options)))
    } catch (err) {
      throw toKitError(err, `routing put ${name}`, options.signal)
    }
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i])
}

/** A routing key of `routing get|put`: only `/ipns/<name>` records are kept. */
function recordKey(key: string): string {
  if (!key.startsWith('/ipns/')) {
    throw new InvalidParametersError(`routing keys must be /ipns/<name>, not "${key.slice(0, 64)}"`)
  }
  return key
}

/** The path a record holds (a bare CID in old records, else the path's text). */
function recordValue(record: IPNSEntry): string {
  const bytes = record.value ?? new Uint8Array()
  try {
    return `/ipfs/${CID.decode(bytes)}`
  } catch {
    return new TextDecoder().decode(bytes)
  }
}

/** Our error for a failed IPNS lookup. */
function nameError(err: unknown, name: string, signal?: AbortSignal): Error {
  const e = err as Error
  switch (e?.name) {
    case 'RecordNotFoundError':
    case 'NotFoundError':
      return new NameNotFoundError(`could not resolve name ${name}: no record was found`, { cause: err })
    case 'RecordsFailedValidationError':
    case 'RecordExpiredError':
    case 'SignatureVerificationError':
      return new NameNotFoundError(
        `could not resolve name ${name}: the records found are not valid (${e.message})`,
        {
          cause: err
        }
      )
    case 'KeyNotFoundError':
      return e
    default:
      return toKitError(err, name, signal)
  }
}
