/**
 * The memory tier: verified blocks in a byte-bounded ARC (or LRU) map.
 *
 * @packageDocumentation
 */

import type { CID } from 'multiformats/cid'
import { BlockVerifier } from '../blocks/verify.ts'
import {
  type CachePolicy,
  DEFAULT_CACHE_MEMORY_BYTES,
  DEFAULT_CACHE_MEMORY_MAX_ITEM_BYTES,
  DEFAULT_CACHE_POLICY
} from '../constants.ts'
import { InvalidParametersError, MaxSizeExceededError } from '../errors.ts'
import { ArcCache } from './arc.ts'
import type { BytePolicy, CacheOptions, CacheTier, MemoryTierInit, MemoryTierStats } from './index.ts'
import { cacheKey } from './key.ts'
import { LruCache } from './lru.ts'

interface MemoryEntry {
  cid: CID
  bytes: Uint8Array
}

/**
 * Blocks in memory, bounded in bytes, evicted by ARC (default) or LRU. Holds no resources:
 * `start()` and `stop()` do nothing and the contents survive `stop()`.
 *
 * The tier keeps the array `put` is given when it owns its whole buffer (copies it otherwise, so a
 * small view never pins a large buffer): do not mutate a block after `put`, nor one `get` returned.
 *
 * @example
 * ```ts
 * const memory = new MemoryTier({ maxBytes: 32 * 1024 * 1024 })
 * await memory.put(cid, bytes) // throws BlockVerificationError if bytes do not hash to cid
 * await memory.get(cid) // bytes
 * ```
 */
export class MemoryTier implements CacheTier {
  /** The byte bound. */
  readonly maxBytes: number
  /** Largest block accepted, never more than `maxBytes`. */
  readonly maxItemSize: number
  /** The eviction policy. */
  readonly policy: CachePolicy
  private readonly map: BytePolicy<string, MemoryEntry>
  private readonly verifier: BlockVerifier
  private readonly onEvict?: (cid: CID, bytes: Uint8Array) => void
  private hits = 0
  private misses = 0
  private evictions = 0
  private evictedBytes = 0
  private rejected = 0

  /** @param init every option optional; see {@link MemoryTierInit} */
  constructor(init: MemoryTierInit = {}) {
    this.maxBytes = init.maxBytes ?? DEFAULT_CACHE_MEMORY_BYTES
    if (!(this.maxBytes > 0)) {
      throw new InvalidParametersError(`memory cache maxBytes must be > 0, got ${this.maxBytes}`)
    }
    this.maxItemSize = Math.min(init.maxItemSize ?? DEFAULT_CACHE_MEMORY_MAX_ITEM_BYTES, this.maxBytes)
    this.policy = init.policy ?? DEFAULT_CACHE_POLICY
    this.map =
      this.policy === 'arc'
        ? new ArcCache<string, MemoryEntry>(this.maxBytes)
        : new LruCache<string, MemoryEntry>(this.maxBytes)
    this.verifier = new BlockVerifier(init.hashers)
    this.onEvict = init.onEvict
  }

  /** Nothing to open. */
  async start(): Promise<void> {}

  /** Nothing to close; the contents stay. */
  async stop(): Promise<void> {}

  /** The block, or `undefined`; counts a hit or a miss. */
  async get(cid: CID, options?: CacheOptions): Promise<Uint8Array | undefined> {
    options?.signal?.throwIfAborted()
    return this.getSync(cid)
  }

  /** {@link MemoryTier.get} without a promise, for callers on a hot path. */
  getSync(cid: CID): Uint8Array | undefined {
    const entry = this.map.get(cacheKey(cid))
    if (entry == null) {
      this.misses++
      return undefined
    }
    this.hits++
    return entry.bytes
  }

  /**
   * Verify and store a block.
   *
   * @throws MaxSizeExceededError if it is larger than `maxItemSize`
   * @throws BlockVerificationError if `bytes` do not hash to `cid`
   * @throws UnsupportedHasherError if the CID's hash function is unknown
   */
  async put(cid: CID, bytes: Uint8Array, options?: CacheOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (bytes.byteLength > this.maxItemSize) {
      this.rejected++
      throw new MaxSizeExceededError(
        `block ${cid} is ${bytes.byteLength} bytes, more than the memory tier's maxItemSize of ${this.maxItemSize}`
      )
    }
    await this.verifier.verify(cid, bytes)
    this.putVerified(cid, bytes)
  }

  /**
   * Store a block the caller has already verified against `cid` (the tiered cache verifies once
   * for all tiers). Returns false, storing nothing, if it is larger than `maxItemSize`.
   *
   * @internal
   */
  putVerified(cid: CID, bytes: Uint8Array): boolean {
    if (bytes.byteLength > this.maxItemSize) {
      this.rejected++
      return false
    }
    const owned =
      bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength ? bytes : bytes.slice()
    const evicted = this.map.set(cacheKey(cid), { cid, bytes: owned }, owned.byteLength)
    for (const { value, size } of evicted) {
      this.evictions++
      this.evictedBytes += size
      this.onEvict?.(value.cid, value.bytes)
    }
    return true
  }

  /** Whether the block is held; not an access. */
  has(cid: CID): boolean {
    return this.map.has(cacheKey(cid))
  }

  /** The block without counting an access or a hit, or `undefined`. */
  peek(cid: CID): Uint8Array | undefined {
    return this.map.peek(cacheKey(cid))?.bytes
  }

  /** Remove the block (not an eviction: `onEvict` is not called). */
  async delete(cid: CID, options?: CacheOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    this.map.delete(cacheKey(cid))
  }

  /** Remove every block. */
  async clear(options?: CacheOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    this.map.clear()
  }

  /** Bytes held. */
  get size(): number {
    return this.map.bytes
  }

  /** Blocks held. */
  get count(): number {
    return this.map.count
  }

  /** Counters, gauges and (for ARC) the list sizes, as a plain object. */
  getStats(): MemoryTierStats {
    const lookups = this.hits + this.misses
    return {
      policy: this.policy,
      hits: this.hits,
      misses: this.misses,
      hitRatio: lookups === 0 ? 0 : this.hits / lookups,
      bytes: this.map.bytes,
      items: this.map.count,
      maxBytes: this.maxBytes,
      evictions: this.evictions,
      evictedBytes: this.evictedBytes,
      corruptDropped: 0,
      rejected: this.rejected,
      ...(this.map instanceof ArcCache ? { arc: this.map.state() } : {})
    }
  }
}
