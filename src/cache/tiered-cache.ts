/**
 * The tiered cache: a memory tier (ARC) in front of a disk tier.
 *
 * - **Reads** try memory, then disk. A disk hit whose heat reaches `promotionHeat` is copied to
 *   memory (promotion); the disk copy stays.
 * - **Writes** go to memory; blocks larger than `maxItemSize` go to disk only; blocks larger than
 *   `diskMaxItemSize` are not cached.
 * - **Demotion.** A block evicted from memory is written to disk unless it is there already, through
 *   a bounded queue (full queue: the demotion is dropped and counted).
 * - **Single flight.** Concurrent `getOrFetch` calls for one missing block share one fetch; the
 *   fetch is aborted only when every caller has gone (or on `stop()`, or after `fetchTimeoutMs`).
 * - **Verification.** Every block is verified against its CID once before it enters any tier
 *   (fetched bytes included); the disk tier verifies again on every read.
 *
 * @packageDocumentation
 */

import type { CID } from 'multiformats/cid'
import PQueue from 'p-queue'
import { BlockVerifier } from '../blocks/verify.ts'
import {
  DEFAULT_CACHE_DEMOTION_QUEUE_LIMIT,
  DEFAULT_CACHE_FETCH_TIMEOUT_MS,
  DEFAULT_CACHE_PROMOTION_HEAT
} from '../constants.ts'
import { MaxSizeExceededError, NotStartedError } from '../errors.ts'
import { kitLogger, type Logger } from '../logger.ts'
import { DiskTier } from './disk-tier.ts'
import type {
  CacheOptions,
  CacheTier,
  Fetcher,
  TieredCacheComponents,
  TieredCacheInit,
  TieredCacheStats,
  TieredGetOptions
} from './index.ts'
import { cacheKey } from './key.ts'
import { MemoryTier } from './memory-tier.ts'

interface Flight {
  promise: Promise<Uint8Array>
  controller: AbortController
  waiters: number
  settled: boolean
}

interface PendingDemotion {
  cid: CID
  bytes: Uint8Array
}

/**
 * Memory + disk block cache with promotion, demotion, single-flight fetches and verification.
 *
 * @example
 * ```ts
 * const cache = new TieredCache({ dir: join(repo, CACHE_DIRNAME), ...roleBounds })
 * await cache.start()
 * const block = await cache.getOrFetch(cid, (signal) => bitswap.want(cid, { signal }), { signal })
 * await cache.stop()
 * ```
 */
export class TieredCache implements CacheTier {
  /** The memory tier. */
  readonly memory: MemoryTier
  /** The disk tier, absent when `init.dir` is not set. */
  readonly disk?: DiskTier
  /** Largest block any tier takes (the disk tier's `maxItemSize`, or memory's without disk). */
  readonly maxItemSize: number
  private readonly promotionHeat: number
  private readonly fetchTimeoutMs: number
  private readonly demotionQueueLimit: number
  private readonly verifier: BlockVerifier
  private readonly log: Logger
  private readonly demotions = new PQueue({ concurrency: 1 })
  private readonly pending = new Map<string, PendingDemotion>()
  private readonly flights = new Map<string, Flight>()
  private shutdown = new AbortController()
  private started = false
  private readonly stats = {
    hits: 0,
    misses: 0,
    rejected: 0,
    promotions: 0,
    demotions: 0,
    demotionsDropped: 0,
    fetches: 0,
    dedupedFetches: 0,
    uncacheable: 0
  }

  /**
   * @param init every option optional; see {@link TieredCacheInit}
   * @param components the logger (the cache logs as `kit:cache`)
   */
  constructor(init: TieredCacheInit = {}, components: TieredCacheComponents = {}) {
    const logger = components.logger ?? kitLogger()
    this.log = logger.forComponent('kit:cache')
    this.memory = new MemoryTier({
      maxBytes: init.memoryMaxBytes,
      maxItemSize: init.maxItemSize,
      policy: init.policy,
      hashers: init.hashers,
      onEvict: (cid, bytes) => {
        this.demote(cid, bytes)
      }
    })
    if (init.dir != null) {
      this.disk = new DiskTier(
        {
          dir: init.dir,
          maxBytes: init.diskMaxBytes,
          maxItemSize: init.diskMaxItemSize,
          heatHalfLifeMs: init.heatHalfLifeMs,
          indexFlushIntervalMs: init.indexFlushIntervalMs,
          hashers: init.hashers,
          now: init.now,
          store: init.diskStore
        },
        { logger }
      )
    }
    this.maxItemSize = Math.max(this.memory.maxItemSize, this.disk?.maxItemSize ?? 0)
    this.promotionHeat = init.promotionHeat ?? DEFAULT_CACHE_PROMOTION_HEAT
    this.fetchTimeoutMs = init.fetchTimeoutMs ?? DEFAULT_CACHE_FETCH_TIMEOUT_MS
    this.demotionQueueLimit = init.demotionQueueLimit ?? DEFAULT_CACHE_DEMOTION_QUEUE_LIMIT
    this.verifier = new BlockVerifier(init.hashers)
  }

  /** Open the disk tier. Idempotent. */
  async start(): Promise<void> {
    if (this.started) {
      return
    }
    await this.disk?.start()
    if (this.shutdown.signal.aborted) {
      this.shutdown = new AbortController()
    }
    this.started = true
  }

  /**
   * Abort running fetches, write queued demotions, close the disk tier. Idempotent. The memory tier
   * keeps its contents; they are not written to disk.
   */
  async stop(): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    this.shutdown.abort(new NotStartedError('the cache is stopping'))
    await Promise.allSettled([...this.flights.values()].map(async (flight) => flight.promise))
    await this.demotions.onIdle()
    await this.disk?.stop()
  }

  /**
   * The block from memory or disk, or `undefined`. With `options.fetch`, a miss is fetched
   * (single-flight), verified, cached and returned, as {@link TieredCache.getOrFetch}.
   */
  async get(cid: CID, options?: TieredGetOptions): Promise<Uint8Array | undefined> {
    if (options?.fetch != null) {
      return this.getOrFetch(cid, options.fetch, options)
    }
    this.assertStarted()
    options?.signal?.throwIfAborted()
    return this.lookup(cid, true, options)
  }

  /**
   * The block from the cache, or else from `fetcher`: verified against `cid`, cached, returned.
   * Concurrent calls for the same block share one fetcher call.
   *
   * @throws BlockVerificationError if the fetched bytes do not hash to `cid` (nothing is cached)
   * @throws the fetcher's error, or the abort reason of `options.signal`
   */
  async getOrFetch(cid: CID, fetcher: Fetcher, options?: CacheOptions): Promise<Uint8Array> {
    this.assertStarted()
    options?.signal?.throwIfAborted()
    const key = cacheKey(cid)
    let flight = this.flights.get(key)
    if (flight != null) {
      this.stats.dedupedFetches++
    } else {
      const hot = this.memory.getSync(cid)
      if (hot != null) {
        this.stats.hits++
        return hot
      }
      flight = this.fly(cid, key, fetcher)
    }
    flight.waiters++
    try {
      return await raceSignal(flight.promise, options?.signal)
    } finally {
      flight.waiters--
      if (flight.waiters === 0 && !flight.settled) {
        flight.controller.abort(options?.signal?.reason)
      }
    }
  }

  /**
   * Verify a block and store it: in memory, or on disk only if larger than the memory tier's
   * `maxItemSize`.
   *
   * @throws MaxSizeExceededError if it is larger than `maxItemSize` (nothing caches it)
   * @throws BlockVerificationError if `bytes` do not hash to `cid`
   * @throws UnsupportedHasherError if the CID's hash function is unknown
   */
  async put(cid: CID, bytes: Uint8Array, options?: CacheOptions): Promise<void> {
    this.assertStarted()
    options?.signal?.throwIfAborted()
    if (bytes.byteLength > this.maxItemSize) {
      this.stats.rejected++
      throw new MaxSizeExceededError(
        `block ${cid} is ${bytes.byteLength} bytes, more than the cache's largest item of ${this.maxItemSize}`
      )
    }
    await this.verifier.verify(cid, bytes)
    await this.store(cid, bytes)
  }

  /** Whether any tier holds the block (a block waiting to be demoted counts); not an access. */
  has(cid: CID): boolean {
    return this.memory.has(cid) || this.pending.has(cacheKey(cid)) || this.disk?.has(cid) === true
  }

  /** Remove the block from every tier. */
  async delete(cid: CID, options?: CacheOptions): Promise<void> {
    this.assertStarted()
    options?.signal?.throwIfAborted()
    this.pending.delete(cacheKey(cid))
    await this.memory.delete(cid)
    await this.disk?.delete(cid, options)
  }

  /** Remove every block from every tier. */
  async clear(options?: CacheOptions): Promise<void> {
    this.assertStarted()
    this.pending.clear()
    await this.memory.clear(options)
    await this.disk?.clear(options)
  }

  /** Resolves when every queued demotion has been written to disk (or dropped). */
  async drain(options?: CacheOptions): Promise<void> {
    await raceSignal(this.demotions.onIdle(), options?.signal)
  }

  /** Bytes held, summed over tiers (a promoted block counts in both). */
  get size(): number {
    return this.memory.size + (this.disk?.size ?? 0)
  }

  /** Blocks held, summed over tiers (a promoted block counts in both). */
  get count(): number {
    return this.memory.count + (this.disk?.count ?? 0)
  }

  /**
   * Whole-cache figures (hits and misses of `get`/`getOrFetch` lookups, bytes, items, evictions and
   * corrupt blocks summed over tiers) plus each tier's own, as a plain object.
   */
  getStats(): TieredCacheStats {
    const memory = this.memory.getStats()
    const disk = this.disk?.getStats()
    const lookups = this.stats.hits + this.stats.misses
    return {
      ...this.stats,
      hitRatio: lookups === 0 ? 0 : this.stats.hits / lookups,
      bytes: memory.bytes + (disk?.bytes ?? 0),
      items: memory.items + (disk?.items ?? 0),
      maxBytes: memory.maxBytes + (disk?.maxBytes ?? 0),
      evictions: memory.evictions + (disk?.evictions ?? 0),
      evictedBytes: memory.evictedBytes + (disk?.evictedBytes ?? 0),
      corruptDropped: memory.corruptDropped + (disk?.corruptDropped ?? 0),
      memory,
      ...(disk != null ? { disk } : {})
    }
  }

  /** Memory (unless already checked), then a pending demotion, then disk with promotion. */
  private async lookup(
    cid: CID,
    checkMemory: boolean,
    options?: CacheOptions
  ): Promise<Uint8Array | undefined> {
    if (checkMemory) {
      const hot = this.memory.getSync(cid)
      if (hot != null) {
        this.stats.hits++
        return hot
      }
    }
    const pending = this.pending.get(cacheKey(cid))
    if (pending != null) {
      this.stats.hits++
      return pending.bytes
    }
    const bytes = await this.disk?.get(cid, options)
    if (bytes == null) {
      this.stats.misses++
      return undefined
    }
    this.stats.hits++
    if (
      bytes.byteLength <= this.memory.maxItemSize &&
      this.disk != null &&
      this.disk.heat(cid) >= this.promotionHeat &&
      !this.memory.has(cid)
    ) {
      this.memory.putVerified(cid, bytes)
      this.stats.promotions++
    }
    return bytes
  }

  /**
   * Store verified bytes in the first tier that takes them. Over a block store the disk tier
   * indexes every block too: the block is on disk anyway (written there once), and the tier's
   * bound must count it.
   */
  private async store(cid: CID, bytes: Uint8Array): Promise<boolean> {
    if (bytes.byteLength <= this.memory.maxItemSize) {
      const kept = this.memory.putVerified(cid, bytes)
      if (this.disk?.overStore === true) await this.disk.putVerified(cid, bytes)
      return kept
    }
    return (await this.disk?.putVerified(cid, bytes)) === true
  }

  /**
   * A block a fetch has just written to the disk tier's block store, verified: index it there
   * (nothing is written). A no-op for a cache without a disk tier over a store.
   */
  async noteStored(cid: CID, size: number): Promise<void> {
    if (this.disk?.overStore !== true || !this.started) return
    await this.disk.noteStored(cid, size)
  }

  /** Blocks the disk tier's block store no longer holds (a `gc` removed them): forget them. */
  async forget(cids: Iterable<CID>): Promise<void> {
    const list = [...cids]
    for (const cid of list) {
      this.pending.delete(cacheKey(cid))
      await this.memory.delete(cid)
    }
    if (this.disk?.overStore === true && this.started) await this.disk.forget(list)
  }

  /** Start the one fetch of `cid`; every concurrent caller joins it. */
  private fly(cid: CID, key: string, fetcher: Fetcher): Flight {
    const controller = new AbortController()
    const flight: Flight = {
      controller,
      waiters: 0,
      settled: false,
      promise: Promise.resolve(new Uint8Array())
    }
    flight.promise = (async () => {
      const signal = AbortSignal.any([controller.signal, this.shutdown.signal])
      const cached = await this.lookup(cid, false, { signal }).catch((err: unknown) => {
        if (signal.aborted) {
          throw err
        }
        this.log.error('could not read %s from disk, fetching it - %e', cid, err)
        return undefined
      })
      if (cached != null) {
        return cached
      }
      signal.throwIfAborted()
      this.stats.fetches++
      const bytes = await fetcher(AbortSignal.any([signal, AbortSignal.timeout(this.fetchTimeoutMs)]))
      await this.verifier.verify(cid, bytes)
      if (bytes.byteLength > this.maxItemSize) {
        this.stats.uncacheable++
        return bytes
      }
      try {
        // a fetched block was expensive to get: it goes to memory and, in the background,
        // to disk as well (write-through), so it survives a restart
        if (await this.store(cid, bytes)) this.demote(cid, bytes)
      } catch (err) {
        this.log.error('fetched %s but could not cache it - %e', cid, err)
      }
      return bytes
    })()
    const settle = (): void => {
      flight.settled = true
      if (this.flights.get(key) === flight) {
        this.flights.delete(key)
      }
    }
    flight.promise.then(settle, settle)
    this.flights.set(key, flight)
    return flight
  }

  /** Queue a memory eviction for the disk tier unless it is there already. */
  private demote(cid: CID, bytes: Uint8Array): void {
    const disk = this.disk
    const key = cacheKey(cid)
    if (disk == null || !this.started || disk.has(cid) || this.pending.has(key)) {
      return
    }
    if (this.pending.size >= this.demotionQueueLimit) {
      this.stats.demotionsDropped++
      return
    }
    const demotion: PendingDemotion = { cid, bytes }
    this.pending.set(key, demotion)
    this.demotions
      .add(async () => {
        if (this.pending.get(key) !== demotion) {
          return // deleted (or cleared) while queued
        }
        try {
          if (await disk.putVerified(cid, bytes)) {
            this.stats.demotions++
          }
        } finally {
          if (this.pending.get(key) === demotion) {
            this.pending.delete(key)
          }
        }
      })
      .catch((err: unknown) => {
        this.log.error('could not demote %s to disk - %e', cid, err)
      })
  }

  private assertStarted(): void {
    if (!this.started) {
      throw new NotStartedError('the cache is not started; call start() first')
    }
  }
}

/** `promise`, or a rejection with `signal.reason` as soon as `signal` aborts. */
async function raceSignal<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal == null) {
    return promise
  }
  signal.throwIfAborted()
  const { promise: aborted, reject } = Promise.withResolvers<never>()
  const onAbort = (): void => {
    reject(signal.reason)
  }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
