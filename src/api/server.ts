import { randomBytes } from 'node:crypto'
import { readFile, unlink, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import type { Logger } from '@libp2p/interface'
import type { TieredCache } from '../cache/index.ts'
import {
  API_ADDR_FILE,
  API_HEADERS_TIMEOUT_MS,
  API_MAX_BLOCK_BODY_BYTES,
  API_MAX_HEADERS_COUNT,
  API_MAX_PUBSUB_BODY_BYTES,
  API_MAX_SMALL_BODY_BYTES,
  API_REQUEST_TIMEOUT_MS,
  CLUSTER_REST_PREFIX,
  DASHBOARD_POLL_INTERVAL_MS,
  DEFAULT_API_MAX_BODY_BYTES,
  DEFAULT_API_MAX_HEADER_BYTES,
  PINNING_SERVICE_PREFIX
} from '../constants.ts'
import {
  InvalidMultiaddrError,
  MethodNotAllowedError,
  NotStartedError,
  PayloadTooLargeError,
  UnknownCommandError
} from '../errors.ts'
import type { IPFSKit } from '../kit/index.ts'
import { ActivityLog } from './activity.ts'
import { parseListenAddr } from './address.ts'
import { checkOrigin, checkToken, isLoopback, isUnspecified, repoToken } from './auth.ts'
import { serveClusterRest } from './cluster-rest.ts'
import { dashboardCsp, dashboardPage } from './dashboard/page.ts'
import { serveGateway } from './gateway.ts'
import { type CommandSpec, discardBody, type RequestContext, sendError } from './http.ts'
import type { ApiAddresses, ApiServerComponents, ApiServerInit } from './index.ts'
import { ApiMetrics } from './metrics.ts'
import { PinningService } from './pinning/service.ts'
import { ROUTING_V1_PREFIX, serveRoutingV1 } from './routing-v1.ts'
import { blockCommands } from './rpc/blocks.ts'
import { clusterCommands } from './rpc/cluster.ts'
import { contentCommands } from './rpc/content.ts'
import { dagCommands } from './rpc/dag.ts'
import { filesCommands } from './rpc/files.ts'
import { keyCommands } from './rpc/keys.ts'
import { kitCommands } from './rpc/kit.ts'
import { nameCommands } from './rpc/names.ts'
import { networkCommands } from './rpc/network.ts'
import { opsCommands } from './rpc/ops.ts'
import { pubsubCommands } from './rpc/pubsub.ts'

/** Every `/api/v0/<command>`. */
const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  ...contentCommands,
  ...blockCommands,
  ...networkCommands,
  ...pubsubCommands,
  ...kitCommands,
  ...filesCommands,
  ...opsCommands,
  ...keyCommands,
  ...nameCommands,
  ...clusterCommands,
  ...dagCommands
}

/** Commands that read a body, and how much of one. */
const BODY_LIMITS: Readonly<Record<string, number | 'add'>> = {
  add: 'add',
  'block/put': API_MAX_BLOCK_BODY_BYTES,
  'pubsub/pub': API_MAX_PUBSUB_BODY_BYTES
}

/**
 * The daemon's HTTP server: Kubo's RPC API (`/api/v0`, POST), our `kit/*` commands, the
 * trustless gateway (`/ipfs/`), IPFS HTTP Routing v1 (`/routing/v1`, public, read-only), Prometheus `/metrics`, the dashboard (`/`), and on a
 * cluster member the IPFS Pinning Service API (`/pinning/pins`, always with the token) and
 * IPFS Cluster's REST API (`/cluster/`), on one port.
 * Loopback by default; a bearer token is required on any other address; CORS is off unless
 * origins are listed; bodies and headers are bounded; nothing reads or writes
 * files outside the repo (`get` streams a tar).
 *
 * @example
 * ```ts
 * const api = new ApiServer({ kit }, { listen: '/ip4/127.0.0.1/tcp/0' })
 * const { url, dashboard } = await api.start()
 * // kubo-rpc-client: create({ url: `${url}/api/v0` })
 * await api.stop()
 * ```
 */
export class ApiServer {
  readonly kit: IPFSKit
  readonly activity: ActivityLog
  readonly metrics: ApiMetrics
  readonly #init: ApiServerInit
  readonly #log?: Logger
  readonly #sockets = new Set<Socket>()
  #server?: Server
  #addresses?: ApiAddresses
  #token?: string
  #loopbackOnly = true
  #cache?: TieredCache
  #stop = new AbortController()
  #starting?: Promise<ApiAddresses>
  #apiFile?: { path: string; text: string }
  #pinning?: PinningService

  constructor(components: ApiServerComponents, init: ApiServerInit = {}) {
    this.kit = components.kit
    this.#init = init
    this.#log = components.logger?.forComponent('kit:api')
    this.metrics = new ApiMetrics(this.kit, () => this.#cache)
    this.activity = new ActivityLog(this.kit, { onRetrieval: (r) => this.metrics.retrieval(r) })
  }

  /** Where it listens (after {@link start}). */
  get addresses(): ApiAddresses {
    if (this.#addresses == null) throw new NotStartedError('the API server is not started')
    return this.#addresses
  }

  /** Listen. Safe to call twice. */
  async start(): Promise<ApiAddresses> {
    this.#starting ??= this.#start().catch((err: unknown) => {
      this.#starting = undefined
      throw err
    })
    return this.#starting
  }

  async #start(): Promise<ApiAddresses> {
    const listen = this.#init.listen ?? this.kit.repo.config.Addresses.API
    const { host, port, family } = parseListenAddr(listen)
    this.#loopbackOnly = isLoopback(host)
    const tokenRequired = this.#init.requireToken === true || !this.#loopbackOnly
    if (tokenRequired || this.#init.token != null)
      this.#token = this.#init.token ?? (await repoToken(this.kit.repo.path))
    this.#cache = await this.kit.getCache()
    this.#stop = new AbortController()
    const server = createServer({
      maxHeaderSize: this.#init.maxHeaderBytes ?? DEFAULT_API_MAX_HEADER_BYTES,
      requestTimeout: API_REQUEST_TIMEOUT_MS,
      headersTimeout: API_HEADERS_TIMEOUT_MS
    })
    server.maxHeadersCount = API_MAX_HEADERS_COUNT
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void this.#handle(req, res)
    })
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => this.#sockets.delete(socket))
    })
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (socket.writable) {
        const status =
          err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      } else socket.destroy()
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port }, () => {
        server.off('error', reject)
        resolve()
      })
    }).catch((err: NodeJS.ErrnoException) => {
      throw new InvalidMultiaddrError(
        err.code === 'EADDRINUSE'
          ? `cannot listen on ${listen}: the port is in use (another daemon, or Kubo?); set Addresses.API in the repo's config or pass --api`
          : `cannot listen on ${listen}: ${err.message}`,
        { cause: err }
      )
    })
    this.#server = server
    const bound = server.address()
    const boundPort = typeof bound === 'object' && bound != null ? bound.port : port
    const proto = family === 4 ? 'ip4' : 'ip6'
    // what a client on this machine dials: loopback for a wildcard listener
    const dialHost = isUnspecified(host) ? (family === 4 ? '127.0.0.1' : '::1') : host
    const urlHost = family === 6 ? `[${dialHost}]` : dialHost
    const url = `http://${urlHost}:${boundPort}`
    this.#addresses = {
      multiaddr: `/${proto}/${host}/tcp/${boundPort}`,
      url,
      dashboard: `${url}/`,
      tokenRequired
    }
    await this.activity.start()
    if (this.#init.writeApiFile === true) {
      const text = `/${proto}/${dialHost}/tcp/${boundPort}`
      const path = join(this.kit.repo.path, API_ADDR_FILE)
      await writeFile(path, text)
      this.#apiFile = { path, text }
    }
    this.#log?.('listening on %s', this.#addresses.multiaddr)
    return this.#addresses
  }

  /** Stop listening, end every open request (pubsub subscriptions too). Safe to call twice. */
  async stop(): Promise<void> {
    const starting = this.#starting
    if (starting == null) return
    this.#starting = undefined
    await starting.catch(() => undefined)
    this.#stop.abort()
    this.activity.stop()
    const server = this.#server
    this.#server = undefined
    if (server != null) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      for (const socket of this.#sockets) socket.destroy()
      await closed
    }
    const file = this.#apiFile
    this.#apiFile = undefined
    if (file != null && (await readFile(file.path, 'utf8').catch(() => '')) === file.text) {
      await unlink(file.path).catch(() => undefined)
    }
    this.#addresses = undefined
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    let route = 'other'
    res.once('finish', () =>
      this.metrics.request(route, res.statusCode, (performance.now() - started) / 1000)
    )
    const closed = new AbortController()
    res.once('close', () => closed.abort())
    const signal = AbortSignal.any([closed.signal, this.#stop.signal])
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      // IPFS HTTP Routing v1 (as Kubo serves it on its gateway port): read-only public routing
      // data, so any origin and no token, as the spec asks of a router browsers use
      if (url.pathname === ROUTING_V1_PREFIX || url.pathname.startsWith(`${ROUTING_V1_PREFIX}/`)) {
        route = 'routing-v1'
        await discardBody(req)
        return await serveRoutingV1(this.#context(req, res, url, signal))
      }
      checkOrigin(req, this.#init.corsOrigins ?? [], this.#loopbackOnly)
      this.#cors(req, res)
      if (req.method === 'OPTIONS') {
        res.writeHead(204)
        res.end()
        return
      }
      const ctx = this.#context(req, res, url, signal)
      const path = url.pathname
      // the Pinning Service API requires its bearer token everywhere, and answers in its own shape
      if (path === PINNING_SERVICE_PREFIX || path.startsWith(`${PINNING_SERVICE_PREFIX}/`)) {
        route = 'pinning'
        this.#pinning ??= new PinningService({
          kit: this.kit,
          token: () => this.#serviceToken(),
          logger: this.#log
        })
        return await this.#pinning.serve(ctx)
      }
      if (this.#addresses?.tokenRequired === true && this.#token != null) checkToken(req, url, this.#token)
      if (path === CLUSTER_REST_PREFIX || path.startsWith(`${CLUSTER_REST_PREFIX}/`)) {
        route = 'cluster-rest'
        return await serveClusterRest(ctx)
      }
      if (path.startsWith('/api/v0/')) {
        const command = path.slice('/api/v0/'.length).replace(/\/+$/, '')
        // own properties only: `/api/v0/constructor` must not find Object's
        const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
        if (spec == null)
          throw new UnknownCommandError(`unknown command "${command}" (see /api/v0 in the README)`)
        route = command
        if (req.method !== 'POST') {
          throw new MethodNotAllowedError(`${req.method} is not allowed: the RPC API takes POST (as Kubo)`)
        }
        const handler = typeof spec === 'function' ? spec : spec.handler
        const limit = typeof spec === 'function' ? BODY_LIMITS[command] : spec.maxBody
        const max = limit === 'add' ? ctx.maxBodyBytes : (limit ?? API_MAX_SMALL_BODY_BYTES)
        const declared = Number(req.headers['content-length'] ?? Number.NaN)
        if (Number.isFinite(declared) && declared > max) {
          throw new PayloadTooLargeError(
            `request body of ${declared} bytes is over the ${max} byte limit of ${command}`
          )
        }
        if (limit == null) await discardBody(req, max)
        await handler(ctx)
        return
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new MethodNotAllowedError(`${req.method} is not allowed here: use GET`)
      }
      await discardBody(req)
      if (path.startsWith('/ipfs/') || path.startsWith('/ipns/')) {
        route = 'gateway'
        await serveGateway(ctx)
      } else if (path === '/metrics') {
        route = 'metrics'
        const text = await this.metrics.text()
        res.writeHead(200, { 'Content-Type': this.metrics.contentType, 'Cache-Control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : text)
      } else if (path === '/' || path === '/dashboard') {
        route = 'dashboard'
        this.#dashboard(req, res)
      } else {
        throw new UnknownCommandError(
          `nothing at ${path}: try / (dashboard), /ipfs/<cid>, /ipns/<name>, /routing/v1/, /metrics, /api/v0/<command>, /pinning/pins or /cluster/`
        )
      }
    } catch (err) {
      if (!res.headersSent && !req.readableEnded) res.setHeader('Connection', 'close')
      this.#log?.('%s %s failed: %s', req.method, req.url, (err as Error).message)
      sendError(res, err)
    }
  }

  #context(req: IncomingMessage, res: ServerResponse, url: URL, signal: AbortSignal): RequestContext {
    return {
      req,
      res,
      url,
      params: url.searchParams,
      kit: this.kit,
      signal,
      activity: this.activity,
      metrics: this.metrics,
      maxBodyBytes: this.#init.maxBodyBytes ?? DEFAULT_API_MAX_BODY_BYTES
    }
  }

  /** The API's token, read (or made) once: the Pinning Service API needs one on loopback too. */
  async #serviceToken(): Promise<string> {
    this.#token ??= this.#init.token ?? (await repoToken(this.kit.repo.path))
    return this.#token
  }

  #cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin
    if (origin == null || !(this.#init.corsOrigins ?? []).includes(origin)) return
    res.setHeader('Access-Control-Allow-Origin', origin)
    res.setHeader('Vary', 'Origin')
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, DELETE, OPTIONS')
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Range')
    res.setHeader(
      'Access-Control-Expose-Headers',
      'X-Stream-Output, X-Chunked-Output, X-Stream-Error, Content-Range'
    )
  }

  #dashboard(req: IncomingMessage, res: ServerResponse): void {
    const nonce = randomBytes(16).toString('base64')
    const html = dashboardPage(nonce, DASHBOARD_POLL_INTERVAL_MS)
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(html),
      'Content-Security-Policy': dashboardCsp(nonce),
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store'
    })
    res.end(req.method === 'HEAD' ? undefined : html)
  }
}
