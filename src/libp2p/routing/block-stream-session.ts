/**
 * The server's half of one block stream: the wants one peer has open on it, read from the
 * blockstore a few at a time and answered as soon as read (see `block-stream.ts` for the
 * protocol).
 *
 * @packageDocumentation
 */

import type { Logger, Stream } from '@libp2p/interface'
import { LengthPrefixedDecoder, StreamClosedError } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { collectBytes } from '../../blocks/bytes.ts'
import { BLOCK_STREAM_MAX_CID_BYTES } from '../../constants.ts'
import { ProtocolViolationError } from '../../errors.ts'
import {
  BLOCK,
  type BlockStreamStore,
  CANCEL,
  CANCELLED,
  DONT_HAVE,
  frameHeader,
  parseFrame,
  type ServerCounters,
  WANT
} from './block-stream-wire.ts'

/** What a {@link BlockStreamSession} needs from its server. */
export interface SessionInit {
  blockstore: BlockStreamStore
  maxWants: number
  readConcurrency: number
  maxBlockBytes: number
  stats: ServerCounters
  log: Logger
  onClose: () => void
}

interface Request {
  cid: CID
  key: string
  /** aborts the blockstore read of a cancelled want */
  controller?: AbortController
  cancelled: boolean
}

/** One inbound block stream. */
export class BlockStreamSession {
  readonly #stream: Stream
  readonly #init: SessionInit
  readonly #decoder: LengthPrefixedDecoder
  /** wants not yet being read, oldest first */
  readonly #queue = new Map<string, Request>()
  /** wants being read */
  readonly #active = new Map<string, Request>()
  /** aborts every read when the stream ends */
  readonly #controller = new AbortController()
  #workers = 0
  #out = new Uint8ArrayList()
  #flushScheduled = false
  /** the peer will send no more wants: close once every want is answered */
  #remoteDone = false
  #closed = false

  constructor(stream: Stream, init: SessionInit) {
    this.#stream = stream
    this.#init = init
    this.#decoder = new LengthPrefixedDecoder({
      maxDataLength: 1 + BLOCK_STREAM_MAX_CID_BYTES,
      maxBufferSize: stream.maxReadBufferLength + 2 + BLOCK_STREAM_MAX_CID_BYTES
    })
    stream.addEventListener('message', (evt) => {
      try {
        for (const frame of this.#decoder.decode(evt.data)) {
          this.#onFrame(frame)
          if (this.#closed) return
        }
      } catch (err) {
        this.#violation(err as Error)
      }
    })
    stream.addEventListener('remoteCloseWrite', () => {
      this.#remoteDone = true
      this.#maybeClose()
    })
    stream.addEventListener('close', () => this.#end(), { once: true })
  }

  /** Reset the stream (the server is stopping). */
  abort(err: Error): void {
    this.#stream.abort(err)
    this.#end()
  }

  #end(): void {
    if (this.#closed) return
    this.#closed = true
    this.#controller.abort()
    this.#queue.clear()
    this.#active.clear()
    this.#init.onClose()
  }

  #violation(err: Error): void {
    this.#init.stats.violations++
    const violation =
      err instanceof ProtocolViolationError
        ? err
        : new ProtocolViolationError('bytes that are not a block-stream frame', { cause: err })
    this.#init.log('resetting a block stream: %e', violation)
    this.abort(violation)
  }

  #onFrame(bytes: Uint8ArrayList): void {
    const { type, cid, key, rest } = parseFrame(bytes)
    if (rest.byteLength > 0)
      throw new ProtocolViolationError('a want or cancel frame with bytes after its CID')
    if (type === WANT) {
      if (this.#queue.has(key) || this.#active.has(key)) {
        throw new ProtocolViolationError(`a second want for ${cid} on one stream`)
      }
      if (this.#queue.size + this.#active.size >= this.#init.maxWants) {
        throw new ProtocolViolationError(`more than ${this.#init.maxWants} wants open on one stream`)
      }
      this.#queue.set(key, { cid, key, cancelled: false })
      if (this.#workers < this.#init.readConcurrency) {
        this.#workers++
        void this.#work()
      }
    } else if (type === CANCEL) {
      const queued = this.#queue.get(key)
      if (queued != null) {
        this.#queue.delete(key)
        this.#init.stats.cancelled++
        this.#write(frameHeader(CANCELLED, queued.cid.bytes))
        return
      }
      const active = this.#active.get(key)
      if (active != null) {
        active.cancelled = true
        active.controller?.abort()
      }
      // otherwise it was answered already: the answer is the one the peer gets
    } else {
      throw new ProtocolViolationError(`a block-stream frame of unknown type ${type}`)
    }
  }

  /** One reader: takes the oldest want, reads it, answers it; waits while the peer is not reading. */
  async #work(): Promise<void> {
    try {
      while (!this.#closed) {
        if (this.#stream.writableNeedsDrain) {
          await drained(this.#stream, this.#controller.signal)
          continue
        }
        const next = this.#queue.entries().next()
        if (next.done === true) break
        const [key, request] = next.value
        this.#queue.delete(key)
        this.#active.set(key, request)
        const block = await this.#read(request)
        if (this.#closed) return
        this.#active.delete(key)
        this.#answer(request, block)
      }
    } catch (err) {
      if (!this.#closed) this.abort(err as Error)
    } finally {
      this.#workers--
      this.#maybeClose()
    }
  }

  async #read(request: Request): Promise<Uint8Array | undefined> {
    request.controller = new AbortController()
    const signal = AbortSignal.any([this.#controller.signal, request.controller.signal])
    try {
      return await collectBytes(await this.#init.blockstore.get(request.cid, { signal, offline: true }))
    } catch {
      return undefined
    }
  }

  #answer(request: Request, block: Uint8Array | undefined): void {
    const { stats, maxBlockBytes } = this.#init
    const cid = request.cid.bytes
    if (request.cancelled) {
      stats.cancelled++
      this.#write(frameHeader(CANCELLED, cid))
    } else if (block == null || block.byteLength > maxBlockBytes) {
      if (block != null)
        this.#init.log('not sending %c: %d bytes is over the limit', request.cid, block.byteLength)
      stats.dontHaves++
      this.#write(frameHeader(DONT_HAVE, cid))
    } else {
      stats.blocksSent++
      stats.bytesSent += block.byteLength
      this.#write(frameHeader(BLOCK, cid, block.byteLength), block)
    }
  }

  /** Queue a frame: every frame of this turn goes out in one write, the block's bytes uncopied. */
  #write(header: Uint8Array, block?: Uint8Array): void {
    this.#out.append(header)
    if (block != null) this.#out.append(block)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    queueMicrotask(this.#flush)
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    if (this.#closed || this.#out.byteLength === 0) return
    const out = this.#out
    this.#out = new Uint8ArrayList()
    try {
      this.#stream.send(out)
    } catch (err) {
      this.abort(err as Error)
    }
  }

  /** After the peer closed its side, close ours once every want is answered. */
  #maybeClose(): void {
    if (!this.#remoteDone || this.#closed || this.#queue.size > 0 || this.#active.size > 0) return
    if (this.#workers > 0) return
    this.#flush()
    this.#stream.close().catch((err: Error) => this.#stream.abort(err))
  }
}

/**
 * Resolves at the stream's next `drain` event; rejects if it closes or `signal` aborts. Not
 * `stream.onDrain()`: in @libp2p/utils 7.4 its promise is made once and never replaced, so after
 * the first drain it resolves at once even while the stream still needs draining (a loop that
 * waits on it spins without yielding to I/O).
 */
function drained(stream: Stream, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (err == null) resolve()
      else reject(err)
    }
    const onDrain = (): void => done()
    const onClose = (): void => done(new StreamClosedError('the block stream closed while waiting to drain'))
    const onAbort = (): void => done(signal.reason as Error)
    if (signal.aborted) {
      onAbort()
      return
    }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal.addEventListener('abort', onAbort)
  })
}
