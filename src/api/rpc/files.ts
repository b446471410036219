/**
 * `/api/v0/files/*`: Kubo's MFS commands, with its names, options and JSON shapes, over
 * {@link MutableFileSystem}. `kubo-rpc-client` sends some options in camelCase
 * (`rawLeaves`, `cidVersion`): both spellings are read. Every change is stored at once, so
 * `flush=false` changes nothing.
 *
 * @packageDocumentation
 */
import { InvalidParametersError } from '../../errors.ts'
import type { MfsEntry } from '../../fs/mfs.ts'
import {
  arg,
  args,
  type CommandSpec,
  flag,
  type Handler,
  requestSignal,
  sendJson,
  sendStream,
  uint
} from '../http.ts'
import { multipartEntries } from '../multipart.ts'

/** Kubo's `mfs.NodeType`: 0 a file, 1 a folder. */
const NODE_TYPE = { file: 0, directory: 1 } as const

/** An option Kubo spells `kebab-case` and kubo-rpc-client may send as `camelCase`. */
function opt(params: URLSearchParams, name: string): string | null {
  const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
  return params.get(name) ?? params.get(camel)
}

function boolOpt(params: URLSearchParams, name: string): boolean | undefined {
  const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
  const key = params.has(name) ? name : params.has(camel) ? camel : undefined
  return key == null ? undefined : flag(params, key, false)
}

/** `cid-version` and `hash` as Kubo reads them: `hash` alone means CIDv1; only sha2-256 is made here. */
function cidVersionOpt(params: URLSearchParams): 0 | 1 | undefined {
  const v = opt(params, 'cid-version')
  const hash = opt(params, 'hash')
  if (hash != null && hash !== '' && hash.toLowerCase() !== 'sha2-256') {
    throw new InvalidParametersError(`option "hash": only sha2-256 is supported, not "${hash}"`)
  }
  if (v == null || v === '') return hash != null && hash !== '' ? 1 : undefined
  if (v !== '0' && v !== '1')
    throw new InvalidParametersError(`option "cid-version" must be 0 or 1, not "${v}"`)
  return v === '1' ? 1 : 0
}

function done(ctx: Parameters<Handler>[0]): void {
  ctx.res.statusCode = 200
  ctx.res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  ctx.res.setHeader('Content-Length', 0)
  ctx.res.end()
}

const mkdir: Handler = async (ctx) => {
  await ctx.kit.files.mkdir(arg(ctx.params, 'path'), {
    parents: boolOpt(ctx.params, 'parents') ?? false,
    cidVersion: cidVersionOpt(ctx.params),
    signal: requestSignal(ctx)
  })
  done(ctx)
}

/** `files/write`: the first multipart part's bytes into the file. */
const write: Handler = async (ctx) => {
  const path = arg(ctx.params, 'path')
  const offset = uint(ctx.params, 'offset')
  const count = uint(ctx.params, 'count')
  const rawLeaves = boolOpt(ctx.params, 'raw-leaves')
  const options = {
    create: boolOpt(ctx.params, 'create') ?? false,
    parents: boolOpt(ctx.params, 'parents') ?? false,
    truncate: boolOpt(ctx.params, 'truncate') ?? false,
    offset,
    count,
    cidVersion: cidVersionOpt(ctx.params),
    ...(rawLeaves == null ? {} : { rawLeaves }),
    signal: requestSignal(ctx)
  }
  let content: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined
  const parts = multipartEntries(ctx.req, ctx.maxBodyBytes)[Symbol.asyncIterator]()
  for (let next = await parts.next(); next.done !== true; next = await parts.next()) {
    if (next.value.content != null) {
      content = next.value.content
      break
    }
  }
  if (content == null)
    throw new InvalidParametersError('argument "data" is required: send it as a multipart file')
  await ctx.kit.files.write(path, content, options)
  // whatever follows the first part is read and dropped
  for (let next = await parts.next(); next.done !== true; next = await parts.next()) {
    for await (const _ of next.value.content ?? []) {
      // dropped
    }
  }
  done(ctx)
}

const read: Handler = async (ctx) => {
  const source = ctx.kit.files.read(arg(ctx.params, 'path'), {
    offset: uint(ctx.params, 'offset'),
    count: uint(ctx.params, 'count'),
    signal: requestSignal(ctx)
  })
  await sendStream(ctx.res, source, {
    'Content-Type': 'text/plain',
    'X-Stream-Output': '1',
    'X-Content-Type-Options': 'nosniff'
  })
}

/** `files/ls`: `{ Entries: [{ Name, Type, Size, Hash }] }` in the folder's order (the CLI sorts). */
const ls: Handler = async (ctx) => {
  const path = ctx.params.getAll('arg').find((a) => a !== '') ?? '/'
  const long = boolOpt(ctx.params, 'long') ?? flag(ctx.params, 'l', false)
  const entries = await ctx.kit.files.ls(path, { long, signal: requestSignal(ctx) })
  // Kubo's Go slice is nil for an empty folder: `null`
  sendJson(ctx.res, { Entries: entries.length === 0 ? null : entries.map(nodeListing) })
}

/** Kubo's `NodeListing`. */
export function nodeListing(e: MfsEntry): { Name: string; Type: number; Size: number; Hash: string } {
  return { Name: e.name, Type: NODE_TYPE[e.type], Size: e.size, Hash: e.cid?.toString() ?? '' }
}

/** `files/stat`: Kubo's `statOutput` (`--format`, `--hash`, `--size` shape only the CLI's text). */
const stat: Handler = async (ctx) => {
  const formats = [flag(ctx.params, 'hash', false), flag(ctx.params, 'size', false), ctx.params.has('format')]
  if (formats.filter(Boolean).length > 1) {
    throw new InvalidParametersError('format was set by multiple options. Only one format option is allowed')
  }
  const s = await ctx.kit.files.stat(arg(ctx.params, 'path'), { signal: requestSignal(ctx) })
  sendJson(ctx.res, {
    Hash: s.cid.toString(),
    Size: s.size,
    CumulativeSize: s.cumulativeSize,
    Blocks: s.blocks,
    Type: s.type,
    ...(s.mode == null ? {} : { Mode: s.mode }),
    ...(s.mtime == null
      ? {}
      : { Mtime: s.mtime.secs, ...(s.mtime.nsecs === 0 ? {} : { MtimeNsecs: s.mtime.nsecs }) })
  })
}

const cp: Handler = async (ctx) => {
  const [from, to, ...rest] = args(ctx.params, 'source')
  if (to == null || rest.length > 0)
    throw new InvalidParametersError('files/cp takes two arguments: source and dest')
  await ctx.kit.files.cp(from as string, to, {
    parents: boolOpt(ctx.params, 'parents') ?? false,
    signal: requestSignal(ctx)
  })
  done(ctx)
}

const mv: Handler = async (ctx) => {
  const [from, to, ...rest] = args(ctx.params, 'source')
  if (to == null || rest.length > 0)
    throw new InvalidParametersError('files/mv takes two arguments: source and dest')
  await ctx.kit.files.mv(from as string, to, { signal: requestSignal(ctx) })
  done(ctx)
}

const rm: Handler = async (ctx) => {
  await ctx.kit.files.rm(args(ctx.params, 'path'), {
    recursive: boolOpt(ctx.params, 'recursive') ?? flag(ctx.params, 'r', false),
    force: boolOpt(ctx.params, 'force') ?? false,
    signal: requestSignal(ctx)
  })
  done(ctx)
}

/** `files/flush`: `{ Cid }` of the path (the root by default). */
const flush: Handler = async (ctx) => {
  const path = ctx.params.getAll('arg').find((a) => a !== '') ?? '/'
  const cid = await ctx.kit.files.flush(path, { signal: requestSignal(ctx) })
  sendJson(ctx.res, { Cid: cid.toString() })
}

const chcid: Handler = async (ctx) => {
  const path = ctx.params.getAll('arg').find((a) => a !== '') ?? '/'
  await ctx.kit.files.chcid(path, { cidVersion: cidVersionOpt(ctx.params), signal: requestSignal(ctx) })
  done(ctx)
}

/** `files/mkdir|write|read|ls|stat|cp|mv|rm|flush|chcid`. */
export const filesCommands: Record<string, CommandSpec> = {
  'files/mkdir': mkdir,
  'files/write': { handler: write, maxBody: 'add' },
  'files/read': read,
  'files/ls': ls,
  'files/stat': stat,
  'files/cp': cp,
  'files/mv': mv,
  'files/rm': rm,
  'files/flush': flush,
  'files/chcid': chcid
}
