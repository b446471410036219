/** TieredCache: single flight, promotion with heat, demotion, corruption recovery, size limits. */

import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { DiskTier, TieredCache, type TieredCacheInit } from '../../src/cache/index.ts'
import { DEFAULT_CACHE_HEAT_HALF_LIFE_MS } from '../../src/constants.ts'
import { isErrorNamed } from '../../src/errors.ts'
import { type Block, makeBlocks, removeDir, tempDir } from './helpers.ts'

const KiB = 1024

describe('TieredCache', () => {
  let dir: string
  let caches: TieredCache[]

  async function open(init: TieredCacheInit = {}): Promise<TieredCache> {
    const cache = new TieredCache({ dir, memoryMaxBytes: 64 * KiB, diskMaxBytes: 256 * KiB, ...init })
    caches.push(cache)
    await cache.start()
    return cache
  }

  /** Write blocks with a bare DiskTier, so a cache opened afterwards has them on disk only. */
  async function seedDisk(blocks: Block[]): Promise<void> {
    const disk = new DiskTier({ dir })
    await disk.start()
    for (const block of blocks) {
      await disk.put(block.cid, block.bytes)
    }
    await disk.stop()
  }

  beforeEach(async () => {
    dir = await tempDir()
    caches = []
  })

  afterEach(async () => {
    for (const cache of caches) {
      await cache.stop()
    }
    await removeDir(dir)
  })

  describe('single flight', () => {
    it('20 concurrent getOrFetch calls for one missing block call the fetcher once', async () => {
      const cache = await open()
      const [block] = (await makeBlocks(1, 4096, 4096, 21)) as [Block]
      let calls = 0
      const fetcher = async (signal: AbortSignal): Promise<Uint8Array> => {
        calls++
        await sleep(20, undefined, { signal })
        return block.bytes
      }
      const results = await Promise.all(
        Array.from({ length: 20 }, async () => cache.getOrFetch(block.cid, fetcher))
      )
      assert.equal(calls, 1)
      for (const bytes of results) {
        assert.deepEqual(bytes, block.bytes)
      }
      const stats = cache.getStats()
      assert.equal(stats.fetches, 1)
      assert.equal(stats.dedupedFetches, 19)
      assert.deepEqual(await cache.getOrFetch(block.cid, fetcher), block.bytes)
      assert.deepEqual(await cache.get(block.cid, { fetch: fetcher }), block.bytes)
      assert.equal(calls, 1, 'later calls are cache hits')
      assert.equal(cache.memory.getStats().hits, 2)
    })

    it('fetched bytes that do not match the CID reject every caller and are not cached', async () => {
      const cache = await open()
      const [block, other] = (await makeBlocks(2, 4096, 4096, 22)) as [Block, Block]
      let calls = 0
      const fetcher = async (): Promise<Uint8Array> => {
        calls++
        await sleep(10)
        return other.bytes
      }
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, async () => cache.getOrFetch(block.cid, fetcher))
      )
      assert.equal(calls, 1)
      for (const result of results) {
        assert.equal(result.status, 'rejected')
        assert.ok(isErrorNamed(result.reason, 'BlockVerificationError'))
      }
      assert.equal(cache.has(block.cid), false)
      assert.equal(cache.has(other.cid), false)
    })

    it('one caller aborting leaves the shared fetch running; all aborting aborts it', async () => {
      const cache = await open()
      const [block] = (await makeBlocks(1, 4096, 4096, 23)) as [Block]
      let fetchSignal: AbortSignal | undefined
      const fetcher = async (signal: AbortSignal): Promise<Uint8Array> => {
        fetchSignal = signal
        await sleep(30, undefined, { signal })
        return block.bytes
      }
      const quitter = new AbortController()
      const first = cache.getOrFetch(block.cid, fetcher, { signal: quitter.signal })
      const second = cache.getOrFetch(block.cid, fetcher)
      await sleep(5)
      quitter.abort(new Error('caller gave up'))
      await assert.rejects(first, /caller gave up/)
      assert.deepEqual(await second, block.bytes)
      assert.equal(fetchSignal?.aborted, false)

      await cache.delete(block.cid)
      const lone = new AbortController()
      const only = cache.getOrFetch(block.cid, fetcher, { signal: lone.signal })
      await sleep(5)
      lone.abort(new Error('nobody wants it'))
      await assert.rejects(only, /nobody wants it/)
      assert.equal(fetchSignal?.aborted, true)
    })
  })

  describe('promotion', () => {
    it('repeated disk hits promote a block to memory', async () => {
      const [block] = (await makeBlocks(1, 4096, 4096, 31)) as [Block]
      await seedDisk([block])
      const cache = await open()
      assert.equal(cache.memory.has(block.cid), false)
      assert.equal(cache.disk?.has(block.cid), true)

      assert.deepEqual(await cache.get(block.cid), block.bytes) // disk hit, heat 1: stays on disk
      assert.equal(cache.memory.has(block.cid), false)
      assert.deepEqual(await cache.get(block.cid), block.bytes) // disk hit, heat ~2: promoted
      assert.equal(cache.memory.has(block.cid), true)
      assert.equal(cache.getStats().promotions, 1)
      assert.equal(cache.memory.getStats().hits, 0)

      assert.deepEqual(await cache.get(block.cid), block.bytes)
      const stats = cache.getStats()
      assert.equal(stats.memory.hits, 1, 'the third read is a memory hit')
      assert.equal(stats.disk?.hits, 2)
      assert.equal(stats.hits, 3)
    })

    it('heat decays: disk hits far apart in time do not promote', async () => {
      const [block] = (await makeBlocks(1, 4096, 4096, 32)) as [Block]
      await seedDisk([block])
      let now = 1_000_000
      const cache = await open({ now: () => now })
      await cache.get(block.cid)
      now += 3 * DEFAULT_CACHE_HEAT_HALF_LIFE_MS // heat 1 → 1/8
      await cache.get(block.cid) // heat 1.125 < 1.5
      assert.equal(cache.memory.has(block.cid), false)
      assert.equal(cache.getStats().promotions, 0)
      now += 1000
      await cache.get(block.cid) // heat ~2.1
      assert.equal(cache.memory.has(block.cid), true)
    })
  })

  describe('demotion', () => {
    it('memory evictions are written to disk and still served', async () => {
      const cache = await open({ memoryMaxBytes: 32 * KiB })
      const blocks = await makeBlocks(12, 8192, 8192, 41) // 96 KiB through a 32 KiB memory tier
      for (const block of blocks) {
        await cache.put(block.cid, block.bytes)
      }
      await cache.drain()
      const stats = cache.getStats()
      assert.ok(stats.memory.evictions >= 8)
      assert.equal(stats.demotions, stats.memory.evictions)
      assert.ok(cache.memory.size <= 32 * KiB)
      for (const block of blocks) {
        assert.ok(cache.has(block.cid))
        assert.deepEqual(await cache.get(block.cid), block.bytes)
      }
      assert.ok((cache.getStats().disk?.hits ?? 0) >= 8)
    })

    it('demoted blocks survive a restart of the cache', async () => {
      const blocks = await makeBlocks(8, 8192, 8192, 42)
      const first = await open({ memoryMaxBytes: 16 * KiB })
      for (const block of blocks) {
        await first.put(block.cid, block.bytes)
      }
      await first.stop()
      const second = await open({ memoryMaxBytes: 16 * KiB })
      assert.equal(second.disk?.count, 6, 'the 6 evicted from memory were demoted')
      for (const block of blocks.slice(0, 6)) {
        assert.deepEqual(await second.get(block.cid), block.bytes)
      }
    })
  })

  describe('verification on read', () => {
    it('a block corrupted on disk is dropped and getOrFetch fetches the right bytes again', async () => {
      const [block] = (await makeBlocks(1, 4096, 4096, 51)) as [Block]
      await seedDisk([block])
      const cache = await open()
      const path = cache.disk?.pathOf(block.cid) ?? assert.fail('no disk tier')
      const corrupt = await readFile(path)
      corrupt[0] = (corrupt[0] ?? 0) ^ 1
      await writeFile(path, corrupt)

      let calls = 0
      const bytes = await cache.getOrFetch(block.cid, async () => {
        calls++
        return block.bytes
      })
      assert.deepEqual(bytes, block.bytes)
      assert.equal(calls, 1)
      const stats = cache.getStats()
      assert.equal(stats.corruptDropped, 1)
      assert.equal(stats.disk?.corruptDropped, 1)
      assert.equal(stats.fetches, 1)
      assert.deepEqual(await cache.get(block.cid), block.bytes)
    })
  })

  describe('size limits', () => {
    it('blocks over maxItemSize go to disk only; over diskMaxItemSize are refused', async () => {
      const cache = await open({ maxItemSize: 8 * KiB, diskMaxItemSize: 32 * KiB })
      const [medium] = (await makeBlocks(1, 16 * KiB, 16 * KiB, 61)) as [Block]
      const [huge] = (await makeBlocks(1, 40 * KiB, 40 * KiB, 62)) as [Block]
      await cache.put(medium.cid, medium.bytes)
      assert.equal(cache.memory.has(medium.cid), false)
      assert.equal(cache.disk?.has(medium.cid), true)
      await assert.rejects(cache.put(huge.cid, huge.bytes), (err) =>
        isErrorNamed(err, 'MaxSizeExceededError')
      )
      const fetched = await cache.getOrFetch(huge.cid, async () => huge.bytes)
      assert.deepEqual(fetched, huge.bytes)
      assert.equal(cache.has(huge.cid), false)
      assert.equal(cache.getStats().uncacheable, 1)
    })

    it('a memory-only cache works without a folder', async () => {
      const cache = new TieredCache({ memoryMaxBytes: 32 * KiB })
      caches.push(cache)
      await cache.start()
      const blocks = await makeBlocks(8, 8192, 8192, 63)
      for (const block of blocks) {
        await cache.put(block.cid, block.bytes)
      }
      assert.equal(cache.disk, undefined)
      assert.equal(cache.size, 32 * KiB)
      assert.equal(cache.getStats().disk, undefined)
      await assert.rejects(cache.put(blocks[0]!.cid, new Uint8Array(33 * KiB)), (err) =>
        isErrorNamed(err, 'MaxSizeExceededError')
      )
    })
  })

  it('needs start(); start and stop can be called twice', async () => {
    const cache = new TieredCache({ dir })
    caches.push(cache)
    const [block] = (await makeBlocks(1, 100, 100, 71)) as [Block]
    await assert.rejects(cache.get(block.cid), (err) => isErrorNamed(err, 'NotStartedError'))
    await cache.start()
    await cache.start()
    await cache.put(block.cid, block.bytes)
    await cache.stop()
    await cache.stop()
    await assert.rejects(cache.put(block.cid, block.bytes), (err) => isErrorNamed(err, 'NotStartedError'))
  })
})
