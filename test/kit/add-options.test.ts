/**
 * `add`'s Kubo options in the kit: chunkers (size, rabin; buzhash in buzhash.test.ts), the trickle
 * layout and hash functions give Kubo's CIDs where Kubo's own tests publish them (t0040-add-and-cat.sh, test/cli/add_test.go),
 * refuse what Kubo refuses with Kubo's messages, and build the DAGs they promise.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { collectBytes } from '../../src/blocks/bytes.ts'
import { parseChunker, resolveImport } from '../../src/kit/import-options.ts'
import { kuboImporterOptions } from '../../src/kit/importer.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { RehashingSink } from '../../src/kit/rehash.ts'
import { pseudoRandomBytes, suiteKit } from '../helpers.ts'

const enc = new TextEncoder()
/** Kubo's t0040: `echo "Hello Worlds!" > hello.txt` */
const HELLO_WORLDS = enc.encode('Hello Worlds!\n')
const HELLO_WORLDS_CID = 'QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH'

/** The block of `cid` in the kit's repo. */
async function block(kit: IPFSKit, cid: CID): Promise<Uint8Array> {
  return collectBytes(kit.helia.blockstore.get(cid))
}

/** Every CID of the DAG below `root`, with the depth of each leaf. */
async function walk(kit: IPFSKit, root: CID): Promise<{ cids: CID[]; leafDepths: number[] }> {
  const cids: CID[] = []
  const leafDepths: number[] = []
  const visit = async (cid: CID, depth: number): Promise<void> => {
    cids.push(cid)
    if (cid.code === raw.code) {
      leafDepths.push(depth)
      return
    }
    const node = dagPb.decode(await block(kit, cid))
    if (node.Links.length === 0) leafDepths.push(depth)
    for (const link of node.Links) await visit(link.Hash, depth + 1)
  }
  await visit(root, 0)
  return { cids, leafDepths }
}

describe("add options: Kubo's chunkers, layouts and hashes", () => {
  const suite = suiteKit('worker')

  it("a small file under every chunker and the trickle layout: Kubo's CIDs (t0040)", async () => {
    const { kit } = suite
    for (const chunker of [
      'size-64',
      'rabin',
      'rabin-36-512-1024',
      'rabin-min:36-avg:512-max:1024',
      'buzhash'
    ]) {
      assert.equal((await kit.ipfsAddBytes(HELLO_WORLDS, { chunker })).Hash, HELLO_WORLDS_CID, chunker)
    }
    // `ipfs add -t`: a trickle root above the one leaf, a leaf typed `raw`
    const trickled = await kit.ipfsAddBytes(HELLO_WORLDS, { trickle: true })
    assert.equal(trickled.Hash, 'QmUkUQgxXeggyaD5Ckv8ZqfW8wHBX6cYyeiyqvVZYzq5Bi')
    assert.equal(dagPb.decode(await block(kit, trickled.cid)).Links.length, 1)
    assert.deepEqual(await kit.ipfsCat(trickled.Hash), HELLO_WORLDS)
  })

  it("--hash=sha2-512: CIDv1 with raw leaves, Kubo's CID (add_test.go)", async () => {
    const { kit } = suite
    const r = await kit.ipfsAddString('hello world', { hash: 'sha2-512' })
    assert.equal(
      r.Hash,
      'bafkrgqbqt3gerhas23vuzrapkdeqf4vu2dwxp3srdj6hvg6nhsug2tgyn6mj3u23yx7utftq3i2ckw2fwdh5qmhid5qf3t35yvkc5e5ottlw6'
    )
    assert.equal(
      (await kit.ipfsAddString('hello world', { hash: 'SHA2-256' })).Hash,
      'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'
    )
  })

  it('--hash=sha2-512 on a multi-block file and a folder: every block under sha2-512, sizes as stored', async () => {
    const { kit } = suite
    const bytes = pseudoRandomBytes(5 * 1024 + 17, 5)
    for (const rawLeaves of [true, false]) {
      const r = await kit.ipfsAddBytes(bytes, { hash: 'sha2-512', chunker: 'size-1024', rawLeaves })
      const { cids } = await walk(kit, r.cid)
      assert.equal(cids.length, 7, 'a root over 6 leaves')
      let stored = 0
      for (const cid of cids) {
        assert.equal(cid.version, 1)
        assert.equal(cid.multihash.code, sha512.code)
        const bytesOf = await block(kit, cid)
        stored += bytesOf.byteLength
        assert.deepEqual((await sha512.digest(bytesOf)).digest, cid.multihash.digest)
      }
      assert.equal(r.Size, stored, "Kubo's Size: every block of the DAG")
      assert.deepEqual(await kit.ipfsCat(r.Hash), bytes)
      const pins = await kit.ipfsPinLs({ cid: r.Hash })
      assert.equal(pins[0]?.Type, 'recursive')
    }
  })

  it("rehashing with sha2-256 gives the importer's own CIDv1 DAG (links and Tsize rebuilt)", async () => {
    // two levels of a balanced file (> 174 leaves) and a folder around it
    const data = pseudoRandomBytes(180 * 1024 + 3, 9)
    const source = () => [
      { path: 'd/big.bin', content: data },
      { path: 'd/small.txt', content: enc.encode('small') }
    ]
    const options = { ...kuboImporterOptions({ cidVersion: 1, chunker: 'size-1024' }) }
    const direct: string[] = []
    const sink = { put: async (cid: CID) => cid }
    for await (const e of importer(source(), sink, options)) direct.push(`${e.path} ${e.cid} ${e.size}`)
    const written = new Map<string, Uint8Array>()
    const rehash = new RehashingSink(
      {
        put: async (cid: CID, bytes: Uint8Array) => {
          written.set(cid.toString(), bytes)
          return cid
        }
      },
      sha256
    )
    const again: string[] = []
    for await (const e of importer(source(), rehash, {
      ...kuboImporterOptions({ cidVersion: 1, chunker: 'size-1024' })
    })) {
      const t = rehash.translated(e.cid)
      again.push(`${e.path} ${t.cid} ${t.size}`)
    }
    assert.deepEqual(again, direct)
    assert.ok(written.size > 180)
  })

  it('trickle over many leaves: leaves at several depths, typed raw, read back whole', async () => {
    const { kit } = suite
    const bytes = pseudoRandomBytes(300 * 1024, 3)
    const r = await kit.ipfsAddBytes(bytes, { trickle: true, chunker: 'size-1024' })
    const { leafDepths, cids } = await walk(kit, r.cid)
    assert.equal(leafDepths.length, 300)
    assert.ok(
      new Set(leafDepths).size > 1,
      `trickle leaves sit at several depths: ${[...new Set(leafDepths)]}`
    )
    const balanced = await kit.ipfsAddBytes(bytes, { chunker: 'size-1024' })
    assert.notEqual(balanced.Hash, r.Hash)
    const balancedDepths = (await walk(kit, balanced.cid)).leafDepths
    assert.equal(new Set(balancedDepths).size, 1, 'balanced leaves all sit at one depth')
    // a dag-pb leaf of Kubo's trickle DAG is UnixFS type raw (0): Data starts 0x08 0x00
    const leaf = dagPb.decode(await block(kit, cids.at(-1)!))
    assert.deepEqual([...(leaf.Data ?? new Uint8Array()).subarray(0, 2)], [0x08, 0x00])
    assert.deepEqual(await kit.ipfsCat(r.Hash), bytes)
    // CIDv1: raw leaves under the trickle root
    const v1 = await kit.ipfsAddBytes(bytes, { trickle: true, chunker: 'size-1024', cidVersion: 1 })
    assert.equal((await walk(kit, v1.cid)).cids.at(-1)?.code, raw.code)
    assert.deepEqual(await kit.ipfsCat(v1.Hash), bytes)
  })

  it('rabin: chunks between min and max, cut by content (an insertion early on keeps later leaves)', async () => {
    const { kit } = suite
    const bytes = pseudoRandomBytes(64 * 1024, 11)
    const chunker = 'rabin-256-1024-2048'
    const leavesOf = async (data: Uint8Array): Promise<CID[]> => {
      const r = await kit.ipfsAddBytes(data, { chunker, cidVersion: 1 })
      assert.deepEqual(await kit.ipfsCat(r.Hash), data)
      return (await walk(kit, r.cid)).cids.filter((c) => c.code === raw.code)
    }
    const before = await leavesOf(bytes)
    assert.ok(before.length > 16, `${before.length} leaves`)
    const sizes = await Promise.all(before.map(async (c) => (await block(kit, c)).byteLength))
    for (const size of sizes.slice(0, -1)) assert.ok(size >= 256 && size <= 2048, `chunk of ${size} bytes`)
    const shifted = new Uint8Array(bytes.byteLength + 7)
    shifted.set(enc.encode('7 bytes'))
    shifted.set(bytes, 7)
    const after = new Set((await leavesOf(shifted)).map(String))
    const kept = before.filter((c) => after.has(c.toString())).length
    assert.ok(kept >= before.length - 3, `${kept} of ${before.length} leaves kept after an insertion`)
    // fixed-size chunks share nothing after the same insertion
    const fixed = async (data: Uint8Array) =>
      (await walk(kit, (await kit.ipfsAddBytes(data, { chunker: 'size-1024', cidVersion: 1 })).cid)).cids.map(
        String
      )
    const fixedAfter = new Set(await fixed(shifted))
    assert.equal((await fixed(bytes)).filter((c) => fixedAfter.has(c)).length, 0)
  })

  it("refuses what Kubo refuses, with Kubo's messages", async () => {
    const { kit } = suite
    const refused: Array<[Record<string, unknown>, RegExp, string?]> = [
      [{ chunker: 'size-0' }, /^chunker size must be greater than 0$/],
      [{ chunker: 'size-1048577' }, /may not exceed the maximum chunk size of 1048576/],
      [{ chunker: 'rabin-12-512-1024' }, /^rabin min must be greater than 16$/],
      [{ chunker: 'rabin-16-16-16' }, /rabin-min must be smaller than rabin-avg/],
      [{ chunker: 'rabin-16-32-32' }, /rabin-avg must be smaller than rabin-max/],
      [{ chunker: 'rabin-16-32-2000000' }, /maximum chunk size/],
      [{ chunker: 'rabin-1000000' }, /maximum chunk size/],
      [{ chunker: 'rabin-1-2' }, /incorrect format \(expected 'rabin'/],
      [{ chunker: 'rabin-avg:16-avg:32-max:64' }, /first label must be min/],
      [{ chunker: 'size-x' }, /"x" is not a whole number/],
      [{ chunker: 'buzhash-1024' }, /unrecognized chunker option: buzhash-1024/],
      [{ chunker: 'fastcdc' }, /unrecognized chunker option: fastcdc/],
      [{ hash: 'md5' }, /unrecognized hash function: "md5"/],
      [{ hash: 'sha3-256' }, /"sha3-256" is not supported by ipfs-kit's add/, 'UnsupportedHasherError'],
      [{ hash: 'blake2b-256' }, /"blake2b-256" is not supported/, 'UnsupportedHasherError'],
      [{ hash: 'sha2-512', cidVersion: 0 }, /^CIDv0 only supports sha2-256$/],
      [{ chunkSize: 1024, chunker: 'size-1024' }, /either chunkSize or chunker/]
    ]
    for (const [options, message, name] of refused) {
      await assert.rejects(
        kit.ipfsAddString('x', options),
        { name: name ?? 'InvalidParametersError', message },
        JSON.stringify(options)
      )
    }
  })

  it('parseChunker and resolveImport: the sizes and versions Kubo derives', () => {
    assert.deepEqual(parseChunker('rabin'), { type: 'rabin', min: 87381, avg: 262144, max: 393216 })
    assert.deepEqual(parseChunker('rabin-3000'), { type: 'rabin', min: 1000, avg: 3000, max: 4500 })
    assert.deepEqual(parseChunker('size-1'), { type: 'size', size: 1 })
    assert.deepEqual(parseChunker('default'), { type: 'size', size: 262144 })
    const v1 = resolveImport({ hash: 'sha2-512' })
    assert.equal(v1.cidVersion, 1)
    assert.equal(v1.rawLeaves, true)
    assert.equal(resolveImport({ hash: 'sha2-512', rawLeaves: false }).rawLeaves, false)
    assert.equal(resolveImport({}).cidVersion, 0)
    assert.equal(CID.parse(HELLO_WORLDS_CID).version, 0)
  })
})
