/**
 * CAR files (CARv1 out; CARv1 and CARv2 in) with `@ipld/car`: the blocks of a DAG in
 * depth-first, first-seen order for `dag export` and the trustless gateway, and the blocks of
 * CAR files checked one by one for `dag import`.
 *
 * @packageDocumentation
 */
import { CarBlockIterator } from '@ipld/car/iterator'
import { CarWriter } from '@ipld/car/writer'
import * as dagPb from '@ipld/dag-pb'
import type { AbortOptions } from '@libp2p/interface'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { verifyBlock } from '../blocks/verify.ts'
import { InvalidCarError, IpfsKitError, PayloadTooLargeError } from '../errors.ts'
import { blockLinks } from './ipld.ts'

/** A block: its CID and bytes. */
export interface CarBlock {
  cid: CID
  bytes: Uint8Array
}

/** How much of a DAG a CAR holds (the gateway's `dag-scope`). */
export type DagScope = 'block' | 'entity' | 'all'

/**
 * Kubo's block size limit without `--allow-big-block` (1 MiB): bigger blocks cannot be
 * exchanged with other peers over bitswap.
 */
export const SOFT_BLOCK_LIMIT = 1024 * 1024

/** Refuse a block over {@link SOFT_BLOCK_LIMIT} unless big blocks are allowed (Kubo's message). */
export function checkBlockSize(size: number, allowBigBlock: boolean | undefined): void {
  if (allowBigBlock === true || size <= SOFT_BLOCK_LIMIT) return
  throw new PayloadTooLargeError(
    `produced block is over 1MiB (${size} bytes): big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override`
  )
}

/**
 * The links `dag-scope=entity` follows from a block, as the trustless gateway spec says: every
 * link of a UnixFS file (the whole file), only the shard links of a HAMT-sharded folder (its
 * entries, never the children), and none for a plain folder, a symlink or any other codec
 * (the entity is that one block).
 */
function entityLinks(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== dagPb.code) return []
  const node = dagPb.decode(bytes)
  if (node.Data == null) return []
  let unixfs: UnixFS
  try {
    unixfs = UnixFS.unmarshal(node.Data)
  } catch {
    return []
  }
  if (unixfs.type === 'file' || unixfs.type === 'raw') return node.Links.map((l) => l.Hash)
  if (unixfs.type === 'hamt-sharded-directory') {
    // a link named by the bucket prefix alone leads to a sub-shard; longer names are entries
    const prefix = (Number(unixfs.fanout ?? 256n) - 1).toString(16).length
    return node.Links.filter((l) => (l.Name ?? '').length === prefix).map((l) => l.Hash)
  }
  // a folder or a symlink: the block alone
  return []
}

/**
 * The blocks of the DAG under `root`, depth first, each once (Kubo's "strict DAG-traversal,
 * first-seen, order"): only the root for `block`, the root's entity for `entity` (see
 * {@link entityLinks}), everything for `all`. Links are followed in dag-pb, dag-cbor and
 * dag-json blocks.
 */
export async function* dagBlocks(
  root: CID,
  get: (cid: CID) => Promise<Uint8Array>,
  scope: DagScope = 'all'
): AsyncGenerator<CarBlock> {
  const seen = new Set<string>()
  const stack: CID[] = [root]
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    const bytes = await get(cid)
    yield { cid, bytes }
    if (scope === 'block') return
    const links = scope === 'entity' ? entityLinks(cid, bytes) : blockLinks(cid, bytes).map((l) => l.cid)
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i] as CID)
  }
}

/**
 * A CARv1 stream (`@ipld/car`'s writer): the header for `roots`, then the given blocks, each
 * written as the reader takes the bytes. A failure of `blocks` fails the stream once the
 * blocks before it are out; a reader that stops early stops the blocks too.
 */
export async function* carStream(
  roots: readonly CID[],
  blocks: AsyncIterable<CarBlock>
): AsyncGenerator<Uint8Array> {
  const { writer, out } = CarWriter.create([...roots])
  let failure: { err: unknown } | undefined
  const source = blocks[Symbol.asyncIterator]()
  let stopped = false
  const feeding = (async () => {
    try {
      for (;;) {
        if (stopped) return
        const next = await source.next()
        if (next.done === true) break
        await writer.put(next.value)
      }
    } catch (err) {
      failure = { err }
    } finally {
      await writer.close()
    }
  })()
  try {
    for await (const chunk of out) yield chunk
    await feeding
    if (failure != null) throw failure.err
  } finally {
    if (!stopped) {
      stopped = true
      await source.return?.()
    }
  }
}

/** One CAR file's roots and blocks (not yet checked). */
export interface CarFile {
  roots: CID[]
  blocks: AsyncIterable<CarBlock>
}

/**
 * Open a CAR (v1 or v2) from a stream of its bytes: the header is read now, the blocks as the
 * caller iterates. A malformed or truncated file is an {@link InvalidCarError}.
 */
export async function readCar(source: AsyncIterable<Uint8Array>, name = 'the CAR'): Promise<CarFile> {
  let reader: CarBlockIterator
  try {
    reader = await CarBlockIterator.fromIterable(source)
  } catch (err) {
    if (err instanceof IpfsKitError) throw err
    throw new InvalidCarError(`${name} is not a CAR file: ${(err as Error).message}`, { cause: err })
  }
  const roots = await reader.getRoots()
  async function* blocks(): AsyncGenerator<CarBlock> {
    let last: CID | undefined
    try {
      for await (const block of reader) {
        last = block.cid
        yield { cid: block.cid, bytes: block.bytes }
      }
    } catch (err) {
      if (err instanceof IpfsKitError) throw err
      throw new InvalidCarError(
        `${name} is malformed${last == null ? '' : ` after block ${last}`}: ${(err as Error).message}`,
        { cause: err }
      )
    }
  }
  return { roots, blocks: blocks() }
}

/** What {@link importCarBlocks} writes to. */
export interface CarImportStore {
  has(cid: CID, options?: AbortOptions): Promise<boolean>
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<unknown>
}

/** Blocks and bytes read from CAR files (Kubo's `dag import --stats`). */
export interface CarImportStats {
  BlockCount: number
  BlockBytesCount: number
}

/** Options of {@link importCarBlocks}. */
export interface CarImportOptions extends AbortOptions {
  /** take blocks over 1 MiB @default false */
  allowBigBlock?: boolean
  /** every block this import wrote that the store did not hold (to undo it) */
  written?: CID[]
}

/**
 * Store every block of `files` (each a stream of CAR bytes), each checked against its CID
 * before it is written; returns the roots of every header (each once) and the counts. A bad
 * block (bytes that do not hash to its CID, or over the size limit) or a malformed file stops
 * the import with a typed error; what it wrote is listed in `written` so the caller can undo it.
 */
export async function importCarBlocks(
  files: AsyncIterable<{ name: string; content: AsyncIterable<Uint8Array> }>,
  store: CarImportStore,
  options: CarImportOptions = {}
): Promise<{ roots: CID[]; stats: CarImportStats }> {
  const roots = new Map<string, CID>()
  const stats: CarImportStats = { BlockCount: 0, BlockBytesCount: 0 }
  let files_ = 0
  for await (const file of files) {
    files_++
    const car = await readCar(file.content, file.name)
    for (const root of car.roots) roots.set(root.toString(), root)
    for await (const { cid, bytes } of car.blocks) {
      options.signal?.throwIfAborted()
      checkBlockSize(bytes.byteLength, options.allowBigBlock)
      await verifyBlock(cid, bytes, `the block in ${file.name}`)
      if (!(await store.has(cid, options))) {
        await store.put(cid, bytes, options)
        options.written?.push(cid)
      }
      stats.BlockCount++
      stats.BlockBytesCount += bytes.byteLength
    }
  }
  if (files_ === 0) throw new InvalidCarError('no CAR file was given')
  return { roots: [...roots.values()], stats }
}
