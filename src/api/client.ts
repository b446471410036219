/**
 * A typed client of the daemon's HTTP API with the kit's method names, so the CLI
 * works the same against a running daemon as on a repo of its own.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { AbortOptions } from '@libp2p/interface'
import { base64url } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import type { CIDOrPath } from '../cids.ts'
import { API_ADDR_FILE, API_TOKEN_FILE } from '../constants.ts'
import * as errors from '../errors.ts'
import { DaemonUnreachableError, InvalidArchiveError, InvalidParametersError } from '../errors.ts'
import type { PathSourceOptions } from '../kit/add.ts'
import { pathCandidates } from '../kit/add.ts'
import type {
  AddOptions,
  AddResult,
  CatOptions,
  IdResult,
  LsEntry,
  PinEntry,
  PinVerifyResult,
  PubsubHandler,
  PubsubMessage,
  RepoStat,
  RepoVerifyProgress,
  SwarmPeer
} from '../kit/index.ts'
import { parseListenAddr } from './address.ts'

/** Options of {@link HttpKitClient}. */
export interface HttpKitClientInit {
  /** base URL of the daemon, e.g. `http://127.0.0.1:5001` */
  url: string
  /** bearer token (the daemon's `<repo>/api.token`), sent when set */
  token?: string
}

/** Bytes of the body still read, after a failed `get` archive, to reach the daemon's `X-Stream-Error` trailer. */
const STREAM_ERROR_DRAIN_BYTES = 64 * 1024
/** Largest error body read from a failed streaming request. */
const ERROR_BODY_BYTES = 64 * 1024

/** Kubo's query string: `arg` repeated, options by name, undefined left out. */
function queryOf(params: Record<string, string | number | boolean | undefined | string[]>): URLSearchParams {
  const query = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue
    for (const one of Array.isArray(v) ? v : [v]) query.append(k, String(one))
  }
  return query
}

/**
 * The typed error of a streamed response's `X-Stream-Error` trailer (Kubo's way of telling a
 * failure met after the body began; `X-Stream-Error-Name` is ours), once the body is read to
 * its end (at most {@link STREAM_ERROR_DRAIN_BYTES} more); undefined if there is none.
 */
async function trailerError(
  res: IncomingMessage,
  body: AsyncIterator<Uint8Array>
): Promise<Error | undefined> {
  let left = STREAM_ERROR_DRAIN_BYTES
  try {
    while (!res.complete) {
      const next = await body.next()
      if (next.done === true) break
      left -= next.value.byteLength
      if (left < 0) return undefined
    }
  } catch {
    return undefined
  }
  const message = res.trailers['x-stream-error']
  if (message == null || message === '') return undefined
  // header bytes arrive as latin1; the daemon sends UTF-8
  const utf8 = (v: string): string => Buffer.from(v, 'latin1').toString('utf8')
  const name = res.trailers['x-stream-error-name']
  return errorFrom(0, { Message: utf8(message), Name: name == null ? undefined : utf8(name) }, message)
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Our typed error from a Kubo-shaped error body (`Name` is ours; Kubo's have none). */
function errorFrom(
  status: number,
  body: { Message?: string; Name?: string } | undefined,
  fallback: string
): Error {
  const message = body?.Message ?? fallback
  const Cls = body?.Name == null ? undefined : (errors as Record<string, unknown>)[body.Name]
  if (typeof Cls === 'function' && Cls.prototype instanceof errors.IpfsKitError) {
    return new (Cls as typeof errors.IpfsKitError)(message)
  }
  return new Error(status === 0 ? message : `${message} (HTTP ${status})`)
}

/** A line in Kubo's error shape: a failure the daemon met once the stream had begun. */
function isErrorLine(value: unknown): value is { Message: string; Name?: string; Type: 'error' } {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { Type?: unknown }).Type === 'error' &&
    typeof (value as { Message?: unknown }).Message === 'string'
  )
}

/**
 * The values of an NDJSON body, one per line, as they arrive. A line in Kubo's error shape
 * (`{Message, Code, Type: 'error'}`, sent by a stream that failed after it began) is thrown as
 * the typed error it names.
 */
export async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  let rest = ''
  const parse = (line: string): unknown => {
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (err) {
      throw new DaemonUnreachableError(`the daemon answered a line that is not JSON: ${line.slice(0, 80)}`, {
        cause: err
      })
    }
    if (isErrorLine(value)) throw errorFrom(0, value, value.Message)
    return value
  }
  for await (const chunk of body) {
    rest += decoder.decode(chunk, { stream: true })
    let nl = rest.indexOf('\n')
    while (nl !== -1) {
      const line = rest.slice(0, nl).trim()
      rest = rest.slice(nl + 1)
      if (line !== '') yield parse(line)
      nl = rest.indexOf('\n')
    }
  }
  if (rest.trim() !== '') yield parse(rest)
}

/** A file, folder (no `content`) or symlink (`link`) of an `add` upload. */
export interface UploadPart {
  path?: string
  content?: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array
  /** a symlink's target: sent as Kubo's `application/symlink` part */
  link?: string
}

/**
 * The multipart body of an `add` (as Kubo's CLI sends it: one part per file, folder or
 * symlink, named by its path), streamed as the parts' contents are read, and its boundary.
 */
export function uploadBody(parts: AsyncIterable<UploadPart> | Iterable<UploadPart>): {
  body: AsyncGenerator<Uint8Array>
  boundary: string
} {
  const boundary = `----ipfs-kit-${crypto.randomUUID()}`
  async function* body(): AsyncGenerator<Uint8Array> {
    let index = 0
    for await (const part of parts) {
      const link = part.link != null
      const dir = part.content == null && !link
      const name = `${dir ? 'dir' : 'file'}${index === 0 ? '' : `-${index}`}`
      const type = link ? 'application/symlink' : dir ? 'application/x-directory' : 'application/octet-stream'
      yield encoder.encode(
        `${index === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${encodeURIComponent(part.path ?? '')}"\r\nContent-Type: ${type}\r\n\r\n`
      )
      if (link) yield encoder.encode(part.link)
      else if (part.content instanceof Uint8Array) yield part.content
      else if (part.content != null) for await (const chunk of part.content) yield chunk
      index++
    }
    yield encoder.encode(`\r\n--${boundary}--\r\n`)
  }
  return { body: body(), boundary }
}

function safeSegment(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('\\') || name.includes('\0')) {
    throw new InvalidParametersError(`refusing to write an entry named ${JSON.stringify(name)}`)
  }
  return name
}

/** Topic or bytes in Kubo's pubsub wire form. */
function multibase(value: string | Uint8Array): string {
  return base64url.encode(typeof value === 'string' ? encoder.encode(value) : value)
}

/**
 * The kit's command methods over a running daemon's HTTP API (the CLI's `KitClient`).
 * `stop()` ends this client's subscriptions; the daemon keeps running.
 *
 * @example
 * ```ts
 * const client = new HttpKitClient({ url: 'http://127.0.0.1:5001' })
 * const { Hash } = await client.ipfsAddBytes(new TextEncoder().encode('hi'))
 * ```
 */
export class HttpKitClient {
  readonly url: string
  readonly #token?: string
  readonly #subscriptions = new Map<string, Map<PubsubHandler, AbortController>>()

  constructor(init: HttpKitClientInit) {
    this.url = init.url.replace(/\/+$/, '')
    this.#token = init.token
  }

  /** POST a command; the response once its status is OK, else the daemon's error. */
  async request(
    command: string,
    params: Record<string, string | number | boolean | undefined | string[]> = {},
    init: { body?: AsyncIterable<Uint8Array>; boundary?: string; signal?: AbortSignal } = {}
  ): Promise<Response> {
    const query = queryOf(params)
    const headers: Record<string, string> = {}
    if (this.#token != null) headers.Authorization = `Bearer ${this.#token}`
    if (init.boundary != null) headers['Content-Type'] = `multipart/form-data; boundary=${init.boundary}`
    let res: Response
    try {
      res = await fetch(`${this.url}/api/v0/${command}?${query}`, {
        method: 'POST',
        headers,
        signal: init.signal,
        ...(init.body == null
          ? {}
          : {
              body: ReadableStream.from(init.body) as unknown as RequestInit['body'],
              duplex: 'half' as const
            })
      } as RequestInit)
    } catch (err) {
      if ((err as Error).name === 'AbortError' || init.signal?.aborted === true) throw err
      throw new DaemonUnreachableError(
        `the daemon's API at ${this.url} does not answer (${((err as Error).cause as Error)?.message ?? (err as Error).message})`,
        { cause: err }
      )
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '')
      let body: { Message?: string; Name?: string } | undefined
      try {
        body = JSON.parse(text) as { Message?: string; Name?: string }
      } catch {
        body = undefined
      }
      throw errorFrom(res.status, body, text.trim() || `${command} failed`)
    }
    return res
  }

  async #json<T>(
    command: string,
    params: Parameters<HttpKitClient['request']>[1] = {},
    signal?: AbortSignal
  ): Promise<T> {
    return (await (await this.request(command, params, { signal })).json()) as T
  }

  async *#ndjson(
    command: string,
    params: Parameters<HttpKitClient['request']>[1],
    init: Parameters<HttpKitClient['request']>[2] = {}
  ): AsyncGenerator<unknown> {
    const res = await this.request(command, params, init)
    if (res.body != null) yield* lines(res.body)
  }

  async #upload(
    parts: AsyncIterable<UploadPart> | Iterable<UploadPart>,
    params: Record<string, string | number | boolean | undefined>,
    signal?: AbortSignal
  ): Promise<AddResult[]> {
    const { body, boundary } = uploadBody(parts)
    const out: AddResult[] = []
    for await (const line of this.#ndjson(
      'add',
      { 'stream-channels': true, ...params },
      { body, boundary, signal }
    )) {
      const r = line as { Name?: string; Hash?: string; Size?: string }
      if (r.Hash == null) continue
      out.push({ Name: r.Name ?? r.Hash, Hash: r.Hash, Size: Number(r.Size ?? 0), cid: CID.parse(r.Hash) })
    }
    return out
  }

  #addParams(options: AddOptions): Record<string, string | number | boolean | undefined> {
    return {
      'cid-version': options.cidVersion,
      'raw-leaves': options.rawLeaves,
      chunker: options.chunker ?? (options.chunkSize == null ? undefined : `size-${options.chunkSize}`),
      trickle: options.trickle,
      hash: options.hash,
      pin: options.pin,
      'only-hash': options.onlyHash,
      'wrap-with-directory': options.wrapWithDirectory
    }
  }

  /** Upload a local file or folder (`add -r`); every entry's result, the root last. */
  async ipfsAddPath(path: string, options: AddOptions & PathSourceOptions = {}): Promise<AddResult[]> {
    const source = await pathCandidates(path, {
      hidden: options.hidden,
      onBytes: options.onProgress,
      onSkip: options.onSkip
    })
    return this.#upload(source as AsyncIterable<UploadPart>, this.#addParams(options), options.signal)
  }

  /** Upload bytes (or a stream) as one file; its result. */
  async ipfsAddBytes(
    bytes: Uint8Array | AsyncIterable<Uint8Array>,
    options: AddOptions = {}
  ): Promise<AddResult> {
    const results = await this.#upload(
      [{ path: '', content: bytes }],
      this.#addParams(options),
      options.signal
    )
    const root = results.at(-1)
    if (root == null) throw new InvalidParametersError('the daemon added nothing')
    return root
  }

  /** A file's bytes as they arrive (`offset`, `length`). */
  async *ipfsCatStream(path: CIDOrPath, options: CatOptions = {}): AsyncGenerator<Uint8Array> {
    const res = await this.request(
      'cat',
      { arg: String(path), offset: options.offset, length: options.length },
      { signal: options.signal }
    )
    if (res.body == null) return
    for await (const chunk of res.body) yield chunk
  }

  /**
   * POST a command whose answer is a byte stream, over `node:http` (its trailers are readable,
   * unlike `fetch`'s): the response once its status is OK, else the daemon's error.
   */
  async #stream(
    command: string,
    params: Record<string, string | number | boolean | undefined | string[]>,
    signal?: AbortSignal
  ): Promise<IncomingMessage> {
    const url = new URL(`${this.url}/api/v0/${command}?${queryOf(params)}`)
    const headers: Record<string, string> = {}
    if (this.#token != null) headers.Authorization = `Bearer ${this.#token}`
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    let res: IncomingMessage
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = send(url, { method: 'POST', headers, signal }, resolve)
        req.on('error', reject)
        req.end()
      })
    } catch (err) {
      if ((err as Error).name === 'AbortError' || signal?.aborted === true) throw err
      throw new DaemonUnreachableError(
        `the daemon's API at ${this.url} does not answer (${(err as Error).message})`,
        { cause: err }
      )
    }
    const status = res.statusCode ?? 0
    if (status >= 200 && status < 300) return res
    const parts: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        parts.push(chunk)
        size += chunk.byteLength
        if (size > ERROR_BODY_BYTES) break
      }
    } finally {
      res.destroy()
    }
    const text = Buffer.concat(parts).subarray(0, ERROR_BODY_BYTES).toString('utf8')
    let body: { Message?: string; Name?: string } | undefined
    try {
      body = JSON.parse(text) as { Message?: string; Name?: string }
    } catch {
      body = undefined
    }
    throw errorFrom(status, body, text.trim() || `${command} failed`)
  }

  /**
   * Fetch a tar of `path` and unpack it at `outPath`, as a local `get` writes it: entry names
   * that could escape `outPath` are refused, and so are symlinks whose target could (nothing
   * is written for them; no link is followed). A failure the daemon meets once the archive has
   * begun comes in its `X-Stream-Error` trailer and is thrown as the typed error it names.
   */
  async ipfsGet(path: CIDOrPath, outPath: string, options: AbortOptions = {}): Promise<void> {
    // the tar reader and the UnixFS exporter load here, not with every command that uses the client
    const [{ OutputTree }, { untar }] = await Promise.all([import('../kit/get.ts'), import('./tar.ts')])
    const res = await this.#stream('get', { arg: String(path) }, options.signal)
    const chunks = res[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
    // no `return`: the archive reader stopping early must not close the body before its trailer
    const body: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: () => chunks.next() }) }
    const out = new OutputTree(outPath)
    let root: string | undefined
    try {
      for await (const entry of untar(body)) {
        const [head, ...rest] = entry.name.split('/')
        root ??= head
        if (head !== root) throw new InvalidParametersError(`archive entry ${entry.name} is outside ${root}`)
        const at = rest.map(safeSegment)
        if (entry.type === 'directory') await out.directory(at)
        else if (entry.type === 'file') await out.file(at, entry.content, options)
        else if (entry.type === 'symlink') await out.symlink(at, entry.linkname)
      }
      const late = await trailerError(res, chunks)
      if (late != null) throw late
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      // the archive broke off: the daemon's reason, if it sent one, is in the trailer
      if (!(err instanceof errors.IpfsKitError) || err instanceof InvalidArchiveError) {
        const reason = await trailerError(res, chunks)
        if (reason != null) throw reason
        if (!(err instanceof errors.IpfsKitError)) {
          throw new InvalidArchiveError(`the archive from the daemon broke off: ${(err as Error).message}`, {
            cause: err
          })
        }
      }
      throw err
    } finally {
      res.destroy()
    }
  }

  /** A folder's entries. */
  async ipfsLs(path: CIDOrPath, options: AbortOptions = {}): Promise<LsEntry[]> {
    const body = await this.#json<{
      Objects?: Array<{
        Links?: Array<{ Name: string; Hash: string; Size: number; Type: number; Target?: string }>
      }>
    }>('ls', { arg: String(path) }, options.signal)
    return (body.Objects?.[0]?.Links ?? []).map((l) => ({
      Name: l.Name,
      Hash: l.Hash,
      Size: l.Size,
      ...(l.Type === 4 ? { Target: l.Target ?? '' } : {}),
      Type:
        l.Type === 1 || l.Type === 5
          ? 'directory'
          : l.Type === 2
            ? 'file'
            : l.Type === 4
              ? 'symlink'
              : 'other',
      cid: CID.parse(l.Hash)
    }))
  }

  /** Pin (recursively unless `recursive: false`). */
  async ipfsPinAdd(path: CIDOrPath, options: AbortOptions & { recursive?: boolean } = {}): Promise<CID> {
    const body = await this.#json<{ Pins: string[] }>(
      'pin/add',
      { arg: String(path), recursive: options.recursive },
      options.signal
    )
    return CID.parse(body.Pins[0] ?? '')
  }

  /** Unpin. */
  async ipfsPinRm(path: CIDOrPath, options: AbortOptions = {}): Promise<CID> {
    const body = await this.#json<{ Pins: string[] }>('pin/rm', { arg: String(path) }, options.signal)
    return CID.parse(body.Pins[0] ?? '')
  }

  /** Every pin, or the one for `cid`. */
  async ipfsPinLs(options: AbortOptions & { cid?: CIDOrPath } = {}): Promise<PinEntry[]> {
    const body = await this.#json<{ Keys: Record<string, { Type: string }> }>(
      'pin/ls',
      { arg: options.cid == null ? undefined : String(options.cid) },
      options.signal
    )
    return Object.entries(body.Keys ?? {}).map(([hash, v]) => {
      // Kubo's "indirect through <cid>"
      const indirect = /^indirect(?: through (\S+))?$/.exec(v.Type)
      return indirect == null
        ? { cid: CID.parse(hash), Hash: hash, Type: v.Type as PinEntry['Type'] }
        : { cid: CID.parse(hash), Hash: hash, Type: 'indirect' as const, Through: indirect[1] }
    })
  }

  /** Publish one message. */
  async ipfsPubsubPublish(
    topic: string,
    data: string | Uint8Array,
    options: AbortOptions = {}
  ): Promise<void> {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data
    const boundary = `----ipfs-kit-${crypto.randomUUID()}`
    const body = [
      encoder.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n`
      ),
      bytes,
      encoder.encode(`\r\n--${boundary}--\r\n`)
    ]
    const res = await this.request(
      'pubsub/pub',
      { arg: multibase(topic) },
      { body: Readable.from(body), boundary, signal: options.signal }
    )
    await res.arrayBuffer()
  }

  /** Subscribe: resolves once the daemon is subscribed; `handler` gets every message until unsubscribed. */
  async ipfsPubsubSubscribe(topic: string, handler: PubsubHandler): Promise<void> {
    const controller = new AbortController()
    const res = await this.request('pubsub/sub', { arg: multibase(topic) }, { signal: controller.signal })
    let handlers = this.#subscriptions.get(topic)
    if (handlers == null) {
      handlers = new Map()
      this.#subscriptions.set(topic, handlers)
    }
    handlers.set(handler, controller)
    const body = res.body
    if (body == null) return
    void (async () => {
      try {
        for await (const line of lines(body)) {
          const m = line as { from?: string; data?: string; seqno?: string; topicIDs?: string[] }
          if (m.data == null) continue
          const message: PubsubMessage = {
            from: m.from ?? '',
            data: base64url.decode(m.data),
            seqno: m.seqno == null ? undefined : Buffer.from(base64url.decode(m.seqno)).toString('hex'),
            topicIDs: (m.topicIDs ?? []).map((t) => decoder.decode(base64url.decode(t)))
          }
          await Promise.resolve(handler(message)).catch(() => undefined)
        }
      } catch {
        // aborted by unsubscribe or stop, or the daemon went away
      }
    })()
  }

  /** Stop `handler` (or every handler of this client) on `topic`. */
  async ipfsPubsubUnsubscribe(topic: string, handler?: PubsubHandler): Promise<void> {
    const handlers = this.#subscriptions.get(topic)
    if (handlers == null) return
    for (const [h, controller] of handlers) {
      if (handler != null && h !== handler) continue
      controller.abort()
      handlers.delete(h)
    }
    if (handlers.size === 0) this.#subscriptions.delete(topic)
  }

  /** Peers the daemon exchanges pubsub messages with (on `topic`, or any). */
  async ipfsPubsubPeers(topic?: string): Promise<string[]> {
    return (
      (
        await this.#json<{ Strings: string[] | null }>('pubsub/peers', {
          arg: topic == null ? undefined : multibase(topic)
        })
      ).Strings ?? []
    )
  }

  /** Topics the daemon is subscribed to. */
  async ipfsPubsubLs(): Promise<string[]> {
    const body = await this.#json<{ Strings: string[] | null }>('pubsub/ls')
    return (body.Strings ?? []).map((t) => decoder.decode(base64url.decode(t)))
  }

  /** The daemon's identity and addresses. */
  async ipfsId(): Promise<IdResult> {
    return this.#json<IdResult>('id')
  }

  /** Have the daemon dial a peer; the peer id. */
  async ipfsSwarmConnect(addr: string, options: AbortOptions = {}): Promise<string> {
    const body = await this.#json<{ Strings: string[] }>('swarm/connect', { arg: addr }, options.signal)
    return /^connect (\S+) success$/.exec(body.Strings[0] ?? '')?.[1] ?? ''
  }

  /** The daemon's open connections. */
  async ipfsSwarmPeers(): Promise<SwarmPeer[]> {
    const body = await this.#json<{
      Peers: Array<{ Addr: string; Peer: string; Direction?: number }> | null
    }>('swarm/peers', { direction: true })
    return (body.Peers ?? []).map((p) => ({
      Peer: p.Peer,
      Addr: p.Addr,
      Direction: p.Direction === 1 ? 'inbound' : 'outbound'
    }))
  }

  /** The daemon's repo: blocks and bytes. */
  async ipfsRepoStat(): Promise<RepoStat> {
    const s = await this.#json<RepoStat>('repo/stat')
    return {
      RepoSize: s.RepoSize,
      NumObjects: s.NumObjects,
      BlocksSize: s.BlocksSize,
      RepoPath: s.RepoPath,
      Version: s.Version
    }
  }

  /** Have the daemon remove unpinned blocks; the removed CIDs. */
  async ipfsGc(options: AbortOptions = {}): Promise<CID[]> {
    const out: CID[] = []
    for await (const line of this.#ndjson('repo/gc', {}, { signal: options.signal })) {
      const key = (line as { Key?: { '/': string } }).Key?.['/']
      if (key != null) out.push(CID.parse(key))
    }
    return out
  }

  /** Have the daemon check every block it holds (and repair what it can): Kubo's progress lines. */
  async *ipfsRepoVerify(options: AbortOptions = {}): AsyncGenerator<RepoVerifyProgress> {
    for await (const line of this.#ndjson('repo/verify', {}, { signal: options.signal })) {
      const p = line as RepoVerifyProgress & { Corrupt?: number }
      // the daemon's last line sums up; the kit's own generator has none
      if (p.Corrupt != null) continue
      yield p
    }
  }

  /** Have the daemon check every pin's blocks (fetching missing or bad ones): every pin's result. */
  async *ipfsPinVerify(options: AbortOptions = {}): AsyncGenerator<PinVerifyResult> {
    for await (const line of this.#ndjson('pin/verify', { verbose: true }, { signal: options.signal })) {
      yield line as PinVerifyResult
    }
  }

  /** End this client's subscriptions (the daemon keeps running). Safe to call twice. */
  async stop(): Promise<void> {
    for (const topic of [...this.#subscriptions.keys()]) await this.ipfsPubsubUnsubscribe(topic)
  }
}

/**
 * A client of the daemon holding `repoPath`, from the address it wrote to `<repo>/api`
 * (and its token, if it made one), or undefined when no daemon wrote one.
 */
export async function connectDaemon(repoPath: string): Promise<HttpKitClient | undefined> {
  const addr = (await readFile(join(repoPath, API_ADDR_FILE), 'utf8').catch(() => '')).trim()
  if (addr === '') return undefined
  const { host, port, family } = parseListenAddr(addr)
  const token = (await readFile(join(repoPath, API_TOKEN_FILE), 'utf8').catch(() => '')).trim()
  return new HttpKitClient({
    url: `http://${family === 6 ? `[${host}]` : host}:${port}`,
    ...(token === '' ? {} : { token })
  })
}
