/**
 * IPLD for `dag put|get|resolve`, `refs` and CAR export: the codecs Kubo's `dag` commands take
 * by name (dag-cbor, dag-json, dag-pb, raw), a block's links, and paths through IPLD data with
 * Kubo's resolution (links followed, UnixFS names in dag-pb folders, data-model steps elsewhere).
 *
 * @packageDocumentation
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import type { AbortOptions } from '@libp2p/interface'
import * as cborg from 'cborg'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { parseCIDPath } from '../cids.ts'
import { InvalidParametersError, NotFoundError } from '../errors.ts'

/** The codecs `dag put|get` take by name, as Kubo names them. */
export type DagCodecName = 'dag-cbor' | 'dag-json' | 'dag-pb' | 'raw'

interface Codec {
  readonly name: DagCodecName
  readonly code: number
  encode(value: unknown): Uint8Array
  /** decode a block as stored (strict) */
  decode(bytes: Uint8Array): unknown
  /** decode input as `dag put` takes it: dag-cbor that is not canonical is taken and normalised (as Kubo) */
  decodeInput(bytes: Uint8Array): unknown
}

const lenientCbor = { ...dagCbor.decodeOptions, strict: false }

const CODECS: Readonly<Record<DagCodecName, Codec>> = {
  'dag-cbor': {
    name: 'dag-cbor',
    code: dagCbor.code,
    encode: (v) => dagCbor.encode(v),
    decode: (b) => dagCbor.decode(b),
    decodeInput: (b) => cborg.decode(b, lenientCbor)
  },
  'dag-json': {
    name: 'dag-json',
    code: dagJson.code,
    encode: (v) => dagJson.encode(v),
    decode: (b) => dagJson.decode(b),
    decodeInput: (b) => dagJson.decode(b)
  },
  'dag-pb': {
    name: 'dag-pb',
    code: dagPb.code,
    encode: (v) => dagPb.encode(v as dagPb.PBNode),
    decode: (b) => dagPb.decode(b),
    decodeInput: (b) => dagPb.decode(b)
  },
  raw: {
    name: 'raw',
    code: raw.code,
    encode: (v) => {
      if (!(v instanceof Uint8Array)) throw new Error('only bytes can be stored as raw')
      return v
    },
    decode: (b) => b,
    decodeInput: (b) => b
  }
}

const BY_CODE = new Map<number, Codec>(Object.values(CODECS).map((c) => [c.code, c]))

/** Hash functions `dag put --hash` takes, by multihash name. */
export const DAG_HASHERS: Readonly<Record<string, MultihashHasher>> = {
  'sha2-256': sha256,
  'sha2-512': sha512
}

/** The codec named `name` (`--store-codec`, `--input-codec`, `--output-codec`). */
export function codecNamed(name: string, option: string): Codec {
  const codec = Object.hasOwn(CODECS, name) ? CODECS[name as DagCodecName] : undefined
  if (codec == null) {
    throw new InvalidParametersError(
      `option "${option}": unsupported codec "${name}" (use ${Object.keys(CODECS).join(', ')})`
    )
  }
  return codec
}

/** The hash function named `name` (`--hash`). */
export function hasherNamed(name: string): MultihashHasher {
  const hasher = Object.hasOwn(DAG_HASHERS, name) ? DAG_HASHERS[name] : undefined
  if (hasher == null) {
    throw new InvalidParametersError(
      `option "hash": unsupported hash function "${name}" (use ${Object.keys(DAG_HASHERS).join(', ')})`
    )
  }
  return hasher
}

/** Whether blocks of this codec can be decoded here (to follow their links, to walk a path). */
export function canDecode(cid: CID): boolean {
  return BY_CODE.has(cid.code)
}

/**
 * A block's data-model value. A codec we do not know is an error: its links cannot be read.
 * @throws {InvalidParametersError} for an unknown codec or bytes that do not decode
 */
export function decodeBlock(cid: CID, bytes: Uint8Array): unknown {
  const codec = BY_CODE.get(cid.code)
  if (codec == null) {
    throw new InvalidParametersError(
      `${cid}: codec 0x${cid.code.toString(16)} is not supported (dag-cbor, dag-json, dag-pb and raw are)`
    )
  }
  try {
    return codec.decode(bytes)
  } catch (err) {
    throw new InvalidParametersError(`${cid} does not decode as ${codec.name}: ${(err as Error).message}`, {
      cause: err
    })
  }
}

/** Decode `dag put` input with `--input-codec`. */
export function decodeInput(bytes: Uint8Array, codecName: string): unknown {
  const codec = codecNamed(codecName, 'input-codec')
  try {
    return codec.decodeInput(bytes)
  } catch (err) {
    throw new InvalidParametersError(`the input is not valid ${codec.name}: ${(err as Error).message}`, {
      cause: err
    })
  }
}

/** Encode a data-model value with a codec (`--store-codec`, `--output-codec`). */
export function encodeValue(value: unknown, codecName: string, option: string): Uint8Array {
  const codec = codecNamed(codecName, option)
  try {
    return codec.encode(value)
  } catch (err) {
    throw new InvalidParametersError(
      `the value cannot be encoded as ${codec.name}: ${(err as Error).message}`,
      {
        cause: err
      }
    )
  }
}

/** A link out of a block: its target and its name (a dag-pb link's `Name`, else its path in the data). */
export interface BlockLink {
  cid: CID
  name: string
}

/** The links of a data-model value, in the order they are encoded (map keys as stored). */
function* valueLinks(value: unknown, path: string[]): Generator<BlockLink> {
  const cid = CID.asCID(value)
  if (cid != null) {
    yield { cid, name: path.join('/') }
    return
  }
  if (value == null || typeof value !== 'object' || value instanceof Uint8Array) return
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* valueLinks(value[i], [...path, String(i)])
    return
  }
  for (const [k, v] of Object.entries(value)) yield* valueLinks(v, [...path, k])
}

/**
 * The links of a block, in order: a dag-pb node's links (with their names), the CIDs in the
 * data of dag-cbor and dag-json (named by their path), none for raw. A block of a codec we do
 * not know has none we can follow.
 */
export function blockLinks(cid: CID, bytes: Uint8Array): BlockLink[] {
  if (cid.code === raw.code || !BY_CODE.has(cid.code)) return []
  if (cid.code === dagPb.code) {
    return (decodeBlock(cid, bytes) as dagPb.PBNode).Links.map((l) => ({ cid: l.Hash, name: l.Name ?? '' }))
  }
  return [...valueLinks(decodeBlock(cid, bytes), [])]
}

/** Reads one block (verified), for the walks below. */
export type BlockGetter = (cid: CID, options: AbortOptions) => Promise<Uint8Array>

/** Where a path through IPLD data ends. */
export interface ResolvedPath {
  /** the last block reached through a link */
  cid: CID
  /** the path inside that block ('' if the path ends on the block itself) */
  remainderPath: string
  /** the value at the path */
  value: unknown
}

/** Split `a/b/c` into its segments (empty ones dropped). */
export function pathSegments(path: string | undefined): string[] {
  return (path ?? '').split('/').filter((s) => s !== '')
}

/** A UnixFS HAMT shard: its entries are found by the exporter, not by link name. */
function isHamtShard(node: dagPb.PBNode): boolean {
  // UnixFS Data: field 1 (Type) varint; 5 is HAMTShard
  return node.Data != null && node.Data[0] === 0x08 && node.Data[1] === 5
}

/** One step through a dag-pb node: a link by name (UnixFS folder entries, HAMT shards too). */
async function dagPbStep(
  cid: CID,
  node: dagPb.PBNode,
  name: string,
  get: BlockGetter,
  options: AbortOptions
): Promise<CID | undefined> {
  const link = node.Links.find((l) => l.Name === name)
  if (link != null) return link.Hash
  if (!isHamtShard(node)) return undefined
  const blockstore = {
    async *get(c: CID, o: AbortOptions = {}) {
      yield await get(c, { ...options, ...o })
    }
  }
  try {
    return (await exporter(`${cid}/${name}`, blockstore as never, options)).cid
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return undefined
    throw err
  }
}

/** Options of {@link resolvePath}. */
export interface ResolvePathOptions extends AbortOptions {
  /**
   * How a dag-pb node is walked: by link name, as UnixFS (`/ipfs/` paths), or through its data
   * model (`Data`, `Links/0/Hash`: `/ipld/` paths) @default 'unixfs'
   */
  dagPb?: 'unixfs' | 'ipld'
}

/**
 * Walk `segments` from `root` as Kubo's `dag get` and `dag resolve` do: in a dag-pb node a
 * segment names a link (UnixFS names, HAMT shards included; the data model with `/ipld/`); in
 * dag-cbor and dag-json it is a map key or a list index; every link met is followed (the path
 * may end on one). Returns the last block reached, the path left inside it and the value there.
 *
 * @throws {NotFoundError} when a segment names nothing
 */
export async function resolvePath(
  root: CID,
  segments: readonly string[],
  get: BlockGetter,
  options: ResolvePathOptions = {}
): Promise<ResolvedPath> {
  const unixfs = options.dagPb !== 'ipld'
  let cid = root
  let value = decodeBlock(cid, await get(cid, options))
  let inside: string[] = []
  for (const segment of segments) {
    options.signal?.throwIfAborted()
    let next: unknown
    if (unixfs && cid.code === dagPb.code && inside.length === 0) {
      next = await dagPbStep(cid, value as dagPb.PBNode, segment, get, options)
    } else if (Array.isArray(value)) {
      next = /^(0|[1-9][0-9]*)$/.test(segment) ? value[Number(segment)] : undefined
    } else if (
      value != null &&
      typeof value === 'object' &&
      !(value instanceof Uint8Array) &&
      CID.asCID(value) == null
    ) {
      next = Object.hasOwn(value, segment) ? (value as Record<string, unknown>)[segment] : undefined
    }
    if (next === undefined) {
      const at = [cid.toString(), ...inside].join('/')
      throw new NotFoundError(`no link named "${segment}" under ${at}`)
    }
    const link = CID.asCID(next)
    if (link != null) {
      cid = link
      value = decodeBlock(cid, await get(cid, options))
      inside = []
    } else {
      value = next
      inside.push(segment)
    }
  }
  return { cid, remainderPath: inside.join('/'), value }
}

/** A `dag` command's path: its root, the segments below it and how dag-pb nodes are walked. */
export interface DagPath {
  cid: CID
  segments: string[]
  dagPb: 'unixfs' | 'ipld'
}

/**
 * Parse `<cid>[/path]`, `/ipfs/<cid>[/path]` (dag-pb walked as UnixFS) or `/ipld/<cid>[/path]`
 * (dag-pb walked through its data model), as Kubo's `dag get|resolve` take them.
 *
 * @throws {InvalidCIDError} when the root is not a CID
 */
export function parseDagPath(path: CID | string): DagPath {
  if (typeof path === 'string' && path.trim().startsWith('/ipld/')) {
    const { cid, path: sub } = parseCIDPath(path.trim().slice('/ipld/'.length))
    return { cid, segments: pathSegments(sub), dagPb: 'ipld' }
  }
  const { cid, path: sub } = parseCIDPath(path)
  return { cid, segments: pathSegments(sub), dagPb: 'unixfs' }
}
