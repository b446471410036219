import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { PinTracker } from '../../src/cluster/tracker.ts'
import type { ClusterPin } from '../../src/cluster/types.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, tempDir, waitFor } from '../helpers.ts'

function pinOf(cid: string): ClusterPin {
  return {
    cid,
    name: '',
    replicationFactorMin: 1,
    replicationFactorMax: 1,
    allocations: ['self'],
    expireAt: 0,
    metadata: {},
    mode: 'recursive',
    timestamp: 1,
    updatedBy: 'self',
    reallocated: 0
  }
}

describe('the pin tracker', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let kit: IPFSKit
  before(async () => {
    dir = await tempDir()
    kit = await localKit('worker', dir.path)
  })
  after(async () => {
    await kit?.stop()
    await dir?.cleanup()
  })

  it('tries a pin in error again within seconds, long before the retry interval', async () => {
    // a pin attempt gives up after 300 ms; the regular retry would come after 10 minutes
    const tracker = new PinTracker(kit, 'self', logger('test:tracker'), {
      pinTimeoutMs: 300,
      retryMs: 600_000
    })
    await tracker.start()
    try {
      const bytes = new TextEncoder().encode(`arrives late ${Math.random()}`)
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      tracker.set(pinOf(cid.toString()), true)
      await waitFor(() => tracker.status(cid.toString()).status === 'error', 'the first try failed', 30_000)
      assert.match(tracker.status(cid.toString()).error ?? '', /./)
      // the block comes (as from a member that was slow to send it): the next try pins it
      await kit.helia.blockstore.put(cid, bytes)
      await waitFor(() => tracker.status(cid.toString()).status === 'pinned', 'pinned on a retry', 30_000)
      assert.equal(tracker.status(cid.toString()).pins, 1)
      assert.equal(await kit.helia.pins.isPinned(cid), true)
      assert.ok(tracker.counters.pinErrors >= 1)
    } finally {
      await tracker.stop()
    }
  })
})
