import type { AbortOptions, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { TieredCache } from '../../cache/index.ts'
import { parseCID } from '../../cids.ts'
import { DEFAULT_NETWORK_TIMEOUT_MS } from '../../constants.ts'
import { NotFoundError } from '../../errors.ts'
import {
  type DiscoveryMetrics,
  EnhancedDHTDiscovery,
  type EnhancedDHTDiscoveryInit
} from '../discovery/enhanced-dht-discovery.ts'
import type { IPFSLibp2pPeer } from '../peer/index.ts'
import { type BitswapBroker, bitswapOf } from '../routing/bitswap-access.ts'
import { type ContentRoutingInit, ContentRoutingManager, type RoutingMetrics } from '../routing/index.ts'

/** What the integration needs of a kit: its Helia node, to route the kit's own block requests. */
export interface IntegrationHost {
  readonly peer: IPFSLibp2pPeer
  /** a block fetched into the host's blockstore: the host's cache indexes it (one copy on disk) */
  noteFetched?(cid: CID, size: number): void
}

/** Options of {@link LibP2PIntegration}. */
export interface LibP2PIntegrationInit {
  discovery?: EnhancedDHTDiscoveryInit
  routing?: ContentRoutingInit
  /**
   * route every block request of the kit's own node (`ipfsCat`, pins, …) through the
   * content routing manager, not only the filesystem's cache misses @default true when the
   * integration's peer is the kit's own peer
   */
  routeKitRequests?: boolean
}

/** `getStats()` of the integration (the seed's `get_stats()`). */
export interface IntegrationStats {
  cacheMisses: number
  cacheMissesHandled: number
  cacheMissesFailed: number
  totalBytesRetrieved: number
  /** handled / misses, 0 with no misses yet */
  successRate: number
  /** ms per handled miss */
  averageRetrieveTime: number
  discoveryMetrics: DiscoveryMetrics & RoutingMetrics
}

/**
 * The integration layer: connects enhanced discovery and content routing to a kit and
 * its tiered cache. A cache miss is fetched from the best peers, verified, and put
 * into the cache; stats say how often that worked and how fast.
 *
 * @example
 * ```ts
 * const integration = await registerLibp2pWithIpfsKit(kit, peer)
 * const bytes = await integration.handleCacheMiss(cid)
 * console.log(integration.getStats().successRate)
 * ```
 */
export class LibP2PIntegration {
  readonly peer: IPFSLibp2pPeer
  readonly kit: IntegrationHost
  readonly cache: TieredCache
  readonly discovery: EnhancedDHTDiscovery
  readonly router: ContentRoutingManager
  readonly #init: LibP2PIntegrationInit
  #log?: Logger
  #starting?: Promise<void>
  #restoreBroker?: () => void
  readonly #stats = {
    cacheMisses: 0,
    cacheMissesHandled: 0,
    cacheMissesFailed: 0,
    totalBytesRetrieved: 0,
    retrieveTime: 0
  }

  constructor(
    peer: IPFSLibp2pPeer,
    kit: IntegrationHost,
    cache: TieredCache,
    init: LibP2PIntegrationInit = {}
  ) {
    this.peer = peer
    this.kit = kit
    this.cache = cache
    this.#init = init
    this.discovery = new EnhancedDHTDiscovery(peer, init.discovery)
    // a block fetched into the kit's own blockstore is indexed by the kit's cache (one copy
    // on disk, bounded by the role's disk budget); not awaited
    const indexed = peer === kit.peer
    const onBlockStored = (c: CID, size: number): void => {
      init.routing?.onBlockStored?.(c, size)
      if (indexed) kit.noteFetched?.(c, size)
    }
    this.router = new ContentRoutingManager(this.discovery, peer, { ...init.routing, onBlockStored })
  }

  /** Start discovery and routing (and the peer and the cache if needed). Safe to call twice. */
  async start(options: AbortOptions = {}): Promise<void> {
    this.#starting ??= this.#start(options)
    return this.#starting
  }

  async #start(options: AbortOptions): Promise<void> {
    await this.peer.start()
    await this.cache.start()
    await this.router.start(options)
    this.#log = this.peer.logger.forComponent('kit:integration')
    const sameNode = this.peer === this.kit.peer
    if (this.#init.routeKitRequests ?? sameNode) this.#restoreBroker = this.#routeKitRequests()
  }

  /**
   * Put our router behind the kit node's bitswap broker, so every block the node asks the
   * network for goes to the best providers with hedging. Serving blocks to others stays
   * with Helia's bitswap, untouched.
   */
  #routeKitRequests(): () => void {
    const helia = this.kit.peer.helia
    const brokers = (helia as typeof helia & { blockBrokers: BitswapBroker[] }).blockBrokers
    const original = bitswapOf(helia)
    const index = brokers.indexOf(original)
    const routed: BitswapBroker = {
      name: 'bitswap',
      bitswap: original.bitswap,
      announce: original.announce?.bind(original),
      retrieve: async (cid: CID, opts: AbortOptions = {}) =>
        (await this.router.fetchBlock(cid, { signal: opts.signal })).block
    }
    brokers[index] = routed
    return () => {
      const i = brokers.indexOf(routed)
      if (i !== -1) brokers[i] = original
    }
  }

  /**
   * Fetch a block the cache does not hold from the best peers, verify it, put it in the
   * cache, and return it. `root` is the DAG it belongs to (content affinity).
   */
  async handleCacheMiss(cid: CID | string, options: AbortOptions & { root?: CID } = {}): Promise<Uint8Array> {
    await this.start()
    const c = parseCID(cid)
    this.#stats.cacheMisses++
    const started = Date.now()
    const signal = options.signal ?? AbortSignal.timeout(DEFAULT_NETWORK_TIMEOUT_MS)
    try {
      // one fetch for concurrent misses of the same block (the cache's single-flight)
      const block = await this.cache.getOrFetch(
        c,
        async (fetchSignal) =>
          (await this.router.fetchBlock(c, { root: options.root, signal: fetchSignal })).block,
        { signal }
      )
      this.#stats.cacheMissesHandled++
      this.#stats.totalBytesRetrieved += block.byteLength
      this.#stats.retrieveTime += Date.now() - started
      return block
    } catch (err) {
      this.#stats.cacheMissesFailed++
      this.#log?.('cache miss for %c failed: %s', c, (err as Error).message)
      if ((err as Error).name === 'AllProvidersFailedError' || (err as Error).name === 'NotFoundError') {
        throw new NotFoundError(`${c} could not be fetched from any peer: ${(err as Error).message}`, {
          cause: err
        })
      }
      throw err
    }
  }

  /** Announce content held locally (DHT provide and pubsub). */
  async announceContent(
    cid: CID | string,
    options: Parameters<ContentRoutingManager['announceContent']>[1] = {}
  ): Promise<void> {
    await this.start()
    await this.router.announceContent(cid, options)
  }

  getStats(): IntegrationStats {
    const s = this.#stats
    return {
      cacheMisses: s.cacheMisses,
      cacheMissesHandled: s.cacheMissesHandled,
      cacheMissesFailed: s.cacheMissesFailed,
      totalBytesRetrieved: s.totalBytesRetrieved,
      successRate: s.cacheMisses === 0 ? 0 : s.cacheMissesHandled / s.cacheMisses,
      averageRetrieveTime: s.cacheMissesHandled === 0 ? 0 : s.retrieveTime / s.cacheMissesHandled,
      discoveryMetrics: { ...this.discovery.getMetrics(), ...this.router.getMetrics() }
    }
  }

  /** Stop routing and discovery (not the peer, not the cache). Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#starting == null) return
    await this.#starting.catch(() => {})
    this.#starting = undefined
    this.#restoreBroker?.()
    this.#restoreBroker = undefined
    await this.router.stop()
    await this.discovery.stop()
  }
}
