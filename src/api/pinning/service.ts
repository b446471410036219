/**
 * The IPFS Pinning Service API (ipfs/pinning-services-api-spec 1.0) on a cluster member's HTTP
 * port, under PINNING_SERVICE_PREFIX, so Kubo's `ipfs pin remote` can use the cluster as a
 * pinning service. Each pin request becomes (or joins) a pin of `kit.cluster` and its status
 * is the cluster pin's, summed over the members that should hold it. Request ids live in the
 * repo's datastore ({@link PinRequests}): they outlive a restart, and are known to the member
 * that took them.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '@libp2p/interface'
import { parseCID } from '../../cids.ts'
import type { ClusterPeer, ClusterPinStatus } from '../../cluster/types.ts'
import {
  API_MAX_SMALL_BODY_BYTES,
  CLUSTER_MAX_METADATA_KEYS,
  PINNING_SERVICE_MAX_ADDRS,
  PINNING_SERVICE_MAX_REQUESTS,
  PINNING_SERVICE_ORIGIN_DIAL_TIMEOUT_MS,
  PINNING_SERVICE_PREFIX
} from '../../constants.ts'
import {
  isErrorNamed,
  MethodNotAllowedError,
  PinRequestLimitError,
  PinRequestNotFoundError,
  UnknownCommandError
} from '../../errors.ts'
import type { IPFSKit } from '../../kit/index.ts'
import { checkToken } from '../auth.ts'
import { boundedBody, discardBody, type RequestContext, sendJson } from '../http.ts'
import { decodePathSegment, nameMatches, parseListQuery, parsePinBody } from './query.ts'
import { PinRequests } from './requests.ts'
import type {
  FailureBody,
  PinningStatus,
  PinObject,
  PinRequest,
  PinResultsBody,
  PinStatusBody
} from './types.ts'

/** What {@link PinningService} needs. */
export interface PinningServiceComponents {
  kit: IPFSKit
  /** the bearer token every request must carry (the API's token) */
  token: () => Promise<string>
  logger?: Logger
}

/** A request's status, and what the `info` of its answer says. */
interface Summary {
  status: PinningStatus
  info: Record<string, string>
}

/** HTTP status and the spec's `reason` for an error (by its name). */
function failureOf(err: unknown): { status: number; reason: string } {
  const name = err instanceof Error ? err.name : ''
  switch (name) {
    case 'ApiUnauthorizedError':
      return { status: 401, reason: 'UNAUTHORIZED' }
    case 'InvalidCIDError':
    case 'InvalidParametersError':
    case 'InvalidMultiaddrError':
      return { status: 400, reason: 'BAD_REQUEST' }
    case 'PinRequestNotFoundError':
    case 'UnknownCommandError':
      return { status: 404, reason: 'NOT_FOUND' }
    case 'MethodNotAllowedError':
      return { status: 405, reason: 'METHOD_NOT_ALLOWED' }
    case 'PayloadTooLargeError':
      return { status: 413, reason: 'PAYLOAD_TOO_LARGE' }
    case 'PinRequestLimitError':
      return { status: 429, reason: 'TOO_MANY_PIN_REQUESTS' }
    case 'ClusterAccessDeniedError':
      return { status: 403, reason: 'FORBIDDEN' }
    case 'ClusterNotRunningError':
      return { status: 503, reason: 'CLUSTER_NOT_RUNNING' }
    default:
      return { status: 500, reason: 'INTERNAL_SERVER_ERROR' }
  }
}

/** Answer with the spec's `Failure` object. */
function sendFailure(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy()
    return
  }
  const { status, reason } = failureOf(err)
  const body: FailureBody = { error: { reason, details: err instanceof Error ? err.message : String(err) } }
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="ipfs-kit pinning service"')
  sendJson(res, body, status)
}

async function readText(req: IncomingMessage): Promise<string> {
  const parts: Uint8Array[] = []
  for await (const chunk of boundedBody(req, API_MAX_SMALL_BODY_BYTES)) parts.push(chunk)
  return Buffer.concat(parts).toString('utf8')
}

/** A multiaddr that names its peer (the spec: delegates end with `/p2p/<id>`). */
function withPeer(addr: string, peer: string): string {
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${peer}`
}

/**
 * The Pinning Service API: `GET|POST /pins`, `GET|POST|DELETE /pins/{requestid}`, with a
 * bearer token on every request and errors in the spec's `{error: {reason, details}}`.
 *
 * @example
 * ```ts
 * const service = new PinningService({ kit, token: async () => 'secret' })
 * // in an HTTP handler, for paths under /pinning:
 * await service.serve(ctx)
 * ```
 */
export class PinningService {
  readonly #kit: IPFSKit
  readonly #tokenOf: () => Promise<string>
  readonly #log?: Logger
  readonly #requests: PinRequests
  #token?: string
  /** writes one at a time: a check of the CID's requests and the pin that follows go together */
  #queue: Promise<unknown> = Promise.resolve()

  constructor(components: PinningServiceComponents) {
    this.#kit = components.kit
    this.#tokenOf = components.token
    this.#log = components.logger
    this.#requests = new PinRequests(components.kit.repo.datastore)
  }

  /** Answer one request under PINNING_SERVICE_PREFIX (never throws: failures are answered). */
  async serve(ctx: RequestContext): Promise<void> {
    try {
      this.#token ??= await this.#tokenOf()
      checkToken(ctx.req, ctx.url, this.#token)
      const path = ctx.url.pathname
        .slice(PINNING_SERVICE_PREFIX.length)
        .replace(/\/{2,}/g, '/')
        .replace(/\/$/, '')
      const method = ctx.req.method ?? 'GET'
      if (path === '/pins') {
        if (method === 'GET') return await this.#list(ctx)
        if (method === 'POST') return await this.#add(ctx)
        this.#notAllowed(ctx, method, 'GET, POST')
      }
      const m = /^\/pins\/([^/]+)$/.exec(path)
      if (m != null) {
        const id = decodePathSegment(m[1] as string)
        if (method === 'GET') return await this.#get(ctx, id)
        if (method === 'POST') return await this.#replace(ctx, id)
        if (method === 'DELETE') return await this.#delete(ctx, id)
        this.#notAllowed(ctx, method, 'GET, POST, DELETE')
      }
      throw new UnknownCommandError(
        `nothing at ${ctx.url.pathname}: the Pinning Service API serves ${PINNING_SERVICE_PREFIX}/pins and ${PINNING_SERVICE_PREFIX}/pins/{requestid}`
      )
    } catch (err) {
      if (!ctx.res.headersSent && !ctx.req.readableEnded) ctx.res.setHeader('Connection', 'close')
      this.#log?.(
        'pinning service: %s %s failed: %s',
        ctx.req.method,
        ctx.url.pathname,
        (err as Error).message
      )
      sendFailure(ctx.res, err)
    }
  }

  #notAllowed(ctx: RequestContext, method: string, allow: string): never {
    ctx.res.setHeader('Allow', allow)
    throw new MethodNotAllowedError(`${method} is not allowed on ${ctx.url.pathname}: use ${allow}`)
  }

  /** Run a write after the ones before it. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn)
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #list(ctx: RequestContext): Promise<void> {
    await discardBody(ctx.req)
    const q = parseListQuery(ctx.params)
    await this.#requests.load({ signal: ctx.signal })
    const matched: PinRequest[] = []
    for (const r of this.#requests.newestFirst(q.before, q.after)) {
      if (q.cids != null && !q.cids.has(r.key)) continue
      if (q.name != null && !nameMatches(r.pin.name, q.name, q.match)) continue
      if (q.meta != null && !Object.entries(q.meta).every(([k, v]) => r.pin.meta?.[k] === v)) continue
      matched.push(r)
    }
    let body: PinResultsBody
    if (q.statuses.size === 4) {
      // every status: only the page needs one
      const page = matched.slice(0, q.limit)
      body = { count: matched.length, results: await this.#render(page, ctx.signal) }
    } else {
      const summaries = await this.#summaries(matched, ctx.signal)
      const kept = matched.filter((r) => q.statuses.has((summaries.get(r.key) as Summary).status))
      const page = kept.slice(0, q.limit)
      body = { count: kept.length, results: await this.#render(page, ctx.signal, summaries) }
    }
    sendJson(ctx.res, body)
  }

  async #get(ctx: RequestContext, id: string): Promise<void> {
    await discardBody(ctx.req)
    await this.#requests.load({ signal: ctx.signal })
    const [status] = await this.#render([this.#request(id)], ctx.signal)
    sendJson(ctx.res, status)
  }

  async #add(ctx: RequestContext): Promise<void> {
    const pin = parsePinBody(await readText(ctx.req))
    await this.#requests.load({ signal: ctx.signal })
    const r = await this.#serial(() => this.#create(pin, ctx.signal))
    this.#dialOrigins(pin.origins ?? [])
    const [status] = await this.#render([r], ctx.signal)
    sendJson(ctx.res, status, 202)
  }

  /** Replace: the new request is pinned first, then the old one goes (blocks both share stay). */
  async #replace(ctx: RequestContext, id: string): Promise<void> {
    const pin = parsePinBody(await readText(ctx.req))
    await this.#requests.load({ signal: ctx.signal })
    this.#request(id)
    const r = await this.#serial(async () => {
      const old = this.#request(id)
      const made = await this.#create(pin, ctx.signal)
      await this.#remove(old, ctx.signal)
      return made
    })
    this.#dialOrigins(pin.origins ?? [])
    const [status] = await this.#render([r], ctx.signal)
    sendJson(ctx.res, status, 202)
  }

  async #delete(ctx: RequestContext, id: string): Promise<void> {
    await discardBody(ctx.req)
    await this.#requests.load({ signal: ctx.signal })
    this.#request(id)
    await this.#serial(async () => this.#remove(this.#request(id), ctx.signal))
    ctx.res.writeHead(202, { 'Content-Length': 0 })
    ctx.res.end()
  }

  #request(id: string): PinRequest {
    const r = this.#requests.get(id)
    if (r == null) throw new PinRequestNotFoundError(`no pin request ${id.slice(0, 128)} on this service`)
    return r
  }

  /**
   * Keep a request, pinning its CID in the cluster unless the cluster pins it already (then the
   * cluster pin, and its replication factors, stay as they are).
   */
  async #create(pin: PinObject, signal: AbortSignal): Promise<PinRequest> {
    if (this.#requests.size >= PINNING_SERVICE_MAX_REQUESTS) {
      throw new PinRequestLimitError(
        `this service holds ${PINNING_SERVICE_MAX_REQUESTS} pin requests, its most: remove some first`
      )
    }
    const key = parseCID(pin.cid).toString()
    const cluster = this.#kit.cluster
    let adopted: boolean
    if (cluster.get(key) == null) {
      adopted = false
      const meta = pin.meta ?? {}
      await cluster.pin(key, {
        name: pin.name,
        // the request keeps all of it; the cluster pin takes what fits its own bound
        metadata: Object.keys(meta).length <= CLUSTER_MAX_METADATA_KEYS ? meta : undefined,
        signal
      })
    } else {
      adopted = this.#requests.ofKey(key)[0]?.adopted ?? true
    }
    return this.#requests.add(pin, key, adopted, { signal })
  }

  /** Forget a request; the last request of a CID the service pinned unpins it from the cluster. */
  async #remove(r: PinRequest, signal: AbortSignal): Promise<void> {
    const others = this.#requests.ofKey(r.key).filter((o) => o.requestid !== r.requestid)
    if (others.length === 0 && !r.adopted) {
      try {
        await this.#kit.cluster.unpin(r.key, { signal })
      } catch (err) {
        if (!isErrorNamed(err, 'ClusterPinNotFoundError')) throw err
      }
    }
    await this.#requests.remove(r, { signal })
  }

  /** Dial the origins a client gave, best effort (a failure does not fail the pin). */
  #dialOrigins(origins: string[]): void {
    const peer = this.#kit.peer
    for (const origin of origins) {
      const signal = AbortSignal.any([
        AbortSignal.timeout(PINNING_SERVICE_ORIGIN_DIAL_TIMEOUT_MS),
        peer.stopSignal
      ])
      void peer.connect(origin, { signal }).catch((err: unknown) => {
        this.#log?.('pinning service: origin %s not reached: %s', origin, (err as Error).message)
      })
    }
  }

  /** The status of each request's CID, from the cluster (every member asked once). */
  async #summaries(requests: PinRequest[], signal: AbortSignal): Promise<Map<string, Summary>> {
    const cluster = this.#kit.cluster
    const out = new Map<string, Summary>()
    const pins = []
    for (const key of new Set(requests.map((r) => r.key))) {
      const pin = cluster.get(key)
      if (pin != null) pins.push(pin)
      else {
        out.set(key, {
          status: 'failed',
          info: { status_details: 'the cluster no longer pins this CID (it was unpinned there)' }
        })
      }
    }
    const statuses = pins.length === 0 ? [] : await cluster.statusAll({ pins, signal })
    for (const s of statuses) out.set(s.cid, { status: s.summary, info: statusInfo(s) })
    return out
  }

  /** Multiaddrs (with `/p2p/`) of the members that will hold a CID; ours when none is known. */
  #delegates(key: string, peers: readonly ClusterPeer[]): string[] {
    const pin = this.#kit.cluster.get(key)
    const holders = peers.filter((p) =>
      pin == null || pin.replicationFactorMax === -1
        ? p.role !== 'leecher' && p.state === 'alive'
        : pin.allocations.includes(p.id)
    )
    const out = new Set<string>()
    for (const p of holders.length === 0 ? peers.filter((p) => p.self) : holders) {
      for (const a of p.addresses) {
        if (out.size < PINNING_SERVICE_MAX_ADDRS) out.add(withPeer(a, p.id))
      }
    }
    return [...out]
  }

  async #render(
    requests: PinRequest[],
    signal: AbortSignal,
    known?: Map<string, Summary>
  ): Promise<PinStatusBody[]> {
    const summaries = known ?? (await this.#summaries(requests, signal))
    const peers = requests.length === 0 ? [] : this.#kit.cluster.peers()
    return requests.map((r) => {
      const s = summaries.get(r.key) as Summary
      return {
        requestid: r.requestid,
        status: s.status,
        created: new Date(r.created).toISOString(),
        pin: r.pin,
        delegates: this.#delegates(r.key, peers),
        info: s.info
      }
    })
  }
}

/** `info` of a cluster pin's status: how many holders pinned it, and why the failed ones failed. */
function statusInfo(s: ClusterPinStatus): Record<string, string> {
  const holders = Object.values(s.peerMap).filter((p) => p.status !== 'remote')
  const pinned = holders.filter((p) => p.status === 'pinned').length
  const info: Record<string, string> = {
    status_details: `pinned on ${pinned} of ${holders.length} member(s) that should hold it`
  }
  const errors = holders.filter((p) => p.status === 'error' && p.error != null)
  if (errors.length > 0) info.errors = errors.map((p) => `${p.peer}: ${p.error}`).join('; ')
  return info
}
