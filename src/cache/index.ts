/**
 * The block cache: a byte-bounded memory tier (scan-resistant ARC) in front of a byte-bounded disk
 * tier (one file per block plus a LevelDB index), with promotion, demotion, single-flight fetches
 * and verification of every block against its CID.
 *
 * **What is cached.** Blocks: a `Uint8Array` whose hash, computed with the CID's multihash function,
 * equals the CID's multihash digest. Whole files are cached as their blocks; bytes that do not hash
 * to the CID are rejected with `BlockVerificationError`.
 *
 * **Keys.** Entries are keyed by the CID's multihash (see {@link cacheKey}), not by the whole CID, so
 * CIDv0 `Qm…` and CIDv1 `bafy…` of the same bytes, or the same bytes under the `raw` and `dag-pb`
 * codecs, share one entry.
 *
 * Types live here; the implementations are in `memory-tier.ts`, `disk-tier.ts`, `tiered-cache.ts`.
 *
 * @example
 * ```ts
 * import { TieredCache } from './cache/index.ts'
 *
 * const cache = new TieredCache({ dir: '/home/me/.ipfs-kit/cache' })
 * await cache.start()
 * const bytes = await cache.getOrFetch(cid, async (signal) => fetchBlockFromPeers(cid, { signal }))
 * console.log(cache.getStats().hitRatio)
 * await cache.stop()
 * ```
 *
 * @packageDocumentation
 */

import type { Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import type { CachePolicy } from '../constants.ts'
import type { ComponentLogger } from '../logger.ts'

export type { CachePolicy } from '../constants.ts'

/** Options of every async cache call: an `AbortSignal`, last. */
export interface CacheOptions {
  /** Abort the call. */
  signal?: AbortSignal
}

/** Counters and gauges of one tier, as a plain object. */
export interface TierStats {
  /** `get` calls that returned bytes */
  hits: number
  /** `get` calls that returned `undefined` */
  misses: number
  /** `hits / (hits + misses)`, 0 before the first `get` */
  hitRatio: number
  /** bytes of blocks held now */
  bytes: number
  /** blocks held now */
  items: number
  /** the byte bound */
  maxBytes: number
  /** blocks evicted to stay within `maxBytes` */
  evictions: number
  /** bytes evicted to stay within `maxBytes` */
  evictedBytes: number
  /** blocks whose stored bytes no longer matched their CID: dropped, never returned */
  corruptDropped: number
  /** `put` calls refused because the block is larger than the tier's `maxItemSize` */
  rejected: number
}

/** Memory tier statistics. */
export interface MemoryTierStats extends TierStats {
  /** the eviction policy */
  policy: CachePolicy
  /** ARC's lists in bytes (T1 recent, T2 frequent, B1/B2 ghosts) and its target `p` for T1 */
  arc?: ArcState
}

/** Disk tier statistics. */
export interface DiskTierStats extends TierStats {
  /** index entries dropped on start because their file was missing */
  missingDropped: number
  /** files removed on start: temp files of interrupted writes and files with no index entry */
  orphansRemoved: number
  /** blocks written (temp file, fsync, rename, index) */
  writes: number
}

/** Whole-cache statistics: the sum over tiers plus each tier's own figures. */
export interface TieredCacheStats extends TierStats {
  /** the memory tier */
  memory: MemoryTierStats
  /** the disk tier, absent when the cache has no `dir` */
  disk?: DiskTierStats
  /** disk hits copied to the memory tier because the block was hot */
  promotions: number
  /** memory evictions written to the disk tier */
  demotions: number
  /** demotions not written because the demotion queue was full */
  demotionsDropped: number
  /** fetcher calls made by `getOrFetch` */
  fetches: number
  /** `getOrFetch` calls that joined a fetch already running for the same block */
  dedupedFetches: number
  /** fetched blocks too large for every tier: returned to the caller, not cached */
  uncacheable: number
}

/** ARC's internal sizes, in bytes. */
export interface ArcState {
  /** target size of T1 */
  p: number
  /** T1: resident blocks seen once recently */
  t1Bytes: number
  /** T2: resident blocks seen at least twice */
  t2Bytes: number
  /** B1: ghosts (keys only) recently evicted from T1 */
  b1Bytes: number
  /** B2: ghosts (keys only) recently evicted from T2 */
  b2Bytes: number
}

/**
 * One cache tier. Every implementation (memory, disk, the tiered cache itself) passes the same
 * shared test suite. `put` verifies the bytes against the CID; `get` never returns bytes that do not
 * match it.
 */
export interface CacheTier extends Startable {
  /** The block's bytes, or `undefined` on a miss. Do not mutate the returned array. */
  get(cid: CID, options?: CacheOptions): Promise<Uint8Array | undefined>
  /**
   * Verify and store a block, evicting others to stay within the byte bound.
   *
   * @throws BlockVerificationError if `bytes` do not hash to `cid`
   * @throws UnsupportedHasherError if the CID's hash function is unknown
   * @throws MaxSizeExceededError if the block is larger than the tier accepts
   */
  put(cid: CID, bytes: Uint8Array, options?: CacheOptions): Promise<void>
  /** Whether the block is held; does not count as an access. */
  has(cid: CID): boolean
  /** Remove the block if held. */
  delete(cid: CID, options?: CacheOptions): Promise<void>
  /** Remove every block. */
  clear(options?: CacheOptions): Promise<void>
  /** Bytes held now. */
  readonly size: number
  /** Blocks held now. */
  readonly count: number
  /** Counters and gauges as a plain object. */
  getStats(): TierStats
}

/**
 * A byte-bounded key/value map with an eviction policy: the core of the memory tier. `set` returns
 * what it evicted so the caller can demote it.
 */
export interface BytePolicy<K, V> {
  /** The value, counted as an access (may reorder or move between lists). */
  get(key: K): V | undefined
  /** The value, without counting an access. */
  peek(key: K): V | undefined
  /** Whether `key` is resident. */
  has(key: K): boolean
  /**
   * Insert or replace `key` with a value of `size` bytes; returns the entries evicted to make room.
   * A value larger than the capacity is not stored (and nothing is evicted).
   */
  set(key: K, value: V, size: number): Array<Evicted<K, V>>
  /** Remove `key`; true if it was resident. */
  delete(key: K): boolean
  /** Remove everything, ghosts included. */
  clear(): void
  /** Resident bytes. */
  readonly bytes: number
  /** Resident entries. */
  readonly count: number
  /** The byte bound. */
  readonly capacity: number
}

/** An entry evicted by a {@link BytePolicy}. */
export interface Evicted<K, V> {
  /** its key */
  key: K
  /** its value */
  value: V
  /** its size in bytes */
  size: number
}

/** Configuration of {@link MemoryTier}. Every option is optional. */
export interface MemoryTierInit {
  /** Byte bound. @default DEFAULT_CACHE_MEMORY_BYTES (64 MiB) */
  maxBytes?: number
  /** Larger blocks are refused. @default DEFAULT_CACHE_MEMORY_MAX_ITEM_BYTES (1 MiB) */
  maxItemSize?: number
  /** Eviction policy. @default DEFAULT_CACHE_POLICY ('arc') */
  policy?: CachePolicy
  /** Hash functions beyond sha2-256, sha2-512 and identity. @default [] */
  hashers?: MultihashHasher[]
  /** Called with every block evicted to stay within `maxBytes` (not with deleted ones). */
  onEvict?(cid: CID, bytes: Uint8Array): void
}

/** Configuration of {@link DiskTier}. Only `dir` is required. */
export interface DiskTierInit {
  /** Folder of the tier: `<dir>/<2-char shard>/<key>` files, `<dir>/index` LevelDB, `<dir>/tmp`. */
  dir: string
  /** Byte bound (sum of block file sizes). @default DEFAULT_CACHE_DISK_BYTES (1 GiB) */
  maxBytes?: number
  /** Larger blocks are refused. @default DEFAULT_CACHE_DISK_MAX_ITEM_BYTES (4 MiB) */
  maxItemSize?: number
  /** Half-life of an item's heat. @default DEFAULT_CACHE_HEAT_HALF_LIFE_MS (10 minutes) */
  heatHalfLifeMs?: number
  /** How often access metadata is written. @default DEFAULT_CACHE_INDEX_FLUSH_INTERVAL_MS (5 s) */
  indexFlushIntervalMs?: number
  /** LRU items looked at per eviction. @default DEFAULT_CACHE_DISK_EVICTION_SAMPLE (8) */
  evictionSample?: number
  /** Concurrent block writes. @default DEFAULT_CACHE_DISK_WRITE_CONCURRENCY (8) */
  writeConcurrency?: number
  /** Hash functions beyond sha2-256, sha2-512 and identity. @default [] */
  hashers?: MultihashHasher[]
  /** Clock in milliseconds (tests inject one to age heat). @default Date.now */
  now?(): number
  /**
   * Keep blocks in this store instead of files of the tier's own (one copy on disk); `dir` then
   * holds the index only. @default undefined (files under `dir`)
   */
  store?: DiskTierStore
}

/**
 * A block store under the disk tier (a kit passes its repo's blockstore), so that a block is on
 * disk once: the tier indexes what it caches there instead of keeping files of its own.
 */
export interface DiskTierStore {
  has(cid: CID, options?: CacheOptions): Promise<boolean>
  /** The block, verified against its CID by the store; throws if the store does not hold it. */
  get(cid: CID, options?: CacheOptions): Promise<Uint8Array>
  /** Store a block (the store verifies it). */
  put(cid: CID, bytes: Uint8Array, options?: CacheOptions): Promise<void>
  /**
   * The tier evicts the block: remove it unless something else keeps it (a pin, an add in
   * progress). Resolves whether it was removed.
   */
  evict(cid: CID): Promise<boolean>
}

/** Configuration of {@link TieredCache}. Every option is optional. */
export interface TieredCacheInit {
  /** Folder of the disk tier (`<repo>/cache`); without it the cache is memory only. @default undefined */
  dir?: string
  /** Memory tier byte bound. @default DEFAULT_CACHE_MEMORY_BYTES (64 MiB) */
  memoryMaxBytes?: number
  /** Disk tier byte bound. @default DEFAULT_CACHE_DISK_BYTES (1 GiB) */
  diskMaxBytes?: number
  /** Blocks larger than this skip the memory tier. @default DEFAULT_CACHE_MEMORY_MAX_ITEM_BYTES (1 MiB) */
  maxItemSize?: number
  /** Blocks larger than this are not cached at all. @default DEFAULT_CACHE_DISK_MAX_ITEM_BYTES (4 MiB) */
  diskMaxItemSize?: number
  /** Memory tier policy. @default DEFAULT_CACHE_POLICY ('arc') */
  policy?: CachePolicy
  /** Half-life of disk heat. @default DEFAULT_CACHE_HEAT_HALF_LIFE_MS (10 minutes) */
  heatHalfLifeMs?: number
  /** Disk heat at which a disk hit is promoted to memory. @default DEFAULT_CACHE_PROMOTION_HEAT (1.5) */
  promotionHeat?: number
  /** How often disk access metadata is written. @default DEFAULT_CACHE_INDEX_FLUSH_INTERVAL_MS (5 s) */
  indexFlushIntervalMs?: number
  /** Memory evictions queued for disk at most. @default DEFAULT_CACHE_DEMOTION_QUEUE_LIMIT (64) */
  demotionQueueLimit?: number
  /** Deadline of a fetch when the caller gives no signal. @default DEFAULT_CACHE_FETCH_TIMEOUT_MS (60 s) */
  fetchTimeoutMs?: number
  /** Hash functions beyond sha2-256, sha2-512 and identity. @default [] */
  hashers?: MultihashHasher[]
  /** Clock in milliseconds. @default Date.now */
  now?(): number
  /**
   * The disk tier keeps its blocks in this store (the repo's blockstore), indexing them in `dir`:
   * one copy on disk. @default undefined (files of its own under `dir`)
   */
  diskStore?: DiskTierStore
}

/** Dependencies of {@link TieredCache}. */
export interface TieredCacheComponents {
  /** Logger factory; the cache logs as `kit:cache`. @default kitLogger() */
  logger?: ComponentLogger
}

/** Fetches a block that is not cached; must honour `signal`. */
export type Fetcher = (signal: AbortSignal) => Promise<Uint8Array>

/** Options of {@link TieredCache.get}: with `fetch`, a miss is fetched (single-flight) and cached. */
export interface TieredGetOptions extends CacheOptions {
  /** Fetch the block on a miss, as {@link TieredCache.getOrFetch}. */
  fetch?: Fetcher
}

export { BlockVerifier, verifyBlock } from '../blocks/verify.ts'
export { ArcCache } from './arc.ts'
export { DiskTier } from './disk-tier.ts'
export { decayHeat, touchHeat } from './heat.ts'
export { cacheKey } from './key.ts'
export { LruCache } from './lru.ts'
export { MemoryTier } from './memory-tier.ts'
export { TieredCache } from './tiered-cache.ts'
