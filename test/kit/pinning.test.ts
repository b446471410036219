/**
 * An add pins its root from its own record of the DAG, writing Helia's pin records byte for
 * byte: the datastore after an add equals the datastore after the same add unpinned and then
 * pinned by Helia's own `pins.add`, and either side's pins are read and removed by the other.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import * as cborg from 'cborg'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { AddOptions, IPFSKit } from '../../src/kit/index.ts'
import { AddedDag, pinKey } from '../../src/kit/pinning.ts'
import { localKit, pseudoRandomBytes, tempDir } from '../helpers.ts'

/** Every pin record in a kit's datastore, key → bytes as hex. */
async function pinRecords(kit: IPFSKit): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const prefix of ['/pin/', '/pinned-block/']) {
    for await (const { key, value } of kit.helia.datastore.query({ prefix })) {
      out.set(key.toString(), Buffer.from(value).toString('hex'))
    }
  }
  return out
}

/** Records with each block's `pinnedBy` sorted (its order is the order the pins were made in). */
function unordered(records: Map<string, string>): Map<string, unknown> {
  const out = new Map<string, unknown>()
  for (const [key, hex] of records) {
    if (!key.startsWith('/pinned-block/')) {
      out.set(key, hex)
      continue
    }
    const { pinCount, pinnedBy } = cborg.decode(Buffer.from(hex, 'hex')) as {
      pinCount: number
      pinnedBy: Uint8Array[]
    }
    out.set(key, { pinCount, pinnedBy: pinnedBy.map((b) => Buffer.from(b).toString('hex')).sort() })
  }
  return out
}

/** Pin as Helia does, with its own default walker (reads the DAG back from the blockstore). */
async function heliaPin(kit: IPFSKit, cid: CID): Promise<void> {
  for await (const _ of kit.helia.pins.add(cid)) {
    // each block
  }
}

async function heliaUnpin(kit: IPFSKit, cid: CID): Promise<void> {
  for await (const _ of kit.helia.pins.rm(cid)) {
    // each block
  }
}

// a file of several DAG levels (small chunks), with repeated chunks (zeros)
const withRepeats = new Uint8Array(600 * 1024)
withRepeats.set(pseudoRandomBytes(200 * 1024, 5), 0)
const deep: AddOptions = { chunkSize: 1024 }

describe('pinning an add from its own output', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let ours: IPFSKit
  let helias: IPFSKit
  before(async () => {
    dir = await tempDir()
    ours = await localKit('worker', dir.path, { offline: true })
    helias = await localKit('worker', dir.path, { offline: true })
  })
  after(async () => {
    await ours?.stop()
    await helias?.stop()
    await dir?.cleanup()
  })

  const cases: Array<{ name: string; files: Uint8Array[]; options: AddOptions }> = [
    { name: 'one 256 KiB-chunk file (CIDv0)', files: [pseudoRandomBytes(1024 * 1024 + 3, 1)], options: {} },
    { name: 'a deep DAG with repeated chunks', files: [withRepeats], options: deep },
    {
      name: 'CIDv1 raw leaves, then a second file sharing blocks with the first',
      files: [pseudoRandomBytes(300 * 1024, 2), pseudoRandomBytes(310 * 1024, 2)],
      options: { cidVersion: 1, chunkSize: 4096 }
    },
    { name: 'a one-block file', files: [new TextEncoder().encode('one block')], options: {} },
    { name: 'an empty file', files: [new Uint8Array(0)], options: { cidVersion: 1 } }
  ]

  for (const c of cases) {
    it(`${c.name}: the same records as Helia's pins.add`, async () => {
      for (const file of c.files) {
        const a = await ours.ipfsAddBytes(file, c.options)
        const b = await helias.ipfsAddBytes(file, { ...c.options, pin: false })
        assert.equal(a.Hash, b.Hash)
        await heliaPin(helias, b.cid)
      }
      assert.deepEqual(await pinRecords(ours), await pinRecords(helias))
    })
  }

  it('a pin written from an add is removed by Helia, and one written by Helia by the kit', async () => {
    const bytes = pseudoRandomBytes(100 * 1024, 9)
    const a = await ours.ipfsAddBytes(bytes, deep)
    const b = await helias.ipfsAddBytes(bytes, { ...deep, pin: false })
    await heliaPin(helias, b.cid)
    assert.ok(await ours.helia.pins.isPinned(a.cid))
    await heliaUnpin(ours, a.cid)
    await helias.ipfsPinRm(b.cid)
    assert.deepEqual(await pinRecords(ours), await pinRecords(helias))
    assert.equal(await ours.helia.datastore.has(pinKey(a.cid)), false)
  })

  it('pinning an add whose root is pinned already changes nothing', async () => {
    const bytes = pseudoRandomBytes(40 * 1024, 11)
    const first = await ours.ipfsAddBytes(bytes, deep)
    const before = await pinRecords(ours)
    const again = await ours.ipfsAddBytes(bytes, deep)
    assert.equal(again.Hash, first.Hash)
    assert.deepEqual(await pinRecords(ours), before)
    // as it was, for the tests after this one
    await ours.ipfsPinRm(first.cid)
  })

  it('concurrent adds sharing blocks count every pin', async () => {
    const shared = pseudoRandomBytes(64 * 1024, 12)
    const files = [0, 1, 2, 3].map((i) => {
      const f = new Uint8Array(shared.length + 1)
      f.set(shared)
      f[shared.length] = i
      return f
    })
    const added = await Promise.all(files.map((f) => ours.ipfsAddBytes(f, deep)))
    for (const f of files) {
      const b = await helias.ipfsAddBytes(f, { ...deep, pin: false })
      await heliaPin(helias, b.cid)
    }
    assert.equal(new Set(added.map((a) => a.Hash)).size, 4)
    // the pins ended in another order than Helia's, one after the other: so did each pinnedBy list
    assert.deepEqual(unordered(await pinRecords(ours)), unordered(await pinRecords(helias)))
  })
})

describe('AddedDag', () => {
  const leaf = async (n: number): Promise<{ cid: CID; bytes: Uint8Array }> => {
    const bytes = dagPb.encode({ Data: new Uint8Array([n]), Links: [] })
    return { cid: CID.createV0(await sha256.digest(bytes)), bytes }
  }

  it('lists the blocks below a root once each, and nothing when one was not written', async () => {
    const a = await leaf(1)
    const b = await leaf(2)
    const rootBytes = dagPb.encode({ Links: [a, b, a].map((l) => ({ Hash: l.cid, Tsize: 1 })) })
    const root = CID.createV0(await sha256.digest(rootBytes))
    const dag = new AddedDag()
    dag.add(a.cid, a.bytes)
    dag.add(root, rootBytes)
    assert.equal(dag.blocksBelow(root), undefined, 'b was not written by the add')
    dag.add(b.cid, b.bytes)
    assert.deepEqual(dag.blocksBelow(root)?.map(String), [root, a.cid, b.cid].map(String))
  })

  it("reads the links of every node, leaves of a 256 KiB file and nodes written out of dag-pb's order alike", async () => {
    const a = await leaf(1)
    // a leaf as an add writes it: the Data field alone, 256 KiB long (its length a 3-byte varint)
    const bigBytes = dagPb.encode({ Data: pseudoRandomBytes(256 * 1024, 3), Links: [] })
    const big = { cid: CID.createV0(await sha256.digest(bigBytes)), bytes: bigBytes }
    // Data before Links: not how dag-pb writes a node, but its decoder takes it
    // (dag-pb writes the Links, then the Data field last: here 0x0a 0x00, moved to the front)
    const linkBytes = dagPb.encode({ Data: new Uint8Array(0), Links: [{ Hash: a.cid, Tsize: 1 }] })
    const dataFirst = new Uint8Array([0x0a, 0x00, ...linkBytes.subarray(0, linkBytes.length - 2)])
    assert.equal(dagPb.decode(dataFirst).Links.length, 1, 'a node with its Data first and one link')
    const dataFirstCid = CID.createV0(await sha256.digest(dataFirst))
    const rootBytes = dagPb.encode({ Links: [dataFirstCid, big.cid].map((Hash) => ({ Hash, Tsize: 1 })) })
    const root = CID.createV0(await sha256.digest(rootBytes))
    const dag = new AddedDag()
    dag.add(root, rootBytes)
    dag.add(dataFirstCid, dataFirst)
    dag.add(big.cid, big.bytes)
    assert.equal(dag.blocksBelow(root), undefined, 'the link after the Data field is followed')
    dag.add(a.cid, a.bytes)
    assert.deepEqual(dag.blocksBelow(root)?.map(String), [root, dataFirstCid, a.cid, big.cid].map(String))
  })

  it('forgets all past its bound', async () => {
    const dag = new AddedDag({ maxBlocks: 1 })
    const a = await leaf(1)
    const b = await leaf(2)
    dag.add(a.cid, a.bytes)
    dag.add(b.cid, b.bytes)
    assert.equal(dag.overflowed, true)
    assert.equal(dag.blocksBelow(a.cid), undefined)
  })
})
