import { once } from 'node:events'
import { base64url } from 'multiformats/bases/base64'
import { API_MAX_PUBSUB_BODY_BYTES } from '../../constants.ts'
import { InvalidParametersError, OfflineError } from '../../errors.ts'
import type { PubsubMessage } from '../../kit/index.ts'
import { arg, type Handler, NdjsonWriter } from '../http.ts'
import { firstPart } from '../multipart.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

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

/**
 * `pubsub/sub`: one NDJSON line per message until the client goes away. The status line
 * goes out once the node is subscribed, so a client that saw it misses nothing after.
 */
const sub: Handler = async (ctx) => {
  requireOnline(ctx.kit.peer.offline)
  const topic = topicArg(ctx.params)
  let out: NdjsonWriter | undefined
  const early: PubsubMessage[] = []
  let sending: Promise<unknown> = Promise.resolve()
  const send = (m: PubsubMessage): void => {
    sending = sending.then(() => out?.send(wireMessage(m)))
  }
  const handler = (m: PubsubMessage): void => {
    if (out == null) early.push(m)
    else send(m)
  }
  await ctx.kit.ipfsPubsubSubscribe(topic, handler)
  try {
    out = new NdjsonWriter(ctx.res)
    for (const m of early) send(m)
    if (!ctx.signal.aborted) await once(ctx.signal, 'abort')
  } finally {
    await ctx.kit.ipfsPubsubUnsubscribe(topic, handler).catch(() => undefined)
    await sending.catch(() => undefined)
    out?.end()
  }
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
