/**
 * The shared suite every cache tier passes: MemoryTier, DiskTier and TieredCache (see
 * tiers.test.ts). Real stores only; the disk bound is checked against the bytes of the files on
 * disk, not only against the tier's own counters.
 */

import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import type { CacheTier } from '../../src/cache/index.ts'
import { isErrorNamed } from '../../src/errors.ts'
import { type Block, makeBlock, makeBlocks, prng } from './helpers.ts'

/** A started tier and how to measure what it really holds. */
export interface TierHarness {
  tier: CacheTier
  /** the byte bound the tier must keep */
  maxBytes: number
  /** bytes really held: memory from its map, disk from the files (fs.stat) */
  measure(): Promise<number>
  /** extra invariants checked after every operation (per-tier bounds of the tiered cache) */
  check?(): void
  /** stop the tier and remove its files */
  cleanup(): Promise<void>
}

/** Operations of the random workload. */
const WORKLOAD_OPS = 10_000

/** Run the shared suite against the tiers `create` builds (bound: 256 KiB, blocks 1–8 KiB). */
export function cacheTierSuite(name: string, create: () => Promise<TierHarness>): void {
  describe(`CacheTier suite: ${name}`, () => {
    let h: TierHarness

    beforeEach(async () => {
      h = await create()
    })

    afterEach(async () => {
      await h.cleanup()
    })

    it('puts, gets, has and deletes a block', async () => {
      const block = await makeBlock(1, 4096)
      assert.equal(h.tier.has(block.cid), false)
      assert.equal(await h.tier.get(block.cid), undefined)
      await h.tier.put(block.cid, block.bytes)
      assert.equal(h.tier.has(block.cid), true)
      assert.deepEqual(await h.tier.get(block.cid), block.bytes)
      assert.equal(h.tier.count, 1)
      assert.equal(h.tier.size, 4096)
      await h.tier.delete(block.cid)
      assert.equal(h.tier.has(block.cid), false)
      assert.equal(await h.tier.get(block.cid), undefined)
      assert.equal(h.tier.size, 0)
      assert.equal(await h.measure(), 0)
      await h.tier.delete(block.cid) // deleting an absent block is fine
    })

    it('keys by multihash: CIDv0 and CIDv1 of the same bytes share one entry', async () => {
      const block = await makeBlock(2, 1000)
      await h.tier.put(block.cid, block.bytes)
      const v0 = CID.createV0(block.cid.multihash as Digest.Digest<0x12, number>)
      assert.equal(h.tier.has(v0), true)
      assert.deepEqual(await h.tier.get(v0), block.bytes)
      await h.tier.put(v0, block.bytes)
      assert.equal(h.tier.count, 1)
    })

    it('rejects bytes that do not hash to the CID, storing nothing', async () => {
      const a = await makeBlock(3, 2048)
      const b = await makeBlock(4, 2048)
      await assert.rejects(h.tier.put(a.cid, b.bytes), (err) => isErrorNamed(err, 'BlockVerificationError'))
      const flipped = a.bytes.slice()
      flipped[100] = (flipped[100] ?? 0) ^ 1
      await assert.rejects(h.tier.put(a.cid, flipped), (err) => isErrorNamed(err, 'BlockVerificationError'))
      assert.equal(h.tier.has(a.cid), false)
      assert.equal(await h.tier.get(a.cid), undefined)
      assert.equal(h.tier.size, 0)
      assert.equal(await h.measure(), 0)
    })

    it('rejects a CID whose hash function it cannot compute', async () => {
      const bytes = new Uint8Array(32).fill(7)
      const blake2b = CID.createV1(raw.code, Digest.create(0xb220, bytes))
      await assert.rejects(h.tier.put(blake2b, bytes), (err) => isErrorNamed(err, 'UnsupportedHasherError'))
      assert.equal(h.tier.has(blake2b), false)
    })

    it('verifies identity CIDs', async () => {
      const bytes = new TextEncoder().encode('inline block')
      const cid = CID.createV1(raw.code, identity.digest(bytes))
      await assert.rejects(h.tier.put(cid, new TextEncoder().encode('other block!')), (err) =>
        isErrorNamed(err, 'BlockVerificationError')
      )
      await h.tier.put(cid, bytes)
      assert.deepEqual(await h.tier.get(cid), bytes)
    })

    it('keeps the byte bound and eviction really frees bytes', async () => {
      const blocks = await makeBlocks(96, 8192, 8192, 5) // 768 KiB into a 256 KiB bound
      for (const block of blocks) {
        await h.tier.put(block.cid, block.bytes)
        assert.ok(h.tier.size <= h.maxBytes, `size ${h.tier.size} > bound ${h.maxBytes}`)
        h.check?.()
      }
      const measured = await h.measure()
      assert.ok(measured <= h.maxBytes, `measured ${measured} > bound ${h.maxBytes}`)
      assert.equal(measured, h.tier.size)
      assert.ok(measured >= h.maxBytes / 2, `measured ${measured}: the tier should be nearly full`)
      const stats = h.tier.getStats()
      assert.ok(stats.evictions > 0)
      assert.ok(h.tier.count < blocks.length)
      let held = 0
      for (const block of blocks) {
        if (h.tier.has(block.cid)) {
          held++
          assert.deepEqual(await h.tier.get(block.cid), block.bytes)
        } else {
          assert.equal(await h.tier.get(block.cid), undefined)
        }
      }
      assert.ok(held > 0)
    })

    it('delete frees exactly the block bytes', async () => {
      const blocks = await makeBlocks(4, 3000, 6000, 6)
      for (const block of blocks) {
        await h.tier.put(block.cid, block.bytes)
      }
      const before = await h.measure()
      const [victim] = blocks as [Block]
      await h.tier.delete(victim.cid)
      assert.equal(await h.measure(), before - victim.bytes.byteLength)
      await h.tier.clear()
      assert.equal(await h.measure(), 0)
      assert.equal(h.tier.count, 0)
    })

    it('counts hits and misses in a plain stats object', async () => {
      const [a, b] = (await makeBlocks(2, 1000, 1000, 7)) as [Block, Block]
      await h.tier.put(a.cid, a.bytes)
      await h.tier.get(a.cid)
      await h.tier.get(b.cid)
      const stats = h.tier.getStats()
      assert.equal(stats.hits, 1)
      assert.equal(stats.misses, 1)
      assert.equal(stats.hitRatio, 0.5)
      assert.equal(stats.bytes, 1000)
      assert.equal(stats.items, 1)
      assert.deepEqual(JSON.parse(JSON.stringify(stats)), stats)
    })

    it(`keeps the byte bound under a seeded random workload of ${WORKLOAD_OPS} operations`, async () => {
      const pool = await makeBlocks(120, 1024, 8192, 8) // ~540 KiB of distinct blocks
      const random = prng(0xcac4e)
      const counts = { get: 0, hit: 0, put: 0, del: 0, has: 0 }
      for (let op = 0; op < WORKLOAD_OPS; op++) {
        const block = pool[Math.floor(random() * pool.length)] as Block
        const r = random()
        if (r < 0.5) {
          counts.get++
          const bytes = await h.tier.get(block.cid)
          if (bytes != null) {
            counts.hit++
            assert.deepEqual(bytes, block.bytes)
          } else {
            await h.tier.put(block.cid, block.bytes)
          }
        } else if (r < 0.8) {
          counts.put++
          await h.tier.put(block.cid, block.bytes)
        } else if (r < 0.95) {
          counts.del++
          await h.tier.delete(block.cid)
          assert.equal(h.tier.has(block.cid), false)
        } else {
          counts.has++
          h.tier.has(block.cid)
        }
        assert.ok(h.tier.size <= h.maxBytes, `op ${op}: size ${h.tier.size} > bound ${h.maxBytes}`)
        h.check?.()
        if (op % 1000 === 999) {
          const measured = await h.measure()
          assert.ok(measured <= h.maxBytes, `op ${op}: measured ${measured} > bound ${h.maxBytes}`)
          assert.equal(measured, h.tier.size, `op ${op}: measured bytes differ from the tier's count`)
          const stats = h.tier.getStats()
          assert.equal(stats.bytes, h.tier.size)
          assert.equal(stats.items, h.tier.count)
        }
      }
      assert.ok(counts.hit > 0 && counts.hit < counts.get, `hits ${counts.hit} of ${counts.get} gets`)
      assert.ok(h.tier.getStats().evictions > 0)
    })
  })
}
