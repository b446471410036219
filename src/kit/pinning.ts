/**
 * Pinning what an add wrote, from the add's own output: the importer handed every block to the
 * blockstore, so the DAG below the root is known without reading a block back or hashing it
 * again. The records are Helia's (`helia.pins`), byte for byte: one `/pin/<cid>` record and one
 * `/pinned-block/<multihash>` record per block, read, updated as `pins.add` updates them, and
 * written in one datastore batch (Helia writes each with its own get and put).
 *
 * @packageDocumentation
 */

import * as dagPb from '@ipld/dag-pb'
import type { AbortOptions } from '@libp2p/interface'
import * as cborg from 'cborg'
import { type Datastore, Key } from 'interface-datastore'
import { base36 } from 'multiformats/bases/base36'
import { base64 } from 'multiformats/bases/base64'
import { equals } from 'multiformats/bytes'
import type { CID } from 'multiformats/cid'
import { ADD_PIN_MAX_BLOCKS, ADD_PIN_READ_CONCURRENCY } from '../constants.ts'

/** Helia's keys and records (helia/src/pins.ts). */
const PIN_PREFIX = '/pin/'
const PINNED_BLOCK_PREFIX = '/pinned-block/'

interface PinnedBlock {
  pinCount: number
  pinnedBy: Uint8Array[]
}

/** Helia's key of a pin: the CID as CIDv1 in base36. */
export function pinKey(cid: CID): Key {
  return new Key(`${PIN_PREFIX}${(cid.version === 0 ? cid.toV1() : cid).toString(base36)}`)
}

/** Helia's key of a pinned block: its multihash in base36. */
export function pinnedBlockKey(cid: CID): Key {
  return new Key(`${PINNED_BLOCK_PREFIX}${base36.encode(cid.multihash.bytes)}`)
}

/** dag-pb's PBNode.Data: field 1, length-delimited. */
const DAG_PB_DATA_TAG = 0x0a

/**
 * Whether a block may link to others: all but a dag-pb node that is its Data field alone (every
 * leaf of a dag-pb file), which is known without decoding 256 KiB only to find no links.
 */
function mayLink(cid: CID, bytes: Uint8Array): boolean {
  if (cid.code !== dagPb.code) return false
  if (bytes[0] !== DAG_PB_DATA_TAG) return bytes.byteLength > 0
  let length = 0
  let at = 1
  for (let shift = 0; at < bytes.byteLength && shift < 35; shift += 7) {
    const byte = bytes[at++]!
    length += (byte & 0x7f) * 2 ** shift
    if (byte < 0x80) return at + length !== bytes.byteLength
  }
  return true
}

/** A block's key in {@link AddedDag}: its multihash (base64: base36 costs more per block). */
function blockKey(cid: CID): string {
  return base64.baseEncode(cid.multihash.bytes)
}

/** Options of {@link AddedDag}. */
export interface AddedDagInit {
  /** blocks remembered, at most; past it the DAG is {@link AddedDag.overflowed} @default ADD_PIN_MAX_BLOCKS */
  maxBlocks?: number
}

/**
 * The blocks an add wrote and their links, to pin the add's root from. Bounded: past
 * `maxBlocks` it forgets all and the add pins by walking the DAG on disk.
 */
export class AddedDag {
  readonly #links = new Map<string, { cid: CID; links: CID[] }>()
  readonly #max: number
  #overflowed = false

  constructor(init: AddedDagInit = {}) {
    this.#max = init.maxBlocks ?? ADD_PIN_MAX_BLOCKS
  }

  /** Whether more blocks were written than are remembered. */
  get overflowed(): boolean {
    return this.#overflowed
  }

  /** Remember a block the add wrote (`bytes` are the block: its links are read from them). */
  add(cid: CID, bytes: Uint8Array): void {
    if (this.#overflowed) return
    const key = blockKey(cid)
    if (this.#links.has(key)) return
    if (this.#links.size >= this.#max) {
      this.#overflowed = true
      this.#links.clear()
      return
    }
    this.#links.set(key, {
      cid,
      links: mayLink(cid, bytes) ? dagPb.decode(bytes).Links.map((l) => l.Hash) : []
    })
  }

  /**
   * Every block of the DAG below `root` (the root first), each once; undefined if one of them
   * was not written by this add (or too many were): then only a walk of the DAG can tell.
   */
  blocksBelow(root: CID): CID[] | undefined {
    if (this.#overflowed) return undefined
    const seen = new Set<string>()
    const out: CID[] = []
    const stack: CID[] = [root]
    while (stack.length > 0) {
      const cid = stack.pop()!
      const key = blockKey(cid)
      if (seen.has(key)) continue
      seen.add(key)
      const node = this.#links.get(key)
      if (node == null) return undefined
      out.push(cid)
      for (let i = node.links.length - 1; i >= 0; i--) stack.push(node.links[i]!)
    }
    return out
  }
}

async function readPinnedBlock(datastore: Datastore, key: Key, options: AbortOptions): Promise<PinnedBlock> {
  try {
    return cborg.decode(await datastore.get(key, options)) as PinnedBlock
  } catch (err) {
    if ((err as Error).name !== 'NotFoundError') throw err
    return { pinCount: 0, pinnedBy: [] }
  }
}

/**
 * Every pinned-block record in the datastore, if there are at most `max` of them (one range
 * read: a repo with few pins answers for all of an add's blocks at once, where a look-up per
 * block costs a read that finds nothing); undefined if there are more.
 */
async function allPinnedBlocks(
  datastore: Datastore,
  max: number,
  options: AbortOptions
): Promise<Map<string, Uint8Array> | undefined> {
  const records = new Map<string, Uint8Array>()
  for await (const { key, value } of datastore.query(
    { prefix: PINNED_BLOCK_PREFIX, limit: max + 1 },
    options
  )) {
    if (records.size === max) return undefined
    records.set(key.toString(), value)
  }
  return records
}

/**
 * Pin `root` recursively over `blocks` (every block of its DAG, each once), writing what
 * Helia's `pins.add(root)` would: the same records, in one batch. Returns false if `root` is
 * pinned already (Helia's `AlreadyPinnedError`), with nothing written.
 */
export async function pinRecursively(
  datastore: Datastore,
  root: CID,
  blocks: readonly CID[],
  options: AbortOptions = {}
): Promise<boolean> {
  const rootKey = pinKey(root)
  if (await datastore.has(rootKey, options)) return false
  const batch = datastore.batch()
  // the records there are, when they are few; else each block's is looked up
  const known = await allPinnedBlocks(datastore, blocks.length, options)
  const read = async (key: Key): Promise<PinnedBlock> => {
    if (known == null) return readPinnedBlock(datastore, key, options)
    const bytes = known.get(key.toString())
    return bytes == null ? { pinCount: 0, pinnedBy: [] } : (cborg.decode(bytes) as PinnedBlock)
  }
  for (let i = 0; i < blocks.length; i += ADD_PIN_READ_CONCURRENCY) {
    options.signal?.throwIfAborted()
    const part = blocks.slice(i, i + ADD_PIN_READ_CONCURRENCY).map((cid) => pinnedBlockKey(cid))
    const records = await Promise.all(part.map(read))
    for (let j = 0; j < part.length; j++) {
      const record = records[j]!
      // as Helia: a block this root already pins is left as it is
      if (record.pinnedBy.some((by) => equals(by, root.bytes))) continue
      record.pinCount++
      record.pinnedBy.push(root.bytes)
      batch.put(part[j]!, cborg.encode(record))
    }
  }
  // written last by Helia (after the blocks' records); here in the same batch
  batch.put(rootKey, cborg.encode({ depth: Number.POSITIVE_INFINITY, metadata: {} }))
  await batch.commit(options)
  return true
}
