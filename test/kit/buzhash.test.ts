/**
 * Kubo's buzhash chunker (`--chunker=buzhash`, boxo's `chunker/buzhash.go`): the table boxo
 * checks, chunks of 128–512 KiB cut where boxo's loop cuts whatever the sizes of the pieces the
 * bytes come in, the run of 32 zero bytes that always ends a chunk, and the CIDs Kubo gave for
 * inputs anyone can make again (t0040-add-and-cat.sh; kubo#6953).
 *
 * Kubo's other published buzhash CIDs are of inputs that cannot be made here: t0040's 5 MiB file
 * comes from go-random (Go's `math/rand`), and the convergence tables of DAGger / @ipld/unixfs
 * are of test files that are not published with them.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { collectBytes } from '../../src/blocks/bytes.ts'
import {
  BUZHASH_MASK,
  BUZHASH_MAX_BYTES,
  BUZHASH_MIN_BYTES,
  BUZHASH_WINDOW_BYTES
} from '../../src/constants.ts'
import { BuzhashSplitter, buzhash } from '../../src/kit/buzhash.ts'
import { BUZHASH_TABLE } from '../../src/kit/buzhash-table.ts'
import { parseChunker } from '../../src/kit/import-options.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { pseudoRandomBytes, suiteKit } from '../helpers.ts'

const MIN = BUZHASH_MIN_BYTES
const MAX = BUZHASH_MAX_BYTES

/**
 * The chunk sizes boxo's `Buzhash.NextBytes` gives, as it is written: each call fills a 512 KiB
 * buffer from the reader (less only at the end of the input), returns what it holds when that is
 * under 128 KiB, and otherwise hashes from 32 bytes before 128 KiB and cuts at the first match or
 * at the end of what it holds. A test oracle over the whole input at once: no streaming.
 */
function boxoSizes(data: Uint8Array): number[] {
  const sizes: number[] = []
  const rotl = (x: number): number => ((x << 1) | (x >>> 31)) >>> 0
  let pos = 0
  for (;;) {
    const held = Math.min(MAX, data.length - pos)
    if (held === 0) return sizes
    if (held < MIN) {
      sizes.push(held)
      return sizes
    }
    let state = 0
    let i = MIN - BUZHASH_WINDOW_BYTES
    for (; i < MIN; i++) state = (rotl(state) ^ BUZHASH_TABLE[data[pos + i]!]!) >>> 0
    for (; (state & BUZHASH_MASK) !== 0 && i < held; i++) {
      state =
        (rotl(state) ^
          BUZHASH_TABLE[data[pos + i - BUZHASH_WINDOW_BYTES]!]! ^
          BUZHASH_TABLE[data[pos + i]!]!) >>>
        0
    }
    sizes.push(i)
    pos += i
  }
}

/**
 * The chunks of `data` fed to the splitter in pieces of `piece` bytes, checking that it never
 * holds more than one maximum-size chunk, whatever the size of the pieces.
 */
function split(data: Uint8Array, piece: number): Uint8Array[] {
  const splitter = new BuzhashSplitter()
  const chunks: Uint8Array[] = []
  for (let at = 0; at < data.length; at += piece) {
    chunks.push(...splitter.push(data.subarray(at, at + piece)))
    assert.ok(splitter.held < MAX, `${splitter.held} bytes held`)
  }
  chunks.push(...splitter.end())
  assert.equal(splitter.held, 0)
  return chunks
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/** The leaves of the file `root` in the kit's repo, in order, with their data sizes. */
async function leafSizes(kit: IPFSKit, root: CID): Promise<number[]> {
  const sizes: number[] = []
  const visit = async (cid: CID): Promise<void> => {
    const bytes = await collectBytes(kit.helia.blockstore.get(cid))
    if (cid.code === raw.code) {
      sizes.push(bytes.length)
      return
    }
    const node = dagPb.decode(bytes)
    for (const link of node.Links) await visit(link.Hash)
  }
  await visit(root)
  return sizes
}

const enc = new TextEncoder()

function ones(word: number): number {
  let n = 0
  for (let w = word >>> 0; w !== 0; w >>>= 1) n += w & 1
  return n
}

/**
 * A byte whose word has an odd number of ones: the hash of 32 of it is all ones, so a run of it
 * never matches (a run of a byte with an even number, as 0, always does).
 */
const NEVER_CUT = 0x01

describe("buzhash: Kubo's content-defined chunker", () => {
  const suite = suiteKit('worker')

  it("the byte table is boxo's: 256 words, each bit set in exactly 128 of them (TestBuzhashBitsHashBias)", () => {
    assert.equal(BUZHASH_TABLE.length, 256)
    for (let bit = 0; bit < 32; bit++) {
      let ones = 0
      for (const word of BUZHASH_TABLE) ones += (word >>> bit) & 1
      assert.equal(ones, 128, `bit ${bit}`)
    }
    assert.equal(BUZHASH_TABLE[0], 0x6236e7d5)
    assert.equal(BUZHASH_TABLE[255], 0x5c41857d)
    assert.equal(ones(BUZHASH_TABLE[NEVER_CUT]!) % 2, 1)
    assert.equal(ones(BUZHASH_TABLE[0]!) % 2, 0)
  })

  it('chunks of 128–512 KiB but the last, where boxo cuts, the same for 1-byte, 7-byte and 64 KiB reads', () => {
    // random bytes with a long run of one byte (no cut: max-size chunks) and of zeros (min-size)
    const data = new Uint8Array(3 * MAX + 70_001)
    data.set(pseudoRandomBytes(data.length, 7))
    data.fill(NEVER_CUT, MAX, 2 * MAX + 1000)
    data.fill(0, 2 * MAX + 1000, 2 * MAX + 1000 + MIN + 500)
    const expected = boxoSizes(data)
    assert.ok(expected.length >= 6, `${expected.length} chunks`)
    assert.ok(expected.includes(MAX) && expected.includes(MIN), expected.join(' '))
    assert.ok(
      expected.some((n) => n > MIN && n < MAX),
      'some chunk ends at a match of the hash'
    )
    for (const piece of [7, 64 * 1024, 1_000_000, data.length]) {
      const chunks = split(data, piece)
      assert.deepEqual(
        chunks.map((c) => c.length),
        expected,
        `pieces of ${piece} bytes`
      )
      assert.deepEqual(concat(chunks), data)
      for (const c of chunks.slice(0, -1)) assert.ok(c.length >= MIN && c.length <= MAX)
    }
    // 1-byte reads, over fewer bytes (a generator step per byte)
    const head = data.subarray(0, MAX + MIN + 12_345)
    assert.deepEqual(
      split(head, 1).map((c) => c.length),
      boxoSizes(head)
    )
  })

  it('at the end of the input: the rest is cut while it holds 128 KiB, never an empty chunk after it', () => {
    const data = pseudoRandomBytes(2 * MAX + 1, 3)
    for (const length of [1, MIN - 1, MIN, MIN + 1, MAX - 1, MAX, MAX + 1, 2 * MAX, 2 * MAX + 1]) {
      const part = data.subarray(0, length)
      const sizes = split(part, 4096).map((c) => c.length)
      assert.deepEqual(sizes, boxoSizes(part), `${length} bytes`)
      assert.ok(!sizes.includes(0), `${length} bytes: ${sizes.join(' ')}`)
    }
    // all the bytes in one chunk while no hash matches: up to the maximum, then a new chunk
    const flat = new Uint8Array(MAX + 10).fill(NEVER_CUT)
    assert.deepEqual(
      split(flat, 1000).map((c) => c.length),
      [MAX, 10]
    )
    // an empty input is one empty chunk: the importer's empty file
    assert.deepEqual(
      split(new Uint8Array(0), 1).map((c) => c.length),
      [0]
    )
  })

  it('a run of 32 zero bytes ends a chunk (the corner case noted on go-ipfs-chunker#31)', () => {
    // zeros: every chunk is a minimum-size one
    assert.deepEqual(
      split(new Uint8Array(MAX * 2), 65_536).map((c) => c.length),
      new Array(8).fill(MIN)
    )
    // in random bytes, the chunk ends right after the 32nd zero
    const data = pseudoRandomBytes(MAX + MIN, 21)
    const zerosAt = MIN + 1000
    data.fill(0, zerosAt, zerosAt + BUZHASH_WINDOW_BYTES)
    assert.equal(split(data, 8192)[0]?.length, zerosAt + BUZHASH_WINDOW_BYTES)
    // 31 zeros do not
    data[zerosAt] = 1
    assert.notEqual(split(data, 8192)[0]?.length, zerosAt + BUZHASH_WINDOW_BYTES)
  })

  it('cut by content: an insertion near the start of a file keeps the chunks after it', () => {
    const data = pseudoRandomBytes(6 * MAX, 9)
    const before = split(data, 65_536).map((c) => Buffer.from(c).toString('base64'))
    const shifted = new Uint8Array(data.length + 7)
    shifted.set(enc.encode('7 bytes'))
    shifted.set(data, 7)
    const after = new Set(split(shifted, 65_536).map((c) => Buffer.from(c).toString('base64')))
    const kept = before.filter((c) => after.has(c)).length
    assert.ok(before.length >= 6, `${before.length} chunks`)
    assert.ok(kept >= before.length - 2, `${kept} of ${before.length} chunks kept`)
  })

  it("Kubo's CIDs: t0040's hello.txt, the empty file, and kubo#6953's 160000 bytes of 'foo\\n'", async () => {
    const { kit } = suite
    assert.deepEqual(parseChunker('buzhash'), { type: 'buzhash' })
    assert.equal(
      (await kit.ipfsAddBytes(enc.encode('Hello Worlds!\n'), { chunker: 'buzhash' })).Hash,
      'QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH'
    )
    assert.equal(
      (await kit.ipfsAddBytes(new Uint8Array(0), { chunker: 'buzhash' })).Hash,
      'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH'
    )
    // `yes "foo" | head -n 40000`: Kubo found no cut in it (its one data leaf was this CID; the
    // root it made then also linked an empty leaf, the bug boxo fixed, so the leaf is the file)
    const foo = enc.encode('foo\n'.repeat(40_000))
    assert.equal(
      (await kit.ipfsAddBytes(foo, { chunker: 'buzhash' })).Hash,
      'QmcNJ4CKYGuya2ndNr9ymV7oQsT4S69SdwmTzaiW7c9vAC'
    )
    assert.equal(
      (await kit.ipfsAddBytes(foo, { chunker: 'buzhash', cidVersion: 1 })).Hash,
      'bafkreigqq7maj23te3dkn4j76n7haab7lgmdz5fztubrdgsv44k4vyipsa'
    )
    // and that run of 'foo\n' cut as boxo would by the chunker alone
    assert.deepEqual(
      split(foo, 4096).map((c) => c.length),
      [foo.length]
    )
  })

  it("through the kit: a multi-chunk file's leaves are the chunks, the same from a stream of small pieces", async () => {
    const { kit } = suite
    const data = pseudoRandomBytes(4 * MAX + 333, 13)
    data.fill(0, MIN + 5000, MIN + 5000 + 64)
    const expected = boxoSizes(data)
    const whole = await kit.ipfsAddBytes(data, { chunker: 'buzhash', cidVersion: 1 })
    assert.deepEqual(await leafSizes(kit, whole.cid), expected)
    assert.deepEqual(await collectBytes(kit.ipfsCatStream(whole.Hash)), data)
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < data.length; at += 10_007) yield data.slice(at, at + 10_007)
    }
    assert.equal((await kit.ipfsAddBytes(pieces(), { chunker: 'buzhash', cidVersion: 1 })).Hash, whole.Hash)
    // CIDv0: dag-pb leaves, another root, the same bytes
    const v0 = await kit.ipfsAddBytes(data, { chunker: 'buzhash' })
    assert.equal(CID.parse(v0.Hash).version, 0)
    assert.deepEqual(await collectBytes(kit.ipfsCatStream(v0.Hash)), data)
    // the importer's chunker on its own gives the same chunks
    const viaChunker: number[] = []
    for await (const c of buzhash()(pieces())) viaChunker.push(c.length)
    assert.deepEqual(viaChunker, expected)
  })
})
