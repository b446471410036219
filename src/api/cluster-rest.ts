/**
 * The subset of IPFS Cluster's REST API that `@nftstorage/ipfs-cluster` (and `ipfs-cluster-ctl`
 * users' scripts) call, under CLUSTER_REST_PREFIX on the daemon's HTTP port, over
 * `kit.cluster`: `GET /id`, `/version`, `/peers` (NDJSON), `GET /pins` (NDJSON, `filter`,
 * `cids`, `local`), `GET|POST|DELETE /pins/{cid}` (and `/pins/ipfs/{path}`),
 * `POST /pins/{cid}/recover`, `POST /pins/recover` (NDJSON), `GET /allocations` (NDJSON),
 * `GET /allocations/{cid}`, `POST /add` (UnixFS or `format=car`), `GET /health/alerts`,
 * `GET /monitor/metrics` and `/monitor/metrics/{name}`. Objects are IPFS Cluster's (snake_case, see
 * `cluster-rest-shapes.ts`); errors are its `{code, message}`. Authentication is the API's.
 *
 * @packageDocumentation
 */
import { bytesReader, readHeader } from '@ipld/car/decoder'
import { parseCID } from '../cids.ts'
import { pinFromOptions } from '../cluster/config.ts'
import type { ClusterPeer } from '../cluster/types.ts'
import { CLUSTER_REST_MAX_CAR_HEADER_BYTES, CLUSTER_REST_PREFIX } from '../constants.ts'
import {
  ClusterPinNotFoundError,
  InvalidParametersError,
  MethodNotAllowedError,
  UnknownCommandError
} from '../errors.ts'
import { VERSION } from '../version.ts'
import {
  REST_TRACKER_STATUSES,
  type RestGlobalPinInfo,
  type RestTrackerStatus,
  restAlert,
  restGlobalPinInfo,
  restId,
  restMetricNames,
  restMetrics,
  restPin,
  restUnpinned
} from './cluster-rest-shapes.ts'
import { discardBody, errorResponse, flag, NdjsonWriter, type RequestContext, sendJson } from './http.ts'
import { multipartEntries } from './multipart.ts'
import { decodePathSegment } from './pinning/query.ts'
import { addParams } from './rpc/add-params.ts'
import { pinOptionsFrom } from './rpc/cluster.ts'

/** HTTP status of an error, IPFS Cluster's way (a pin not in the state is 404). */
function restErrorStatus(err: unknown): number {
  switch (err instanceof Error ? err.name : '') {
    case 'ClusterPinNotFoundError':
    case 'NotFoundError':
      return 404
    case 'ClusterAccessDeniedError':
      return 403
    case 'ClusterNotRunningError':
      return 503
    default:
      return errorResponse(err).status
  }
}

/** Members by peer id. */
function peerMap(ctx: RequestContext): Map<string, ClusterPeer> {
  return new Map(ctx.kit.cluster.peers().map((p) => [p.id, p]))
}

/** A `filter` of `GET /pins`: tracker status names; `error` and `queued` name their group, `undefined` all. */
function statusFilter(value: string | null): Set<RestTrackerStatus> | undefined {
  if (value == null || value === '') return undefined
  const out = new Set<RestTrackerStatus>()
  for (const name of value.split(',').map((v) => v.trim())) {
    if (name === 'undefined' || name === '') return undefined
    if (name === 'error') for (const s of ['cluster_error', 'pin_error', 'unpin_error'] as const) out.add(s)
    else if (name === 'queued') for (const s of ['pin_queued', 'unpin_queued'] as const) out.add(s)
    else if ((REST_TRACKER_STATUSES as readonly string[]).includes(name)) out.add(name as RestTrackerStatus)
    else throw new InvalidParametersError(`filter: "${name.slice(0, 64)}" is not a tracker status`)
  }
  return out
}

/** The pin types `GET /allocations?filter=` may name; every pin of ours is a plain `pin`. */
const PIN_TYPES: ReadonlySet<string> = new Set(['pin', 'meta-pin', 'clusterdag', 'shard', 'all'])

async function id(ctx: RequestContext): Promise<void> {
  const peers = ctx.kit.cluster.peers()
  sendJson(ctx.res, restId(peers.find((p) => p.self) as ClusterPeer, peers))
}

async function peers(ctx: RequestContext): Promise<void> {
  const all = ctx.kit.cluster.peers()
  const out = new NdjsonWriter(ctx.res)
  for (const p of all) if (!(await out.send(restId(p, all)))) return
  out.end()
}

/** `GET /pins/{cid}`: on every member, or on this one with `local`; `unpinned` if not in the pinset. */
async function status(ctx: RequestContext, cid: string): Promise<void> {
  const cluster = ctx.kit.cluster
  const pin = cluster.get(cid)
  const members = peerMap(ctx)
  if (pin == null) return sendJson(ctx.res, restUnpinned(parseCID(cid).toString(), members))
  const s = await cluster.status(cid, { local: flag(ctx.params, 'local', false), signal: ctx.signal })
  sendJson(ctx.res, restGlobalPinInfo(s, pin, members))
}

/** `GET /pins`: every pin's status (or the `cids` given), those matching `filter`. */
async function statusAll(ctx: RequestContext): Promise<void> {
  const cluster = ctx.kit.cluster
  const filter = statusFilter(ctx.params.get('filter'))
  const local = flag(ctx.params, 'local', false)
  const members = peerMap(ctx)
  const wanted = (ctx.params.get('cids') ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '')
    .map((c) => parseCID(c).toString())
  const infos: RestGlobalPinInfo[] = []
  if (wanted.length === 0) {
    const all = await cluster.statusAll({ local, signal: ctx.signal })
    for (const s of all) infos.push(restGlobalPinInfo(s, cluster.get(s.cid), members))
  } else {
    const pins = wanted.flatMap((c) => cluster.get(c) ?? [])
    const found = new Map(
      (pins.length === 0 ? [] : await cluster.statusAll({ local, pins, signal: ctx.signal })).map((s) => [
        s.cid,
        s
      ])
    )
    for (const c of new Set(wanted)) {
      const s = found.get(c)
      infos.push(s == null ? restUnpinned(c, members) : restGlobalPinInfo(s, cluster.get(c), members))
    }
  }
  const out = new NdjsonWriter(ctx.res)
  for (const info of infos) {
    if (filter != null && !Object.values(info.peer_map).some((p) => filter.has(p.status))) continue
    if (!(await out.send(info))) return
  }
  out.end()
}

/** The CID a `/pins/ipfs/<path>` (or `/ipld/`) names, resolved to the block it ends on. */
async function resolvePinPath(ctx: RequestContext, ns: string, rest: string): Promise<string> {
  if (ns === 'ipns') {
    throw new InvalidParametersError(
      'pinning an /ipns/ path is not supported: resolve the name, then pin its CID'
    )
  }
  const { cid, remainderPath } = await ctx.kit.ipfsDagResolve(`/${ns}/${rest}`, { signal: ctx.signal })
  if (remainderPath !== '') {
    throw new InvalidParametersError(
      `/${ns}/${rest} ends inside block ${cid} (at ${remainderPath}), not on a block`
    )
  }
  return cid.toString()
}

async function pin(ctx: RequestContext, cid: string): Promise<void> {
  const pinned = await ctx.kit.cluster.pin(cid, { ...pinOptionsFrom(ctx.params), signal: ctx.signal })
  sendJson(ctx.res, restPin(pinned))
}

async function unpin(ctx: RequestContext, cid: string): Promise<void> {
  sendJson(ctx.res, restPin(await ctx.kit.cluster.unpin(cid, { signal: ctx.signal })))
}

async function recover(ctx: RequestContext, cid: string): Promise<void> {
  const cluster = ctx.kit.cluster
  const s = await cluster.recover(cid, { signal: ctx.signal })
  sendJson(ctx.res, restGlobalPinInfo(s, cluster.get(cid), peerMap(ctx)))
}

/** `POST /pins/recover`: recover every pin a member has in error; their statuses afterwards. */
async function recoverAll(ctx: RequestContext): Promise<void> {
  const cluster = ctx.kit.cluster
  const all = await cluster.statusAll({ signal: ctx.signal })
  const out = new NdjsonWriter(ctx.res)
  for (const s of all) {
    if (!Object.values(s.peerMap).some((p) => p.status === 'error')) continue
    const after = await cluster.recover(s.cid, { signal: ctx.signal })
    if (!(await out.send(restGlobalPinInfo(after, cluster.get(s.cid), peerMap(ctx))))) return
  }
  out.end()
}

async function allocations(ctx: RequestContext): Promise<void> {
  const filter = ctx.params.get('filter')
  const types = filter == null || filter === '' ? ['all'] : filter.split(',').map((t) => t.trim())
  for (const t of types) {
    if (!PIN_TYPES.has(t)) throw new InvalidParametersError(`filter: "${t.slice(0, 64)}" is not a pin type`)
  }
  const out = new NdjsonWriter(ctx.res)
  if (types.includes('pin') || types.includes('all')) {
    for (const p of ctx.kit.cluster.ls()) if (!(await out.send(restPin(p)))) return
  }
  out.end()
}

async function allocation(ctx: RequestContext, cid: string): Promise<void> {
  const p = ctx.kit.cluster.get(cid)
  if (p == null) throw new ClusterPinNotFoundError(`${parseCID(cid)} is not pinned in the cluster`)
  sendJson(ctx.res, restPin(p))
}

/** The `/api/v0/add` options of a cluster add (IPFS Cluster names them as Kubo, but for `layout` and `wrap`). */
function importParams(p: URLSearchParams): URLSearchParams {
  const kubo = new URLSearchParams({ pin: 'false' })
  for (const k of ['cid-version', 'raw-leaves', 'chunker', 'hash']) {
    const v = p.get(k)
    if (v != null && v !== '') kubo.set(k, v)
  }
  const layout = p.get('layout') ?? ''
  if (layout !== '' && layout !== 'balanced' && layout !== 'trickle') {
    throw new InvalidParametersError(`layout must be balanced or trickle, not "${layout.slice(0, 64)}"`)
  }
  if (layout === 'trickle') kubo.set('trickle', 'true')
  const wrap = flag(p, 'wrap-with-directory', false) || flag(p, 'wrap', false)
  kubo.set('wrap-with-directory', String(wrap))
  return kubo
}

interface Added {
  name: string
  cid: string
  size: number
}

/** Import UnixFS from the multipart body (not pinned locally); what was added and the roots. */
async function importUnixfs(ctx: RequestContext): Promise<{ added: Added[]; roots: string[] }> {
  const kubo = importParams(ctx.params)
  const wrap = kubo.get('wrap-with-directory') === 'true'
  const { options } = addParams(kubo)
  async function* candidates() {
    for await (const e of multipartEntries(ctx.req, ctx.maxBodyBytes)) {
      if (e.symlink != null) {
        throw new InvalidParametersError(`${e.path}: symlinks are not taken by the cluster's add`)
      }
      yield e.content == null ? { path: e.path } : { path: e.path, content: e.content }
    }
  }
  const added: Added[] = []
  const roots: string[] = []
  for await (const r of ctx.kit.ipfsAddAllStream(candidates(), { ...options, signal: ctx.signal })) {
    const cid = r.cid.toString()
    added.push({ name: r.Name === r.Hash ? cid : r.Name, cid, size: r.Size })
    if (!wrap && !r.Name.includes('/')) roots.push(cid)
  }
  const last = added.at(-1)
  if (wrap && last != null) roots.push(last.cid)
  return { added, roots }
}

/** Import CAR files from the multipart body (`format=car`, not pinned locally); their roots. */
async function importCar(ctx: RequestContext): Promise<{ added: Added[]; roots: string[] }> {
  const files: { name: string; head: Uint8Array[] }[] = []
  async function* cars() {
    for await (const e of multipartEntries(ctx.req, ctx.maxBodyBytes)) {
      if (e.content == null) continue
      const file = { name: e.path, head: [] as Uint8Array[] }
      files.push(file)
      const source = e.content
      // the header's roots are read back from the first bytes once the blocks are in
      let kept = 0
      async function* content() {
        for await (const chunk of source) {
          if (kept < CLUSTER_REST_MAX_CAR_HEADER_BYTES) {
            file.head.push(chunk)
            kept += chunk.byteLength
          }
          yield chunk
        }
      }
      yield { name: e.path, content: content() }
    }
  }
  const result = await ctx.kit.ipfsDagImport(cars(), { pinRoots: false, signal: ctx.signal })
  const added: Added[] = []
  const roots: string[] = []
  for (const file of files) {
    const header = await readHeader(bytesReader(new Uint8Array(Buffer.concat(file.head))))
    for (const root of header.roots) {
      const cid = root.toString()
      if (roots.includes(cid)) continue
      roots.push(cid)
      added.push({ name: file.name === '' ? cid : file.name, cid, size: result.Stats.BlockBytesCount })
    }
  }
  return { added, roots }
}

/**
 * `POST /add`: import the multipart files (UnixFS, or CAR files with `format=car`), then pin
 * the roots in the cluster with the pin options of the query (`name`, `replication-min`, …).
 * The entries come as NDJSON, or as one JSON array with `stream-channels=false`; the roots'
 * carry their `allocations`.
 */
async function add(ctx: RequestContext): Promise<void> {
  const p = ctx.params
  if (flag(p, 'shard', false)) {
    throw new InvalidParametersError('shard=true: sharded adds are not supported; add without sharding')
  }
  if (flag(p, 'no-copy', false))
    throw new InvalidParametersError('no-copy=true: the filestore is not supported')
  const format = p.get('format') || 'unixfs'
  if (format !== 'unixfs' && format !== 'car') {
    throw new InvalidParametersError(`format must be unixfs or car, not "${format.slice(0, 64)}"`)
  }
  const options = pinOptionsFrom(p)
  // every option is checked before a byte of the body is read
  pinFromOptions('', options, '')
  const stream = flag(p, 'stream-channels', true)
  const { added, roots } = format === 'car' ? await importCar(ctx) : await importUnixfs(ctx)
  if (roots.length === 0) throw new InvalidParametersError('nothing to add: send files as multipart parts')
  const pins = await ctx.kit.cluster.pinMany(roots, { ...options, signal: ctx.signal })
  const allocated = new Map(pins.map((x) => [x.cid, x.allocations]))
  const entries = added.map((a) => ({ ...a, allocations: allocated.get(a.cid) ?? [] }))
  if (!stream) return sendJson(ctx.res, entries)
  const out = new NdjsonWriter(ctx.res)
  for (const e of entries) if (!(await out.send(e))) return
  out.end()
}

type Route = (ctx: RequestContext, ...args: string[]) => Promise<void>

/** Fixed paths: method → handler. */
const FIXED: Readonly<Record<string, Readonly<Record<string, Route>>>> = {
  '/id': { GET: id },
  '/version': { GET: async (ctx) => sendJson(ctx.res, { version: VERSION }) },
  '/peers': { GET: peers },
  '/pins': { GET: statusAll },
  '/pins/recover': { POST: recoverAll },
  '/allocations': { GET: allocations },
  '/add': { POST: add },
  '/health/alerts': { GET: async (ctx) => sendJson(ctx.res, ctx.kit.cluster.alerts().map(restAlert)) },
  '/monitor/metrics': { GET: async (ctx) => sendJson(ctx.res, restMetricNames(ctx.kit.cluster.peers())) }
}

/** Paths with a CID (or an IPFS path) in them. */
const PATTERNS: readonly [RegExp, Readonly<Record<string, Route>>][] = [
  [
    /^\/pins\/(ipfs|ipns|ipld)\/(.+)$/,
    {
      POST: async (ctx, ns, rest) => pin(ctx, await resolvePinPath(ctx, ns as string, rest as string)),
      DELETE: async (ctx, ns, rest) => unpin(ctx, await resolvePinPath(ctx, ns as string, rest as string))
    }
  ],
  [/^\/pins\/([^/]+)\/recover$/, { POST: recover }],
  [/^\/pins\/([^/]+)$/, { GET: status, POST: pin, DELETE: unpin }],
  [/^\/allocations\/([^/]+)$/, { GET: allocation }],
  [
    /^\/monitor\/metrics\/([^/]+)$/,
    { GET: async (ctx, name) => sendJson(ctx.res, restMetrics(name as string, ctx.kit.cluster.peers())) }
  ]
]

/**
 * Answer one request under CLUSTER_REST_PREFIX (never throws: failures are answered as IPFS
 * Cluster does, `{code, message}`).
 */
export async function serveClusterRest(ctx: RequestContext): Promise<void> {
  try {
    const path = ctx.url.pathname
      .slice(CLUSTER_REST_PREFIX.length)
      .replace(/\/{2,}/g, '/')
      .replace(/\/$/, '')
    const method = ctx.req.method ?? 'GET'
    let methods = FIXED[path]
    let args: string[] = []
    if (methods == null || !Object.hasOwn(FIXED, path)) {
      methods = undefined
      for (const [re, m] of PATTERNS) {
        const found = re.exec(path)
        if (found == null) continue
        methods = m
        args = found.slice(1).map((a) => decodePathSegment(a))
        break
      }
    }
    if (methods == null) {
      throw new UnknownCommandError(
        `nothing at ${ctx.url.pathname}: IPFS Cluster's REST API is served under ${CLUSTER_REST_PREFIX}/ (id, peers, pins, allocations, add, health/alerts)`
      )
    }
    const handler = Object.hasOwn(methods, method) ? methods[method] : undefined
    if (handler == null) {
      ctx.res.setHeader('Allow', Object.keys(methods).join(', '))
      throw new MethodNotAllowedError(`${method} is not allowed on ${ctx.url.pathname}`)
    }
    if (path !== '/add') await discardBody(ctx.req)
    await handler(ctx, ...args)
  } catch (err) {
    if (ctx.res.headersSent) {
      if (!ctx.res.writableEnded) ctx.res.destroy()
      return
    }
    if (!ctx.req.readableEnded) ctx.res.setHeader('Connection', 'close')
    const code = restErrorStatus(err)
    sendJson(ctx.res, { code, message: err instanceof Error ? err.message : String(err) }, code)
  }
}
