/**
 * The leaves of an add, made faster than the importer's own and with the same bytes: each leaf
 * is encoded with one copy (the importer's makes two), hashed on the {@link Sha256Pool}'s worker
 * threads, and written while the next are hashed, up to a window of leaves in flight.
 *
 * @packageDocumentation
 */

import * as dagPb from '@ipld/dag-pb'
import type { BufferImporter, BufferImporterResult } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { reclaimHashed, type Sha256Pool, sha256Here } from '../blocks/hasher.ts'
import { ADD_BLOCK_WRITE_CONCURRENCY, ADD_WORKER_MIN_LEAVES } from '../constants.ts'

/** Options of {@link parallelLeaves}. */
export interface ParallelLeavesInit {
  cidVersion: 0 | 1
  rawLeaves: boolean
  /** hash workers; without them every leaf is hashed in this thread */
  pool?: Sha256Pool
  /**
   * leaves of a file hashed in this thread before the pool is started (and after them, until
   * one of its workers is up) @default ADD_WORKER_MIN_LEAVES
   */
  minWorkerLeaves?: number
  /** leaves being hashed and written at once @default ADD_BLOCK_WRITE_CONCURRENCY */
  window?: number
  /**
   * Take back each leaf's memory as soon as the blockstore has it, for the leaves after it (see
   * {@link reclaimHashed}): the leaf's array is emptied. Only for a blockstore that keeps no
   * reference to the bytes it is given once a put is done (the repo's: one file per block). The
   * first leaf of a file is kept (the importer holds it, to make a one-block file its own root)
   * @default false
   */
  freeStoredLeaves?: boolean
}

function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  out[at++] = n
  return at
}

/**
 * A new array of `length` bytes that owns its whole buffer (so that it can be moved to a worker),
 * not zeroed: the caller writes every byte of it. Its memory is taken from `spare` (buffers of
 * leaves already stored) when one has this length.
 */
function ownedArray(length: number, spare?: ArrayBuffer[]): Uint8Array {
  const reused = spare?.at(-1)?.byteLength === length ? spare.pop() : undefined
  return reused != null ? Buffer.from(reused) : Buffer.allocUnsafeSlow(length)
}

/**
 * A UnixFS `file` leaf as dag-pb, exactly as the importer writes it (`dagPb.encode` of a node
 * with no links whose Data is `UnixFS({ type: 'file', data }).marshal()`), in one new array:
 * its memory is one of `spare` if one there has its length (see {@link reclaimHashed}).
 */
export function encodeFileLeaf(data: Uint8Array, spare?: ArrayBuffer[]): Uint8Array {
  const n = data.byteLength
  // UnixFS Data: Type = File (field 1), Data (field 2, absent when empty), filesize (field 3)
  const unixfsLength = 2 + (n > 0 ? 1 + varintLength(n) + n : 0) + 1 + varintLength(n)
  // dag-pb PBNode: Data (field 1) and no Links. Not zeroed first: every byte is written below
  // (a zeroed 256 KiB array costs the page faults of a second copy)
  const block = ownedArray(1 + varintLength(unixfsLength) + unixfsLength, spare)
  let at = 0
  block[at++] = 0x0a
  at = writeVarint(block, at, unixfsLength)
  block[at++] = 0x08
  block[at++] = 0x02
  if (n > 0) {
    block[at++] = 0x12
    at = writeVarint(block, at, n)
    block.set(data, at)
    at += n
  }
  block[at++] = 0x18
  writeVarint(block, at, n)
  return block
}

/** A copy of `bytes` in an array of its own. */
function copyOf(bytes: Uint8Array, spare?: ArrayBuffer[]): Uint8Array {
  const copy = ownedArray(bytes.byteLength, spare)
  copy.set(bytes)
  return copy
}

/**
 * What the importer reads of a dag-pb leaf's UnixFS record (its layout counts `data.length`,
 * its tree builder asks `isDirectory()`, `mtime` and `mode`): the record of a leaf holding
 * `data` (not a copy), without `ipfs-unixfs`, which this project does not depend on directly.
 */
function fileLeafRecord(data: Uint8Array): BufferImporterResult['unixfs'] {
  const record = {
    type: 'file',
    data,
    blockSizes: [] as bigint[],
    mtime: undefined,
    mode: undefined,
    fileSize: (): bigint => BigInt(data.byteLength),
    isDirectory: (): boolean => false
  }
  return record as unknown as BufferImporterResult['unixfs']
}

/**
 * The importer's `bufferImporter` for Kubo's layouts (dag-pb or raw leaves, SHA-256): the same
 * blocks and CIDs as its default, with hashing on worker threads and leaves in flight. Give it
 * to the importer with `blockWriteConcurrency: 1`: it keeps its own window of leaves in flight,
 * where the importer's batches would wait for the slowest leaf of each batch.
 */
export function parallelLeaves(init: ParallelLeavesInit): BufferImporter {
  const minWorkerLeaves = init.minWorkerLeaves ?? ADD_WORKER_MIN_LEAVES
  const window = Math.max(1, init.window ?? ADD_BLOCK_WRITE_CONCURRENCY)
  const cidVersion = init.rawLeaves ? 1 : init.cidVersion
  const codec = init.rawLeaves ? raw.code : dagPb.code
  const pool = init.pool

  return async function* leaves(file, blockstore) {
    // the memory of leaves stored, for the next ones (with `freeStoredLeaves`)
    const spare: ArrayBuffer[] = []
    const leaf = async (
      chunk: Uint8Array,
      useWorker: boolean,
      first: boolean
    ): Promise<BufferImporterResult> => {
      // a new array this add owns: the worker takes it, and no one else can change it
      // (a copy in an array of its own; a Buffer's `slice()` would be a view of the chunk's pool)
      let block = init.rawLeaves ? copyOf(chunk, spare) : encodeFileLeaf(chunk, spare)
      let digest: Uint8Array
      if (useWorker && pool != null) {
        // the worker takes the whole buffer: a block that shares one is copied into its own
        if (block.byteOffset !== 0 || block.byteLength !== block.buffer.byteLength)
          block = new Uint8Array(block)
        ;({ bytes: block, digest } = await pool.digest(block))
      } else {
        digest = sha256Here(block)
      }
      const cid = CID.create(cidVersion, codec, Digest.create(sha256.code, digest))
      await blockstore.put(cid, block)
      // the record holds the chunk, not the block: the importer keeps the records of a whole
      // layer of the DAG (174 leaves, 44 MiB), and the chunk is the caller's memory anyway
      // (a view of the bytes of an in-memory add), where the block would be a second copy
      const unixfs = init.rawLeaves ? undefined : fileLeafRecord(chunk)
      const size = BigInt(block.byteLength)
      if (init.freeStoredLeaves === true && !first) {
        const memory = reclaimHashed(block)
        if (memory != null && spare.length < window) spare.push(memory)
      }
      return { cid, unixfs, size, block }
    }
    const inFlight: Promise<BufferImporterResult>[] = []
    let count = 0
    for await (const chunk of file.content) {
      // past the first leaves, the workers start; until one is up, leaves are hashed here
      // rather than wait for it (a worker thread takes tens of milliseconds to start)
      if (count === minWorkerLeaves) pool?.start().catch(() => {})
      const task = leaf(chunk, count >= minWorkerLeaves && pool?.ready === true, count === 0)
      count++
      // awaited in order below; until then, keep an early failure from being "unhandled"
      task.catch(() => {})
      inFlight.push(task)
      if (inFlight.length >= window) {
        const head = inFlight.shift()!
        yield () => head
      }
    }
    for (const task of inFlight) yield () => task
  }
}
