/**
 * Writing into a UnixFS file as Kubo's `files write` does, so that the same writes give the
 * same CIDs. Kubo writes through go-unixfs' DagModifier: bytes over existing leaves replace
 * them in place (each leaf keeps its size), bytes past the end are appended as new 256 KiB
 * leaves with the trickle layout (no single-leaf shortcut: even a 5-byte file is a root with
 * one leaf), a gap before the offset is filled with 4 KiB leaves of zeros, and `--truncate`
 * leaves one empty leaf in front. This module keeps that leaf sequence and lays it out with
 * the importer's trickle layout; only the parent nodes are built here.
 *
 * @packageDocumentation
 */

import * as dagPb from '@ipld/dag-pb'
import type { AbortOptions } from '@libp2p/interface'
import { UnixFS } from 'ipfs-unixfs'
import type { InProgressImportResult } from 'ipfs-unixfs-importer'
import { trickle } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_CHILDREN_PER_NODE,
  MFS_SPARSE_CHUNK_BYTES,
  MFS_TRICKLE_LAYER_REPEAT
} from '../constants.ts'
import { InvalidParametersError } from '../errors.ts'

/** Where file blocks are read and written. */
export interface FileBlocks {
  get(cid: CID, options: AbortOptions): Promise<Uint8Array>
  put(cid: CID, bytes: Uint8Array, options: AbortOptions): Promise<void>
}

/** Options of {@link writeFile}. */
export interface WriteFileOptions extends AbortOptions {
  /** byte offset the input is written at @default 0 */
  offset?: number
  /** write at most this many bytes of the input @default all of it */
  count?: number
  /** empty the file first @default false */
  truncate?: boolean
  /** new leaves as raw blocks @default true for a CIDv1 file, else false (as Kubo's MFS) */
  rawLeaves?: boolean
  /** CID version of a new file @default 0 */
  cidVersion?: 0 | 1
}

/** A leaf of a file, as the layout takes it. */
interface Leaf {
  cid: CID
  /** the block's size in bytes (its link's Tsize) */
  size: number
  /** file bytes it holds */
  fileSize: number
  /** UnixFS type of a dag-pb leaf ('raw' for Kubo's leaves, 'file' for a single-block file) */
  unixfsType?: 'raw' | 'file'
}

/**
 * An empty dag-pb leaf as go-unixfs writes it when it truncates a leaf to nothing: type Raw,
 * an empty (present) Data field, filesize 0. `ipfs-unixfs` leaves an empty Data field out, so
 * these six bytes are written as they are.
 */
const EMPTY_RAW_LEAF_DATA = Uint8Array.of(0x08, 0x00, 0x12, 0x00, 0x18, 0x00)

async function store(
  blocks: FileBlocks,
  version: 0 | 1,
  code: number,
  bytes: Uint8Array,
  options: AbortOptions
): Promise<CID> {
  const cid = CID.create(version, code, await sha256.digest(bytes))
  await blocks.put(cid, bytes, options)
  return cid
}

async function pbLeaf(
  blocks: FileBlocks,
  version: 0 | 1,
  type: 'raw' | 'file',
  data: Uint8Array,
  options: AbortOptions
): Promise<Leaf> {
  const Data =
    data.byteLength === 0 && type === 'raw' ? EMPTY_RAW_LEAF_DATA : new UnixFS({ type, data }).marshal()
  const bytes = dagPb.encode({ Data, Links: [] })
  return {
    cid: await store(blocks, version, dagPb.code, bytes, options),
    size: bytes.byteLength,
    fileSize: data.byteLength,
    unixfsType: type
  }
}

async function rawLeaf(blocks: FileBlocks, data: Uint8Array, options: AbortOptions): Promise<Leaf> {
  return {
    cid: await store(blocks, 1, raw.code, data, options),
    size: data.byteLength,
    fileSize: data.byteLength
  }
}

/** A new leaf holding `data`, raw or dag-pb. */
async function newLeaf(
  blocks: FileBlocks,
  data: Uint8Array,
  o: { rawLeaves: boolean; version: 0 | 1 } & AbortOptions
): Promise<Leaf> {
  return o.rawLeaves ? rawLeaf(blocks, data, o) : pbLeaf(blocks, o.version, 'raw', data, o)
}

/** The same kind of leaf as `like` (codec, version, UnixFS type), holding `data`. */
async function leafLike(
  blocks: FileBlocks,
  like: Leaf,
  data: Uint8Array,
  options: AbortOptions
): Promise<Leaf> {
  if (like.cid.code === raw.code) return rawLeaf(blocks, data, options)
  return pbLeaf(blocks, like.cid.version, like.unixfsType ?? 'raw', data, options)
}

/** The file bytes a leaf holds. */
async function leafData(blocks: FileBlocks, leaf: Leaf, options: AbortOptions): Promise<Uint8Array> {
  const bytes = await blocks.get(leaf.cid, options)
  if (leaf.cid.code === raw.code) return bytes
  const node = dagPb.decode(bytes)
  return node.Data == null ? new Uint8Array(0) : (UnixFS.unmarshal(node.Data).data ?? new Uint8Array(0))
}

/** What an existing file is made of: its leaves in order, or the one node it is. */
async function leavesOf(
  blocks: FileBlocks,
  cid: CID,
  options: AbortOptions
): Promise<{ leaves: Leaf[]; single?: Leaf }> {
  if (cid.code === raw.code) {
    const bytes = await blocks.get(cid, options)
    const leaf = { cid, size: bytes.byteLength, fileSize: bytes.byteLength }
    return { leaves: leaf.fileSize === 0 ? [] : [leaf], single: leaf }
  }
  if (cid.code !== dagPb.code) throw new InvalidParametersError(`${cid} is not a UnixFS file`)
  const bytes = await blocks.get(cid, options)
  const node = dagPb.decode(bytes)
  const unixfs = UnixFS.unmarshal(node.Data ?? new Uint8Array(0))
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') {
    throw new InvalidParametersError(`${cid} is a UnixFS ${unixfs.type}, not a file`)
  }
  if (node.Links.length === 0) {
    const leaf: Leaf = {
      cid,
      size: bytes.byteLength,
      fileSize: unixfs.data?.byteLength ?? 0,
      unixfsType: unixfs.type === 'raw' ? 'raw' : 'file'
    }
    return { leaves: leaf.fileSize === 0 ? [] : [leaf], single: leaf }
  }
  const leaves: Leaf[] = []
  for (const [i, link] of node.Links.entries()) {
    if (link.Hash.code === raw.code) {
      const fileSize = Number(unixfs.blockSizes[i] ?? BigInt(link.Tsize ?? 0))
      leaves.push({ cid: link.Hash, size: link.Tsize ?? fileSize, fileSize })
      continue
    }
    const below = await leavesOf(blocks, link.Hash, options)
    // a dag-pb child with no links is a leaf, even an empty one
    leaves.push(...(below.single == null ? below.leaves : [below.single]))
  }
  return { leaves }
}

/** Reads the input in pieces of a given size, at most `limit` bytes in all. */
class InputReader {
  readonly #it: AsyncIterator<Uint8Array>
  #pending: Uint8Array[] = []
  #buffered = 0
  #left: number
  #ended = false

  constructor(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, limit: number) {
    this.#it = (async function* () {
      yield* input
    })()
    this.#left = limit
  }

  async #fill(n: number): Promise<void> {
    while (this.#buffered < n && !this.#ended && this.#left > 0) {
      const next = await this.#it.next()
      if (next.done === true) {
        this.#ended = true
        break
      }
      const chunk = next.value.subarray(0, this.#left)
      this.#left -= chunk.byteLength
      if (chunk.byteLength > 0) {
        this.#pending.push(chunk)
        this.#buffered += chunk.byteLength
      }
    }
  }

  /** Whether a byte is left to read. */
  async more(): Promise<boolean> {
    await this.#fill(1)
    return this.#buffered > 0
  }

  /** Up to `n` bytes (fewer only at the end of the input). */
  async read(n: number): Promise<Uint8Array> {
    await this.#fill(n)
    const out = new Uint8Array(Math.min(n, this.#buffered))
    let at = 0
    while (at < out.byteLength) {
      const head = this.#pending[0] as Uint8Array
      const take = Math.min(head.byteLength, out.byteLength - at)
      out.set(head.subarray(0, take), at)
      at += take
      if (take === head.byteLength) this.#pending.shift()
      else this.#pending[0] = head.subarray(take)
    }
    this.#buffered -= out.byteLength
    return out
  }

  /** Stop reading the input (a `count` reached, or a failure). */
  async close(): Promise<void> {
    await this.#it.return?.()
  }
}

/**
 * Write `input` into the file `existing` (or a new file) as Kubo's `files write` does; the
 * new file's CID. Memory holds one leaf at a time.
 *
 * @example
 * ```ts
 * const cid = await writeFile(undefined, [new TextEncoder().encode('hello\n')], blocks, {})
 * ```
 */
export async function writeFile(
  existing: CID | undefined,
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  blocks: FileBlocks,
  options: WriteFileOptions = {}
): Promise<CID> {
  const offset = options.offset ?? 0
  const version: 0 | 1 = existing == null ? (options.cidVersion ?? 0) : existing.version === 1 ? 1 : 0
  const rawLeaves = options.rawLeaves ?? version === 1
  const o = { signal: options.signal }
  const old = existing == null ? { leaves: [] as Leaf[] } : await leavesOf(blocks, existing, o)
  let leaves = old.leaves
  if (options.truncate === true && leaves.length > 0) {
    // go-unixfs truncates the first leaf to nothing and drops the rest
    leaves = [await leafLike(blocks, leaves[0] as Leaf, new Uint8Array(0), o)]
  }
  const reader = new InputReader(input, options.count ?? Number.POSITIVE_INFINITY)
  try {
    const oldSize = leaves.reduce((n, l) => n + l.fileSize, 0)
    if (!(await reader.more())) {
      // nothing written: the file is as it was (emptied with --truncate)
      if (options.truncate !== true || existing == null)
        return existing ?? (await emptyFile(blocks, version, o))
      if (old.single != null || leaves.length === 0) return await emptyFile(blocks, version, o)
    }
    // one node holding all of its bytes, written within them: changed in place (as Kubo)
    if (old.single != null && old.single.fileSize > 0 && options.truncate !== true) {
      const data = await leafData(blocks, old.single, o)
      if (offset < data.byteLength) {
        const patch = await reader.read(data.byteLength - offset)
        if (!(await reader.more())) {
          const bytes = data.slice()
          bytes.set(patch, offset)
          const leaf = await leafLike(blocks, old.single, bytes, o)
          return leaf.cid
        }
        return await layout(
          blocks,
          version,
          patched(blocks, leaves, offset, patch, reader, oldSize, rawLeaves, version, o),
          o
        )
      }
    }
    return await layout(
      blocks,
      version,
      patched(blocks, leaves, offset, undefined, reader, oldSize, rawLeaves, version, o),
      o
    )
  } finally {
    await reader.close()
  }
}

/** The empty file node Kubo makes for `files write --create` (type File, filesize 0, no links). */
async function emptyFile(blocks: FileBlocks, version: 0 | 1, options: AbortOptions): Promise<CID> {
  const bytes = dagPb.encode({ Data: new UnixFS({ type: 'file' }).marshal(), Links: [] })
  return store(blocks, version, dagPb.code, bytes, options)
}

/**
 * The leaves after the write: old ones before the offset kept, those under the written bytes
 * rewritten (same sizes), zeros for a gap past the end, then the rest of the input in new
 * 256 KiB leaves. `first` is input already read for the first leaf at the offset.
 */
async function* patched(
  blocks: FileBlocks,
  leaves: Leaf[],
  offset: number,
  first: Uint8Array | undefined,
  reader: InputReader,
  oldSize: number,
  rawLeaves: boolean,
  version: 0 | 1,
  options: AbortOptions
): AsyncGenerator<Leaf> {
  let pending = first
  let pos = 0
  for (const leaf of leaves) {
    const end = pos + leaf.fileSize
    if (end <= offset || leaf.fileSize === 0) {
      yield leaf
      pos = end
      continue
    }
    const start = Math.max(offset, pos) - pos
    const patch = pending ?? (await reader.read(leaf.fileSize - start))
    pending = undefined
    if (patch.byteLength === 0) {
      yield leaf
    } else {
      const data = (await leafData(blocks, leaf, options)).slice()
      data.set(patch, start)
      yield await leafLike(blocks, leaf, data, options)
    }
    pos = end
  }
  if (!(await reader.more())) return
  const o = { rawLeaves, version, signal: options.signal }
  for (let gap = offset - oldSize; gap > 0; gap -= MFS_SPARSE_CHUNK_BYTES) {
    yield await newLeaf(blocks, new Uint8Array(Math.min(gap, MFS_SPARSE_CHUNK_BYTES)), o)
  }
  for (;;) {
    const chunk = await reader.read(DEFAULT_CHUNK_SIZE)
    if (chunk.byteLength === 0) return
    yield await newLeaf(blocks, chunk, o)
  }
}

/** Lay the leaves out as go-unixfs' trickle DAG; the root's CID. */
async function layout(
  blocks: FileBlocks,
  version: 0 | 1,
  leaves: AsyncIterable<Leaf>,
  options: AbortOptions
): Promise<CID> {
  const fileSizes = new WeakMap<InProgressImportResult, number>()
  async function* source(): AsyncGenerator<InProgressImportResult> {
    for await (const leaf of leaves) {
      const item: InProgressImportResult = { cid: leaf.cid, size: BigInt(leaf.size), path: '' }
      fileSizes.set(item, leaf.fileSize)
      yield item
    }
  }
  const reduce = async (children: InProgressImportResult[]): Promise<InProgressImportResult> => {
    const unixfs = new UnixFS({ type: 'file' })
    let fileSize = 0
    let below = 0
    const Links = children.map((child) => {
      const size = fileSizes.get(child) ?? 0
      unixfs.addBlockSize(BigInt(size))
      fileSize += size
      below += Number(child.size)
      return { Name: '', Tsize: Number(child.size), Hash: child.cid }
    })
    const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links }))
    const cid = await store(blocks, version, dagPb.code, bytes, options)
    const item: InProgressImportResult = { cid, size: BigInt(bytes.byteLength + below), path: '' }
    fileSizes.set(item, fileSize)
    return item
  }
  const root = await trickle({
    maxChildrenPerNode: DEFAULT_MAX_CHILDREN_PER_NODE,
    layerRepeat: MFS_TRICKLE_LAYER_REPEAT
  })(source(), reduce)
  return root.cid
}
