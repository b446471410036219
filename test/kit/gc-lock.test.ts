/**
 * Kubo's GC lock: a `gc` while an add streams in (or a pin fetches) waits for it, so nothing
 * just added is lost. Each trial pauses the add after its first blocks are on disk and starts
 * a gc there: without the lock the gc runs in the pause and deletes them, every time.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { cacheKey } from '../../src/cache/key.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { pseudoRandomBytes, suiteKit, waitFor } from '../helpers.ts'

const CHUNK = 256 * 1024
const TRIALS = 3

async function blocksOnDisk(kit: IPFSKit): Promise<number> {
  let n = 0
  for await (const _ of kit.repo.blockstore.unwrap().getAll()) n++
  return n
}

describe('gc and adds', () => {
  const suite = suiteKit()

  for (let trial = 0; trial < TRIALS; trial++) {
    it(`a gc started in the middle of an add waits for it, and removes none of it (trial ${trial + 1})`, async () => {
      const bytes = pseudoRandomBytes(48 * CHUNK + 17, 100 + trial)
      let gc: Promise<CID[]> | undefined
      let gcDoneDuringAdd = false
      const before = await blocksOnDisk(suite.kit)
      async function* source(): AsyncGenerator<Uint8Array> {
        for (let off = 0; off < bytes.byteLength; off += CHUNK) {
          yield bytes.subarray(off, off + CHUNK)
          if (off === 16 * CHUNK) {
            // the add's first blocks are on disk, unpinned until the add ends
            await waitFor(
              async () => (await blocksOnDisk(suite.kit)) > before,
              'the first blocks of the add on disk'
            )
            gc = suite.kit.ipfsGc()
            // give the gc every chance to run (it finishes in far less without a lock)
            const finished = await Promise.race([
              gc.then(() => true),
              new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1500))
            ])
            gcDoneDuringAdd = finished
          }
        }
      }
      const added = await suite.kit.ipfsAddBytes(source())
      assert.ok(gc != null, 'the gc was started')
      const removed = await gc
      assert.equal(gcDoneDuringAdd, false, 'the gc waited for the add')
      // the root is held and was not removed; the read below checks every other block
      const ours = new Set<string>()
      for await (const { cid } of suite.kit.repo.blockstore.unwrap().getAll()) ours.add(cacheKey(cid))
      assert.ok(ours.has(cacheKey(added.cid)))
      assert.ok(!removed.some((c) => cacheKey(c) === cacheKey(added.cid)))
      // every block of the add is there and pinned: a read offline gives the bytes
      assert.deepEqual(await suite.kit.ipfsCat(added.Hash), bytes)
      assert.ok((await suite.kit.ipfsPinLs({ cid: added.Hash })).some((p) => p.Type === 'recursive'))
      // and a later gc keeps it too
      await suite.kit.ipfsGc()
      assert.deepEqual(await suite.kit.ipfsCat(added.Hash), bytes)
      await suite.kit.ipfsPinRm(added.Hash)
    })
  }

  it('an add started while a gc runs waits for the gc, then completes', async () => {
    // unpinned blocks for the gc to remove
    for (let i = 0; i < 8; i++)
      await suite.kit.ipfsAddBytes(pseudoRandomBytes(4 * CHUNK, 500 + i), { pin: false })
    const gc = suite.kit.ipfsGc()
    const added = await suite.kit.ipfsAddBytes(pseudoRandomBytes(6 * CHUNK, 999))
    await gc
    assert.equal((await suite.kit.ipfsCat(added.Hash)).byteLength, 6 * CHUNK)
  })
})
