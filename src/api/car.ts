/**
 * A small CARv1 writer for the trustless gateway (`application/vnd.ipld.car`): the
 * header (DAG-CBOR `{ roots, version: 1 }`, encoded here for that one fixed shape) and
 * the blocks of a DAG in depth-first order without duplicates (`order=dfs; dups=n`).
 *
 * @packageDocumentation
 */
import * as dagPb from '@ipld/dag-pb'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'

const encoder = new TextEncoder()

/** A block: its CID and bytes. */
export interface CarBlock {
  cid: CID
  bytes: Uint8Array
}

/** How much of the DAG a CAR response holds (the gateway's `dag-scope`). */
export type DagScope = 'block' | 'entity' | 'all'

function cborHead(major: number, length: number): Uint8Array {
  if (length < 24) return Uint8Array.of((major << 5) | length)
  if (length < 256) return Uint8Array.of((major << 5) | 24, length)
  return Uint8Array.of((major << 5) | 25, length >> 8, length & 0xff)
}

function cborText(value: string): Uint8Array {
  const bytes = encoder.encode(value)
  return Buffer.concat([cborHead(3, bytes.byteLength), bytes])
}

/** DAG-CBOR of a CID: tag 42 over the bytes with a leading 0x00 (the identity multibase). */
function cborCid(cid: CID): Uint8Array {
  const bytes = Buffer.concat([Uint8Array.of(0), cid.bytes])
  return Buffer.concat([Uint8Array.of(0xd8, 42), cborHead(2, bytes.byteLength), bytes])
}

function lengthPrefixed(...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.byteLength, 0)
  const prefix = new Uint8Array(varint.encodingLength(length))
  varint.encodeTo(length, prefix)
  return Buffer.concat([prefix, ...parts])
}

/** The CARv1 header for `roots`, length-prefixed. Keys in DAG-CBOR order: `roots`, then `version`. */
export function carHeader(roots: readonly CID[]): Uint8Array {
  const body = Buffer.concat([
    cborHead(5, 2),
    cborText('roots'),
    cborHead(4, roots.length),
    ...roots.map(cborCid),
    cborText('version'),
    Uint8Array.of(1)
  ])
  return lengthPrefixed(body)
}

/** One block section of a CAR: length, CID, bytes. */
export function carSection(block: CarBlock): Uint8Array {
  return lengthPrefixed(block.cid.bytes, block.bytes)
}

/** The CIDs a block links to: dag-pb links; none for raw and for codecs we do not walk. */
export function linksOf(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== dagPb.code) return []
  return dagPb.decode(bytes).Links.map((l) => l.Hash)
}

/**
 * The blocks of the DAG under `root`, depth first, each once: only the root for
 * `block`, everything for `all` and `entity` (a UnixFS file is its whole DAG; for a
 * folder this is more than the spec's `entity`, never less).
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
    const links = linksOf(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i] as CID)
  }
}

/** A CARv1 stream: the header, then the given blocks (path blocks first, then the DAG). */
export async function* carStream(
  roots: readonly CID[],
  blocks: AsyncIterable<CarBlock>
): AsyncGenerator<Uint8Array> {
  yield carHeader(roots)
  for await (const block of blocks) yield carSection(block)
}
