/**
 * Request and response helpers of the HTTP API: arguments in Kubo's style, bounded
 * bodies, JSON and NDJSON responses, and errors in Kubo's shape.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { API_MAX_SMALL_BODY_BYTES } from '../constants.ts'
import { InvalidParametersError, PayloadTooLargeError } from '../errors.ts'
import type { IPFSKit } from '../kit/index.ts'
import type { ActivityLog } from './activity.ts'
import { drained } from './drained.ts'
import type { ApiMetrics } from './metrics.ts'

/** Everything a handler gets for one request. */
export interface RequestContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly url: URL
  /** the query string (Kubo passes every argument and option there) */
  readonly params: URLSearchParams
  readonly kit: IPFSKit
  /** aborts when the client goes away or the server stops */
  readonly signal: AbortSignal
  readonly activity: ActivityLog
  readonly metrics: ApiMetrics
  /** largest `add` body, bytes */
  readonly maxBodyBytes: number
}

/** A command or route handler. */
export type Handler = (ctx: RequestContext) => Promise<void>

/**
 * An `/api/v0` command: its handler, or its handler and the body it reads (a byte limit, or
 * `'add'` for the server's `maxBodyBytes`). A command without `maxBody` reads no body.
 */
export type CommandSpec = Handler | { handler: Handler; maxBody: number | 'add' }

/** Kubo's error codes (go-ipfs-cmds): 0 a normal error, 1 a client error. */
export const KUBO_ERROR_NORMAL = 0
/** Kubo's client error code: bad argument or option. */
export const KUBO_ERROR_CLIENT = 1

/** Kubo's JSON error body, plus our error's `Name` so our client can rebuild the typed error. */
export interface KuboErrorBody {
  Message: string
  Code: number
  Type: 'error'
  Name?: string
}

const CLIENT_ERRORS = new Set([
  'InvalidCIDError',
  'InvalidParametersError',
  'InvalidMultiaddrError',
  'NotAFileError',
  'UnsupportedHasherError',
  'BlockVerificationError',
  'ConfigKeyError',
  'InvalidConfigError',
  'InvalidCarError'
])

/** HTTP status and body for an error, as Kubo answers: 400 for bad arguments, 500 for the rest. */
export function errorResponse(err: unknown): { status: number; body: KuboErrorBody } {
  const e = err instanceof Error ? err : new Error(String(err))
  const name = e.name
  const status =
    name === 'ApiUnauthorizedError'
      ? 401
      : name === 'ApiForbiddenError'
        ? 403
        : name === 'UnknownCommandError'
          ? 404
          : name === 'MethodNotAllowedError'
            ? 405
            : name === 'PayloadTooLargeError'
              ? 413
              : CLIENT_ERRORS.has(name)
                ? 400
                : 500
  const code = status >= 400 && status < 500 ? KUBO_ERROR_CLIENT : KUBO_ERROR_NORMAL
  return { status, body: { Message: e.message, Code: code, Type: 'error', Name: name } }
}

/**
 * Answer with an error in Kubo's shape. A response already streaming is cut off (the
 * connection is destroyed) rather than ended cleanly: clients that do not read Kubo's
 * `X-Stream-Error` trailer must not take a truncated stream for a whole one.
 */
export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = errorResponse(err)
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy(err instanceof Error ? err : new Error(body.Message))
    return
  }
  const text = JSON.stringify(body)
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(text))
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="ipfs-kit"')
  if (status === 413) res.setHeader('Connection', 'close')
  res.end(text)
}

/** Answer with one JSON value. */
export function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  const text = JSON.stringify(value)
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(text))
  res.end(text)
}

/**
 * Write to a response, waiting while its buffer is full (until `drain`, or `close` if the
 * client goes away); false if the client went away. Nothing is left listening afterwards, so
 * a long stream (a pubsub subscription) does not gather one listener per wait.
 */
export async function write(res: ServerResponse, chunk: string | Uint8Array): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false
  if (!res.write(chunk)) await drained(res)
  return !res.destroyed
}

/** A streaming NDJSON response (Kubo's `X-Chunked-Output`), headers sent at once. */
export class NdjsonWriter {
  readonly #res: ServerResponse

  constructor(res: ServerResponse) {
    this.#res = res
    res.statusCode = 200
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.setHeader('X-Chunked-Output', '1')
    res.flushHeaders()
  }

  /** Write one value as a line; false if the client went away. */
  async send(value: unknown): Promise<boolean> {
    return write(this.#res, `${JSON.stringify(value)}\n`)
  }

  end(): void {
    if (!this.#res.writableEnded) this.#res.end()
  }
}

/** The required positional argument(s) `arg` (Kubo's `?arg=`), at least one. */
export function args(params: URLSearchParams, what: string): string[] {
  const all = params.getAll('arg')
  if (all.length === 0 || all.some((a) => a === '')) {
    throw new InvalidParametersError(`argument "${what}" is required`)
  }
  return all
}

/** The one required positional argument. */
export function arg(params: URLSearchParams, what: string): string {
  return args(params, what)[0] as string
}

/** A boolean option: absent → `fallback`; `?x`, `?x=true`, `?x=1` → true; `?x=false`, `?x=0` → false. */
export function flag(params: URLSearchParams, name: string, fallback: boolean): boolean {
  const v = params.get(name)
  if (v == null) return fallback
  const t = v.toLowerCase()
  if (t === '' || t === 'true' || t === '1') return true
  if (t === 'false' || t === '0') return false
  throw new InvalidParametersError(`option "${name}" must be true or false, not "${v}"`)
}

/** Plain decimal digits, as Kubo's options parse (`strconv.ParseUint(s, 10, 64)`): no sign, exponent, hex, point or space. */
const DECIMAL_DIGITS = /^[0-9]+$/

/**
 * A whole-number option, 0 or more, or undefined when absent (or empty). Only plain decimal
 * digits are taken, as Kubo's strconv parsing does: `1e3`, `0x10`, ` 5`, `5.0`, `+5` and `-1`
 * are refused, and so is a value past `Number.MAX_SAFE_INTEGER` (it would not be exact).
 * @throws {InvalidParametersError} naming the option
 */
export function uint(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name)
  if (v == null || v === '') return undefined
  if (!DECIMAL_DIGITS.test(v)) {
    throw new InvalidParametersError(
      `option "${name}" must be a whole number in decimal digits, 0 or more, not "${v.slice(0, 64)}"`
    )
  }
  const n = Number(v)
  if (!Number.isSafeInteger(n)) {
    throw new InvalidParametersError(
      `option "${name}" is too large: ${v.slice(0, 64)} is over ${Number.MAX_SAFE_INTEGER}`
    )
  }
  return n
}

const DURATION = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000
}

/**
 * Node's longest timer, ms (about 24.8 days): a longer delay fires after 1 ms (and
 * `AbortSignal.timeout` throws past 2^32), so longer durations are cut to it.
 */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * A Go duration option (`500ms`, `10s`, `1m`), in ms (at least 1, at most about 24.8 days:
 * Node's longest timer), or undefined when absent.
 * @throws {InvalidParametersError} naming the option
 */
export function durationOption(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name)
  if (v == null || v === '') return undefined
  const m = DURATION.exec(v)
  if (m == null)
    throw new InvalidParametersError(
      `option "${name}" must be a duration such as 10s, not "${v.slice(0, 64)}"`
    )
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1)
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.round(ms)))
}

/** Kubo's global `timeout` option (a Go duration: `500ms`, `10s`, `1m`), in ms, or undefined. */
export function timeoutOption(params: URLSearchParams): number | undefined {
  return durationOption(params, 'timeout')
}

/** The request's signal combined with Kubo's `timeout` option, if given. */
export function requestSignal(ctx: RequestContext): AbortSignal {
  const ms = timeoutOption(ctx.params)
  return ms == null ? ctx.signal : AbortSignal.any([ctx.signal, AbortSignal.timeout(ms)])
}

/**
 * The request body, at most `limit` bytes: a declared `Content-Length` over it fails at
 * once, a body that grows past it fails as soon as it does ({@link PayloadTooLargeError}).
 */
export async function* boundedBody(req: IncomingMessage, limit: number): AsyncGenerator<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN)
  if (Number.isFinite(declared) && declared > limit) {
    throw new PayloadTooLargeError(`request body of ${declared} bytes is over the ${limit} byte limit`)
  }
  let seen = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    seen += chunk.byteLength
    if (seen > limit) {
      throw new PayloadTooLargeError(`request body is over the ${limit} byte limit`)
    }
    yield chunk
  }
}

/** Read and drop a body that the endpoint does not use, within the small-body limit. */
export async function discardBody(req: IncomingMessage, limit = API_MAX_SMALL_BODY_BYTES): Promise<void> {
  if (req.readableEnded) return
  for await (const _ of boundedBody(req, limit)) {
    // dropped
  }
}

/** What {@link sendStream} reports to (a retrieval tracker). */
export interface StreamTracker {
  addBytes(n: number): void
  finish(err?: unknown): void
}

/**
 * Send a stream of bytes. The first chunk is read before the status line, so a failure
 * before any byte (not found, bad path) is a proper error response; a failure later
 * cuts the connection (see {@link sendError}). With `headOnly`, only headers go.
 */
export async function sendStream(
  res: ServerResponse,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  headers: Record<string, string | number>,
  options: { tracker?: StreamTracker; status?: number; headOnly?: boolean } = {}
): Promise<void> {
  const { tracker } = options
  const it = (async function* () {
    yield* source
  })()
  let next: IteratorResult<Uint8Array>
  try {
    next = options.headOnly === true ? { done: true, value: undefined } : await it.next()
  } catch (err) {
    tracker?.finish(err)
    throw err
  }
  res.writeHead(options.status ?? 200, headers)
  if (options.headOnly === true) {
    await it.return?.()
    res.end()
    tracker?.finish()
    return
  }
  try {
    while (next.done !== true) {
      tracker?.addBytes(next.value.byteLength)
      if (!(await write(res, next.value))) {
        await it.return?.()
        tracker?.finish(new Error('the client went away'))
        return
      }
      next = await it.next()
    }
    res.end()
    tracker?.finish()
  } catch (err) {
    tracker?.finish(err)
    sendError(res, err)
  }
}
