import * as dagPb from '@ipld/dag-pb'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { collectBytes } from '../../blocks/bytes.ts'
import { verifyBlock } from '../../blocks/verify.ts'
import { type CIDOrPath, parseCIDPath, toKitError } from '../../cids.ts'
import { API_MAX_BLOCK_BODY_BYTES } from '../../constants.ts'
import { InvalidParametersError, PayloadTooLargeError } from '../../errors.ts'
import type { IPFSKit, PinEntry, PinType } from '../../kit/index.ts'
import { arg, args, flag, type Handler, NdjsonWriter, requestSignal, sendJson, sendStream } from '../http.ts'
import { firstPart } from '../multipart.ts'

/** Kubo's block size limit without `allow-big-block` (1 MiB). */
const SOFT_BLOCK_LIMIT = 1024 * 1024

/** Codecs `block/put` takes by name (`cid-codec`). */
const CODECS: Readonly<Record<string, number>> = {
  raw: 0x55,
  'dag-pb': dagPb.code,
  'dag-cbor': 0x71,
  'dag-json': 0x0129,
  json: 0x0200
}

const HASHERS: Readonly<Record<string, MultihashHasher>> = { 'sha2-256': sha256, 'sha2-512': sha512 }

/** The CID at a path: the root itself, or the UnixFS node a sub-path names. */
export async function resolveCid(kit: IPFSKit, path: CIDOrPath, signal: AbortSignal): Promise<CID> {
  const { cid, path: sub } = parseCIDPath(path)
  if (sub == null) return cid
  try {
    return (await exporter(`${cid}/${sub}`, kit.helia.blockstore, { signal })).cid
  } catch (err) {
    throw toKitError(err, String(path), signal)
  }
}

/** A block's bytes from the node (fetched from peers if missing). */
export async function readBlock(kit: IPFSKit, cid: CID, signal: AbortSignal): Promise<Uint8Array> {
  try {
    return await collectBytes(kit.helia.blockstore.get(cid, { signal }))
  } catch (err) {
    throw toKitError(err, cid.toString(), signal)
  }
}

const blockGet: Handler = async (ctx) => {
  const path = arg(ctx.params, 'cid')
  const signal = requestSignal(ctx)
  const tracker = ctx.activity.begin('block', path)
  let bytes: Uint8Array
  try {
    bytes = await readBlock(ctx.kit, await resolveCid(ctx.kit, path, signal), signal)
  } catch (err) {
    tracker.finish(err)
    throw err
  }
  await sendStream(
    ctx.res,
    [bytes],
    { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.byteLength },
    { tracker }
  )
}

const blockStat: Handler = async (ctx) => {
  const signal = requestSignal(ctx)
  const cid = await resolveCid(ctx.kit, arg(ctx.params, 'cid'), signal)
  const bytes = await readBlock(ctx.kit, cid, signal)
  sendJson(ctx.res, { Key: cid.toString(), Size: bytes.byteLength })
}

function putCodec(params: URLSearchParams): { code: number; version: 0 | 1 } {
  const format = params.get('format')
  const named = params.get('cid-codec')
  if (format === 'v0' || format === 'protobuf') return { code: dagPb.code, version: 0 }
  const name = named ?? (format === 'cbor' ? 'dag-cbor' : format) ?? 'raw'
  const code = CODECS[name]
  if (code == null) {
    throw new InvalidParametersError(
      `option "cid-codec": unsupported codec "${name}" (use ${Object.keys(CODECS).join(', ')})`
    )
  }
  return { code, version: 1 }
}

/** `block/put`: store one block; its CID is computed here and the bytes verified against it. */
const blockPut: Handler = async (ctx) => {
  const { code, version } = putCodec(ctx.params)
  const mhtype = ctx.params.get('mhtype') ?? 'sha2-256'
  const hasher = HASHERS[mhtype]
  if (hasher == null) throw new InvalidParametersError(`option "mhtype": unsupported hash "${mhtype}"`)
  if (version === 0 && hasher !== sha256) throw new InvalidParametersError('CIDv0 needs sha2-256')
  const bytes = await firstPart(ctx.req, API_MAX_BLOCK_BODY_BYTES)
  const limit = flag(ctx.params, 'allow-big-block', false) ? API_MAX_BLOCK_BODY_BYTES : SOFT_BLOCK_LIMIT
  if (bytes.byteLength > limit) {
    throw new PayloadTooLargeError(
      `produced block is over ${limit} bytes: big blocks can't be exchanged with other peers (allow-big-block overrides up to ${API_MAX_BLOCK_BODY_BYTES})`
    )
  }
  if (code === dagPb.code) {
    try {
      dagPb.decode(bytes)
    } catch (err) {
      throw new InvalidParametersError(`the block is not valid dag-pb: ${(err as Error).message}`, {
        cause: err
      })
    }
  }
  const digest = await hasher.digest(bytes)
  const cid =
    version === 0 ? CID.createV0(digest as Parameters<typeof CID.createV0>[0]) : CID.createV1(code, digest)
  await verifyBlock(cid, bytes, 'block/put')
  await ctx.kit.ipfsBlockPut(cid, bytes, { pin: flag(ctx.params, 'pin', false), signal: ctx.signal })
  sendJson(ctx.res, { Key: cid.toString(), Size: bytes.byteLength })
}

const pinAdd: Handler = async (ctx) => {
  const recursive = flag(ctx.params, 'recursive', true)
  const signal = requestSignal(ctx)
  const pins: string[] = []
  for (const path of args(ctx.params, 'ipfs-path')) {
    const cid = await resolveCid(ctx.kit, path, signal)
    pins.push((await ctx.kit.ipfsPinAdd(cid, { recursive, signal })).toString())
  }
  sendJson(ctx.res, { Pins: pins })
}

const pinRm: Handler = async (ctx) => {
  const signal = requestSignal(ctx)
  const pins: string[] = []
  for (const path of args(ctx.params, 'ipfs-path')) {
    pins.push((await ctx.kit.ipfsPinRm(await resolveCid(ctx.kit, path, signal), { signal })).toString())
  }
  sendJson(ctx.res, { Pins: pins })
}

/**
 * `pin/ls`: every pin of `type` (all by default: recursive, direct and the indirect blocks under
 * recursive pins, as Kubo), or the named ones; NDJSON lines with `stream`, else Kubo's `Keys` map.
 */
const pinLs: Handler = async (ctx) => {
  const type = ctx.params.get('type') || 'all'
  if (!['all', 'recursive', 'direct', 'indirect'].includes(type)) {
    throw new InvalidParametersError(
      `option "type" must be all, recursive, direct or indirect, not "${type}"`
    )
  }
  const signal = requestSignal(ctx)
  const names = flag(ctx.params, 'names', false)
  const only = ctx.params.getAll('arg').filter((a) => a !== '')
  let pins: PinEntry[] = []
  if (only.length === 0) pins = await ctx.kit.ipfsPinLs({ type: type as PinType | 'all', signal })
  else {
    for (const path of only)
      pins.push(...(await ctx.kit.ipfsPinLs({ cid: await resolveCid(ctx.kit, path, signal), signal })))
    pins = pins.filter((p) => type === 'all' || p.Type === type)
  }
  const name = names ? { Name: '' } : {}
  if (flag(ctx.params, 'stream', false)) {
    const out = new NdjsonWriter(ctx.res)
    for (const p of pins) await out.send({ Cid: p.Hash, Type: pinType(p), ...name })
    out.end()
    return
  }
  sendJson(ctx.res, { Keys: Object.fromEntries(pins.map((p) => [p.Hash, { Type: pinType(p), ...name }])) })
}

/** Kubo's pin type text: `recursive`, `direct`, or `indirect through <cid>`. */
function pinType(p: PinEntry): string {
  return p.Type === 'indirect' && p.Through != null ? `indirect through ${p.Through}` : p.Type
}

/**
 * `pin/verify`: one line per pin, as Kubo's (`{ Cid, Ok, BadNodes }`); only broken pins
 * unless `verbose`. Missing or bad blocks are fetched again first.
 */
const pinVerify: Handler = async (ctx) => {
  const verbose = flag(ctx.params, 'verbose', false)
  const quiet = flag(ctx.params, 'quiet', false)
  const out = new NdjsonWriter(ctx.res)
  for await (const result of ctx.kit.ipfsPinVerify({ signal: ctx.signal })) {
    if (result.Ok && !verbose) continue
    await out.send(quiet ? { Cid: result.Cid, Ok: result.Ok } : result)
  }
  out.end()
}

/** `block/get|put|stat`, `pin/add|rm|ls`. */
export const blockCommands: Record<string, Handler> = {
  'block/get': blockGet,
  'block/put': blockPut,
  'block/stat': blockStat,
  'pin/add': pinAdd,
  'pin/rm': pinRm,
  'pin/ls': pinLs,
  'pin/verify': pinVerify
}
