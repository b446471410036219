/** DiskTier: restart, reconciliation on start, corruption on disk, lifecycle. */

import assert from 'node:assert/strict'
import { access, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { DiskTier } from '../../src/cache/index.ts'
import { isErrorNamed } from '../../src/errors.ts'
import { type Block, diskBytes, diskFiles, makeBlocks, removeDir, tempDir } from './helpers.ts'

const KiB = 1024

describe('DiskTier', () => {
  let dir: string
  let tiers: DiskTier[]

  /** A started tier on `dir`, stopped after the test. */
  async function open(init: Partial<ConstructorParameters<typeof DiskTier>[0]> = {}): Promise<DiskTier> {
    const tier = new DiskTier({ dir, maxBytes: 256 * KiB, ...init })
    tiers.push(tier)
    await tier.start()
    return tier
  }

  beforeEach(async () => {
    dir = await tempDir()
    tiers = []
  })

  afterEach(async () => {
    for (const tier of tiers) {
      await tier.stop()
    }
    await removeDir(dir)
  })

  it('survives a restart: a new instance on the same folder serves the same blocks', async () => {
    const blocks = await makeBlocks(12, 1024, 8192, 11)
    const first = await open()
    for (const block of blocks) {
      await first.put(block.cid, block.bytes)
    }
    const [hot] = blocks as [Block]
    await first.get(hot.cid)
    await first.get(hot.cid)
    const bytes = first.size
    await first.stop()
    await assert.rejects(first.get(hot.cid), (err) => isErrorNamed(err, 'NotStartedError'))

    const second = await open()
    assert.equal(second.count, blocks.length)
    assert.equal(second.size, bytes)
    assert.equal(await diskBytes(dir), bytes)
    for (const block of blocks) {
      assert.deepEqual(await second.get(block.cid), block.bytes)
    }
    assert.ok(second.heat(hot.cid) > 2.5, `heat of the twice-read block was kept: ${second.heat(hot.cid)}`)
    const stats = second.getStats()
    assert.equal(stats.missingDropped, 0)
    assert.equal(stats.orphansRemoved, 0)
  })

  it('start and stop can be called twice; a second process on the folder is refused', async () => {
    const tier = await open()
    await tier.start()
    await assert.rejects(new DiskTier({ dir }).start(), (err) => isErrorNamed(err, 'RepoLockedError'))
    await tier.stop()
    await tier.stop()
    await tier.start()
    assert.equal(tier.count, 0)
  })

  it('detects a block whose bytes changed on disk: drops it, counts it, never returns it', async () => {
    const tier = await open()
    const [a, b] = (await makeBlocks(2, 4096, 4096, 12)) as [Block, Block]
    await tier.put(a.cid, a.bytes)
    await tier.put(b.cid, b.bytes)
    const path = tier.pathOf(a.cid)
    const onDisk = await readFile(path)
    onDisk[1000] = (onDisk[1000] ?? 0) ^ 0xff // same length, one byte flipped
    await writeFile(path, onDisk)

    assert.equal(await tier.get(a.cid), undefined)
    assert.equal(tier.has(a.cid), false)
    await assert.rejects(access(path))
    assert.equal(tier.getStats().corruptDropped, 1)
    assert.equal(tier.size, 4096)
    assert.equal(await diskBytes(dir), 4096)

    await truncate(tier.pathOf(b.cid), 100) // a torn file
    assert.equal(await tier.get(b.cid), undefined)
    assert.equal(tier.getStats().corruptDropped, 2)
    assert.equal(tier.count, 0)

    await tier.put(a.cid, a.bytes) // the right bytes can be cached again
    assert.deepEqual(await tier.get(a.cid), a.bytes)
  })

  it('on start drops entries whose file is missing and removes temp and unindexed files', async () => {
    const blocks = await makeBlocks(5, 2048, 2048, 13)
    const first = await open()
    for (const block of blocks.slice(0, 4)) {
      await first.put(block.cid, block.bytes)
    }
    const [gone, , , , orphan] = blocks as [Block, Block, Block, Block, Block]
    const orphanPath = first.pathOf(orphan.cid)
    await first.stop()

    await writeFile(join(dir, 'tmp', 'interrupted.abc123'), new Uint8Array(500)) // a crashed write
    await rm(first.pathOf(gone.cid))
    await mkdir(join(orphanPath, '..'), { recursive: true })
    await writeFile(orphanPath, orphan.bytes) // renamed but never indexed

    const second = await open()
    assert.equal(second.count, 3)
    assert.equal(second.size, 3 * 2048)
    assert.equal(second.has(gone.cid), false)
    assert.equal(second.has(orphan.cid), false)
    assert.equal(await second.get(orphan.cid), undefined)
    assert.deepEqual(await readdir(join(dir, 'tmp')), [])
    assert.equal((await diskFiles(dir)).length, 3)
    const stats = second.getStats()
    assert.equal(stats.missingDropped, 1)
    assert.equal(stats.orphansRemoved, 2)
  })

  it('a restart with a smaller bound evicts down to it', async () => {
    const blocks = await makeBlocks(20, 8192, 8192, 14)
    const first = await open()
    for (const block of blocks) {
      await first.put(block.cid, block.bytes)
    }
    assert.equal(first.size, 160 * KiB)
    await first.stop()
    const second = await open({ maxBytes: 64 * KiB })
    assert.equal(second.size, 64 * KiB)
    assert.equal(await diskBytes(dir), 64 * KiB)
    assert.equal(second.getStats().evictions, 12)
  })

  it('refuses blocks over maxItemSize and evicts cold blocks before hot ones', async () => {
    const tier = await open({ maxBytes: 64 * KiB, maxItemSize: 16 * KiB, evictionSample: 8 })
    const [big] = (await makeBlocks(1, 20 * KiB, 20 * KiB, 15)) as [Block]
    await assert.rejects(tier.put(big.cid, big.bytes), (err) => isErrorNamed(err, 'MaxSizeExceededError'))
    const blocks = await makeBlocks(8, 8192, 8192, 16)
    for (const block of blocks) {
      await tier.put(block.cid, block.bytes)
    }
    const [oldestButHot] = blocks as [Block]
    await tier.get(oldestButHot.cid)
    await tier.get(oldestButHot.cid)
    // reading moved it to the MRU end too; make it the LRU again by reading all others
    for (const block of blocks.slice(1)) {
      await tier.get(block.cid)
    }
    const [extra] = (await makeBlocks(1, 8192, 8192, 17)) as [Block]
    await tier.put(extra.cid, extra.bytes)
    assert.equal(tier.has(oldestButHot.cid), true, 'the block read three times survived')
    assert.equal(tier.count, 8)
  })

  it('concurrent puts of the same block write it once', async () => {
    const tier = await open()
    const [block] = (await makeBlocks(1, 4096, 4096, 18)) as [Block]
    await Promise.all(Array.from({ length: 10 }, async () => tier.put(block.cid, block.bytes)))
    assert.equal(tier.getStats().writes, 1)
    assert.equal(await diskBytes(dir), 4096)
  })
})
