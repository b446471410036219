import { setTimeout } from 'node:timers/promises'
import { AbortError, type AbortOptions, type Logger, type PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { exporter } from 'ipfs-unixfs-exporter'
import { base64 } from 'multiformats/bases/base64'
import type { CID } from 'multiformats/cid'
import { collectBytes } from '../../blocks/bytes.ts'
import { blockMatches } from '../../blocks/verify.ts'
import { parseCID } from '../../cids.ts'
import {
  ANNOUNCE_MAX_REPROVIDED,
  ANNOUNCE_RATE_LIMIT_MAX_KEYS,
  ANNOUNCE_REPROVIDE_INTERVAL_MS,
  DISCOVERY_CONNECTED_PROBE_TIMEOUT_MS,
  ROLES,
  ROUTING_BLOCK_CONCURRENCY,
  ROUTING_EXPLORE_MAX_CONCURRENT,
  ROUTING_EXPLORE_PROBABILITY,
  ROUTING_EXPLORE_SKIP_ASKED_MS,
  ROUTING_EXPLORE_UNTIL_PROVEN,
  ROUTING_PASS_PROBE_LIMIT,
  ROUTING_PASS_PROBE_MAX_TIMEOUT_MS,
  ROUTING_PASS_REDIAL_MAX,
  ROUTING_PASS_REDIAL_TIMEOUT_MS,
  ROUTING_PROBATION_IN_FLIGHT,
  ROUTING_PROBATION_OBSERVATIONS,
  ROUTING_PROVEN_CONNECTED_FIRST,
  ROUTING_PROVEN_MIN_SCORE,
  ROUTING_RETRIEVE_TIMEOUT_MS,
  ROUTING_SESSION_LOOKUP_DELAY_MS,
  ROUTING_TYPICAL_BLOCK_BYTES,
  ROUTING_UNKNOWN_LATENCY_MS
} from '../../constants.ts'
import {
  AllProvidersFailedError,
  MaxSizeExceededError,
  NotAFileError,
  NotFoundError,
  NotStartedError,
  TimeoutError
} from '../../errors.ts'
import type { EnhancedDHTDiscovery } from '../discovery/enhanced-dht-discovery.ts'
import { LruMap } from '../discovery/keys.ts'
import { rankProvidersDetailed } from '../discovery/ranking.ts'
import type { InFlightSizes, Provenance, Provider, StateSizes } from '../discovery/types.ts'
import type { IPFSLibp2pPeer } from '../peer/index.ts'
import { AnnouncementChannel, type AnnouncementMetrics, type ContentAnnouncement } from './announcements.ts'
import { bitswapOf } from './bitswap-access.ts'
import { BlockStreamClient, type BlockStreamClientStats } from './block-stream.ts'
import { BlockWindow } from './block-window.ts'
import { type FetchedBlock, HedgedBlockFetcher, type HedgedFetcherInit } from './hedged-fetcher.ts'
import { recentWantsOf } from './recent-wants.ts'
import { batchWants, type WantBatchInit } from './want-batcher.ts'

export { type ContentAnnouncement, parseAnnouncement } from './announcements.ts'
export type { FetchedBlock, OutcomeSink, RequestOutcome } from './hedged-fetcher.ts'

/** Where a fetched block came from: a provider's provenance, a gateway, or the local repo. */
export type BlockSource = Provenance | 'gateway' | 'local'

/** A block fetch that several requests wait on. */
interface SharedFetch {
  cid: CID
  promise: Promise<FetchedBlock & { provenance: BlockSource }>
  controller: AbortController
  waiters: number
}

/** `promise`, or the reason `signal` aborts (a {@link TimeoutError} if the reason is not an error). */
async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, cid: CID): Promise<T> {
  if (signal == null) return promise
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () =>
      reject(
        signal.reason instanceof Error ? signal.reason : new TimeoutError(`fetching ${cid} was cancelled`)
      )
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

/** Options of {@link ContentRoutingManager}. Every option is optional. */
export interface ContentRoutingInit extends HedgedFetcherInit, WantBatchInit {
  /** probability that a block fetch also explores an unexplored connected peer @default ROUTING_EXPLORE_PROBABILITY */
  exploreProbability?: number
  /** randomness for exploration, [0, 1) @default Math.random */
  random?: () => number
  /** trustless HTTP gateways (`https://host`) asked when every peer failed @default [] */
  gateways?: string[]
  /** blocks of one DAG fetched at once @default ROUTING_BLOCK_CONCURRENCY */
  blockConcurrency?: number
  /** re-announce interval for masters and workers @default ANNOUNCE_REPROVIDE_INTERVAL_MS */
  reprovideIntervalMs?: number
  /** announced CIDs re-announced, at most (least recently announced dropped) @default ANNOUNCE_MAX_REPROVIDED */
  maxReprovided?: number
  /**
   * Called once a fetched block (verified) is in the peer's blockstore: the kit's cache indexes
   * it there, so that unpinned fetched blocks stay within the role's disk budget. Must not wait
   * for anything a fetch may hold (it is not awaited). @default undefined
   */
  onBlockStored?: (cid: CID, size: number) => void
  /**
   * fetch from ipfs-kit peers over `/ipfs-kit/blocks/1.0.0` (one stream per peer, blocks sent
   * back to back) rather than bitswap; false: bitswap with everyone @default true
   */
  blockStream?: boolean
}

/** Options of one block fetch inside the router. */
interface BlockFetchOptions extends AbortOptions {
  /** the DAG the block belongs to */
  root?: CID
  preferredPeers?: Array<PeerId | string>
  /** the DAG's providers found so far */
  session?: Map<string, Provider>
  /** keep looking until the signal aborts (see {@link ContentRoutingManager.fetchBlock}) */
  keepLooking?: boolean
}

/**
 * Options of a retrieval. A retrieval given a deadline (`signal` or `timeout`) keeps looking for
 * providers until it passes, as `ipfs cat --timeout` does; one given neither fails once the
 * providers it finds have all failed, and at the latest after ROUTING_RETRIEVE_TIMEOUT_MS.
 */
export interface RetrieveOptions extends AbortOptions {
  /** ms @default ROUTING_RETRIEVE_TIMEOUT_MS */
  timeout?: number
  /** refuse content larger than this many bytes */
  maxSize?: number
  /** peers to ask first */
  preferredPeers?: Array<PeerId | string>
}

/** The routing layer's counters (`getMetrics()`). */
export interface RoutingMetrics {
  successfulRetrievals: number
  failedRetrievals: number
  totalBytesRetrieved: number
  /** ms, over successful retrievals */
  averageRetrievalTime: number
  /** content that was already local */
  retrievalsFromCache: number
  retrievalsFromDht: number
  retrievalsFromPubsub: number
  retrievalsFromBitswap: number
  retrievalsFromConnected: number
  retrievalsFromGateway: number
  blocksFetched: number
  /** per-block provider lookups made (a DHT query and want-haves to connected peers) */
  blockLookups: number
  /** per-block lookups left out because the DAG's session still had a provider */
  lookupsSkipped: number
  /** block requests that passed their hedge deadline (the peer's pace and queue place) */
  hedgeDeadlinesPassed: number
  /** passes over the providers made after a block fetch's first (fetches that keep looking) */
  blockFetchPasses: number
  announcements: AnnouncementMetrics
}

/**
 * Routes every request to the providers most likely to answer fast: providers come
 * from {@link EnhancedDHTDiscovery} (records, affinity, connected peers, the DHT),
 * ordered by expected time to a block (reputation, latency, throughput and the load
 * already given to each), and blocks are fetched over standard bitswap with hedged
 * requests. Every block is verified; every outcome feeds reputation and backoff.
 *
 * @example
 * ```ts
 * const router = new ContentRoutingManager(discovery, peer)
 * await router.start()
 * const bytes = await router.retrieveContent('Qm…', { timeout: 30_000 })
 * ```
 */
export class ContentRoutingManager {
  readonly discovery: EnhancedDHTDiscovery
  readonly peer: IPFSLibp2pPeer
  readonly #init: ContentRoutingInit
  #fetcher?: HedgedBlockFetcher
  #blockStream?: BlockStreamClient
  #announcements?: AnnouncementChannel
  #log?: Logger
  #starting?: Promise<void>
  #reprovideTimer?: ReturnType<typeof setInterval>
  #unbatch?: () => void
  /** per peer: block fetches that have it among their candidates (its expected load) */
  readonly #reserved = new Map<string, number>()
  /** block fetches running, by multihash (base64) */
  readonly #fetching = new Map<string, SharedFetch>()
  /** dials of known providers made by a later pass, by peer (one at a time per peer) */
  readonly #redialing = new Map<string, Promise<void>>()
  /** what masters and workers re-announce: announced, still held (dropped at the next round if not) */
  readonly #announced: LruMap<string, { cid: CID; size?: number; metadata?: ContentAnnouncement['metadata'] }>
  #retrieveTimeTotal = 0
  readonly #metrics = {
    successfulRetrievals: 0,
    failedRetrievals: 0,
    totalBytesRetrieved: 0,
    retrievalsFromCache: 0,
    retrievalsFromDht: 0,
    retrievalsFromPubsub: 0,
    retrievalsFromBitswap: 0,
    retrievalsFromConnected: 0,
    retrievalsFromGateway: 0,
    blockLookups: 0,
    lookupsSkipped: 0,
    blocksFetched: 0
  }

  constructor(discovery: EnhancedDHTDiscovery, peer: IPFSLibp2pPeer, init: ContentRoutingInit = {}) {
    this.discovery = discovery
    this.peer = peer
    this.#init = init
    this.#announced = new LruMap(init.maxReprovided ?? ANNOUNCE_MAX_REPROVIDED)
  }

  /**
   * Every map the routing layer keeps that is keyed by peer or CID (its own, the fetcher's,
   * the node's record of recent wants, and discovery's), each with its size and bound.
   */
  stateSizes(): StateSizes {
    return {
      ...this.discovery.stateSizes(),
      ...this.#fetcher?.stateSizes(),
      'routing.announced': { size: this.#announced.size, max: this.#announced.max },
      'routing.announceRateLimit': this.#announcements?.limiterKeys ?? {
        size: 0,
        max: ANNOUNCE_RATE_LIMIT_MAX_KEYS
      }
    }
  }

  /**
   * Maps of work in progress (block fetches, the load reserved on peers, requests open): bounded
   * by the work running, empty when idle.
   */
  inFlightSizes(): InFlightSizes {
    return {
      'routing.reserved': this.#reserved.size,
      'routing.fetching': this.#fetching.size,
      'routing.redialing': this.#redialing.size,
      ...this.#fetcher?.inFlightSizes()
    }
  }

  /** The blocks being fetched now (Kubo's `bitswap wantlist`). */
  fetching(): CID[] {
    return [...this.#fetching.values()].map((f) => f.cid)
  }

  /** The block-stream client's counters, if it runs. */
  blockStreamStats(): BlockStreamClientStats | undefined {
    return this.#blockStream?.getStats()
  }

  /** Start (and start discovery and the peer if needed). Safe to call twice. */
  async start(options: AbortOptions = {}): Promise<void> {
    this.#starting ??= this.#start(options)
    return this.#starting
  }

  async #start(options: AbortOptions): Promise<void> {
    await this.discovery.start(options)
    this.#log = this.peer.logger.forComponent('kit:routing')
    // blocks from ipfs-kit peers over our own protocol, bitswap with everyone else
    if (this.#init.blockStream !== false) {
      this.#blockStream = new BlockStreamClient({ libp2p: this.peer.host, logger: this.peer.logger })
      this.#blockStream.start()
    }
    this.#fetcher = new HedgedBlockFetcher(
      {
        wantList: bitswapOf(this.peer.helia).bitswap.wantList,
        outcomes: this.discovery,
        logger: this.peer.logger,
        blockStream: this.#blockStream
      },
      this.#init
    )
    this.#fetcher.start()
    // wants to one peer in the same moment go out in one message
    this.#unbatch = batchWants(bitswapOf(this.peer.helia).bitswap.wantList, this.#init)
    this.#announcements = new AnnouncementChannel(this.peer, this.discovery, this.#log)
    this.#announcements.start()
    if (ROLES[this.peer.role].reprovide) {
      this.#reprovideTimer = setInterval(() => {
        void this.#reprovide()
      }, this.#init.reprovideIntervalMs ?? ANNOUNCE_REPROVIDE_INTERVAL_MS)
      this.#reprovideTimer.unref?.()
    }
  }

  /** Stop: cancels fetches, clears timers. Does not stop discovery or the peer. */
  async stop(): Promise<void> {
    const starting = this.#starting
    if (starting == null) return
    await starting.catch(() => {})
    this.#starting = undefined
    clearInterval(this.#reprovideTimer)
    this.#fetcher?.stop()
    this.#blockStream?.stop()
    this.#blockStream = undefined
    this.#unbatch?.()
    this.#unbatch = undefined
    this.#announcements?.stop()
  }

  #ensureStarted(): HedgedBlockFetcher {
    if (this.#fetcher == null || this.#starting == null) {
      throw new NotStartedError('the content routing manager is not started: call start() first')
    }
    return this.#fetcher
  }

  /**
   * Order candidates by expected time to deliver one more block:
   * `(load + 1) × (latency + blockBytes / throughput) / score`, so a fast peer gets
   * more of a large DAG than a slow one, in proportion to its throughput, and a peer
   * already busy with our requests yields to an idle one. Preferred peers stay first
   * and backed-off peers last; the exploration slot that ranking gives an unproven peer
   * is kept in place (the rule lives in `rankProviders`).
   */
  #order(
    cid: CID,
    providers: Provider[],
    options: { root?: CID; preferredPeers?: Array<PeerId | string> }
  ): Provider[] {
    const ranked = rankProvidersDetailed(providers, {
      reputation: this.discovery.reputation,
      backoff: this.discovery.backoff,
      affinity: this.discovery.affinity.scoresFor(cid, { root: options.root }),
      connected: (p) => this.peer.host.getConnections(p).length > 0,
      preferredPeers: options.preferredPeers
    })
    // a peer never measured is assumed as fast as the median of those measured
    const measured = ranked
      .map((r) => this.discovery.reputation.stats(r.provider.id)?.latencyEwmaMs)
      .filter((l): l is number => l != null)
      .sort((x, y) => x - y)
    const priorLatency = measured[measured.length >> 1] ?? ROUTING_UNKNOWN_LATENCY_MS
    const cost = (p: Provider, score: number): number => {
      const stats = this.discovery.reputation.stats(p.id)
      const latency = stats?.latencyEwmaMs ?? priorLatency
      const transfer =
        stats?.throughputEwmaBps == null ? 0 : (ROUTING_TYPICAL_BLOCK_BYTES / stats.throughputEwmaBps) * 1000
      const key = p.id.toString()
      const load = Math.max(this.#reserved.get(key) ?? 0, this.#fetcher?.load(p.id).inFlight ?? 0)
      // a peer with requests past their hedge timeout is slow right now: it goes behind
      const overdue = this.#fetcher?.load(p.id).overdue ?? 0
      // a peer on probation (few outcomes yet) gets a few requests at a time, not a queue
      const probation =
        (stats?.observations ?? 0) < ROUTING_PROBATION_OBSERVATIONS && load >= ROUTING_PROBATION_IN_FLIGHT
      return (
        ((load + 1) * (1 + 4 * overdue) * (probation ? 100 : 1) * (latency + transfer)) /
        Math.max(score, 0.05)
      )
    }
    const head = ranked.filter((r) => r.tier === 'preferred' || r.tier === 'exploration')
    const middle = ranked
      .filter((r) => r.tier === 'ranked')
      .map((r) => ({ r, c: cost(r.provider, r.score) }))
      .sort((a, b) => a.c - b.c)
      .map((x) => x.r)
    const tail = ranked.filter((r) => r.tier === 'backed-off')
    return [...head, ...middle, ...tail].map((r) => r.provider)
  }

  /**
   * Exploration (the rule): while fewer than ROUTING_EXPLORE_UNTIL_PROVEN connected peers are
   * proven, with probability `exploreProbability`, a block fetch also asks one
   * connected peer that has fewer than ROUTING_PROBATION_OBSERVATIONS outcomes, is neither
   * backed off nor flagged, and was not asked for this block lately, chosen at random, for the
   * block on the side (`HedgedBlockFetcher.probe`), once the fetch has the block. Nothing waits for it; its outcome feeds
   * reputation, and a peer that served the block becomes a provider of the DAG (affinity).
   * Proven peers then compete for blocks by load (`#candidates`).
   */
  #maybeExplore(fetcher: HedgedBlockFetcher, cid: CID, root: CID | undefined): void {
    if (fetcher.probing >= ROUTING_EXPLORE_MAX_CONCURRENT) return
    const random = this.#init.random ?? Math.random
    if (random() >= (this.#init.exploreProbability ?? ROUTING_EXPLORE_PROBABILITY)) return
    if (this.#provenConnected().length >= ROUTING_EXPLORE_UNTIL_PROVEN) return
    const recent = recentWantsOf(bitswapOf(this.peer.helia).bitswap.wantList)
    const choices = this.#availableConnected().filter(
      (p) =>
        this.discovery.reputation.observations(p.id) < ROUTING_PROBATION_OBSERVATIONS &&
        !recent.askedWithin(p.id, cid, ROUTING_EXPLORE_SKIP_ASKED_MS)
    )
    const peer = choices[Math.floor(random() * choices.length)]?.id
    if (peer == null) return
    void fetcher.probe(cid, peer).then((outcome) => {
      if (outcome?.kind === 'success') this.discovery.recordServed(peer, cid, root)
    })
  }

  /** Connected peers, once each, that are neither backed off nor flagged. */
  #availableConnected(): Provider[] {
    const { reputation, backoff } = this.discovery
    const out = new Map<string, Provider>()
    for (const connection of this.peer.host.getConnections()) {
      const id = connection.remotePeer
      const key = id.toString()
      if (out.has(key) || reputation.isFlagged(id) || backoff.isBackedOff(id)) continue
      out.set(key, { id, multiaddrs: [connection.remoteAddr], provenance: 'connected' })
    }
    return [...out.values()]
  }

  /** Available connected peers with a proven record: enough outcomes and a score above the bar. */
  #provenConnected(): Provider[] {
    const { reputation } = this.discovery
    return this.#availableConnected().filter(
      (p) =>
        reputation.observations(p.id) >= ROUTING_PROBATION_OBSERVATIONS &&
        reputation.score(p.id) > ROUTING_PROVEN_MIN_SCORE
    )
  }

  /**
   * Candidates for one block: known and affinity first (ordered), then what discovery finds.
   * `yielded` (shared by a fetch's second look) keeps a peer from being given twice in one pass;
   * a peer is reserved once per fetch. A later pass (`next`, a fetch that keeps looking) first
   * dials the known providers that are not connected (one that died may be back), leaves out
   * those it cannot reach now (backed off and not connected), and asks more connected peers
   * whether they have the block, without the discovery cache.
   */
  async *#candidates(
    cid: CID,
    provenance: Map<string, Provenance>,
    options: BlockFetchOptions,
    yielded = new Set<string>(),
    pass: 'first' | 'again' | 'next' = 'first',
    /** later passes made so far, this one included */
    passes = 0
  ): AsyncGenerator<PeerId> {
    const give = (p: Provider): PeerId | undefined => {
      const key = p.id.toString()
      if (yielded.has(key) || p.id.equals(this.peer.host.peerId)) return undefined
      yielded.add(key)
      // held until this block's fetch ends, so that concurrent fetches see the load
      if (!provenance.has(key)) this.#reserved.set(key, (this.#reserved.get(key) ?? 0) + 1)
      provenance.set(key, p.provenance)
      return p.id
    }
    const reachable = (p: Provider): boolean =>
      pass !== 'next' ||
      !this.discovery.backoff.isBackedOff(p.id) ||
      this.peer.host.getConnections(p.id).length > 0
    if (pass === 'next') await this.#redialKnown(cid, options)
    const pool = this.discovery.getOptimalProviders(cid, { root: options.root })
    // preferred peers are candidates even without a record of theirs
    for (const peer of options.preferredPeers ?? []) {
      const id = typeof peer === 'string' ? peerIdFromString(peer) : peer
      if (!pool.some((p) => p.id.equals(id))) pool.push({ id, multiaddrs: [], provenance: 'connected' })
    }
    if (options.root != null && !options.root.equals(cid))
      pool.push(...this.discovery.getOptimalProviders(options.root))
    // the DAG's providers found so far (a session, as in bitswap)
    pool.push(...(options.session?.values() ?? []))
    // inside a DAG, proven connected peers compete for its blocks with its known providers, so
    // that its blocks spread over them by load (one that lacks a block says DONT_HAVE at once)
    const proven = this.#provenConnected()
    if (options.root != null && !options.root.equals(cid)) pool.push(...proven)
    // best first, re-ordered at every step: each pick changes the load
    for (;;) {
      const next = this.#order(
        cid,
        pool.filter((p) => !yielded.has(p.id.toString()) && reachable(p)),
        options
      )[0]
      if (next == null) break
      const id = give(next)
      if (id != null) yield id
    }
    // then the best proven peers we are connected to, before a lookup has answered: a proven
    // peer without the block says DONT_HAVE in one round trip and the next candidate is asked
    const unasked = proven.filter((p) => !yielded.has(p.id.toString()))
    for (const p of this.#order(cid, unasked, options).slice(0, ROUTING_PROVEN_CONNECTED_FIRST)) {
      const id = give(p)
      if (id != null) yield id
    }
    // a lookup for this one block (a DHT query, want-haves to connected peers) only when the
    // DAG's session has no provider left: on the first pass with a session provider available,
    // a hedge waits for the fetcher's second look, made once every request failed or is overdue
    const sessionAlive =
      pass === 'first' &&
      [...(options.session?.values() ?? [])].some(
        (p) => !this.discovery.reputation.isFlagged(p.id) && !this.discovery.backoff.isBackedOff(p.id)
      )
    if (sessionAlive) this.#metrics.lookupsSkipped++
    else this.#metrics.blockLookups++
    const found = sessionAlive
      ? []
      : this.discovery.findProviders(cid, {
          root: options.root,
          signal: options.signal,
          ...(pass === 'next'
            ? {
                noCache: true,
                probeLimit: ROUTING_PASS_PROBE_LIMIT,
                probeTimeoutMs: Math.min(
                  DISCOVERY_CONNECTED_PROBE_TIMEOUT_MS * 2 ** passes,
                  ROUTING_PASS_PROBE_MAX_TIMEOUT_MS
                )
              }
            : {})
        })
    for await (const p of found) {
      if (!reachable(p)) continue
      const id = give(p)
      if (id != null) yield id
    }
    // what other lookups found meanwhile: the DAG's session lookup runs alongside this one,
    // and a peer probed twice within a few seconds may leave the second want-have unanswered
    // (bitswap servers do not resend a block within 5 s), so its first answer must count
    const late = [
      ...this.discovery.getOptimalProviders(cid, { root: options.root }),
      ...(options.session?.values() ?? [])
    ].filter((p) => !yielded.has(p.id.toString()) && reachable(p))
    for (const p of this.#order(cid, late, options)) {
      const id = give(p)
      if (id != null) yield id
    }
  }

  /**
   * Fetch one block from the best providers (hedged), verify it, and store it in the
   * peer's blockstore. Falls back to the configured HTTP gateways if every peer fails.
   * With `keepLooking` and a `signal`, a fetch whose providers have all failed looks for them
   * again (known providers redialled, connected peers asked, the DHT), after a pause that
   * doubles, until the block arrives or the signal aborts.
   */
  async fetchBlock(
    cid: CID,
    options: AbortOptions & {
      root?: CID
      preferredPeers?: Array<PeerId | string>
      /** look again until `signal` aborts (ignored without a signal) @default false */
      keepLooking?: boolean
    } = {}
  ): Promise<FetchedBlock & { provenance: BlockSource }> {
    await this.start()
    const started = Date.now()
    try {
      const fetched = await this.#fetchBlock(cid, {
        ...options,
        keepLooking: options.keepLooking === true && options.signal != null
      })
      this.#metrics.successfulRetrievals++
      this.#metrics.totalBytesRetrieved += fetched.block.byteLength
      this.#retrieveTimeTotal += Date.now() - started
      this.#countSource(fetched.provenance)
      return fetched
    } catch (err) {
      this.#metrics.failedRetrievals++
      throw err
    }
  }

  /**
   * One fetch per block at a time: a request for a block already being fetched joins that
   * fetch (which runs until its last caller gives up), and a block stored meanwhile is read
   * locally. Two requests for one block must not both ask the same peer: a bitswap server
   * does not send a block to a peer again within 5 s, so the second would wait in vain.
   */
  async #fetchBlock(
    cid: CID,
    options: BlockFetchOptions
  ): Promise<FetchedBlock & { provenance: BlockSource }> {
    const key = base64.baseEncode(cid.multihash.bytes)
    let shared = this.#fetching.get(key)
    if (shared == null) {
      // (a fetch stores its block before it leaves the map, so one of the two checks sees it)
      const blockstore = this.peer.helia.blockstore
      if (await blockstore.has(cid)) {
        const block = await collectBytes(blockstore.get(cid, { signal: options.signal, offline: true }))
        return { cid, block, peer: this.peer.host.peerId, latencyMs: 0, provenance: 'local' }
      }
      shared = this.#fetching.get(key)
    }
    if (shared == null) {
      const controller = new AbortController()
      const fetch = this.#fetchBlockOnce(cid, { ...options, signal: controller.signal })
      const entry: SharedFetch = { cid, controller, waiters: 0, promise: fetch }
      fetch
        .finally(() => {
          if (this.#fetching.get(key) === entry) this.#fetching.delete(key)
        })
        .catch(() => {})
      this.#fetching.set(key, entry)
      shared = entry
    }
    shared.waiters++
    try {
      return await raceAbort(shared.promise, options.signal, cid)
    } finally {
      // the last caller gone: stop the fetch (a no-op once it has finished)
      if (--shared.waiters === 0) shared.controller.abort(options.signal?.reason)
    }
  }

  async #fetchBlockOnce(
    cid: CID,
    options: BlockFetchOptions
  ): Promise<FetchedBlock & { provenance: BlockSource }> {
    const fetcher = this.#ensureStarted()
    const provenance = new Map<string, Provenance>()
    const gateways = this.#init.gateways ?? []
    /** a fetch that keeps looking asks the gateways once, when its first pass has failed */
    let fromGateways: Promise<Uint8Array | undefined> | undefined
    const gatewayAnswered = new AbortController()
    try {
      const yielded = new Set<string>()
      let passes = 0
      const fetched = await fetcher.fetch(cid, this.#candidates(cid, provenance, options, yielded), {
        signal:
          options.signal == null ? undefined : AbortSignal.any([options.signal, gatewayAnswered.signal]),
        // every peer asked failed: discovery has dropped them now, so its next answer is new
        lookAgain: () => this.#candidates(cid, provenance, options, yielded, 'again'),
        // a fetch with a deadline: every peer again, after a pause, until the deadline
        nextPass:
          options.keepLooking === true
            ? () => {
                if (fromGateways == null && gateways.length > 0) {
                  fromGateways = this.#fromGateways(cid, options)
                  void fromGateways.then((block) => {
                    if (block != null) gatewayAnswered.abort(new AbortError('a gateway sent the block'))
                  })
                }
                return this.#candidates(cid, provenance, options, new Set(), 'next', ++passes)
              }
            : undefined
      })
      // explored only now: the peers this fetch asked are left out (a bitswap server does not
      // send a block twice within 5 s, so a side request to one of them would hold up the fetch)
      this.#maybeExplore(fetcher, cid, options.root)
      this.discovery.recordServed(fetched.peer, cid, options.root)
      const key = fetched.peer.toString()
      if (options.session != null && !options.session.has(key)) {
        options.session.set(key, {
          id: fetched.peer,
          multiaddrs: [],
          provenance: provenance.get(key) ?? 'connected'
        })
      }
      await this.peer.helia.blockstore.put(cid, fetched.block, { signal: options.signal })
      this.#init.onBlockStored?.(cid, fetched.block.byteLength)
      this.#metrics.blocksFetched++
      return { ...fetched, provenance: provenance.get(fetched.peer.toString()) ?? 'connected' }
    } catch (err) {
      if (options.signal?.aborted === true || gateways.length === 0) throw err
      const block = await (fromGateways ?? this.#fromGateways(cid, options))
      if (block == null) throw err
      await this.peer.helia.blockstore.put(cid, block, { signal: options.signal })
      this.#init.onBlockStored?.(cid, block.byteLength)
      return { cid, block, peer: this.peer.host.peerId, latencyMs: 0, provenance: 'gateway' }
    } finally {
      for (const key of provenance.keys()) {
        const n = (this.#reserved.get(key) ?? 1) - 1
        if (n <= 0) this.#reserved.delete(key)
        else this.#reserved.set(key, n)
      }
    }
  }

  /**
   * Dial the known providers of `cid` (and of its DAG) that are not connected, neither flagged
   * nor backed off, at most ROUTING_PASS_REDIAL_MAX, each for ROUTING_PASS_REDIAL_TIMEOUT_MS at
   * most, one dial per peer at a time however many fetches ask: a provider that died may be back.
   * A dial that fails counts as a failed request to that peer (backoff), unless we gave up first.
   */
  async #redialKnown(cid: CID, options: BlockFetchOptions): Promise<void> {
    const known = new Map<string, Provider>()
    for (const p of [
      ...this.discovery.getOptimalProviders(cid, { root: options.root }),
      ...(options.root == null || options.root.equals(cid)
        ? []
        : this.discovery.getOptimalProviders(options.root)),
      ...(options.session?.values() ?? [])
    ])
      known.set(p.id.toString(), p)
    const { reputation, backoff } = this.discovery
    const dials: Array<Promise<void>> = []
    for (const [key, p] of known) {
      if (dials.length >= ROUTING_PASS_REDIAL_MAX) break
      if (p.id.equals(this.peer.host.peerId) || this.peer.host.getConnections(p.id).length > 0) continue
      if (reputation.isFlagged(p.id) || backoff.isBackedOff(p.id)) continue
      let dial = this.#redialing.get(key)
      if (dial == null) {
        const started = Date.now()
        const signal = AbortSignal.any([
          AbortSignal.timeout(ROUTING_PASS_REDIAL_TIMEOUT_MS),
          ...(options.signal == null ? [] : [options.signal])
        ])
        dial = this.peer
          .connect(p.id, { signal })
          .then(
            () => undefined,
            (err: Error) => {
              if (options.signal?.aborted === true) return
              this.#log?.('redialling %p for %c failed: %s', p.id, cid, err.message)
              this.discovery.recordOutcome(
                p.id,
                { kind: 'error', latencyMs: Date.now() - started, error: err },
                cid
              )
            }
          )
          .finally(() => this.#redialing.delete(key))
        this.#redialing.set(key, dial)
      }
      dials.push(dial)
    }
    await Promise.all(dials)
  }

  async #fromGateways(cid: CID, options: AbortOptions): Promise<Uint8Array | undefined> {
    for (const gateway of this.#init.gateways ?? []) {
      try {
        const res = await fetch(new URL(`/ipfs/${cid}?format=raw`, gateway), {
          headers: { accept: 'application/vnd.ipld.raw' },
          signal: options.signal
        })
        if (!res.ok) continue
        const block = new Uint8Array(await res.arrayBuffer())
        if (await blockMatches(cid, block)) return block
        this.#log?.('gateway %s sent a block that does not match %c', gateway, cid)
      } catch (err) {
        this.#log?.('gateway %s failed for %c: %s', gateway, cid, (err as Error).message)
      }
    }
    return undefined
  }

  /** Providers of `cid`, best first (the seed's `find_content`). */
  async findContent(
    cid: CID | string,
    options: AbortOptions & {
      maxProviders?: number
      timeout?: number
      preferredPeers?: Array<PeerId | string>
    } = {}
  ): Promise<Provider[]> {
    this.#ensureStarted()
    const c = parseCID(cid)
    const signal = timeoutSignal(options.signal, options.timeout ?? ROUTING_RETRIEVE_TIMEOUT_MS)
    const out: Provider[] = []
    try {
      for await (const p of this.discovery.findProviders(c, {
        count: options.maxProviders ?? 20,
        preferredPeers: options.preferredPeers,
        signal
      })) {
        out.push(p)
      }
    } catch (err) {
      if (!signal.aborted) throw err
    }
    return this.#order(c, out, { preferredPeers: options.preferredPeers })
  }

  /**
   * Stream a file's bytes, fetching each missing block from the best providers. Blocks
   * already held locally are read from the blockstore (`retrievalsFromCache`).
   */
  async *retrieveContentStream(cid: CID | string, options: RetrieveOptions = {}): AsyncGenerator<Uint8Array> {
    await this.start()
    const root = parseCID(cid)
    const started = Date.now()
    const signal = timeoutSignal(options.signal, options.timeout ?? ROUTING_RETRIEVE_TIMEOUT_MS)
    // a deadline of the caller's: look for providers until it passes (`ipfs cat --timeout`)
    const keepLooking = options.signal != null || options.timeout != null
    const blockstore = this.peer.helia.blockstore
    let rootSource: BlockSource | undefined
    // the DAG's providers, found in the background while the first blocks come in
    const session = new Map<string, Provider>()
    const sessionController = new AbortController()
    const sessionSignal = AbortSignal.any([signal, sessionController.signal])
    const sessionLookup = (async () => {
      await setTimeout(ROUTING_SESSION_LOOKUP_DELAY_MS, undefined, { signal: sessionSignal })
      for await (const p of this.discovery.findProviders(root, { signal: sessionSignal }))
        session.set(p.id.toString(), p)
    })().catch(() => {})
    const concurrency = this.#init.blockConcurrency ?? ROUTING_BLOCK_CONCURRENCY
    const window = new BlockWindow(concurrency)
    const source = {
      get: async function* (
        this: ContentRoutingManager,
        c: CID,
        opts: AbortOptions = {}
      ): AsyncGenerator<Uint8Array> {
        // the window is ours: the exporter's own bound does not hold (see BlockWindow); a read
        // holds its place from the check of the local store until the block is there
        const fetched = await window.run(
          async () => {
            if (await blockstore.has(c)) {
              const block = await collectBytes(blockstore.get(c, { ...opts, offline: true }))
              return { block, provenance: 'local' as const }
            }
            return this.#fetchBlock(c, {
              root,
              signal,
              preferredPeers: options.preferredPeers,
              session,
              keepLooking
            })
          },
          { signal }
        )
        if (c.equals(root)) rootSource ??= fetched.provenance
        yield fetched.block
      }.bind(this)
    }
    let bytes = 0
    try {
      const entry = await exporter(root, source, { signal })
      if (entry.type === 'directory' || entry.type === 'object') {
        throw new NotAFileError(`${root} is a ${entry.type}, not a file`)
      }
      if (options.maxSize != null && entry.size > BigInt(options.maxSize)) {
        throw new MaxSizeExceededError(`${root} is ${entry.size} bytes, over the limit of ${options.maxSize}`)
      }
      for await (const chunk of entry.content({
        signal,
        blockReadConcurrency: concurrency
      })) {
        bytes += chunk.byteLength
        if (options.maxSize != null && bytes > options.maxSize) {
          throw new MaxSizeExceededError(`${root} is over the limit of ${options.maxSize} bytes`)
        }
        yield chunk
      }
    } catch (err) {
      this.#metrics.failedRetrievals++
      throw translate(err, root, signal)
    } finally {
      sessionController.abort()
      await sessionLookup
    }
    this.#metrics.successfulRetrievals++
    this.#metrics.totalBytesRetrieved += bytes
    this.#retrieveTimeTotal += Date.now() - started
    this.#countSource(rootSource)
  }

  #countSource(source: BlockSource | undefined): void {
    switch (source) {
      case 'local':
        this.#metrics.retrievalsFromCache++
        break
      case 'dht':
        this.#metrics.retrievalsFromDht++
        break
      case 'pubsub':
        this.#metrics.retrievalsFromPubsub++
        break
      case 'gateway':
        this.#metrics.retrievalsFromGateway++
        break
      case 'bitswap':
        this.#metrics.retrievalsFromBitswap++
        break
      default:
        this.#metrics.retrievalsFromConnected++
    }
  }

  /** A file's bytes (the seed's `retrieve_content(cid)` and `future.result(timeout=30)`). */
  async retrieveContent(cid: CID | string, options: RetrieveOptions = {}): Promise<Uint8Array> {
    return collectBytes(this.retrieveContentStream(cid, options))
  }

  /**
   * Tell the network we hold `cid`: a DHT provider record and an announcement on
   * `ipfs-kit/content-announce`. Only content held locally can be announced; masters
   * and workers re-announce it periodically.
   */
  async announceContent(
    cid: CID | string,
    options: AbortOptions & { size?: number; metadata?: ContentAnnouncement['metadata']; also?: CID[] } = {}
  ): Promise<void> {
    await this.start()
    const c = parseCID(cid)
    // every CID announced must be held: an announcement is a promise to serve it
    const also = (options.also ?? []).map((x) => parseCID(x))
    for (const x of [c, ...also]) {
      if (!(await this.peer.helia.blockstore.has(x, { signal: options.signal }))) {
        throw new NotFoundError(`cannot announce ${x}: it is not held locally`)
      }
    }
    this.#announced.set(c.toString(), { cid: c, size: options.size, metadata: options.metadata })
    await this.#announcements?.publish([c, ...also], {
      size: options.size,
      metadata: options.metadata
    })
    const signal = timeoutSignal(options.signal, ROUTING_RETRIEVE_TIMEOUT_MS)
    await this.peer.helia.routing.provide(c, { signal }).catch((err: Error) => {
      // a swarm with no DHT servers yet: the pubsub announcement still went out
      this.#log?.('DHT provide of %c failed: %s', c, err.message)
    })
  }

  async #reprovide(): Promise<void> {
    for (const { cid, size, metadata } of this.#announced.values()) {
      if (!(await this.peer.helia.blockstore.has(cid))) {
        this.#announced.delete(cid.toString())
        continue
      }
      await this.#announcements?.publish([cid], { size, metadata }).catch(() => {})
    }
  }

  getMetrics(): RoutingMetrics {
    const m = this.#metrics
    return {
      ...m,
      averageRetrievalTime:
        m.successfulRetrievals === 0 ? 0 : this.#retrieveTimeTotal / m.successfulRetrievals,
      hedgeDeadlinesPassed: this.#fetcher?.deadlinesPassed ?? 0,
      blockFetchPasses: this.#fetcher?.passes ?? 0,
      announcements: this.#announcements?.metrics ?? {
        published: 0,
        received: 0,
        rejectedMalformed: 0,
        rejectedRateLimited: 0
      }
    }
  }
}

function timeoutSignal(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const own = new AbortController()
  const timer = AbortSignal.timeout(ms)
  timer.addEventListener('abort', () => own.abort(new TimeoutError(`gave up after ${ms} ms`)), { once: true })
  return AbortSignal.any([own.signal, ...(signal == null ? [] : [signal])])
}

/** A retrieval's error, naming the content: its deadline passed, or every provider failed. */
function translate(err: unknown, cid: CID, signal: AbortSignal): Error {
  if (signal.aborted && signal.reason instanceof TimeoutError) {
    return new TimeoutError(`retrieving ${cid}: ${signal.reason.message}`, { cause: err })
  }
  if (err instanceof AllProvidersFailedError) {
    return new AllProvidersFailedError(err.errors, `retrieving ${cid}: ${err.message}`)
  }
  if (err instanceof NotFoundError)
    return new NotFoundError(`retrieving ${cid}: ${err.message}`, { cause: err })
  return err instanceof Error ? err : new Error(String(err))
}
