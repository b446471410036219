/**
 * The trustless gateway at `/ipfs/<cid>[/path]`: verifiable responses (a raw block, or a
 * CARv1 of the DAG) for clients such as Helia's trustless-gateway block broker, and
 * plain file bytes or a folder listing for browsers.
 *
 * @packageDocumentation
 */
import { exporter, type UnixFSEntry, walkPath } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { parseCID, toKitError } from '../cids.ts'
import { DEFAULT_NETWORK_TIMEOUT_MS } from '../constants.ts'
import { InvalidParametersError, NotFoundError } from '../errors.ts'
import { symlinkTarget } from '../kit/get.ts'
import { type CarBlock, carStream, type DagScope, dagBlocks } from './car.ts'
import { contentDisposition, SNIFF_BYTES, sniffType, typeByName } from './content-type.ts'
import { errorResponse, type RequestContext, sendStream } from './http.ts'
import { readBlock } from './rpc/blocks.ts'
import { tarStream, unixfsTarEntries } from './tar.ts'

const RAW = 'application/vnd.ipld.raw'
const CAR = 'application/vnd.ipld.car'
const TAR = 'application/x-tar'

/**
 * Every gateway response runs sandboxed (no scripts, an opaque origin): content from
 * the network must never act with the API's origin on the same port.
 */
const SANDBOX = { 'Content-Security-Policy': 'sandbox', 'X-Content-Type-Options': 'nosniff' }
const IMMUTABLE = 'public, max-age=29030400, immutable'

/** What a gateway request asks for. */
type Format = 'raw' | 'car' | 'tar' | 'plain'

function formatOf(ctx: RequestContext): Format {
  const f = ctx.params.get('format')
  if (f === 'raw' || f === 'car' || f === 'tar') return f
  if (f != null && f !== '')
    throw new InvalidParametersError(`format "${f}" is not supported: use raw, car or tar`)
  const accept = ctx.req.headers.accept ?? ''
  if (accept.includes(RAW)) return 'raw'
  if (accept.includes(CAR)) return 'car'
  if (accept.includes(TAR)) return 'tar'
  return 'plain'
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Parse `Range: bytes=a-b` (one range) against `size`. */
function parseRange(
  header: string | undefined,
  size: number
): { offset: number; length: number } | undefined {
  const m = header == null ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m == null) return undefined
  const [start, end] = [m[1] ?? '', m[2] ?? '']
  if (start === '' && end === '') return undefined
  let offset: number
  let last: number
  if (start === '') {
    const suffix = Math.min(Number(end), size)
    offset = size - suffix
    last = size - 1
  } else {
    offset = Number(start)
    last = end === '' ? size - 1 : Math.min(Number(end), size - 1)
  }
  if (offset >= size || last < offset) return { offset: size, length: 0 }
  return { offset, length: last - offset + 1 }
}

function listing(
  base: string,
  entries: Array<{ name: string; cid: string; size: number; dir: boolean }>
): string {
  const rows = entries
    .map(
      (e) =>
        `<tr><td><a href="${escapeHtml(base + encodeURIComponent(e.name))}${e.dir ? '/' : ''}">${escapeHtml(e.name)}${e.dir ? '/' : ''}</a></td><td>${e.dir ? '' : e.size}</td><td><code>${escapeHtml(e.cid)}</code></td></tr>`
    )
    .join('\n')
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(base)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}td{padding:2px 12px}code{color:#666}</style></head>
<body><h1>Index of ${escapeHtml(base)}</h1><table><tr><th>Name</th><th>Size</th><th>CID</th></tr>
<tr><td><a href="../">..</a></td><td></td><td></td></tr>
${rows}</table></body></html>`
}

/** Answer a gateway error as plain text: 400 bad path, 404 not found, 504 time-out, 500 the rest. */
function sendGatewayError(ctx: RequestContext, err: unknown): void {
  const res = ctx.res
  const { status, body } = errorResponse(err)
  const name = body.Name ?? ''
  const code = name === 'NotFoundError' ? 404 : name === 'TimeoutError' ? 504 : status
  if (res.headersSent) {
    res.end()
    return
  }
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', ...SANDBOX })
  res.end(`${body.Message}\n`)
}

/** Serve `GET|HEAD /ipfs/<cid>[/path]` and `/ipns/<name>[/path]`. */
export async function serveGateway(ctx: RequestContext): Promise<void> {
  try {
    if (ctx.url.pathname.startsWith('/ipns/')) await ipnsOntoIpfs(ctx)
    await gateway(ctx)
  } catch (err) {
    sendGatewayError(ctx, err)
  }
}

/** A percent-encoded path segment, decoded; a malformed one (`%ZZ`) is a bad request (400). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch (err) {
    throw new InvalidParametersError(
      `the gateway path segment ${JSON.stringify(segment.slice(0, 64))} is not valid percent-encoding`,
      { cause: err }
    )
  }
}

/**
 * `/ipns/<name>[/path]` is served as the `/ipfs/` path the name resolves to: the request's
 * path is rewritten, and the response names the `/ipns/` path (`X-Ipfs-Path`, a folder's
 * redirect) and is not cached as immutable (the name can move).
 */
async function ipnsOntoIpfs(ctx: RequestContext): Promise<void> {
  const original = ctx.url.pathname
  const name = original.slice('/ipns/'.length).split('/')[0] ?? ''
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(DEFAULT_NETWORK_TIMEOUT_MS)])
  const target = (
    await ctx.kit.names.resolve(`/ipns/${decodeSegment(name)}`, { signal }).catch((err: Error) => {
      throw err.name === 'NameNotFoundError' ? new NotFoundError(err.message, { cause: err }) : err
    })
  ).replace(/\/+$/, '')
  if (!target.startsWith('/ipfs/')) throw new NotFoundError(`/ipns/${name} does not lead to an /ipfs/ path`)
  const ipnsPrefix = `/ipns/${name}`
  ctx.url.pathname = `${target}${original.slice(ipnsPrefix.length)}`
  const toIpns = (value: unknown): unknown =>
    typeof value === 'string' && value.startsWith(target)
      ? `${ipnsPrefix}${value.slice(target.length)}`
      : value
  const res = ctx.res
  const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => typeof res
  res.writeHead = ((...a: unknown[]) => {
    const headers = a.find((x): x is Record<string, unknown> => typeof x === 'object' && x != null)
    if (headers != null) {
      if ('Cache-Control' in headers) headers['Cache-Control'] = 'no-cache'
      if ('X-Ipfs-Path' in headers) headers['X-Ipfs-Path'] = toIpns(headers['X-Ipfs-Path'])
      if ('Location' in headers) headers.Location = toIpns(headers.Location)
    }
    return writeHead(...a)
  }) as typeof res.writeHead
}

async function gateway(ctx: RequestContext): Promise<void> {
  const headOnly = ctx.req.method === 'HEAD'
  const segments = ctx.url.pathname.slice('/ipfs/'.length).split('/')
  const root = parseCID(decodeSegment(segments[0] ?? ''))
  const names = segments.slice(1).map(decodeSegment)
  const trailingSlash = names.at(-1) === ''
  const sub = names.filter((n) => n !== '')
  if (sub.some((n) => n === '..' || n === '.' || n.includes('\0'))) {
    throw new InvalidParametersError('a gateway path may not hold "." or ".." segments')
  }
  const contentPath = `/ipfs/${root}${sub.map((n) => `/${n}`).join('')}`
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(DEFAULT_NETWORK_TIMEOUT_MS)])
  const format = formatOf(ctx)
  if (/\bonly-if-cached\b/.test(ctx.req.headers['cache-control'] ?? '')) {
    if (!(await ctx.kit.helia.blockstore.has(root))) {
      ctx.res.writeHead(412, { 'Content-Type': 'text/plain; charset=utf-8' })
      ctx.res.end(`${root} is not held by this node\n`)
      return
    }
  }
  // blocks read while resolving the path, each once (the CAR response starts with them)
  const pathBlocks: CarBlock[] = []
  const recording = {
    async *get(cid: CID) {
      const held = pathBlocks.find((b) => b.cid.equals(cid))
      const bytes = held?.bytes ?? (await readBlock(ctx.kit, cid, signal))
      if (held == null) pathBlocks.push({ cid, bytes })
      yield bytes
    }
  }
  let entry: UnixFSEntry
  // the CID of the root and of every segment resolved after it (Kubo's `X-Ipfs-Roots`)
  const roots: CID[] = []
  try {
    for await (const step of walkPath(`${root}${sub.map((n) => `/${n}`).join('')}`, recording, { signal })) {
      roots.push(step.cid)
    }
    entry = await exporter(roots.at(-1) ?? root, recording, { signal })
  } catch (err) {
    throw toKitError(err, contentPath, signal)
  }
  const common = {
    'X-Ipfs-Path': contentPath,
    'X-Ipfs-Roots': roots.map(String).join(','),
    'Cache-Control': IMMUTABLE,
    Vary: 'Accept',
    ...SANDBOX
  }

  if (format === 'raw') {
    const tracker = ctx.activity.begin('gateway-raw', contentPath)
    const bytes =
      pathBlocks.find((b) => b.cid.equals(entry.cid))?.bytes ?? (await readBlock(ctx.kit, entry.cid, signal))
    await sendStream(
      ctx.res,
      [bytes],
      {
        ...common,
        'Content-Type': RAW,
        'Content-Length': bytes.byteLength,
        ETag: `"${entry.cid}.raw"`,
        'Content-Disposition': `attachment; filename="${entry.cid}.bin"`
      },
      { tracker, headOnly }
    )
    return
  }

  if (format === 'car') {
    const scope = (ctx.params.get('dag-scope') ?? 'all') as DagScope
    if (!['block', 'entity', 'all'].includes(scope)) {
      throw new InvalidParametersError(`dag-scope "${scope}" is not one of block, entity, all`)
    }
    const tracker = ctx.activity.begin('gateway-car', contentPath)
    const ancestors = pathBlocks.filter((b) => !b.cid.equals(entry.cid))
    const blocks = (async function* () {
      yield* ancestors
      yield* dagBlocks(entry.cid, (cid) => readBlock(ctx.kit, cid, signal), scope)
    })()
    await sendStream(
      ctx.res,
      carStream([root], blocks),
      {
        ...common,
        'Content-Type': `${CAR}; version=1; order=dfs; dups=n`,
        ETag: `"${entry.cid}.car.${scope}"`,
        'Content-Disposition': `attachment; filename="${entry.cid}.car"`
      },
      { tracker, headOnly }
    )
    return
  }

  if (format === 'tar') {
    if (entry.type !== 'directory' && entry.type !== 'file' && entry.type !== 'raw') {
      throw new InvalidParametersError(
        `${contentPath} is a ${entry.type} node: a tar holds UnixFS files and folders`
      )
    }
    const name = sub.at(-1) ?? root.toString()
    await sendStream(
      ctx.res,
      tarStream(unixfsTarEntries(entry, name, ctx.kit.helia.blockstore, signal)),
      {
        ...common,
        'Content-Type': TAR,
        ETag: `W/"${entry.cid}.x-tar"`,
        'Content-Disposition': `attachment; filename="${entry.cid}.tar"`
      },
      { tracker: ctx.activity.begin('gateway-file', contentPath), headOnly }
    )
    return
  }

  if (entry.type === 'directory') {
    if (!trailingSlash) {
      ctx.res.writeHead(301, { Location: `${ctx.url.pathname}/${ctx.url.search}` })
      ctx.res.end()
      return
    }
    const children: Array<{ name: string; cid: string; size: number; dir: boolean }> = []
    for await (const child of entry.entries({ signal })) {
      if (child.name === 'index.html') {
        ctx.url.pathname = `${ctx.url.pathname}index.html`
        return gateway(ctx)
      }
      const node = await exporter(child.cid, ctx.kit.helia.blockstore, { signal })
      children.push({
        name: child.name,
        cid: child.cid.toString(),
        size: Number(node.size),
        dir: node.type === 'directory'
      })
    }
    const html = listing(ctx.url.pathname, children)
    ctx.res.writeHead(200, {
      ...common,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(html),
      ETag: `"DirIndex-${entry.cid}"`
    })
    ctx.res.end(headOnly ? undefined : html)
    return
  }
  const target = symlinkTarget(entry)
  if (target != null) {
    // as Kubo's gateway (boxo): a symlink is not followed; its target is the body, typed inode/symlink
    const body = new TextEncoder().encode(target)
    await sendStream(
      ctx.res,
      [body],
      {
        ...common,
        'Content-Type': 'inode/symlink',
        'Content-Length': body.byteLength,
        ETag: `"${entry.cid}"`
      },
      { tracker: ctx.activity.begin('gateway-file', contentPath), headOnly }
    )
    return
  }
  if (entry.type !== 'file' && entry.type !== 'raw' && entry.type !== 'identity') {
    throw new NotFoundError(`${contentPath} is a ${entry.type} node, not a file or folder`)
  }
  const size = Number(entry.size)
  const range = parseRange(ctx.req.headers.range, size)
  if (range != null && range.length === 0) {
    ctx.res.writeHead(416, { 'Content-Range': `bytes */${size}`, ...SANDBOX })
    ctx.res.end()
    return
  }
  const tracker = ctx.activity.begin('gateway-file', contentPath)
  const fs = ctx.kit.getFilesystem({ useLibp2p: ctx.kit.libp2pIntegration != null })
  tracker.readThrough(fs)
  const source = fs.catStream(contentPath, { signal, ...(range ?? {}) })[Symbol.asyncIterator]()
  // the type comes from the file's own first bytes, also for a range that starts later
  const sniffedType = async (
    first: IteratorResult<Uint8Array> | undefined,
    range: { offset: number } | undefined
  ): Promise<string> => {
    if (
      first?.done === false &&
      (range == null || range.offset === 0) &&
      first.value.byteLength >= SNIFF_BYTES
    ) {
      return sniffType(first.value.subarray(0, SNIFF_BYTES))
    }
    const head: Uint8Array[] = []
    for await (const chunk of fs.catStream(contentPath, { signal, length: SNIFF_BYTES })) head.push(chunk)
    return sniffType(Buffer.concat(head))
  }
  let first: IteratorResult<Uint8Array> | undefined
  if (!headOnly) {
    try {
      first = await source.next()
    } catch (err) {
      tracker.finish(err)
      throw err
    }
  }
  const filename = ctx.params.get('filename') ?? undefined
  const type = typeByName(filename ?? sub.at(-1) ?? '') ?? (await sniffedType(first, range))
  const body = (async function* () {
    if (first != null && first.done !== true) yield first.value
    for (;;) {
      const next = await source.next()
      if (next.done === true) return
      yield next.value
    }
  })()
  await sendStream(
    ctx.res,
    body,
    {
      ...common,
      'Content-Type': type,
      'Content-Length': range?.length ?? size,
      'Accept-Ranges': 'bytes',
      ETag: `"${entry.cid}"`,
      ...(filename == null || filename === ''
        ? {}
        : { 'Content-Disposition': contentDisposition(filename, ctx.params.get('download') === 'true') }),
      ...(range == null
        ? {}
        : { 'Content-Range': `bytes ${range.offset}-${range.offset + range.length - 1}/${size}` })
    },
    { tracker, headOnly, status: range == null ? 200 : 206 }
  )
}
