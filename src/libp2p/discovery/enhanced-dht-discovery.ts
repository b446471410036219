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
  DISCOVERY_PROVIDER_TAG,
  DISCOVERY_PROVIDER_TAG_STEP,
  DISCOVERY_PROVIDER_TAG_TTL_MS,
  DISCOVERY_PRUNE_INTERVAL_MS,
  DISCOVERY_UNANSWERED_MAX_AGE_MS,
  DISCOVERY_UNANSWERED_PEERS_KEPT,
  DISCOVERY_UNANSWERED_STREAK_FAILURE
} from '../../constants.ts'
import { NotStartedError } from '../../errors.ts'
import type { BitswapViolationEvent, IPFSLibp2pPeer, PeerServices } from '../peer/index.ts'
import { bitswapOf } from '../routing/bitswap-access.ts'
import type { OutcomeSink, RequestOutcome } from '../routing/hedged-fetcher.ts'
import { recentWantsOf } from '../routing/recent-wants.ts'
import { ContentAffinity, type ContentAffinityInit } from './affinity.ts'
import { AdaptiveBackoff, type BackoffInit } from './backoff.ts'
import { DelegatedRouters, type DelegatedRoutersInit } from './delegated.ts'
import { DiscoveryCache, type DiscoveryCacheInit } from './discovery-cache.ts'
import { KBucketView, type KBucketViewInit } from './k-buckets.ts'
import { LruMap } from './keys.ts'
import { ProviderStore, type ProviderStoreInit } from './providers.ts'
import { rankProviders } from './ranking.ts'
import { BucketRefreshScheduler, type RefreshSchedulerInit } from './refresh.ts'
import type { ReputationTracker } from './reputation.ts'
import type { DiscoveryMetrics, PeerStats, Provenance, Provider, StateSizes } from './types.ts'

export type { DiscoveryMetrics, StateSizes } from './types.ts'

/** Options of {@link EnhancedDHTDiscovery}. Every option is optional. */
export interface EnhancedDHTDiscoveryInit {
  /** @default the peer's role */
  role?: Role
  buckets?: KBucketViewInit
  refresh?: RefreshSchedulerInit
  backoff?: BackoffInit
  providers?: ProviderStoreInit
  affinity?: ContentAffinityInit
  cache?: DiscoveryCacheInit
  /** how the HTTP delegated routers of the peer (`delegatedRouters` of its init) are asked */
  delegated?: DelegatedRoutersInit
  /** how often aged-out state is dropped @default DISCOVERY_PRUNE_INTERVAL_MS */
  pruneIntervalMs?: number
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
  /** connected peers asked whether they have it (bitswap want-have), best ranked first @default DISCOVERY_CONNECTED_PROBE_LIMIT */
  probeLimit?: number
  /** how long connected peers get to answer that want-have @default DISCOVERY_CONNECTED_PROBE_TIMEOUT_MS */
  probeTimeoutMs?: number
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
  /** the peer's reputation store, shared by every discovery on the peer */
  readonly reputation: ReputationTracker
  readonly backoff: AdaptiveBackoff
  readonly providers: ProviderStore
  readonly affinity: ContentAffinity
  readonly #init: EnhancedDHTDiscoveryInit
  readonly #cache: DiscoveryCache<Provider>
  #buckets?: KBucketView
  #delegated?: DelegatedRouters
  #refresh?: BucketRefreshScheduler
  #log?: Logger
  #pruneTimer?: ReturnType<typeof setInterval>
  #started = false
  #starting?: Promise<void>
  #stopController = new AbortController()
  /** per peer: requests in a row abandoned unanswered, and when the last one was */
  readonly #unanswered = new LruMap<string, { streak: number; at: number }>(DISCOVERY_UNANSWERED_PEERS_KEPT)
  /** the provider tag last written to the peer store, per peer: written again only on change */
  readonly #tagged = new LruMap<string, { value: number; at: number }>(DISCOVERY_UNANSWERED_PEERS_KEPT)
  #counters = {
    lookups: 0,
    discoveryCacheHits: 0,
    successfulRequests: 0,
    failedRequests: 0,
    corruptBlocks: 0,
    providersFound: { dht: 0, pubsub: 0, bitswap: 0, mdns: 0, connected: 0, delegated: 0 } as Record<
      Provenance,
      number
    >
  }

  constructor(peer: IPFSLibp2pPeer, init: EnhancedDHTDiscoveryInit = {}) {
    this.peer = peer
    this.role = init.role ?? peer.role
    this.#init = init
    this.reputation = peer.reputation
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

  /** The peer's HTTP delegated routers, with their reputation (after start; none configured: undefined). */
  get delegated(): DelegatedRouters | undefined {
    return this.#delegated
  }

  #libp2p(): Libp2p<PeerServices> {
    return this.peer.host
  }

  #routingTable(): KadRoutingTable {
    return (this.#libp2p().services.dht as unknown as { routingTable: KadRoutingTable }).routingTable
  }

  /** Start: starts the peer if needed (which loads reputation), mirrors the routing table, schedules refreshes. */
  async start(options: AbortOptions = {}): Promise<void> {
    this.#starting ??= this.#start(options)
    return this.#starting
  }

  async #start(options: AbortOptions): Promise<void> {
    await this.peer.start()
    this.#stopController = new AbortController()
    this.#log = this.peer.logger.forComponent('kit:discovery')
    options.signal?.throwIfAborted()
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
    libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
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
    const routers = this.peer.settings.delegatedRouters
    if (routers.length > 0) {
      this.#delegated = new DelegatedRouters(
        routers,
        { logger: this.peer.logger, self: libp2p.peerId },
        this.#init.delegated
      )
      await this.#delegated.start()
    }
    this.#pruneTimer = setInterval(() => {
      this.prune()
    }, this.#init.pruneIntervalMs ?? DISCOVERY_PRUNE_INTERVAL_MS)
    this.#pruneTimer.unref?.()
    this.#started = true
  }

  /**
   * Drop what has aged out: expired provider records and cached lookups, backoff that has
   * reset, reputation and affinity of peers idle for long, old unanswered streaks. Runs every
   * `pruneIntervalMs` while started.
   */
  prune(now: number = Date.now()): void {
    this.providers.prune(now)
    this.#cache.prune(now)
    this.backoff.prune(now)
    this.reputation.prune(now)
    this.affinity.prune(now)
    if (this.peer.isStarted && !this.peer.offline)
      recentWantsOf(bitswapOf(this.peer.helia).bitswap.wantList).prune(now)
    for (const [key, { at }] of this.#unanswered) {
      if (now - at >= DISCOVERY_UNANSWERED_MAX_AGE_MS) this.#unanswered.delete(key)
    }
    for (const [key, { at }] of this.#tagged) {
      if (now - at >= DISCOVERY_PROVIDER_TAG_TTL_MS) this.#tagged.delete(key)
    }
  }

  /**
   * Every map this discovery keeps that is keyed by peer or CID, with its bound: what the
   * churn test checks, and what an operator can watch.
   */
  stateSizes(): StateSizes {
    const providers = this.providers.bounds
    const affinity = this.affinity.bounds
    const view = this.#buckets
    return {
      'discovery.providers.cids': { size: this.providers.cidCount, max: providers.maxCids },
      'discovery.providers.records': { size: this.providers.size, max: providers.maxRecords },
      'discovery.cache': { size: this.#cache.size, max: this.#cache.maxEntries },
      'discovery.reputation': { size: this.reputation.size, max: this.reputation.maxPeers },
      'discovery.backoff': { size: this.backoff.size, max: this.backoff.maxPeers },
      'discovery.affinity.groups': { size: this.affinity.groupCount, max: affinity.maxGroups },
      'discovery.affinity.links': { size: this.affinity.linkCount, max: affinity.maxLinks },
      'discovery.unanswered': { size: this.#unanswered.size, max: this.#unanswered.max },
      'discovery.tagged': { size: this.#tagged.size, max: this.#tagged.max },
      'discovery.buckets': {
        size: (view?.size ?? 0) + (view?.replacementCount ?? 0),
        // one bucket per bit of the key, each with k live entries and its replacements
        max: 256 * ((view?.k ?? 0) + (view?.replacementCacheSize ?? 0))
      }
    }
  }

  /** A peer disconnected: it is no longer a provider we can count on without a dial. */
  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.#cache.removePeer(evt.detail)
  }

  readonly #onPeerAdd = (evt: CustomEvent<PeerId>): void => {
    this.#buckets?.add(evt.detail)
  }

  /**
   * A peer broke bitswap's rules on our server: the peer has already cut it off and recorded
   * the failure in its reputation; this discovery stops relying on it.
   */
  readonly #onViolation = (evt: CustomEvent<BitswapViolationEvent>): void => {
    this.distrust(evt.detail.peer)
  }

  /**
   * A peer broke a protocol's rules (flooded our bitswap server, sent a malformed
   * announcement) and its failure is in the peer's reputation already (recorded once by
   * whoever saw it, as every discovery on the peer shares that store): it goes into backoff,
   * and its provider records, cached lookups and affinity are dropped, so nothing it told us is
   * relied on.
   */
  distrust(peer: PeerId): void {
    this.#log?.('%p broke a rule: backed off, its records, cached lookups and affinity dropped', peer)
    this.backoff.recordFailure(peer)
    this.#forget(peer)
    this.providers.removePeer(peer)
    this.affinity.forgetPeer(peer)
  }

  /** A failed request: reputation, backoff, and out of every cached lookup at once. */
  #fail(peer: PeerId, waitedMs?: number): void {
    this.reputation.recordFailure(peer, { waitedMs })
    this.backoff.recordFailure(peer)
    this.#forget(peer)
  }

  /** Bad news of a peer: out of every cached lookup, its unanswered streak ended, counted. */
  #forget(peer: PeerId): void {
    this.#cache.removePeer(peer)
    this.#unanswered.delete(peer.toString())
    this.#counters.failedRequests++
  }

  readonly #onPeerRemove = (evt: CustomEvent<PeerId>): void => {
    this.#buckets?.remove(evt.detail)
  }

  /** Write the reputation that changed to the peer's datastore (see `IPFSLibp2pPeer.saveReputation`). */
  async persist(options: AbortOptions = {}): Promise<void> {
    await this.peer.saveReputation(options)
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
    clearInterval(this.#pruneTimer)
    await this.#refresh?.stop()
    await this.#delegated?.stop()
    this.#delegated = undefined
    if (this.peer.isStarted) {
      this.#libp2p().removeEventListener('peer:disconnect', this.#onDisconnect)
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
        // (an answer ends an unanswered streak)
        this.#unanswered.delete(peer.toString())
        this.reputation.recordSuccess(peer, { latencyMs: outcome.latencyMs, bytes: outcome.bytes })
        this.backoff.recordSuccess(peer)
        this.#counters.successfulRequests++
        this.#buckets?.touch(peer)
        this.#tagUseful(peer)
        break
      case 'corrupt':
        this.reputation.recordVerificationFailure(peer)
        this.distrust(peer)
        this.#counters.corruptBlocks++
        break
      case 'dont-have':
        // a peer that told us itself, over pubsub, that it has the content, and then does not,
        // lied (or announced what it no longer holds): that is a failure; otherwise the record
        // that sent us there (a DHT record, a want-have answer) is merely stale
        this.#unanswered.delete(peer.toString())
        if (this.providers.get(cid, { provenance: 'pubsub' }).some((r) => r.id.equals(peer))) {
          this.#fail(peer)
        } else {
          this.reputation.seen(peer)
        }
        this.providers.remove(cid, peer)
        this.#cache.removeProvider(cid, peer)
        break
      case 'slow':
        // it was cancelled while still waiting, so its real latency is longer than that:
        // count twice the wait (libp2p's AdaptiveTimeout uses the same failure multiplier)
        this.reputation.recordSlow(peer, 2 * outcome.latencyMs)
        {
          // a peer that leaves request after request unanswered is failing, not slow: one
          // lost race is no fault, a streak of them with no answer in between is
          const key = peer.toString()
          const streak = (this.#unanswered.get(key)?.streak ?? 0) + 1
          if (streak >= DISCOVERY_UNANSWERED_STREAK_FAILURE) this.#fail(peer)
          else this.#unanswered.set(key, { streak, at: Date.now() })
        }
        break
      case 'timeout':
      case 'error':
        this.#fail(peer, outcome.kind === 'timeout' ? outcome.latencyMs : undefined)
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
    // a peer-store write (a LevelDB merge) per served block would cost more than the block:
    // the tag is written again when its value moves or a quarter of its lifetime has passed
    const key = peer.toString()
    const now = Date.now()
    const last = this.#tagged.get(key)
    if (
      last != null &&
      Math.abs(last.value - value) < DISCOVERY_PROVIDER_TAG_STEP &&
      now - last.at < DISCOVERY_PROVIDER_TAG_TTL_MS / 4
    )
      return
    this.#tagged.set(key, { value, at: now })
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

  /** Neither flagged for a bad block nor backed off. */
  #usable(peer: PeerId): boolean {
    return !this.reputation.isFlagged(peer) && !this.backoff.isBackedOff(peer)
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
    // a cached answer stands only while one of its providers is usable (bad outcomes drop
    // peers from it at once; a peer flagged or backed off since is no answer either)
    if (cached?.some((p) => this.#usable(p.id)) === true) {
      this.#counters.discoveryCacheHits++
      return
    }

    const controller = new AbortController()
    const signal = AbortSignal.any([
      controller.signal,
      this.#stopController.signal,
      options.signal ?? AbortSignal.timeout(DISCOVERY_FIND_TIMEOUT_MS)
    ])
    // the probe's want-haves and the routers' lookups are answered whether or not this caller
    // still listens: they run to their own timeout (or the caller's deadline) and every answer is kept
    const probeSignal = AbortSignal.any([
      this.#stopController.signal,
      ...(options.signal == null ? [] : [options.signal])
    ])
    // the delegated routers need no DHT: asked at once, they answer while the bootstrap goes on
    const routed = this.#lookupDelegated(cid, probeSignal, signal)
    try {
      await this.peer.waitForBootstrap({ signal })
      const probe = {
        limit: options.probeLimit ?? DISCOVERY_CONNECTED_PROBE_LIMIT,
        timeoutMs: options.probeTimeoutMs ?? DISCOVERY_CONNECTED_PROBE_TIMEOUT_MS
      }
      for await (const p of merge(
        this.#probeConnected(cid, probe, probeSignal, signal),
        this.#queryDht(cid, signal),
        routed
      )) {
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

  /**
   * Ask the best connected peers whether they have `cid` (bitswap want-have). The want-haves
   * live until `probe.timeoutMs` or `signal`, not only while the caller listens (`listening`),
   * and every answer is recorded as a provider: a caller that has what it needed after the first
   * answer (the block of a DAG's root) stops listening, and the DAG's session finds the others (a peer asked
   * again within a few seconds may not answer: bitswap servers do not repeat themselves).
   */
  async *#probeConnected(
    cid: CID,
    probe: { limit: number; timeoutMs: number },
    signal: AbortSignal,
    listening: AbortSignal
  ): AsyncGenerator<Provider> {
    const libp2p = this.#libp2p()
    const connections = libp2p.getConnections()
    if (connections.length === 0) return
    const wantList = bitswapOf(this.peer.helia).bitswap.wantList
    const recent = recentWantsOf(wantList)
    const peers = this.rank(
      cid,
      connections
        // a peer we are asking for the block already: a want-have would downgrade that want
        // on its side (it would answer HAVE, not the block), and it answers the want anyway
        .filter((c) => !recent.isAsking(c.remotePeer, cid))
        .map((c) => ({
          id: c.remotePeer,
          multiaddrs: [c.remoteAddr],
          provenance: 'connected' as const
        })),
      { count: probe.limit }
    )
    if (peers.length === 0) return
    const probeSignal = AbortSignal.any([signal, AbortSignal.timeout(probe.timeoutMs)])
    const answers = pushable<Provider>({ objectMode: true })
    let remaining = peers.length
    for (const p of peers) {
      // (tracked as asked: a peer may answer a want-have for a small block with the block itself)
      recent
        .track(p.id, cid, async () => wantList.wantSessionPresence(cid, p.id, { signal: probeSignal }))
        .then((presence) => {
          if (!presence.has) return
          const provider: Provider = { ...p, provenance: 'bitswap' }
          this.providers.add(cid, provider)
          if (!listening.aborted) answers.push(provider)
        })
        .catch(() => {})
        .finally(() => {
          if (--remaining === 0) answers.end()
        })
    }
    yield* answers
  }

  /**
   * The HTTP delegated routers' provider records, their lookups sent now. Each provider's
   * addresses go to the peer store (before it is yielded: it is dialled by peer id), and its
   * record is kept even if the caller stopped listening before it came. A router that does not
   * answer in time has failed, whether or not this caller still listens.
   */
  #lookupDelegated(cid: CID, signal: AbortSignal, listening: AbortSignal): AsyncIterable<Provider> {
    const delegated = this.#delegated
    if (delegated == null) return (async function* () {})()
    const libp2p = this.#libp2p()
    const remember = async (p: Provider): Promise<void> => {
      if (p.multiaddrs.length > 0)
        await libp2p.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {})
    }
    const answers = delegated.lookup(cid, {
      signal,
      listening,
      onProvider: (p) => {
        this.providers.add(cid, p)
        void remember(p)
      }
    })
    return (async function* () {
      for await (const p of answers) {
        await remember(p)
        yield p
      }
    })()
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
      corruptBlocks: this.#counters.corruptBlocks,
      delegatedRouters: this.#delegated?.stats() ?? []
    }
  }
}
