/**
 * `/api/v0/dag/*`, `refs`, `refs/local`, `block/rm` and `pin/update`, with Kubo's names,
 * options and JSON shapes (so `kubo-rpc-client`'s `dag`, `refs`, `block.rm` and `pin.update`
 * work unchanged). The logic is the kit's; these handlers read options and write answers.
 *
 * @packageDocumentation
 */
import { API_MAX_BLOCK_BODY_BYTES } from '../../constants.ts'
import { InvalidParametersError, PayloadTooLargeError } from '../../errors.ts'
import { DAG_PUT_DEFAULTS, type DagStatSummary, formatRef, type RefEdge } from '../../kit/dag.ts'
import { encodeValue } from '../../kit/ipld.ts'
import {
  arg,
  args,
  type CommandSpec,
  flag,
  type Handler,
  NdjsonWriter,
  requestSignal,
  sendJson,
  sendStream
} from '../http.ts'
import { multipartEntries } from '../multipart.ts'

/** A multipart part's bytes, at most `limit` of them. */
async function partBytes(
  content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  limit: number
): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let size = 0
  for await (const chunk of content) {
    size += chunk.byteLength
    if (size > limit) throw new PayloadTooLargeError(`an object of dag put is over the ${limit} byte limit`)
    parts.push(chunk)
  }
  return new Uint8Array(Buffer.concat(parts))
}

/** `dag/put`: each multipart file is one object; one `{ Cid: { "/": … } }` line for each. */
const dagPut: Handler = async (ctx) => {
  const options = {
    storeCodec: ctx.params.get('store-codec') || DAG_PUT_DEFAULTS.storeCodec,
    inputCodec: ctx.params.get('input-codec') || DAG_PUT_DEFAULTS.inputCodec,
    hash: ctx.params.get('hash') || DAG_PUT_DEFAULTS.hash,
    pin: flag(ctx.params, 'pin', false),
    allowBigBlock: flag(ctx.params, 'allow-big-block', false),
    signal: requestSignal(ctx)
  }
  const cids: string[] = []
  for await (const entry of multipartEntries(ctx.req, ctx.maxBodyBytes)) {
    if (entry.content == null) continue
    const bytes = await partBytes(entry.content, API_MAX_BLOCK_BODY_BYTES)
    cids.push((await ctx.kit.ipfsDagPut(bytes, options)).toString())
  }
  if (cids.length === 0) {
    throw new InvalidParametersError('argument "object data" is required: send it as a multipart file')
  }
  const out = new NdjsonWriter(ctx.res)
  for (const cid of cids) await out.send({ Cid: { '/': cid } })
  out.end()
}

/** `dag/get`: the value at a path, encoded with `output-codec` (dag-json by default). */
const dagGet: Handler = async (ctx) => {
  const codec = ctx.params.get('output-codec') || 'dag-json'
  const { value } = await ctx.kit.ipfsDagGet(arg(ctx.params, 'ref'), { signal: requestSignal(ctx) })
  const bytes = encodeValue(value, codec, 'output-codec')
  await sendStream(ctx.res, [bytes], {
    'Content-Type': 'text/plain',
    'Content-Length': bytes.byteLength,
    'X-Stream-Output': '1'
  })
}

/** `dag/resolve`: `{ Cid: { "/": … }, RemPath }`. */
const dagResolve: Handler = async (ctx) => {
  const { cid, remainderPath } = await ctx.kit.ipfsDagResolve(arg(ctx.params, 'ref'), {
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, { Cid: { '/': cid.toString() }, RemPath: remainderPath })
}

/** Kubo's JSON of a summary: every field `omitempty`, so a figure of 0 is left out. */
function statJson(s: DagStatSummary): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (s.UniqueBlocks !== 0) out.UniqueBlocks = s.UniqueBlocks
  if (s.TotalSize !== 0) out.TotalSize = s.TotalSize
  if (s.SharedSize !== 0) out.SharedSize = s.SharedSize
  if (s.Ratio !== 0) out.Ratio = s.Ratio
  if (s.DagStats.length > 0) {
    out.DagStats = s.DagStats.map((d) => ({
      Cid: d.Cid,
      ...(d.Size === 0 ? {} : { Size: d.Size }),
      ...(d.NumBlocks === 0 ? {} : { NumBlocks: d.NumBlocks })
    }))
  }
  return out
}

/** `dag/stat`: Kubo's summary; with `progress` (the default), one line per block read before it. */
const dagStat: Handler = async (ctx) => {
  const progress = flag(ctx.params, 'progress', true)
  const paths = args(ctx.params, 'root')
  let out: NdjsonWriter | undefined
  const summary = await ctx.kit.ipfsDagStat(paths, {
    signal: requestSignal(ctx),
    onProgress: progress
      ? async (s) => {
          out ??= new NdjsonWriter(ctx.res)
          await out.send(statJson(s))
        }
      : undefined
  })
  out ??= new NdjsonWriter(ctx.res)
  await out.send(statJson(summary))
  out.end()
}

/** `dag/export`: a CARv1 of the DAG, streamed. */
const dagExport: Handler = async (ctx) => {
  await sendStream(ctx.res, ctx.kit.ipfsDagExport(arg(ctx.params, 'root'), { signal: requestSignal(ctx) }), {
    'Content-Type': 'application/vnd.ipld.car',
    'X-Stream-Output': '1'
  })
}

/** `dag/import`: every multipart file is a CAR; Kubo's `Root` lines, then `Stats` with `stats`. */
const dagImport: Handler = async (ctx) => {
  const pinRoots = flag(ctx.params, 'pin-roots', true)
  const stats = flag(ctx.params, 'stats', false)
  let index = 0
  const files = (async function* () {
    for await (const entry of multipartEntries(ctx.req, ctx.maxBodyBytes)) {
      if (entry.content == null) continue
      index++
      yield {
        name: entry.path === '' ? `CAR file ${index}` : entry.path,
        content: (async function* () {
          yield* entry.content ?? []
        })()
      }
    }
  })()
  const result = await ctx.kit.ipfsDagImport(files, {
    pinRoots,
    allowBigBlock: flag(ctx.params, 'allow-big-block', false),
    signal: requestSignal(ctx)
  })
  const out = new NdjsonWriter(ctx.res)
  for (const root of result.Roots) {
    await out.send({ Root: { Cid: { '/': root.Cid.toString() }, PinErrorMsg: root.PinErrorMsg } })
  }
  if (stats) await out.send({ Stats: result.Stats })
  out.end()
}

/** `block/rm`: one `{ Hash }` line per removed block (none with `quiet`), `{ Hash, Error }` per refused one. */
const blockRm: Handler = async (ctx) => {
  const quiet = flag(ctx.params, 'quiet', false)
  const results = await ctx.kit.ipfsBlockRm(args(ctx.params, 'cid'), {
    force: flag(ctx.params, 'force', false),
    signal: requestSignal(ctx)
  })
  const out = new NdjsonWriter(ctx.res)
  for (const r of results) {
    if (r.Error == null) {
      if (!quiet) await out.send({ Hash: r.Hash })
    } else await out.send({ Hash: r.Hash, Error: r.Error })
  }
  out.end()
}

/** `max-depth` as Kubo takes it: a whole number, -1 for no limit. */
function maxDepth(params: URLSearchParams): number | undefined {
  const v = params.get('max-depth')
  if (v == null || v === '') return undefined
  if (!/^-?[0-9]+$/.test(v) || Number(v) < -1 || !Number.isSafeInteger(Number(v))) {
    throw new InvalidParametersError(
      `option "max-depth" must be a whole number, -1 or more, not "${v.slice(0, 64)}"`
    )
  }
  return Number(v)
}

/** `refs`: `{ Ref, Err }` lines, each edge as `format` (with `edges`: `<src> -> <dst>`). */
const refsCommand: Handler = async (ctx) => {
  let format = ctx.params.get('format') || '<dst>'
  if (flag(ctx.params, 'edges', false)) {
    if (format !== '<dst>')
      throw new InvalidParametersError('using format argument with edges is not allowed')
    format = '<src> -> <dst>'
  }
  const edges = ctx.kit.ipfsRefs(args(ctx.params, 'ipfs-path'), {
    recursive: flag(ctx.params, 'recursive', false),
    unique: flag(ctx.params, 'unique', false),
    maxDepth: maxDepth(ctx.params),
    signal: requestSignal(ctx)
  })
  // the first edge before the answer starts: a bad path is an error response
  let next: IteratorResult<RefEdge> = await edges.next()
  const out = new NdjsonWriter(ctx.res)
  try {
    while (next.done !== true) {
      if (!(await out.send({ Ref: formatRef(next.value, format), Err: '' }))) {
        await edges.return(undefined)
        return
      }
      next = await edges.next()
    }
  } catch (err) {
    await out.send({ Ref: '', Err: (err as Error).message })
  }
  out.end()
}

/** `refs/local`: every block held, `{ Ref, Err }` lines. */
const refsLocal: Handler = async (ctx) => {
  const out = new NdjsonWriter(ctx.res)
  try {
    for await (const cid of ctx.kit.ipfsRefsLocal({ signal: ctx.signal })) {
      if (!(await out.send({ Ref: cid.toString(), Err: '' }))) return
    }
  } catch (err) {
    await out.send({ Ref: '', Err: (err as Error).message })
  }
  out.end()
}

/** `pin/update`: `{ Pins: [from, to] }`. */
const pinUpdate: Handler = async (ctx) => {
  const [from, to] = args(ctx.params, 'from-path')
  if (to == null) throw new InvalidParametersError('argument "to-path" is required')
  const pins = await ctx.kit.ipfsPinUpdate(from as string, to, {
    unpin: flag(ctx.params, 'unpin', true),
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, { Pins: pins.map(String) })
}

/** `dag/put|get|resolve|stat|export|import`, `block/rm`, `refs`, `refs/local`, `pin/update`. */
export const dagCommands: Record<string, CommandSpec> = {
  'dag/put': { handler: dagPut, maxBody: 'add' },
  'dag/get': dagGet,
  'dag/resolve': dagResolve,
  'dag/stat': dagStat,
  'dag/export': dagExport,
  'dag/import': { handler: dagImport, maxBody: 'add' },
  'block/rm': blockRm,
  refs: refsCommand,
  'refs/local': refsLocal,
  'pin/update': pinUpdate
}
