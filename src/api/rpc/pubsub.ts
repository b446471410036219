import { base64url } from 'multiformats/bases/base64'
import {
  API_MAX_PUBSUB_BODY_BYTES,
  API_PUBSUB_SUB_MAX_QUEUED_BYTES,
  API_PUBSUB_SUB_MAX_QUEUED_MESSAGES
} from '../../constants.ts'
import { InvalidParametersError, OfflineError } from '../../errors.ts'
import type { PubsubMessage } from '../../kit/index.ts'
import { kitLogger } from '../../logger.ts'
import { arg, type Handler, NdjsonWriter } from '../http.ts'
import { firstPart } from '../multipart.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const log = kitLogger().forComponent('kit:api:pubsub')

/** Kubo's wire form of text and bytes in pubsub (≥ 0.11): multibase base64url (`u…`). */
export function toMultibase(value: string | Uint8Array): string {
  return base64url.encode(typeof value === 'string' ? encoder.encode(value) : value)
}

/** Decode a multibase (`u…`) topic as Kubo takes it. */
export function topicArg(params: URLSearchParams): string {
  const raw = arg(params, 'topic')
  if (!raw.startsWith('u')) {
    throw new InvalidParametersError(
      `pubsub topics are multibase-encoded (base64url with a "u" prefix), as in Kubo 0.11 and later: got "${raw}"`
    )
  }
  try {
    return decoder.decode(base64url.decode(raw))
  } catch (err) {
    throw new InvalidParametersError(`the topic "${raw}" is not valid multibase base64url text`, {
      cause: err
    })
  }
}

function requireOnline(offline: boolean): void {
  if (offline) throw new OfflineError('pubsub needs the network, and the node is offline')
}

/** The hex sequence number of a message as bytes. */
function seqnoBytes(seqno: string): Uint8Array {
  const hex = seqno.length % 2 === 1 ? `0${seqno}` : seqno
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

/** One message as Kubo's `pubsub/sub` writes it. */
export function wireMessage(m: PubsubMessage): Record<string, unknown> {
  return {
    from: m.from,
    data: toMultibase(m.data),
    ...(m.seqno == null ? {} : { seqno: toMultibase(seqnoBytes(m.seqno)) }),
    topicIDs: m.topicIDs.map((t) => toMultibase(t))
  }
}

const pub: Handler = async (ctx) => {
  requireOnline(ctx.kit.peer.offline)
  const topic = topicArg(ctx.params)
  const data = await firstPart(ctx.req, API_MAX_PUBSUB_BODY_BYTES)
  await ctx.kit.ipfsPubsubPublish(topic, data, { signal: ctx.signal })
  ctx.res.statusCode = 200
  ctx.res.end()
}

/** What {@link SubscriberQueue} reports to (the API's metrics). */
export interface SubscriberQueueMetrics {
  pubsubQueued(messages: number, bytes: number): void
  pubsubDropped(limit: 'messages' | 'bytes'): void
}

/** Options of {@link SubscriberQueue}. */
export interface SubscriberQueueInit {
  /** @default API_PUBSUB_SUB_MAX_QUEUED_MESSAGES */
  maxMessages?: number
  /** payload bytes; a message that finds the queue empty is always taken @default API_PUBSUB_SUB_MAX_QUEUED_BYTES */
  maxBytes?: number
  metrics?: SubscriberQueueMetrics
}

/**
 * The messages one `pubsub/sub` subscriber has yet to be sent, bounded in messages and in
 * payload bytes. A message that does not fit is dropped (the newest, as go-libp2p-pubsub
 * drops for a full subscription) and counted; {@link run} writes the rest in order, one at
 * a time, waiting whenever the socket is full.
 */
export class SubscriberQueue {
  readonly #maxMessages: number
  readonly #maxBytes: number
  readonly #metrics?: SubscriberQueueMetrics
  readonly #items: PubsubMessage[] = []
  #bytes = 0
  #dropped = 0
  #dropping = false
  #closed = false
  #wake?: () => void

  constructor(init: SubscriberQueueInit = {}) {
    this.#maxMessages = init.maxMessages ?? API_PUBSUB_SUB_MAX_QUEUED_MESSAGES
    this.#maxBytes = init.maxBytes ?? API_PUBSUB_SUB_MAX_QUEUED_BYTES
    this.#metrics = init.metrics
  }

  /** Messages waiting. */
  get size(): number {
    return this.#items.length
  }

  /** Payload bytes waiting. */
  get bytes(): number {
    return this.#bytes
  }

  /** Messages dropped so far. */
  get dropped(): number {
    return this.#dropped
  }

  /** Queue a message; false if it was dropped (the queue is full, or closed). */
  push(m: PubsubMessage): boolean {
    if (this.#closed) return false
    const size = m.data.byteLength
    const limit =
      this.#items.length >= this.#maxMessages
        ? 'messages'
        : this.#items.length > 0 && this.#bytes + size > this.#maxBytes
          ? 'bytes'
          : undefined
    if (limit != null) {
      this.#dropped++
      this.#metrics?.pubsubDropped(limit)
      if (!this.#dropping) {
        this.#dropping = true
        log(
          'subscriber too slow: dropping messages on %s (%d messages, %d bytes queued)',
          m.topicIDs[0],
          this.#items.length,
          this.#bytes
        )
      }
      return false
    }
    this.#items.push(m)
    this.#bytes += size
    this.#metrics?.pubsubQueued(1, size)
    this.#wake?.()
    return true
  }

  /**
   * Send every queued message with `send`, in order, until {@link close} or until `send`
   * answers false (the client went away). `send` is awaited: it waits on the socket.
   */
  async run(send: (m: PubsubMessage) => Promise<boolean>): Promise<void> {
    while (!this.#closed) {
      const m = this.#items.shift()
      if (m == null) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve
        })
        this.#wake = undefined
        continue
      }
      const size = m.data.byteLength
      this.#bytes -= size
      this.#metrics?.pubsubQueued(-1, -size)
      if (this.#items.length === 0 && this.#dropping) {
        this.#dropping = false
        log('subscriber caught up on %s after %d dropped messages', m.topicIDs[0], this.#dropped)
      }
      if (!(await send(m))) break
    }
    this.close()
  }

  /** Drop what is queued and stop {@link run}. Safe to call twice. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#metrics?.pubsubQueued(-this.#items.length, -this.#bytes)
    this.#items.length = 0
    this.#bytes = 0
    this.#wake?.()
  }
}

/**
 * `pubsub/sub`: one NDJSON line per message until the client goes away. The status line
 * goes out once the node is subscribed, so a client that saw it misses nothing after,
 * unless it reads too slowly: then its queue ({@link SubscriberQueue}) fills and new
 * messages are dropped for it (counted in `ipfs_kit_pubsub_dropped_messages_total`).
 */
const sub: Handler = async (ctx) => {
  requireOnline(ctx.kit.peer.offline)
  const topic = topicArg(ctx.params)
  const queue = new SubscriberQueue({ metrics: ctx.metrics })
  const handler = (m: PubsubMessage): void => {
    queue.push(m)
  }
  await ctx.kit.ipfsPubsubSubscribe(topic, handler)
  let running: Promise<void> | undefined
  let out: NdjsonWriter | undefined
  const onAbort = (): void => queue.close()
  try {
    out = new NdjsonWriter(ctx.res)
    const writer = out
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    if (ctx.signal.aborted) queue.close()
    running = queue.run((m) => writer.send(wireMessage(m)))
    await running
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    await ctx.kit.ipfsPubsubUnsubscribe(topic, handler).catch(() => undefined)
    queue.close()
    await running?.catch(() => undefined)
    out?.end()
  }
  if (queue.dropped > 0) log('subscription to %s ended; %d messages dropped for it', topic, queue.dropped)
}

const ls: Handler = async (ctx) => {
  requireOnline(ctx.kit.peer.offline)
  const topics = await ctx.kit.ipfsPubsubLs()
  ctx.res.setHeader('Content-Type', 'application/json; charset=utf-8')
  ctx.res.end(JSON.stringify({ Strings: topics.map((t) => toMultibase(t)) }))
}

const peers: Handler = async (ctx) => {
  requireOnline(ctx.kit.peer.offline)
  const raw = ctx.params.get('arg')
  const topic = raw == null || raw === '' ? undefined : topicArg(ctx.params)
  ctx.res.setHeader('Content-Type', 'application/json; charset=utf-8')
  ctx.res.end(JSON.stringify({ Strings: await ctx.kit.ipfsPubsubPeers(topic) }))
}

/** `pubsub/pub|sub|ls|peers`, topics multibase-encoded as Kubo's. */
export const pubsubCommands: Record<string, Handler> = {
  'pubsub/pub': pub,
  'pubsub/sub': sub,
  'pubsub/ls': ls,
  'pubsub/peers': peers
}
