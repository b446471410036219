/**
 * The disk tier: one file per block, `<dir>/<shard>/<key>`, and a LevelDB index at `<dir>/index`
 * holding each block's CID, size and access metadata (heat, last access).
 *
 * - **Atomic writes.** A block is written to `<dir>/tmp/<key>.<random>`, fsynced, renamed into
 *   place and only then indexed, so a partially written file is never served.
 * - **No index rewrite per operation.** Puts and deletes are single LevelDB writes; reads only mark
 *   the entry dirty and dirty entries are written in one batch every `indexFlushIntervalMs` and on
 *   `stop()`.
 * - **Restart.** `start()` loads the index, drops entries whose file is missing, removes temp files
 *   and files without an entry (a crash between rename and index), and evicts down to `maxBytes`.
 * - **Verification on read.** Every read is hashed against the CID; a block whose bytes changed on
 *   disk is deleted, counted in `corruptDropped` and reported as a miss, never returned.
 * - **Eviction.** Of the `evictionSample` least recently used blocks, the coldest (lowest decayed
 *   heat) goes first: recency and frequency at O(sample) per eviction.
 * - **Over a block store (one copy on disk).** With `store` (a kit passes its repo's blockstore),
 *   the tier keeps no files of its own: a block is written to the store once (not at all if the
 *   store holds it already), the index keeps its size and heat, and an eviction asks the store to
 *   remove the block, which it does unless something else keeps it (a pin). The tier then bounds
 *   the unpinned blocks the node fetched, and the store verifies every read. Files of an earlier
 *   file-backed tier in `dir` are removed on start, and index entries whose block the store does
 *   not hold are dropped.
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import PQueue from 'p-queue'
import { BlockVerifier } from '../blocks/verify.ts'
import {
  DEFAULT_CACHE_DISK_BYTES,
  DEFAULT_CACHE_DISK_EVICTION_SAMPLE,
  DEFAULT_CACHE_DISK_MAX_ITEM_BYTES,
  DEFAULT_CACHE_DISK_WRITE_CONCURRENCY,
  DEFAULT_CACHE_HEAT_HALF_LIFE_MS,
  DEFAULT_CACHE_INDEX_FLUSH_INTERVAL_MS
} from '../constants.ts'
import { InvalidParametersError, MaxSizeExceededError, NotStartedError } from '../errors.ts'
import { type ComponentLogger, kitLogger, type Logger } from '../logger.ts'
import {
  type DiskEntry,
  type IndexDb,
  type IndexRecord,
  isCode,
  openIndex,
  reconcile,
  reconcileWithStore,
  toRecord
} from './disk-index.ts'
import { decayHeat, touchHeat } from './heat.ts'
import type { CacheOptions, CacheTier, DiskTierInit, DiskTierStats, DiskTierStore } from './index.ts'
import { cacheKey, shardOf } from './key.ts'

/**
 * Blocks on disk, bounded in bytes, surviving restarts. `start()` and `stop()` may be called twice;
 * every other call needs a started tier.
 *
 * @example
 * ```ts
 * const disk = new DiskTier({ dir: join(repo, 'cache'), maxBytes: 4 * 1024 ** 3 })
 * await disk.start()
 * await disk.put(cid, bytes)
 * await disk.stop() // flushes access metadata, closes the index
 * ```
 */
export class DiskTier implements CacheTier {
  /** The tier's folder. */
  readonly dir: string
  /** The byte bound (sum of block file sizes). */
  readonly maxBytes: number
  /** Largest block accepted, never more than `maxBytes`. */
  readonly maxItemSize: number
  private readonly halfLifeMs: number
  private readonly flushIntervalMs: number
  private readonly evictionSample: number
  private readonly now: () => number
  private readonly verifier: BlockVerifier
  private readonly log: Logger
  private readonly queue: PQueue
  /** where blocks live when the tier keeps no files of its own */
  private readonly blockStore?: DiskTierStore
  private readonly entries = new Map<string, DiskEntry>() // LRU → MRU order
  private readonly dirty = new Set<string>()
  private readonly writing = new Map<string, Promise<boolean>>()
  private readonly removing = new Map<string, Promise<void>>()
  private readonly active = new Set<Promise<unknown>>()
  private readonly shards = new Set<string>()
  private db?: IndexDb
  private flushTimer?: NodeJS.Timeout
  private starting?: Promise<void>
  private started = false
  private bytes = 0
  private reserved = 0
  private readonly stats = {
    hits: 0,
    misses: 0,
    evictions: 0,
    evictedBytes: 0,
    corruptDropped: 0,
    rejected: 0,
    missingDropped: 0,
    orphansRemoved: 0,
    writes: 0
  }

  /**
   * @param init `dir` and optional bounds; see {@link DiskTierInit}
   * @param components `logger` (logs as `kit:cache:disk`)
   */
  constructor(init: DiskTierInit, components: { logger?: ComponentLogger } = {}) {
    this.dir = init.dir
    this.maxBytes = init.maxBytes ?? DEFAULT_CACHE_DISK_BYTES
    if (!(this.maxBytes > 0)) {
      throw new InvalidParametersError(`disk cache maxBytes must be > 0, got ${this.maxBytes}`)
    }
    this.maxItemSize = Math.min(init.maxItemSize ?? DEFAULT_CACHE_DISK_MAX_ITEM_BYTES, this.maxBytes)
    this.halfLifeMs = init.heatHalfLifeMs ?? DEFAULT_CACHE_HEAT_HALF_LIFE_MS
    this.flushIntervalMs = init.indexFlushIntervalMs ?? DEFAULT_CACHE_INDEX_FLUSH_INTERVAL_MS
    this.evictionSample = Math.max(1, init.evictionSample ?? DEFAULT_CACHE_DISK_EVICTION_SAMPLE)
    this.now = init.now ?? Date.now
    this.verifier = new BlockVerifier(init.hashers)
    this.log = (components.logger ?? kitLogger()).forComponent('kit:cache:disk')
    this.queue = new PQueue({ concurrency: init.writeConcurrency ?? DEFAULT_CACHE_DISK_WRITE_CONCURRENCY })
    this.blockStore = init.store
  }

  /** Whether blocks live in a block store (`store`) rather than in files of the tier's own. */
  get overStore(): boolean {
    return this.blockStore != null
  }

  /** Open the index and reconcile it with the files on disk. Idempotent. */
  async start(): Promise<void> {
    if (this.started) {
      return
    }
    this.starting ??= this.open().finally(() => {
      this.starting = undefined
    })
    await this.starting
  }

  /** Wait for running operations, write dirty access metadata, close the index. Idempotent. */
  async stop(): Promise<void> {
    await this.starting?.catch(() => {})
    if (!this.started) {
      return
    }
    this.started = false
    clearInterval(this.flushTimer)
    this.flushTimer = undefined
    while (this.active.size > 0) {
      await Promise.allSettled([...this.active])
    }
    await this.queue.onIdle()
    await Promise.allSettled([...this.removing.values()])
    await this.flush().catch((err: unknown) => {
      this.log.error('could not write access metadata on stop - %e', err)
    })
    await this.db?.close()
    this.db = undefined
    this.entries.clear()
    this.dirty.clear()
    this.bytes = 0
  }

  /** The block, verified against `cid`, or `undefined` (absent, missing or corrupt). */
  async get(cid: CID, options?: CacheOptions): Promise<Uint8Array | undefined> {
    return this.track(async () => {
      options?.signal?.throwIfAborted()
      const key = cacheKey(cid)
      const entry = this.entries.get(key)
      if (entry == null) {
        this.stats.misses++
        return undefined
      }
      let bytes: Uint8Array | undefined
      try {
        bytes = await this.read(key, cid, options)
      } catch (err) {
        if (isCode(err, 'ENOENT') || (this.blockStore != null && !(await this.blockStore.has(cid)))) {
          bytes = undefined
        } else {
          throw err
        }
      }
      if (bytes == null) {
        if (this.entries.get(key) === entry) {
          this.stats.missingDropped++
          await this.drop(entry, false)
        }
        this.stats.misses++
        return undefined
      }
      if (
        bytes.byteLength !== entry.size ||
        (this.blockStore == null && !(await this.verifier.matches(cid, bytes)))
      ) {
        if (this.entries.get(key) === entry) {
          this.stats.corruptDropped++
          this.log.error('dropped %s: its file no longer hashes to its CID', cid)
          await this.drop(entry)
        }
        this.stats.misses++
        return undefined
      }
      if (this.entries.get(key) === entry) {
        const now = this.now()
        entry.heat = touchHeat(entry.heat, entry.lastAccess, now, this.halfLifeMs)
        entry.lastAccess = now
        this.entries.delete(key)
        this.entries.set(key, entry)
        this.dirty.add(key)
      }
      this.stats.hits++
      return bytes
    })
  }

  /**
   * Verify and store a block (temp file, fsync, rename, index), evicting to stay within `maxBytes`.
   *
   * @throws MaxSizeExceededError if it is larger than `maxItemSize`
   * @throws BlockVerificationError if `bytes` do not hash to `cid`
   * @throws UnsupportedHasherError if the CID's hash function is unknown
   */
  async put(cid: CID, bytes: Uint8Array, options?: CacheOptions): Promise<void> {
    await this.track(async () => {
      options?.signal?.throwIfAborted()
      if (bytes.byteLength > this.maxItemSize) {
        this.stats.rejected++
        throw new MaxSizeExceededError(
          `block ${cid} is ${bytes.byteLength} bytes, more than the disk tier's maxItemSize of ${this.maxItemSize}`
        )
      }
      await this.verifier.verify(cid, bytes)
      await this.store(cid, bytes)
    })
  }

  /**
   * Store a block the caller has already verified against `cid`. Resolves false, storing nothing,
   * if it is larger than `maxItemSize`.
   *
   * @internal
   */
  async putVerified(cid: CID, bytes: Uint8Array): Promise<boolean> {
    return this.track(async () => {
      if (bytes.byteLength > this.maxItemSize) {
        this.stats.rejected++
        return false
      }
      return this.store(cid, bytes)
    })
  }

  /**
   * Index a block that the `store` already holds, verified (a block a fetch has just stored):
   * nothing is written. Resolves false, indexing nothing, if the block is larger than
   * `maxItemSize`; evicts to stay within `maxBytes`.
   *
   * @throws InvalidParametersError if the tier has no `store`
   */
  async noteStored(cid: CID, size: number): Promise<boolean> {
    if (this.blockStore == null) {
      throw new InvalidParametersError('noteStored needs a disk tier over a block store')
    }
    return this.track(async () => {
      if (size > this.maxItemSize) {
        this.stats.rejected++
        return false
      }
      return this.indexStored(cid, size)
    })
  }

  /**
   * Drop index entries of blocks the `store` no longer holds (a `gc` removed them): nothing is
   * removed from the store.
   */
  async forget(cids: Iterable<CID>): Promise<void> {
    await this.track(async () => {
      for (const cid of cids) {
        const key = cacheKey(cid)
        await this.writing.get(key)?.catch(() => {})
        const entry = this.entries.get(key)
        if (entry != null) await this.drop(entry, false)
      }
    })
  }

  /** Whether the block is indexed (false before `start()`); not an access. */
  has(cid: CID): boolean {
    return this.entries.has(cacheKey(cid))
  }

  /** The block's heat now (decayed since its last access), 0 if absent. */
  heat(cid: CID): number {
    const entry = this.entries.get(cacheKey(cid))
    return entry == null ? 0 : decayHeat(entry.heat, this.now() - entry.lastAccess, this.halfLifeMs)
  }

  /** The path of the file that holds (or would hold) the block. */
  pathOf(cid: CID): string {
    return this.pathOfKey(cacheKey(cid))
  }

  /**
   * Remove the block: its file (over a `store`: the store's copy, unless the store keeps it),
   * then its index entry.
   */
  async delete(cid: CID, options?: CacheOptions): Promise<void> {
    await this.track(async () => {
      options?.signal?.throwIfAborted()
      const key = cacheKey(cid)
      await this.writing.get(key)?.catch(() => {})
      const entry = this.entries.get(key)
      if (entry != null) {
        await this.drop(entry)
      }
    })
  }

  /** Remove every block. */
  async clear(options?: CacheOptions): Promise<void> {
    await this.track(async () => {
      options?.signal?.throwIfAborted()
      await Promise.allSettled([...this.writing.values()])
      await Promise.all([...this.entries.values()].map(async (entry) => this.drop(entry)))
    })
  }

  /** Bytes of indexed blocks. */
  get size(): number {
    return this.bytes
  }

  /** Indexed blocks. */
  get count(): number {
    return this.entries.size
  }

  /** Counters and gauges as a plain object. */
  getStats(): DiskTierStats {
    const lookups = this.stats.hits + this.stats.misses
    return {
      ...this.stats,
      hitRatio: lookups === 0 ? 0 : this.stats.hits / lookups,
      bytes: this.bytes,
      items: this.entries.size,
      maxBytes: this.maxBytes
    }
  }

  /** Write dirty access metadata to the index in one batch. */
  async flush(): Promise<void> {
    if (this.db == null || this.dirty.size === 0) {
      return
    }
    const ops: Array<{ type: 'put'; key: string; value: IndexRecord }> = []
    for (const key of this.dirty) {
      const entry = this.entries.get(key)
      if (entry != null) {
        ops.push({ type: 'put', key, value: toRecord(entry) })
      }
    }
    this.dirty.clear()
    await this.db.batch(ops)
  }

  private async open(): Promise<void> {
    await mkdir(join(this.dir, 'tmp'), { recursive: true })
    const db = await openIndex(this.dir)
    try {
      const found =
        this.blockStore == null
          ? await reconcile(db, this.dir)
          : await reconcileWithStore(db, this.dir, this.blockStore)
      for (const entry of found.entries) {
        this.entries.set(entry.key, entry)
        this.bytes += entry.size
      }
      for (const shard of found.shards) {
        this.shards.add(shard)
      }
      this.stats.missingDropped += found.missingDropped
      this.stats.orphansRemoved += found.orphansRemoved
    } catch (err) {
      this.entries.clear()
      this.bytes = 0
      await db.close().catch(() => {})
      throw err
    }
    this.db = db
    this.started = true
    this.flushTimer = setInterval(() => {
      this.track(async () => this.flush()).catch((err: unknown) => {
        this.log.error('could not write access metadata - %e', err)
      })
    }, this.flushIntervalMs)
    this.flushTimer.unref()
    const removals: Array<Promise<void>> = []
    while (this.bytes > this.maxBytes && this.entries.size > 0) {
      removals.push(this.evictOne())
    }
    await Promise.all(removals)
    this.log('opened %s: %d blocks, %d bytes', this.dir, this.entries.size, this.bytes)
  }

  /** Single-flight write of one block; resolves true once it is indexed (or already was). */
  private async store(cid: CID, bytes: Uint8Array): Promise<boolean> {
    return this.indexOnce(cid, async (key) => this.write(key, cid, bytes))
  }

  /** Single-flight indexing of a block the store holds already. */
  private async indexStored(cid: CID, size: number): Promise<boolean> {
    return this.indexOnce(cid, async (key) => this.write(key, cid, size))
  }

  private async indexOnce(cid: CID, run: (key: string) => Promise<boolean>): Promise<boolean> {
    const key = cacheKey(cid)
    if (this.entries.has(key)) {
      return true
    }
    const running = this.writing.get(key)
    if (running != null) {
      return running
    }
    const write = this.queue.add(async () => run(key))
    this.writing.set(key, write)
    try {
      return await write
    } finally {
      this.writing.delete(key)
    }
  }

  /**
   * Write one block and index it. `bytes` is the block, or (over a store) the size of a block the
   * store holds already.
   */
  private async write(key: string, cid: CID, bytes: Uint8Array | number): Promise<boolean> {
    if (this.entries.has(key)) {
      return true
    }
    if (this.blockStore != null) {
      return this.writeToStore(this.blockStore, key, cid, bytes)
    }
    if (typeof bytes === 'number') {
      throw new InvalidParametersError('a file-backed disk tier needs the block, not its size')
    }
    const size = bytes.byteLength
    await this.reserve(size, key)
    const shard = shardOf(key)
    const tmp = join(this.dir, 'tmp', `${key}.${randomBytes(6).toString('hex')}`)
    const target = this.pathOfKey(key)
    let renamed = false
    try {
      await this.removing.get(key)?.catch(() => {})
      const file = await open(tmp, 'wx')
      try {
        await file.writeFile(bytes)
        await file.sync()
      } finally {
        await file.close()
      }
      if (!this.shards.has(shard)) {
        await mkdir(join(this.dir, shard), { recursive: true })
        this.shards.add(shard)
      }
      await rename(tmp, target)
      renamed = true
      const now = this.now()
      const entry: DiskEntry = { key, cid, size, heat: 0, lastAccess: now, created: now }
      if (this.db == null) {
        throw new NotStartedError('the disk cache was stopped during a write')
      }
      await this.index(key, entry)
      return true
    } catch (err) {
      await rm(renamed ? target : tmp, { force: true }).catch(() => {})
      throw err
    } finally {
      this.reserved -= size
    }
  }

  /** Over a store: write the block there unless it is held already (one copy), then index it. */
  private async writeToStore(
    store: DiskTierStore,
    key: string,
    cid: CID,
    bytes: Uint8Array | number
  ): Promise<boolean> {
    const size = typeof bytes === 'number' ? bytes : bytes.byteLength
    await this.reserve(size, key)
    try {
      await this.removing.get(key)?.catch(() => {})
      if (typeof bytes !== 'number' && !(await store.has(cid))) {
        await store.put(cid, bytes)
        this.stats.writes++
      }
      const now = this.now()
      await this.index(key, { key, cid, size, heat: 0, lastAccess: now, created: now })
      return true
    } finally {
      this.reserved -= size
    }
  }

  private async index(key: string, entry: DiskEntry): Promise<void> {
    if (this.db == null) {
      throw new NotStartedError('the disk cache was stopped during a write')
    }
    await this.db.put(key, toRecord(entry))
    this.entries.set(key, entry)
    this.bytes += entry.size
    if (this.blockStore == null) this.stats.writes++
  }

  /** The stored bytes of a block (a missing file throws ENOENT). */
  private async read(key: string, cid: CID, options?: CacheOptions): Promise<Uint8Array> {
    if (this.blockStore != null) return this.blockStore.get(cid, options)
    const file = await readFile(this.pathOfKey(key), { signal: options?.signal })
    return new Uint8Array(file.buffer, file.byteOffset, file.byteLength) // a plain view, not a Buffer
  }

  /** Evict until `size` more bytes fit; waits for other writes when they hold the room. */
  private async reserve(size: number, key: string): Promise<void> {
    for (;;) {
      const removals: Array<Promise<void>> = []
      while (this.bytes + this.reserved + size > this.maxBytes && this.entries.size > 0) {
        removals.push(this.evictOne())
      }
      if (this.bytes + this.reserved + size <= this.maxBytes) {
        this.reserved += size
        try {
          await Promise.all(removals)
        } catch (err) {
          this.reserved -= size
          throw err
        }
        return
      }
      await Promise.all(removals)
      const others = [...this.writing].filter(([other]) => other !== key).map(([, write]) => write)
      if (others.length === 0) {
        throw new MaxSizeExceededError(`no room for ${size} bytes in the disk cache at ${this.dir}`)
      }
      await Promise.race(others.map(async (write) => write.catch(() => false)))
    }
  }

  /** Evict the coldest of the `evictionSample` least recently used blocks. */
  private async evictOne(): Promise<void> {
    const now = this.now()
    let victim: DiskEntry | undefined
    let coldest = Number.POSITIVE_INFINITY
    let looked = 0
    for (const entry of this.entries.values()) {
      const heat = decayHeat(entry.heat, now - entry.lastAccess, this.halfLifeMs)
      if (heat < coldest) {
        coldest = heat
        victim = entry
      }
      if (++looked >= this.evictionSample) {
        break
      }
    }
    if (victim == null) {
      return
    }
    this.stats.evictions++
    this.stats.evictedBytes += victim.size
    await this.drop(victim)
  }

  /**
   * Forget an entry now (bytes, LRU), then remove its block (unless `removeBlock` is false: the
   * block is gone already) and its index record.
   */
  private async drop(entry: DiskEntry, removeBlock = true): Promise<void> {
    if (this.entries.get(entry.key) !== entry) {
      return this.removing.get(entry.key)
    }
    this.entries.delete(entry.key)
    this.dirty.delete(entry.key)
    this.bytes -= entry.size
    const db = this.db
    const store = this.blockStore
    const removal = (async () => {
      if (removeBlock) {
        if (store == null) {
          await rm(this.pathOfKey(entry.key), { force: true })
        } else {
          // the store may wait (a gc lock held by an add), so no write waits for it
          await store.evict(entry.cid).catch((err: unknown) => {
            this.log.error('could not evict %s from the block store - %e', entry.cid, err)
          })
        }
      }
      await db?.del(entry.key)
    })()
    this.removing.set(entry.key, removal)
    const done = removal.finally(() => {
      if (this.removing.get(entry.key) === removal) {
        this.removing.delete(entry.key)
      }
    })
    if (store != null && removeBlock) {
      // tracked, so that stop() waits for it; the bytes are forgotten already
      this.active.add(done)
      done.then(
        () => this.active.delete(done),
        () => this.active.delete(done)
      )
      return
    }
    await done
  }

  private pathOfKey(key: string): string {
    return join(this.dir, shardOf(key), key)
  }

  private async track<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.started) {
      throw new NotStartedError(`the disk cache at ${this.dir} is not started; call start() first`)
    }
    const run = fn()
    this.active.add(run)
    try {
      return await run
    } finally {
      this.active.delete(run)
    }
  }
}
