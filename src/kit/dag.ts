/**
 * The DAG commands' logic, over any block reader: `dag put`'s encoding, `dag stat`'s counts and
 * `refs`' edges, as Kubo computes them.
 *
 * @packageDocumentation
 */
import type { AbortOptions } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { checkBlockSize } from './car.ts'
import {
  type BlockGetter,
  type BlockLink,
  blockLinks,
  codecNamed,
  decodeInput,
  encodeValue,
  hasherNamed
} from './ipld.ts'

/** Options of `dag put` (Kubo's names and defaults). */
export interface DagPutOptions extends AbortOptions {
  /** codec of the stored block @default 'dag-cbor' */
  storeCodec?: string
  /**
   * codec of the input bytes; when set, the value given must be those bytes. Unset, the value is
   * a data-model value (a JS object with CIDs and Uint8Arrays) encoded with `storeCodec`.
   */
  inputCodec?: string
  /** multihash function @default 'sha2-256' */
  hash?: string
  /** pin the block (recursively: what it links to must be held) @default false */
  pin?: boolean
  /** take a block over 1 MiB @default false */
  allowBigBlock?: boolean
}

/** Kubo's `dag put` defaults. */
export const DAG_PUT_DEFAULTS = {
  storeCodec: 'dag-cbor',
  inputCodec: 'dag-json',
  hash: 'sha2-256'
} as const

/**
 * The block `dag put` stores for one input: decoded with `inputCodec` (when given), encoded
 * with `storeCodec`, hashed with `hash`; always a CIDv1, as Kubo's.
 */
export async function dagPutBlock(
  input: unknown,
  options: DagPutOptions = {}
): Promise<{ cid: CID; bytes: Uint8Array }> {
  const storeCodec = options.storeCodec ?? DAG_PUT_DEFAULTS.storeCodec
  const store = codecNamed(storeCodec, 'store-codec')
  const hasher = hasherNamed(options.hash ?? DAG_PUT_DEFAULTS.hash)
  const value =
    options.inputCodec == null
      ? input
      : decodeInput(input instanceof Uint8Array ? input : new Uint8Array(0), options.inputCodec)
  const bytes = encodeValue(value, store.name, 'store-codec')
  checkBlockSize(bytes.byteLength, options.allowBigBlock)
  const digest = await hasher.digest(bytes)
  return { cid: CID.createV1(store.code, digest), bytes }
}

/** One DAG's figures in `dag stat` (Kubo's `DagStat`). */
export interface DagStat {
  Cid: string
  /** bytes of its blocks, each counted once */
  Size: number
  NumBlocks: number
}

/** Kubo's `dag stat` answer (`DagStatSummary`). */
export interface DagStatSummary {
  /** blocks across every DAG, each counted once */
  UniqueBlocks: number
  /** bytes of those blocks */
  TotalSize: number
  /** bytes counted more than once across the DAGs */
  SharedSize: number
  /** bytes of each DAG summed over `TotalSize` */
  Ratio: number
  DagStats: DagStat[]
}

/**
 * `dag stat`: walk each DAG (depth first, every block once per DAG) and count its blocks and
 * bytes, then what the DAGs share. `onProgress` sees the figures after each block.
 */
export async function dagStat(
  roots: readonly CID[],
  get: BlockGetter,
  options: AbortOptions & { onProgress?(summary: DagStatSummary): void | Promise<void> } = {}
): Promise<DagStatSummary> {
  const all = new Set<string>()
  let redundant = 0
  const summary: DagStatSummary = { UniqueBlocks: 0, TotalSize: 0, SharedSize: 0, Ratio: 0, DagStats: [] }
  for (const root of roots) {
    const stat: DagStat = { Cid: root.toString(), Size: 0, NumBlocks: 0 }
    summary.DagStats.push(stat)
    const seen = new Set<string>()
    const stack: CID[] = [root]
    while (stack.length > 0) {
      options.signal?.throwIfAborted()
      const cid = stack.pop() as CID
      const key = cid.toString()
      if (seen.has(key)) continue
      seen.add(key)
      const bytes = await get(cid, options)
      stat.Size += bytes.byteLength
      stat.NumBlocks++
      if (!all.has(key)) summary.TotalSize += bytes.byteLength
      all.add(key)
      redundant += bytes.byteLength
      summary.UniqueBlocks = all.size
      await options.onProgress?.(summary)
      const links = blockLinks(cid, bytes)
      for (let i = links.length - 1; i >= 0; i--) stack.push((links[i] as BlockLink).cid)
    }
  }
  summary.UniqueBlocks = all.size
  summary.SharedSize = redundant - summary.TotalSize
  summary.Ratio = summary.TotalSize === 0 ? 0 : redundant / summary.TotalSize
  return summary
}

/** Options of {@link refs}, as Kubo's `refs`. */
export interface RefsOptions extends AbortOptions {
  /** follow links below the first level @default false */
  recursive?: boolean
  /** each target once @default false */
  unique?: boolean
  /** with `recursive`: how deep (-1: no limit) @default -1 */
  maxDepth?: number
}

/** One link found by `refs`. */
export interface RefEdge {
  src: CID
  dst: CID
  /** the link's name (a dag-pb link's Name, else its path in the data) */
  linkName: string
}

/**
 * `refs`: the links under each root, depth first, as Kubo's RefWriter walks them: every
 * target is fetched before it is listed; with `unique`, a target is listed once and a branch
 * seen before is walked again only if it is now higher in the DAG than it was (so `maxDepth`
 * still reaches everything it should).
 */
export async function* refs(
  roots: readonly CID[],
  get: BlockGetter,
  options: RefsOptions = {}
): AsyncGenerator<RefEdge> {
  const maxDepth = options.recursive === true ? (options.maxDepth ?? -1) : 1
  const seen = new Map<string, number>()
  /** [go deeper, write] for a target at `depth`, as Kubo's RefWriter.visit */
  const visit = (cid: CID, depth: number): [boolean, boolean] => {
    const atMax = maxDepth >= 0 && depth === maxDepth
    if (maxDepth >= 0 && depth > maxDepth) return [false, false]
    if (options.unique !== true) return [!atMax, true]
    const key = cid.toString()
    const before = seen.get(key)
    if (before != null && (maxDepth < 0 || before <= depth)) return [false, false]
    seen.set(key, depth)
    return [!atMax, before == null]
  }
  for (const root of roots) {
    const frames: Array<{ cid: CID; links: BlockLink[]; next: number; depth: number }> = [
      { cid: root, links: blockLinks(root, await get(root, options)), next: 0, depth: 0 }
    ]
    while (frames.length > 0) {
      options.signal?.throwIfAborted()
      const frame = frames.at(-1) as (typeof frames)[number]
      const link = frame.links[frame.next++]
      if (link == null) {
        frames.pop()
        continue
      }
      const [deeper, write] = visit(link.cid, frame.depth + 1)
      if (!deeper && !write) continue
      const bytes = await get(link.cid, options)
      if (write) yield { src: frame.cid, dst: link.cid, linkName: link.name }
      if (deeper)
        frames.push({ cid: link.cid, links: blockLinks(link.cid, bytes), next: 0, depth: frame.depth + 1 })
    }
  }
}

/** Kubo's `refs --format`: `<src>`, `<dst>` and `<linkname>` replaced; `<dst>` alone by default. */
export function formatRef(edge: RefEdge, format = '<dst>'): string {
  return format
    .replaceAll('<src>', edge.src.toString())
    .replaceAll('<dst>', edge.dst.toString())
    .replaceAll('<linkname>', edge.linkName)
}
