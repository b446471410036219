import type { AbortOptions, Libp2p, Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import merge from 'it-merge'
import { pushable } from 'it-pushable'
import type { CID } from 'multiformats/cid'
import type { Role } from '../../constants.ts'
import {
  DISCOVERY_CONNECTED_PROBE_LIMIT,
  DISCOVERY_CONNECTED_PROBE_TIMEOUT_MS,
  DISCOVERY_FIND_TIMEOUT_MS,
  DISCOVERY_PERSIST_INTERVAL_MS,
  DISCOVERY_PROVIDER_TAG,
  DISCOVERY_PROVIDER_TAG_TTL_MS,
  DISCOVERY_UNANSWERED_PEERS_KEPT,
  DISCOVERY_UNANSWERED_STREAK_FAILURE
} from '../../constants.ts'
import { NotStartedError } from '../../errors.ts'
import type { BitswapViolationEvent, IPFSLibp2pPeer, PeerServices } from '../peer/index.ts'
import { bitswapOf } from '../routing/bitswap-access.ts'
import { noteAsked, type OutcomeSink, type RequestOutcome } from '../routing/hedged-fetcher.ts'
import { ContentAffinity, type ContentAffinityInit } from './affinity.ts'
import { AdaptiveBackoff, type BackoffInit } from './backoff.ts'
import { DiscoveryCache, type DiscoveryCacheInit } from './discovery-cache.ts'
import { KBucketView, type KBucketViewInit } from './k-buckets.ts'
import { ProviderStore, type ProviderStoreInit } from './providers.ts'
import { rankProviders } from './ranking.ts'
import { BucketRefreshScheduler, type RefreshSchedulerInit } from './refresh.ts'
import { type ReputationInit, ReputationTracker } from './reputation.ts'
import type { PeerStats, Provenance, Provider } from './types.ts'

/** Options of {@link EnhancedDHTDiscovery}. Every option is optional. */
export interface EnhancedDHTDiscoveryInit {
  /** @default the peer's role */
  role?: Role
  buckets?: KBucketViewInit
  refresh?: RefreshSchedulerInit
  reputation?: ReputationInit
  backoff?: BackoffInit
  providers?: ProviderStoreInit
  affinity?: ContentAffinityInit
  cache?: DiscoveryCacheInit
  /** how often reputation is written to the repo's datastore @default DISCOVERY_PERSIST_INTERVAL_MS */
  persistIntervalMs?: number
}

/** Options of a provider lookup. */
export interface FindProvidersOptions extends AbortOptions {
  /** stop after this many providers @default 20 */
  count?: number
  /** the DAG root `cid` belongs to, for content affinity */
  root?: CID
  /** ask the network even if the discovery cache has an answer @default false */
  noCache?: boolean
  /** the peers to prefer, in order */
  preferredPeers?: Array<PeerId | string>
}

/** The discovery layer's counters (`getMetrics()`). */
export interface DiscoveryMetrics {
  /** live peers per bucket index, only non-empty buckets */
  bucketFill: Record<number, number>
  peersInBuckets: number
  refreshes: number
  refreshesSkipped: number
  refreshErrors: number
  lookups: number
  /** lookups answered by the discovery cache, with no network traffic */
  discoveryCacheHits: number
  providersFound: Record<Provenance, number>
  peersInBackoff: number
  peersKnown: number
  trackedProviders: number
  successfulRequests: number
  failedRequests: number
  corruptBlocks: number
}

/** kad-dht's routing table, as far as we read it (`@libp2p/kad-dht` 16, not in its public types). */
interface KadRoutingTable {
  size: number
  kb?: { toIterable(): Iterable<{ peerId: PeerId }> }
  addEventListener(type: 'peer:add' | 'peer:remove', listener: (evt: CustomEvent<PeerId>) => void): void
  removeEventListener(type: 'peer:add' | 'peer:remove', listener: (evt: CustomEvent<PeerId>) => void): void
}

interface DhtQueryEvent {
  name: string
  providers?: Array<{ id: PeerId; multiaddrs: Multiaddr[] }>
}

/**
 * The base layer's discovery: it mirrors kad-dht's routing table in a k-bucket view
 * keyed on the Kademlia spec (kad-dht's table is the source of truth for who is in the
 * DHT; the view adds per-peer stats and the refresh schedule), refreshes nearer buckets
 * more often, tracks providers with provenance, keeps reputation and backoff per peer
 * (persisted in the repo's datastore), and finds providers from every source at once,
 * ranked as they arrive.
 *
 * @example
 * ```ts
 * const discovery = new EnhancedDHTDiscovery(peer, { role: 'worker' })
 * await discovery.start()
 * for await (const p of discovery.findProviders(cid, { count: 3 })) console.log(p.id, p.provenance)
 * ```
 */
export class EnhancedDHTDiscovery implements OutcomeSink {
  readonly peer: IPFSLibp2pPeer
  readonly role: Role
  readonly reputation: ReputationTracker
  readonly backoff: AdaptiveBackoff
  readonly providers: ProviderStore
  readonly affinity: ContentAffinity
  readonly #init: EnhancedDHTDiscoveryInit
  readonly #cache: DiscoveryCache<Provider>
  #buckets?: KBucketView
  #refresh?: BucketRefreshScheduler
  #log?: Logger
  #persistTimer?: ReturnType<typeof setInterval>
  #started = false
  #starting?: Promise<void>
  #stopController = new AbortController()
  /** per peer: requests in a row abandoned unanswered */
  readonly #unanswered = new Map<string, number>()
  #counters = {
    lookups: 0,
    discoveryCacheHits: 0,
    successfulRequests: 0,
    failedRequests: 0,
    corruptBlocks: 0,
    providersFound: { dht: 0, pubsub: 0, bitswap: 0, mdns: 0, connected: 0 } as Record<Provenance, number>
  }

  constructor(peer: IPFSLibp2pPeer, init: EnhancedDHTDiscoveryInit = {}) {
    this.peer = peer
    this.role = init.role ?? peer.role
    this.#init = init
    this.reputation = new ReputationTracker(init.reputation)
    this.backoff = new AdaptiveBackoff(init.backoff)
    this.providers = new ProviderStore(init.providers)
    this.affinity = new ContentAffinity(init.affinity)
    this.#cache = new DiscoveryCache<Provider>(init.cache)
  }

  get isStarted(): boolean {
    return this.#started
  }

  /** The k-bucket view (after start). */
  get buckets(): KBucketView {
    if (this.#buckets == null) throw new NotStartedError('discovery is not started')
    return this.#buckets
  }

  #libp2p(): Libp2p<PeerServices> {
    return this.peer.host
  }

  #routingTable(): KadRoutingTable {
    return (this.#libp2p().services.dht as unknown as { routingTable: KadRoutingTable }).routingTable
  }

  /** Start: starts the peer if needed, loads reputation, mirrors the routing table, schedules refreshes. */
  async start(options: AbortOptions = {}): Promise<void> {
    this.#starting ??= this.#start(options)
    return this.#starting
  }

  async #start(options: AbortOptions): Promise<void> {
    await this.peer.start()
    this.#stopController = new AbortController()
    this.#log = this.peer.logger.forComponent('kit:discovery')
    await this.reputation.load(this.peer.helia.datastore, options).catch((err: Error) => {
      this.#log?.error('could not load reputation: %s', err.message)
    })
    const libp2p = this.#libp2p()
    this.#buckets = new KBucketView(
      { peerId: libp2p.peerId, stats: (p) => this.reputation.stats(p) },
      this.#init.buckets
    )
    const table = this.#routingTable()
    for (const entry of table.kb?.toIterable() ?? []) this.#buckets.add(entry.peerId)
    table.addEventListener('peer:add', this.#onPeerAdd)
    table.addEventListener('peer:remove', this.#onPeerRemove)
    this.peer.bitswapGuard.addEventListener('violation', this.#onViolation)
    this.#refresh = new BucketRefreshScheduler(
      {
        buckets: this.#buckets,
        logger: this.peer.logger,
        refreshBucket: async (_index, key, { signal }) => {
          for await (const _ of libp2p.services.dht.getClosestPeers(key, { signal })) {
            // walking the query fills kad-dht's table, which feeds our view through its events
          }
        }
      },
      this.#init.refresh
    )
    this.#refresh.start()
    this.#persistTimer = setInterval(() => {
      void this.persist()
    }, this.#init.persistIntervalMs ?? DISCOVERY_PERSIST_INTERVAL_MS)
    this.#persistTimer.unref?.()
    this.#started = true
  }

  readonly #onPeerAdd = (evt: CustomEvent<PeerId>): void => {
    this.#buckets?.add(evt.detail)
  }

  /** A peer broke bitswap's rules on our server (the peer has already cut it off). */
  readonly #onViolation = (evt: CustomEvent<BitswapViolationEvent>): void => {
    this.penalise(evt.detail.peer)
  }

  /**
   * A peer broke a protocol's rules (flooded our bitswap server, sent a malformed
   * announcement): one failure in reputation and backoff, and its provider records and
   * affinity are dropped, so nothing it told us is relied on.
   */
  penalise(peer: PeerId): void {
    this.reputation.recordFailure(peer)
    this.backoff.recordFailure(peer)
    this.#counters.failedRequests++
    this.providers.removePeer(peer)
    this.affinity.forgetPeer(peer)
  }

  readonly #onPeerRemove = (evt: CustomEvent<PeerId>): void => {
    this.#buckets?.remove(evt.detail)
  }

  /** Write reputation to the repo's datastore. */
  async persist(options: AbortOptions = {}): Promise<void> {
    if (!this.#started) return
    await this.reputation.save(this.peer.helia.datastore, options).catch((err: Error) => {
      this.#log?.error('could not save reputation: %s', err.message)
    })
  }

  /** Stop: saves reputation, clears every timer and listener. Safe to call twice. */
  async stop(): Promise<void> {
    const starting = this.#starting
    if (starting == null) return
    await starting.catch(() => {})
    this.#starting = undefined
    if (!this.#started) return
    this.#stopController.abort()
    this.peer.bitswapGuard.removeEventListener('violation', this.#onViolation)
    clearInterval(this.#persistTimer)
    await this.#refresh?.stop()
    if (this.peer.isStarted) {
      const table = this.#routingTable()
      table.removeEventListener('peer:add', this.#onPeerAdd)
      table.removeEventListener('peer:remove', this.#onPeerRemove)
      await this.persist()
    }
    this.#started = false
  }

  /** Record that `provider` has `cid` (from pubsub, bitswap, or a caller). */
  addProvider(cid: CID, provider: Provider): void {
    this.providers.add(cid, provider)
    this.reputation.seen(provider.id)
    this.#cache.delete(cid)
    if (provider.multiaddrs.length > 0 && this.peer.isStarted) {
      void this.#libp2p()
        .peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs })
        .catch(() => {})
    }
  }

  /** Feed a request's outcome into reputation, backoff and metrics ({@link OutcomeSink}). */
  recordOutcome(peer: PeerId, outcome: RequestOutcome, cid: CID): void {
    switch (outcome.kind) {
      case 'success':
        this.#unanswered.delete(peer.toString())
        this.reputation.recordSuccess(peer, { latencyMs: outcome.latencyMs, bytes: outcome.bytes })
        this.backoff.recordSuccess(peer)
        this.#counters.successfulRequests++
        this.#buckets?.touch(peer)
        this.#tagUseful(peer)
        break
      case 'corrupt':
        this.reputation.recordVerificationFailure(peer)
        this.backoff.recordFailure(peer)
        this.#counters.corruptBlocks++
        this.#counters.failedRequests++
        this.providers.removePeer(peer)
        this.affinity.forgetPeer(peer)
        break
      case 'dont-have':
        // a peer that told us itself, over pubsub, that it has the content, and then does not,
        // lied (or announced what it no longer holds): that is a failure; otherwise the record
        // that sent us there (a DHT record, a want-have answer) is merely stale
        if (this.providers.get(cid, { provenance: 'pubsub' }).some((r) => r.id.equals(peer))) {
          this.reputation.recordFailure(peer)
          this.backoff.recordFailure(peer)
          this.#counters.failedRequests++
        } else {
          this.reputation.seen(peer)
        }
        this.providers.remove(cid, peer)
        break
      case 'slow':
        // it was cancelled while still waiting, so its real latency is longer than that:
        // count twice the wait (libp2p's AdaptiveTimeout uses the same failure multiplier)
        this.reputation.recordSlow(peer, 2 * outcome.latencyMs)
        {
          // a peer whose requests all go unanswered is failing, not slow
          const key = peer.toString()
          const streak = (this.#unanswered.get(key) ?? 0) + 1
          if (streak >= DISCOVERY_UNANSWERED_STREAK_FAILURE) {
            this.#unanswered.delete(key)
            this.reputation.recordFailure(peer)
            this.backoff.recordFailure(peer)
            this.#counters.failedRequests++
          } else {
            this.#unanswered.set(key, streak)
            if (this.#unanswered.size > DISCOVERY_UNANSWERED_PEERS_KEPT) {
              const oldest = this.#unanswered.keys().next().value
              if (oldest != null) this.#unanswered.delete(oldest)
            }
          }
        }
        break
      case 'timeout':
      case 'error':
        this.reputation.recordFailure(peer, {
          waitedMs: outcome.kind === 'timeout' ? outcome.latencyMs : undefined
        })
        this.backoff.recordFailure(peer)
        this.#counters.failedRequests++
        break
    }
  }

  /**
   * Connection pooling: tag a provider that served us with its score, so that libp2p's
   * connection manager, when over the role's connection limit, closes the connections
   * of the least useful peers first and keeps good providers connected.
   */
  #tagUseful(peer: PeerId): void {
    if (!this.peer.isStarted || this.peer.offline) return
    const value = Math.round(this.reputation.score(peer) * 100)
    void this.#libp2p()
      .peerStore.merge(peer, {
        tags: { [DISCOVERY_PROVIDER_TAG]: { value, ttl: DISCOVERY_PROVIDER_TAG_TTL_MS } }
      })
      .catch(() => {})
  }

  /** Note that `peer` served `cid` (part of the DAG under `root`): content affinity. */
  recordServed(peer: PeerId, cid: CID, root?: CID): void {
    this.affinity.recordServed(peer, cid, { root })
  }

  #connected(): Set<string> {
    return new Set(
      this.#libp2p()
        .getConnections()
        .map((c) => c.remotePeer.toString())
    )
  }

  /**
   * Known providers of `cid`, best first, without network traffic: provider records,
   * affinity candidates (peers that served the DAG's root or siblings), and ranking by
   * reputation, availability and backoff.
   */
  getOptimalProviders(cid: CID, options: Omit<FindProvidersOptions, 'signal' | 'noCache'> = {}): Provider[] {
    const candidates = new Map<string, Provider>()
    for (const record of this.providers.get(cid)) {
      candidates.set(record.id.toString(), {
        id: record.id,
        multiaddrs: record.multiaddrs,
        provenance: record.provenance
      })
    }
    for (const c of this.affinity.candidatesFor(cid, { root: options.root })) {
      const key = c.peerId.toString()
      if (!candidates.has(key)) candidates.set(key, { id: c.peerId, multiaddrs: [], provenance: 'bitswap' })
    }
    for (const p of this.#cache.get(cid) ?? []) {
      if (!candidates.has(p.id.toString())) candidates.set(p.id.toString(), p)
    }
    return this.rank(cid, [...candidates.values()], options)
  }

  /** Rank providers of `cid` by reputation, backoff, affinity and connectedness. */
  rank(
    cid: CID,
    providers: Provider[],
    options: Omit<FindProvidersOptions, 'signal' | 'noCache'> = {}
  ): Provider[] {
    return rankProviders(providers, {
      reputation: this.reputation,
      backoff: this.backoff,
      affinity: this.affinity.scoresFor(cid, { root: options.root }),
      connected: this.peer.isStarted ? this.#connected() : undefined,
      preferredPeers: options.preferredPeers,
      count: options.count
    })
  }

  /**
   * Find providers of `cid` from every source at once: known records and affinity
   * first, then connected peers that answer a bitswap want-have, then the DHT. Each
   * provider is yielded once, as soon as it is known; results are cached for a while so
   * that a repeated lookup costs no network traffic.
   */
  async *findProviders(cid: CID, options: FindProvidersOptions = {}): AsyncGenerator<Provider> {
    if (!this.#started) throw new NotStartedError('discovery is not started: call start() first')
    const count = options.count ?? 20
    this.#counters.lookups++
    const seen = new Set<string>([this.#libp2p().peerId.toString()])
    const found: Provider[] = []
    const emit = (p: Provider): boolean => {
      const key = p.id.toString()
      if (seen.has(key)) return false
      seen.add(key)
      found.push(p)
      return true
    }

    const known = this.getOptimalProviders(cid, options)
    const cached = options.noCache === true ? undefined : this.#cache.get(cid)
    for (const p of known) {
      if (emit(p)) yield p
      if (found.length >= count) return
    }
    if (cached != null && cached.length > 0) {
      this.#counters.discoveryCacheHits++
      return
    }

    const controller = new AbortController()
    const signal = AbortSignal.any([
      controller.signal,
      this.#stopController.signal,
      options.signal ?? AbortSignal.timeout(DISCOVERY_FIND_TIMEOUT_MS)
    ])
    try {
      await this.peer.waitForBootstrap({ signal })
      for await (const p of merge(this.#probeConnected(cid, signal), this.#queryDht(cid, signal))) {
        if (!emit(p)) continue
        this.#counters.providersFound[p.provenance]++
        this.providers.add(cid, p)
        yield p
        if (found.length >= count) break
      }
    } catch (err) {
      if (!signal.aborted) throw err
    } finally {
      controller.abort()
    }
    if (found.length > 0) this.#cache.set(cid, found)
  }

  /** Ask the best connected peers whether they have `cid` (bitswap want-have). */
  async *#probeConnected(cid: CID, signal: AbortSignal): AsyncGenerator<Provider> {
    const libp2p = this.#libp2p()
    const connections = libp2p.getConnections()
    if (connections.length === 0) return
    const wantList = bitswapOf(this.peer.helia).bitswap.wantList
    const peers = this.rank(
      cid,
      connections.map((c) => ({
        id: c.remotePeer,
        multiaddrs: [c.remoteAddr],
        provenance: 'connected' as const
      })),
      { count: DISCOVERY_CONNECTED_PROBE_LIMIT }
    )
    const probeSignal = AbortSignal.any([signal, AbortSignal.timeout(DISCOVERY_CONNECTED_PROBE_TIMEOUT_MS)])
    const answers = pushable<Provider>({ objectMode: true })
    let remaining = peers.length
    for (const p of peers) {
      // a peer may answer a want-have for a small block with the block itself
      noteAsked(wantList, p.id, cid)
      wantList
        .wantSessionPresence(cid, p.id, { signal: probeSignal })
        .then((presence) => {
          if (presence.has) answers.push({ ...p, provenance: 'bitswap' })
        })
        .catch(() => {})
        .finally(() => {
          if (--remaining === 0) answers.end()
        })
    }
    yield* answers
  }

  /** kad-dht provider records. */
  async *#queryDht(cid: CID, signal: AbortSignal): AsyncGenerator<Provider> {
    const libp2p = this.#libp2p()
    for await (const event of libp2p.services.dht.findProviders(cid, {
      signal
    }) as AsyncIterable<DhtQueryEvent>) {
      if (event.name !== 'PROVIDER' || event.providers == null) continue
      for (const info of event.providers) {
        if (info.multiaddrs.length > 0) {
          await libp2p.peerStore.merge(info.id, { multiaddrs: info.multiaddrs }).catch(() => {})
        }
        yield { id: info.id, multiaddrs: info.multiaddrs, provenance: 'dht' }
      }
    }
  }

  /** Reputation and backoff of one peer. */
  getPeerStats(
    peer: PeerId | string
  ): (PeerStats & { backoffLevel: number; nextAttemptAt?: number }) | undefined {
    const stats = this.reputation.stats(peer)
    if (stats == null) return undefined
    const id = typeof peer === 'string' ? undefined : peer
    return {
      ...stats,
      backoffLevel: id == null ? 0 : this.backoff.level(id),
      nextAttemptAt: id == null ? undefined : this.backoff.nextAttemptAt(id)
    }
  }

  getMetrics(): DiscoveryMetrics {
    const fill: Record<number, number> = {}
    this.#buckets?.fill().forEach((n, i) => {
      if (n > 0) fill[i] = n
    })
    const refresh = this.#refresh?.metrics()
    return {
      bucketFill: fill,
      peersInBuckets: this.#buckets?.size ?? 0,
      refreshes: refresh?.completed ?? 0,
      refreshesSkipped: refresh?.skippedRecentTraffic ?? 0,
      refreshErrors: refresh?.failed ?? 0,
      lookups: this.#counters.lookups,
      discoveryCacheHits: this.#counters.discoveryCacheHits,
      providersFound: { ...this.#counters.providersFound },
      peersInBackoff: this.backoff.peersInBackoff(),
      peersKnown: this.reputation.size,
      trackedProviders: this.providers.size,
      successfulRequests: this.#counters.successfulRequests,
      failedRequests: this.#counters.failedRequests,
      corruptBlocks: this.#counters.corruptBlocks
    }
  }
}
