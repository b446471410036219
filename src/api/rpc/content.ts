import type { ServerResponse } from 'node:http'
import { createGzip } from 'node:zlib'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import { type CIDOrPath, parseCIDPath, toKitError } from '../../cids.ts'
import { ADD_PROGRESS_INCREMENT_BYTES, API_MAX_SYMLINK_TARGET_BYTES, ROLES } from '../../constants.ts'
import { InvalidParametersError, isErrorNamed } from '../../errors.ts'
import { parseMfsPath } from '../../fs/mfs.ts'
import type { AddResult } from '../../kit/index.ts'
import {
  arg,
  errorResponse,
  flag,
  type Handler,
  NdjsonWriter,
  type RequestContext,
  requestSignal,
  sendJson,
  sendStream,
  uint,
  write
} from '../http.ts'
import { multipartEntries } from '../multipart.ts'
import { tarStream, unixfsTarEntries } from '../tar.ts'
import { addParams } from './add-params.ts'

/** Kubo's UnixFS type numbers in `ls` output. */
const LS_TYPES = { directory: 1, file: 2, raw: 2, symlink: 4, other: 0 } as const

/** A multipart symlink part's target: UTF-8 text of at most {@link API_MAX_SYMLINK_TARGET_BYTES}. */
async function symlinkPart(path: string, bytes: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = []
  let size = 0
  for await (const chunk of bytes) {
    size += chunk.byteLength
    if (size > API_MAX_SYMLINK_TARGET_BYTES) {
      throw new InvalidParametersError(
        `symlink ${path}: its target is over ${API_MAX_SYMLINK_TARGET_BYTES} bytes`
      )
    }
    parts.push(chunk)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(parts))
  } catch (err) {
    throw new InvalidParametersError(`symlink ${path}: its target is not UTF-8 text`, { cause: err })
  }
}

/**
 * Whether what this node adds is announced to the network (the `X-Ipfs-Kit-Provides` header
 * of `add`): `yes`, or why not: `leecher` (the role does not provide) or `offline`.
 */
export function providesAdds(kit: RequestContext['kit']): 'yes' | 'leecher' | 'offline' {
  if (!ROLES[kit.role].reprovide) return 'leecher'
  return kit.peer.offline ? 'offline' : 'yes'
}

/**
 * End an NDJSON stream that already began with a failure: one last line in Kubo's error shape
 * (with our error's `Name`), then the connection is cut, so that no client takes the lines
 * before it for the whole answer.
 */
async function failStream(res: ServerResponse, err: unknown): Promise<void> {
  if (res.destroyed || res.writableEnded) return
  const { body } = errorResponse(err)
  await new Promise<void>((resolve) => {
    res.write(`${JSON.stringify(body)}\n`, () => resolve())
  })
  res.destroy()
}

/**
 * `add`: import the multipart files, one NDJSON line per entry as soon as it is added (files
 * as they are done, folders after their content, the root last). With `progress`, Kubo's
 * `{Name, Bytes}` objects as each file is read (every 256 KiB and at its end).
 */
const add: Handler = async (ctx) => {
  const { options, output } = addParams(ctx.params)
  ctx.res.setHeader('X-Ipfs-Kit-Provides', providesAdds(ctx.kit))
  let out: NdjsonWriter | undefined
  const writer = (): NdjsonWriter => {
    out ??= new NdjsonWriter(ctx.res)
    return out
  }
  let files = 0
  async function* counted(name: string, content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    let bytes = 0
    let told = 0
    // Kubo omits `Bytes` when it is 0
    const tell = async () => writer().send(bytes === 0 ? { Name: name } : { Name: name, Bytes: bytes })
    for await (const chunk of content) {
      bytes += chunk.byteLength
      if (output.progress && bytes - told >= ADD_PROGRESS_INCREMENT_BYTES) {
        told = bytes
        await tell()
      }
      yield chunk
    }
    if (output.progress && (told !== bytes || bytes === 0)) await tell()
  }
  async function* candidates() {
    for await (const entry of multipartEntries(ctx.req, ctx.maxBodyBytes)) {
      files++
      if (entry.symlink != null)
        yield { path: entry.path, link: await symlinkPart(entry.path, entry.symlink) }
      else if (entry.content == null) yield { path: entry.path }
      else yield { path: entry.path, content: counted(entry.path, entry.content) }
    }
  }
  const toFiles = ctx.params.get('to-files') ?? ctx.params.get('toFiles')
  if (toFiles != null && toFiles !== '') parseMfsPath(toFiles)
  let root: AddResult | undefined
  try {
    for await (const r of ctx.kit.ipfsAddAllStream(candidates(), { ...options, signal: ctx.signal })) {
      root = r
      const Hash = output.format(r.cid)
      // an unnamed entry is named by its CID, printed as the Hash is
      const Name = r.Name === r.Hash ? Hash : r.Name
      if (!(await writer().send({ Name, Hash, Size: String(r.Size) }))) return
    }
    if (files === 0)
      throw new InvalidParametersError('argument "path" is required: send files as multipart parts')
    // Kubo's `--to-files`: the last root, copied into MFS once the add is done
    if (toFiles != null && toFiles !== '' && root != null) await addToFiles(ctx, root, toFiles)
  } catch (err) {
    if (out != null) return failStream(ctx.res, err)
    // no part at all (and not a body refused for its size): Kubo's message
    if (files === 0 && !isErrorNamed(err, 'PayloadTooLargeError'))
      throw new InvalidParametersError('argument "path" is required: send files as multipart parts')
    throw err
  }
  writer().end()
}

/**
 * `add --to-files <mfs-path>` (Kubo 0.24+): the added root is copied into MFS; into the folder
 * when the path ends with `/` or names a folder (under the added name), else at the path.
 */
async function addToFiles(ctx: RequestContext, root: AddResult, toFiles: string): Promise<void> {
  let dst = toFiles
  const name = root.Name === '' ? root.Hash : (root.Name.split('/').at(-1) ?? root.Hash)
  if (dst.endsWith('/')) dst = `${dst}${name}`
  else {
    const isDir = await ctx.kit.files.stat(dst, { signal: ctx.signal }).then(
      (s) => s.type === 'directory',
      () => false
    )
    if (isDir) dst = `${dst}/${name}`
  }
  await ctx.kit.files.cp(`/ipfs/${root.Hash}`, dst, { signal: ctx.signal })
}

/** `cat`: a file's bytes (with `offset` and `length`), read through the tiered cache. */
const cat: Handler = async (ctx) => {
  const path = arg(ctx.params, 'ipfs-path')
  parseCIDPath(path)
  const tracker = ctx.activity.begin('cat', path)
  const fs = ctx.kit.getFilesystem({ useLibp2p: ctx.kit.libp2pIntegration != null })
  tracker.readThrough(fs)
  const source = fs.catStream(path, {
    offset: uint(ctx.params, 'offset'),
    length: uint(ctx.params, 'length'),
    signal: requestSignal(ctx)
  })
  await sendStream(
    ctx.res,
    source,
    { 'Content-Type': 'text/plain', 'X-Stream-Output': '1', 'X-Content-Type-Options': 'nosniff' },
    { tracker }
  )
}

/**
 * A 512-byte block that no tar reader takes for a header (its checksum field is not octal),
 * sent before the `X-Stream-Error` trailer: a client that does not read trailers must fail
 * on the archive, not take the entries before the failure for the whole of it.
 */
function brokenBlock(message: string): Uint8Array {
  const block = new Uint8Array(512)
  // the text stays before the checksum field (offset 148)
  block.set(new TextEncoder().encode(`ipfs-kit: stream error: ${message}`).subarray(0, 140))
  block.fill(0x58, 148, 156)
  return block
}

/** A header value from any text: UTF-8 bytes as latin1 (what Node sends as is), no control characters. */
function trailerValue(text: string): string {
  const printable = [...text].map((c) => (c.charCodeAt(0) < 0x20 || c === '\x7f' ? ' ' : c)).join('')
  return Buffer.from(printable, 'utf8').toString('latin1')
}

/**
 * `get`: a tar of a file, folder or symlink (gzip with `compress`), streamed; nothing is
 * written on the server. A failure before the first byte is an error response; a failure
 * after it (a refused entry name, a block that cannot be had) ends the archive unfinished,
 * with the reason in Kubo's `X-Stream-Error` trailer (and our error's name in
 * `X-Stream-Error-Name`, so our client rebuilds the typed error).
 */
const get: Handler = async (ctx) => {
  const path = arg(ctx.params, 'ipfs-path')
  const { cid, path: sub } = parseCIDPath(path)
  const signal = requestSignal(ctx)
  const tracker = ctx.activity.begin('get', path)
  let entry: UnixFSEntry
  try {
    entry = await exporter(sub == null ? cid : `${cid}/${sub}`, ctx.kit.helia.blockstore, { signal })
  } catch (err) {
    const e = toKitError(err, path, signal)
    tracker.finish(e)
    throw e
  }
  const name = sub?.split('/').at(-1) ?? cid.toString()
  const compress = flag(ctx.params, 'compress', false)
  const tar = tarStream(unixfsTarEntries(entry, name, ctx.kit.helia.blockstore, signal))
  const source = (compress ? gzip(tar) : tar)[Symbol.asyncIterator]()
  let next: IteratorResult<Uint8Array>
  try {
    next = await source.next()
  } catch (err) {
    tracker.finish(err)
    throw err
  }
  const res = ctx.res
  res.writeHead(200, {
    'Content-Type': compress ? 'application/gzip' : 'application/x-tar',
    'X-Stream-Output': '1',
    Trailer: 'X-Stream-Error, X-Stream-Error-Name'
  })
  try {
    while (next.done !== true) {
      tracker.addBytes(next.value.byteLength)
      if (!(await write(res, next.value))) {
        await source.return?.(undefined)
        tracker.finish(new Error('the client went away'))
        return
      }
      next = await source.next()
    }
    res.end()
    tracker.finish()
  } catch (err) {
    tracker.finish(err)
    if (res.destroyed || res.writableEnded) return
    const { body } = errorResponse(err)
    // gzip: the stream is left without its end, which fails any reader
    if (!compress) await write(res, brokenBlock(body.Message))
    res.addTrailers({
      'X-Stream-Error': trailerValue(body.Message),
      ...(body.Name == null ? {} : { 'X-Stream-Error-Name': trailerValue(body.Name) })
    })
    res.end()
  }
}

async function* gzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const z = createGzip()
  const feed = (async () => {
    try {
      for await (const chunk of source) if (!z.write(chunk)) await new Promise((r) => z.once('drain', r))
      z.end()
    } catch (err) {
      z.destroy(err as Error)
    }
  })()
  for await (const chunk of z as AsyncIterable<Buffer>) yield chunk
  await feed
}

/** `ls`: a folder's entries in Kubo's shape (`Objects[0].Links`; none for a file). */
const ls: Handler = async (ctx) => {
  const path = arg(ctx.params, 'ipfs-path')
  const { cid, path: sub } = parseCIDPath(path as CIDOrPath)
  const signal = requestSignal(ctx)
  let entry: UnixFSEntry
  try {
    entry = await exporter(sub == null ? cid : `${cid}/${sub}`, ctx.kit.helia.blockstore, { signal })
  } catch (err) {
    throw toKitError(err, path, signal)
  }
  const links =
    entry.type === 'directory'
      ? (await ctx.kit.ipfsLs(path, { signal })).map((e) => ({
          Name: e.Name,
          Hash: e.Hash,
          Size: e.Size,
          Type: LS_TYPES[e.Type],
          Target: e.Target ?? ''
        }))
      : []
  sendJson(ctx.res, { Objects: [{ Hash: path, Links: links }] })
}

/** `add`, `cat`, `get`, `ls`. */
export const contentCommands: Record<string, Handler> = { add, cat, get, ls }
