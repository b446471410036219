/**
 * The add's own leaves (one copy, hashed on workers, a window in flight) are the importer's:
 * the same blocks under the same CIDs, for every Kubo layout the kit offers.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { importer } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { Sha256Pool } from '../../src/blocks/hasher.ts'
import { type AddOptions, kuboImporterOptions } from '../../src/kit/importer.ts'
import { encodeFileLeaf, parallelLeaves } from '../../src/kit/leaves.ts'
import { pseudoRandomBytes } from '../helpers.ts'

/** Import `bytes` and return every block put, CID → hex, and the root. */
async function blocksOf(
  bytes: Uint8Array,
  options: AddOptions,
  leaves?: Parameters<typeof parallelLeaves>[0],
  piece = 100_003,
  onBlock?: (block: Uint8Array) => void
): Promise<{ root: string; blocks: Map<string, string> }> {
  const blocks = new Map<string, string>()
  const store = {
    async put(cid: CID, block: Uint8Array): Promise<CID> {
      onBlock?.(block)
      blocks.set(cid.toString(), Buffer.from(block).toString('hex'))
      return cid
    }
  } as unknown as Parameters<typeof importer>[1]
  const extra = leaves == null ? {} : { bufferImporter: parallelLeaves(leaves), blockWriteConcurrency: 1 }
  let root = ''
  // in pieces of an odd size, so that chunks straddle the pieces; as Node Buffers that share
  // one big buffer, as a file stream or a multipart upload gives them
  const all = Buffer.from(bytes)
  const source = (async function* () {
    for (let at = 0; at < all.length; at += piece) yield all.subarray(at, at + piece)
  })()
  for await (const entry of importer([{ content: source }], store, {
    ...kuboImporterOptions(options),
    ...extra
  })) {
    root = entry.cid.toString()
  }
  return { root, blocks }
}

describe('parallel leaves', () => {
  const pool = new Sha256Pool({ workers: 2 })
  before(async () => {
    // up before the first leaf, so that every leaf past `minWorkerLeaves` is hashed on a worker
    await pool.start()
  })
  after(async () => {
    await pool.stop()
  })

  const sizes = [0, 1, 127, 128, 16_383, 16_384, 262_144, 262_145, 3 * 262_144 + 5]
  const layouts: AddOptions[] = [
    {},
    { cidVersion: 1 },
    { cidVersion: 1, rawLeaves: false },
    { chunkSize: 1000 },
    { cidVersion: 1, chunkSize: 128 }
  ]
  for (const options of layouts) {
    it(`the importer's blocks and CIDs, ${JSON.stringify(options)}`, async () => {
      for (const size of sizes) {
        const bytes = pseudoRandomBytes(size, size + 1)
        const expected = await blocksOf(bytes, options)
        const cidVersion = options.cidVersion ?? 0
        const rawLeaves = options.rawLeaves ?? cidVersion === 1
        for (const minWorkerLeaves of [0, 2, Number.POSITIVE_INFINITY]) {
          const got = await blocksOf(bytes, options, {
            cidVersion,
            rawLeaves,
            pool,
            minWorkerLeaves,
            window: 3
          })
          assert.equal(got.root, expected.root, `${size} bytes, workers after ${minWorkerLeaves} leaves`)
          assert.deepEqual(got.blocks, expected.blocks, `${size} bytes`)
        }
        // whole chunks inside one piece: the chunker hands them over as views of the piece
        const views = await blocksOf(
          bytes,
          options,
          { cidVersion, rawLeaves, pool, minWorkerLeaves: 0 },
          1 << 22
        )
        assert.equal(views.root, expected.root, `${size} bytes, chunks as views of a bigger buffer`)
      }
    })
  }

  it('leaves are hashed in this thread while no worker is up, on the workers once one is', async () => {
    const bytes = pseudoRandomBytes(40 * 1024, 3)
    const options: AddOptions = { chunkSize: 1024 }
    const layout = { cidVersion: 0 as const, rawLeaves: false, minWorkerLeaves: 0 }
    const expected = await blocksOf(bytes, options)
    // a leaf hashed here is the Buffer it was encoded in; one back from a worker is a Uint8Array
    // (a Buffer crosses threads as a plain Uint8Array)
    const count = { here: 0, worker: 0 }
    const leafLength = encodeFileLeaf(new Uint8Array(1024)).byteLength
    const onBlock = (block: Uint8Array): void => {
      if (block.byteLength !== leafLength) return // the DAG's parent
      if (Buffer.isBuffer(block)) count.here++
      else count.worker++
    }
    const cold = new Sha256Pool({ workers: 1 })
    try {
      assert.deepEqual(await blocksOf(bytes, options, { ...layout, pool: cold }, 100_003, onBlock), expected)
      assert.ok(count.here > 0, 'the first leaves did not wait for the worker to start')
      await cold.start()
      count.here = 0
      count.worker = 0
      assert.deepEqual(await blocksOf(bytes, options, { ...layout, pool: cold }, 100_003, onBlock), expected)
      assert.deepEqual(count, { here: 0, worker: 40 }, 'every leaf went to the worker once it was up')
    } finally {
      await cold.stop()
    }
  })

  it('freeStoredLeaves: the same blocks, each leaf but the first emptied once stored', async () => {
    for (const options of [{}, { cidVersion: 1 as const }]) {
      const bytes = pseudoRandomBytes(5 * 262_144 + 100, 5)
      const expected = await blocksOf(bytes, options)
      const cidVersion = options.cidVersion ?? 0
      const given: Uint8Array[] = []
      const got = await blocksOf(
        bytes,
        options,
        { cidVersion, rawLeaves: cidVersion === 1, pool, freeStoredLeaves: true },
        100_003,
        (block) => given.push(block)
      )
      assert.deepEqual(got, expected, JSON.stringify(options))
      // six leaves and their parent, in the order they were stored
      assert.equal(given.length, 7)
      assert.ok(given[0]!.byteLength > 0, 'the first leaf is kept: the importer holds it')
      for (const leaf of given.slice(1, 6)) assert.equal(leaf.byteLength, 0, 'a later leaf is emptied')
      assert.ok(given[6]!.byteLength > 0, 'the parent is not a leaf')
    }
  })
})
