/**
 * TTL cache of findProviders results: a repeated lookup within the TTL costs no network traffic.
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import {
  DISCOVERY_CACHE_MAX_ENTRIES,
  DISCOVERY_CACHE_MAX_PROVIDERS,
  DISCOVERY_CACHE_NEGATIVE_TTL_MS,
  DISCOVERY_CACHE_TTL_MS
} from '../../constants.ts'
import { contentKey, LruMap, peerKey } from './keys.ts'
import type { Provider } from './types.ts'

/** Options of {@link DiscoveryCache}. */
export interface DiscoveryCacheInit {
  /** lifetime of a non-empty result. @default DISCOVERY_CACHE_TTL_MS (5 min) */
  ttlMs?: number
  /** lifetime of an empty result. @default DISCOVERY_CACHE_NEGATIVE_TTL_MS (30 s) */
  negativeTtlMs?: number
  /** results kept (least recently used evicted). @default DISCOVERY_CACHE_MAX_ENTRIES (1 000) */
  maxEntries?: number
  /** providers kept per result (the first ones). @default DISCOVERY_CACHE_MAX_PROVIDERS (64) */
  maxProviders?: number
}

/** Hit and miss counters of the cache. */
export interface DiscoveryCacheStats {
  hits: number
  misses: number
  /** results held (including expired ones not yet pruned) */
  size: number
}

interface CacheEntry<P> {
  providers: readonly P[]
  expiresAt: number
}

/**
 * Results of provider lookups keyed by the CID's multihash. Store a lookup's providers when it
 * ends (`set`); an empty result is kept for the shorter negative TTL.
 *
 * @example
 * ```ts
 * const cached = cache.get(cid)
 * if (cached !== undefined) { yield* cached; return }     // no network traffic
 * const found: Provider[] = []
 * for await (const p of lookup(cid, { signal })) { found.push(p); yield p }
 * cache.set(cid, found)
 * ```
 */
export class DiscoveryCache<P extends { id: PeerId } = Provider> {
  readonly #entries: LruMap<string, CacheEntry<P>>
  readonly #ttlMs: number
  readonly #negativeTtlMs: number
  readonly #maxProviders: number
  #hits = 0
  #misses = 0

  constructor(init: DiscoveryCacheInit = {}) {
    this.#ttlMs = init.ttlMs ?? DISCOVERY_CACHE_TTL_MS
    this.#negativeTtlMs = init.negativeTtlMs ?? DISCOVERY_CACHE_NEGATIVE_TTL_MS
    this.#maxProviders = Math.max(0, init.maxProviders ?? DISCOVERY_CACHE_MAX_PROVIDERS)
    this.#entries = new LruMap(init.maxEntries ?? DISCOVERY_CACHE_MAX_ENTRIES)
  }

  /** The cached providers of `cid` (possibly empty: a cached "none found"), or undefined on a miss. */
  get(cid: CID, now: number = Date.now()): readonly P[] | undefined {
    const key = contentKey(cid)
    const entry = this.#entries.get(key)
    if (entry === undefined || entry.expiresAt <= now) {
      if (entry !== undefined) this.#entries.delete(key)
      this.#misses++
      return undefined
    }
    this.#hits++
    return entry.providers
  }

  /** Cache a lookup's result (de-duplicated by peer id, first kept) for the TTL. */
  set(cid: CID, providers: Iterable<P>, options: { now?: number; ttlMs?: number } = {}): void {
    const now = options.now ?? Date.now()
    const seen = new Set<string>()
    const kept: P[] = []
    for (const provider of providers) {
      if (kept.length >= this.#maxProviders) break
      const key = peerKey(provider.id)
      if (seen.has(key)) continue
      seen.add(key)
      kept.push(provider)
    }
    const ttl = options.ttlMs ?? (kept.length === 0 ? this.#negativeTtlMs : this.#ttlMs)
    this.#entries.set(contentKey(cid), { providers: Object.freeze(kept), expiresAt: now + ttl })
  }

  /** Forget the result of one CID (e.g. every cached provider failed). */
  delete(cid: CID): boolean {
    return this.#entries.delete(contentKey(cid))
  }

  /**
   * Drop `peer` from the cached result of `cid` (it said it does not have it). A result left
   * empty is forgotten, so that the next lookup asks the network. Returns true if it was there.
   */
  removeProvider(cid: CID, peer: PeerId): boolean {
    const key = contentKey(cid)
    const entry = this.#entries.peek(key)
    if (entry === undefined) return false
    return this.#without(key, entry, peerKey(peer))
  }

  /**
   * Drop `peer` from every cached result at once (it sent a bad block, went into backoff or
   * disconnected); results left empty are forgotten. Returns how many results named it.
   */
  removePeer(peer: PeerId): number {
    const pk = peerKey(peer)
    let removed = 0
    for (const [key, entry] of this.#entries) if (this.#without(key, entry, pk)) removed++
    return removed
  }

  #without(key: string, entry: CacheEntry<P>, pk: string): boolean {
    // (called for every cached answer on every failure: allocate only where the peer is)
    if (!entry.providers.some((p) => peerKey(p.id) === pk)) return false
    const kept = entry.providers.filter((p) => peerKey(p.id) !== pk)
    // an answer that had providers and has none left is no "none found": forget it
    if (kept.length === 0) this.#entries.delete(key)
    else entry.providers = Object.freeze(kept)
    return true
  }

  /** The bound on results held. */
  get maxEntries(): number {
    return this.#entries.max
  }

  /** Drop expired results; returns how many. */
  prune(now: number = Date.now()): number {
    let removed = 0
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#entries.delete(key)
        removed++
      }
    }
    return removed
  }

  /** Forget everything (counters are kept). */
  clear(): void {
    this.#entries.clear()
  }

  /** Results held. */
  get size(): number {
    return this.#entries.size
  }

  /** Counters. */
  stats(): DiscoveryCacheStats {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size }
  }
}
