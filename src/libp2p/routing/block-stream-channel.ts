/**
 * The client's half of one block stream: the wants to one peer, the stream that carries them,
 * and the answers matched back to their callers (see `block-stream.ts` for the protocol).
 *
 * @packageDocumentation
 */

import { AbortError, type Logger, type PeerId, type Stream } from '@libp2p/interface'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { BLOCK_STREAM_MAX_CID_BYTES } from '../../constants.ts'
import { BlockStreamClosedError, ProtocolViolationError } from '../../errors.ts'
import {
  BLOCK,
  type BlockStreamAnswer,
  CANCEL,
  CANCELLED,
  type ClientCounters,
  DONT_HAVE,
  frameHeader,
  mhKey,
  parseFrame,
  WANT,
  type Waiter,
  type WantEntry
} from './block-stream-wire.ts'

/** What a {@link BlockStreamChannel} needs from its client. */
export interface ChannelInit {
  open: () => Promise<Stream>
  maxWants: number
  maxBlockBytes: number
  idleMs: number
  counters: ClientCounters
  log: Logger
  onClose: (channel: BlockStreamChannel) => void
}

/** The client's side of one stream to one peer. */
export class BlockStreamChannel {
  readonly #peer: PeerId
  readonly #init: ChannelInit
  readonly #entries = new Map<string, WantEntry>()
  /** keys of entries not yet sent, oldest first */
  readonly #queue = new Set<string>()
  /** entries sent and not yet answered */
  #open = 0
  #stream?: Stream
  #opening = false
  #out = new Uint8ArrayList()
  #flushScheduled = false
  #idleTimer?: ReturnType<typeof setTimeout>
  #decoder?: LengthPrefixedDecoder
  #closed = false

  constructor(peer: PeerId, init: ChannelInit) {
    this.#peer = peer
    this.#init = init
  }

  /** wants not yet answered */
  get pending(): number {
    return this.#entries.size
  }

  /** failed or closed: the client opens a new channel for the next want */
  get closed(): boolean {
    return this.#closed
  }

  get usable(): boolean {
    return this.#stream != null && !this.#closed
  }

  add(cid: CID, waiter: Waiter): WantEntry {
    const key = mhKey(cid)
    let entry = this.#entries.get(key)
    if (entry == null) {
      entry = { cid, key, waiters: new Set(), state: 'queued' }
      this.#entries.set(key, entry)
      this.#queue.add(key)
    }
    entry.waiters.add(waiter)
    if (this.#idleTimer != null) {
      clearTimeout(this.#idleTimer)
      this.#idleTimer = undefined
    }
    this.#pump()
    return entry
  }

  /** A waiter gave up: the last one of a sent want sends a CANCEL. */
  withdraw(entry: WantEntry, waiter: Waiter): void {
    if (!entry.waiters.delete(waiter) || entry.waiters.size > 0 || this.#closed) return
    if (entry.state === 'queued') {
      this.#entries.delete(entry.key)
      this.#queue.delete(entry.key)
      this.#maybeIdle()
    } else if (entry.state === 'sent') {
      entry.state = 'cancelled'
      this.#write(frameHeader(CANCEL, entry.cid.bytes))
    }
  }

  /** Fail every want open with `err`, and reset the stream. */
  fail(err: Error): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#idleTimer != null) clearTimeout(this.#idleTimer)
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    this.#queue.clear()
    for (const entry of entries) for (const w of entry.waiters) w.reject(err)
    this.#stream?.abort(err)
    this.#init.onClose(this)
  }

  /** Close an idle stream gracefully. */
  close(): void {
    if (this.#closed) return
    if (this.#entries.size > 0) {
      this.fail(new BlockStreamClosedError(`the block stream to ${this.#peer} was closed`))
      return
    }
    this.#closed = true
    if (this.#idleTimer != null) clearTimeout(this.#idleTimer)
    this.#init.onClose(this)
    void this.#stream?.close().catch((err: Error) => this.#stream?.abort(err))
  }

  #maybeIdle(): void {
    if (this.#entries.size > 0 || this.#closed || this.#idleTimer != null) return
    this.#idleTimer = setTimeout(() => this.close(), this.#init.idleMs)
    this.#idleTimer.unref?.()
  }

  /** Send queued wants while the stream has room; open the stream first if needed. */
  #pump(): void {
    if (this.#closed) return
    if (this.#stream == null) {
      if (!this.#opening) this.#startOpening()
      return
    }
    for (const key of this.#queue) {
      if (this.#open >= this.#init.maxWants) break
      this.#queue.delete(key)
      const entry = this.#entries.get(key)
      if (entry == null || entry.state !== 'queued') continue
      entry.state = 'sent'
      this.#open++
      this.#write(frameHeader(WANT, entry.cid.bytes))
    }
  }

  #startOpening(): void {
    this.#opening = true
    this.#init.open().then(
      (stream) => {
        this.#opening = false
        if (this.#closed) {
          stream.abort(new AbortError('the block stream was no longer needed'))
          return
        }
        this.#attach(stream)
        this.#pump()
      },
      (err: Error) => {
        this.#opening = false
        this.#init.log('could not open a block stream to %p: %e', this.#peer, err)
        this.fail(err)
      }
    )
  }

  #attach(stream: Stream): void {
    this.#stream = stream
    this.#decoder = new LengthPrefixedDecoder({
      maxDataLength: 1 + BLOCK_STREAM_MAX_CID_BYTES + this.#init.maxBlockBytes,
      maxBufferSize: stream.maxReadBufferLength + 2 * (BLOCK_STREAM_MAX_CID_BYTES + this.#init.maxBlockBytes)
    })
    stream.addEventListener('message', (evt) => {
      try {
        for (const frame of this.#decoder!.decode(evt.data)) {
          this.#onFrame(frame)
          if (this.#closed) return
        }
      } catch (err) {
        this.#violation(err as Error)
      }
    })
    stream.addEventListener(
      'close',
      (evt) => {
        this.fail(
          new BlockStreamClosedError(`the block stream to ${this.#peer} closed`, { cause: evt.error })
        )
      },
      { once: true }
    )
    stream.addEventListener('remoteCloseWrite', () => {
      this.fail(new BlockStreamClosedError(`${this.#peer} closed its block stream`))
    })
  }

  #violation(err: Error): void {
    this.#init.counters.violations++
    const violation =
      err instanceof ProtocolViolationError
        ? err
        : new ProtocolViolationError(`${this.#peer} sent bytes that are not a block-stream frame`, {
            cause: err
          })
    this.#init.log('%p broke the block-stream protocol: %e', this.#peer, violation)
    this.fail(violation)
  }

  #onFrame(bytes: Uint8ArrayList): void {
    const frame = parseFrame(bytes)
    const entry = this.#entries.get(frame.key)
    if (entry == null || entry.state === 'queued') {
      throw new ProtocolViolationError(`${this.#peer} answered for ${frame.cid}, which we did not ask it for`)
    }
    if (frame.type === CANCELLED) {
      if (entry.state !== 'cancelled') {
        throw new ProtocolViolationError(`${this.#peer} cancelled ${frame.cid}, which we had not cancelled`)
      }
      this.#open--
      if (entry.waiters.size > 0) {
        // wanted again after our CANCEL: ask once more
        entry.state = 'queued'
        this.#queue.add(entry.key)
      } else {
        this.#entries.delete(entry.key)
      }
      this.#pump()
      this.#maybeIdle()
      return
    }
    let answer: BlockStreamAnswer
    if (frame.type === BLOCK) {
      if (frame.rest.byteLength > this.#init.maxBlockBytes) {
        throw new ProtocolViolationError(`${this.#peer} sent a block of ${frame.rest.byteLength} bytes`)
      }
      const block = frame.rest.subarray()
      this.#init.counters.blocksReceived++
      this.#init.counters.bytesReceived += block.byteLength
      answer = { has: true, block }
    } else if (frame.type === DONT_HAVE) {
      answer = { has: false }
    } else {
      throw new ProtocolViolationError(
        `${this.#peer} sent a block-stream frame of unknown type ${frame.type}`
      )
    }
    this.#entries.delete(entry.key)
    this.#open--
    for (const w of entry.waiters) w.resolve(answer)
    this.#pump()
    this.#maybeIdle()
  }

  /** Queue a frame: every frame of this turn of the event loop goes out in one write. */
  #write(frame: Uint8Array): void {
    this.#out.append(frame)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    setImmediate(this.#flush)
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    if (this.#closed || this.#stream == null || this.#out.byteLength === 0) return
    const out = this.#out
    this.#out = new Uint8ArrayList()
    try {
      this.#stream.send(out)
    } catch (err) {
      this.fail(
        new BlockStreamClosedError(`could not write to the block stream to ${this.#peer}`, { cause: err })
      )
    }
  }
}
