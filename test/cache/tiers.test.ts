/** The shared CacheTier suite against every implementation. */

import assert from 'node:assert/strict'
import { DiskTier, MemoryTier, TieredCache } from '../../src/cache/index.ts'
import { diskBytes, removeDir, tempDir } from './helpers.ts'
import { cacheTierSuite } from './tier-suite.ts'

const KiB = 1024
const BOUND = 256 * KiB

cacheTierSuite('MemoryTier (arc)', async () => {
  const tier = new MemoryTier({ maxBytes: BOUND })
  await tier.start()
  return {
    tier,
    maxBytes: BOUND,
    measure: async () => tier.getStats().bytes,
    cleanup: async () => tier.stop()
  }
})

cacheTierSuite('MemoryTier (lru)', async () => {
  const tier = new MemoryTier({ maxBytes: BOUND, policy: 'lru' })
  await tier.start()
  return {
    tier,
    maxBytes: BOUND,
    measure: async () => tier.getStats().bytes,
    cleanup: async () => tier.stop()
  }
})

cacheTierSuite('DiskTier', async () => {
  const dir = await tempDir()
  const tier = new DiskTier({ dir, maxBytes: BOUND })
  await tier.start()
  return {
    tier,
    maxBytes: BOUND,
    measure: async () => diskBytes(dir),
    cleanup: async () => {
      await tier.stop()
      await removeDir(dir)
    }
  }
})

cacheTierSuite('TieredCache', async () => {
  const dir = await tempDir()
  const tier = new TieredCache({ dir, memoryMaxBytes: BOUND / 2, diskMaxBytes: BOUND / 2 })
  await tier.start()
  return {
    tier,
    maxBytes: BOUND,
    measure: async () => {
      await tier.drain()
      return tier.memory.getStats().bytes + (await diskBytes(dir))
    },
    check: () => {
      assert.ok(tier.memory.size <= BOUND / 2, `memory ${tier.memory.size} > ${BOUND / 2}`)
      assert.ok((tier.disk?.size ?? 0) <= BOUND / 2, `disk ${tier.disk?.size} > ${BOUND / 2}`)
    },
    cleanup: async () => {
      await tier.stop()
      await removeDir(dir)
    }
  }
})
