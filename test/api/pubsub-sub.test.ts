/**
 * `pubsub/sub` with a client that stops reading: the real `ipfs-kit daemon` process, raw
 * node:http subscribers and another real node publishing on 127.0.0.1. The daemon keeps a
 * bounded queue per subscriber and drops (and counts) what does not fit, as Kubo does,
 * instead of keeping every message for a client that may never read again.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { type ClientRequest, type IncomingMessage, request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { base64url } from 'multiformats/bases/base64'
import { SubscriberQueue } from '../../src/api/rpc/pubsub.ts'
import {
  API_PUBSUB_SUB_MAX_QUEUED_BYTES,
  API_PUBSUB_SUB_MAX_QUEUED_MESSAGES,
  METRICS_PREFIX
} from '../../src/constants.ts'
import type { IPFSKit, PubsubMessage } from '../../src/kit/index.ts'
import {
  initLocal,
  killAll,
  type LiveProcess,
  removeAll,
  requireBuild,
  start,
  tempDir
} from '../cli/helpers.ts'
import { localKit, waitFor } from '../helpers.ts'

const KiB = 1024
/** Bytes of the index at the start of every payload: `#000123#`, then filler. */
const HEADER = 12

/** A payload of `size` bytes whose first {@link HEADER} bytes name its index. */
function payload(index: number, size: number): Uint8Array {
  const out = new Uint8Array(size).fill(0x61 + (index % 26))
  out.set(new TextEncoder().encode(`#${String(index).padStart(10, '0')}#`))
  return out
}

/** The index in a `pubsub/sub` line's multibase `data`. */
function indexOf(data: string): number {
  // 12 bytes are 16 base64 characters, after the multibase prefix `u`
  const head = new TextDecoder().decode(base64url.baseDecode(data.slice(1, 17)))
  const m = /^#(\d{10})#$/.exec(head)
  if (m == null) throw new Error(`a message without an index: ${head}`)
  return Number(m[1])
}

/** One raw `pubsub/sub` client: the indexes it has read, and its response to pause or resume. */
interface Subscriber {
  readonly req: ClientRequest
  readonly res: IncomingMessage
  readonly got: number[]
  /** start (or start again) reading */
  read(): void
}

/** Open `pubsub/sub` with node:http; it does not read until {@link Subscriber.read}. */
async function subscribe(port: number, topic: string): Promise<Subscriber> {
  const path = `/api/v0/pubsub/sub?arg=${base64url.encode(new TextEncoder().encode(topic))}`
  const req = request({ host: '127.0.0.1', port, method: 'POST', path })
  req.end()
  const [res] = await new Promise<[IncomingMessage]>((resolve, reject) => {
    req.once('response', (r) => resolve([r]))
    req.once('error', reject)
  })
  assert.equal(res.statusCode, 200)
  res.pause()
  const got: number[] = []
  let rest = ''
  let listening = false
  res.on('error', () => undefined)
  req.on('error', () => undefined)
  return {
    req,
    res,
    got,
    read() {
      if (!listening) {
        listening = true
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          rest += chunk
          const lines = rest.split('\n')
          rest = lines.pop() ?? ''
          for (const line of lines) {
            if (line !== '') got.push(indexOf((JSON.parse(line) as { data: string }).data))
          }
        })
      }
      res.resume()
    }
  }
}

/** The value of one metric in the text exposition (labels summed), or undefined if absent. */
function metric(text: string, name: string): number | undefined {
  let sum: number | undefined
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-z_]+)(?:\{[^}]*\})? (\S+)$/.exec(line)
    if (m?.[1] === name) sum = (sum ?? 0) + Number(m[2])
  }
  return sum
}

/** The daemon's resident memory, MiB (Linux; a diagnostic only: RSS is too noisy to assert on). */
async function rssMiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  return kb == null ? undefined : Math.round(Number(kb) / 1024)
}

describe('pubsub/sub with a subscriber that stops reading (real daemon)', () => {
  const dirs: string[] = []
  const subscribers: Subscriber[] = []
  let daemon: LiveProcess | undefined
  let publisher: IPFSKit | undefined
  let peerId = ''
  let port = 0
  /** connections between the publisher and the daemon that closed (see `rejoin`) */
  let closes = 0

  const url = (path: string): string => `http://127.0.0.1:${port}${path}`
  const metrics = async (): Promise<string> => {
    const res = await fetch(url('/metrics'))
    assert.equal(res.status, 200)
    return res.text()
  }
  const gauge = async (name: string): Promise<number> =>
    metric(await metrics(), `${METRICS_PREFIX}_${name}`) ?? 0
  const dropped = async (): Promise<number> => gauge('pubsub_dropped_messages_total')
  const connectDaemonToPublisher = async (): Promise<void> => {
    const addr = publisher?.peer.getMultiaddrs()[0]
    assert.ok(addr)
    const res = await fetch(url(`/api/v0/swarm/connect?arg=${encodeURIComponent(addr.toString())}`), {
      method: 'POST'
    })
    assert.equal(res.status, 200, await res.text())
  }

  before(async () => {
    requireBuild()
    const work = await tempDir()
    dirs.push(work)
    const repo = join(work, 'daemon')
    peerId = (await initLocal(repo, '--role', 'worker')).trim()
    daemon = start(['--repo', repo, 'daemon'])
    await daemon.waitFor(/^Daemon is ready$/m, 'stdout', 30_000)
    const apiAddr = (
      await daemon.waitFor(/^RPC API server listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+)$/m)
    )[1]
    port = Number(apiAddr?.split('/').at(-1))
    publisher = await localKit('worker', work)
    publisher.peer.host.addEventListener('connection:close', (evt) => {
      if (evt.detail.remotePeer.toString() === peerId) closes++
    })
    await connectDaemonToPublisher()
  })

  after(async () => {
    for (const s of subscribers) s.req.destroy()
    await publisher?.stop()
    if (daemon != null) await daemon.stop('SIGTERM').catch(() => undefined)
    killAll()
    await removeAll(dirs)
  })

  /**
   * A topic with a subscriber that reads (`healthy`) and one that does not until told
   * (`stalled`). `publish(n)` sends n messages of 16–60 KiB from the other node, then waits
   * until the healthy subscriber has read them, so neither gossipsub's buffers nor the healthy
   * subscriber's queue ever fill.
   *
   * libp2p's connection monitor may abort a busy connection (its heartbeat shares ping's one
   * outbound stream with the DHT's ping: "Too many outbound protocol streams", see
   * js-libp2p#3283 and #3464); the messages in flight then never reach the daemon. `publish`
   * reconnects and goes on: the checks count only the messages the daemon delivered (the ones
   * the healthy subscriber read), which a lost connection does not change.
   */
  const channel = async (name: string) => {
    assert.ok(publisher)
    const pub = publisher
    const topic = `${name}-${Math.random().toString(36).slice(2)}`
    const healthy = await subscribe(port, topic)
    const stalled = await subscribe(port, topic)
    subscribers.push(healthy, stalled)
    healthy.read()
    const joined = (): Promise<void> =>
      waitFor(async () => (await pub.ipfsPubsubPeers(topic)).includes(peerId), 'the daemon subscribed')
    await joined()
    let next = 0
    let seen = closes
    const rejoin = async (): Promise<void> => {
      if (closes === seen) return
      seen = closes
      await connectDaemonToPublisher()
      await joined()
    }
    const publish = async (count: number): Promise<number[]> => {
      await rejoin()
      const ids: number[] = []
      for (let i = 0; i < count; i++, next++) {
        await pub.ipfsPubsubPublish(topic, payload(next, (16 + ((next * 7) % 45)) * KiB))
        ids.push(next)
      }
      const last = next - 1
      await waitFor(
        () => healthy.got.at(-1) === last || closes !== seen,
        `the healthy subscriber to read message ${last}`,
        60_000
      )
      await rejoin()
      return ids.filter((id) => healthy.got.includes(id))
    }
    return { healthy, stalled, publish }
  }

  it('holds a bounded queue for it, drops and counts the rest, serves everyone else, and delivers again once it reads', async (t) => {
    assert.ok(daemon)
    const { healthy, stalled, publish } = await channel('stalled')

    // both subscribers get the first message; then one stops reading (it never did: its
    // response is paused) while 1 200 messages (about 45 MiB) are published, 30 at a time
    await publish(1)
    const rssBefore = await rssMiB(daemon.pid)
    const BATCHES = 40
    let maxQueuedBytes = 0
    let maxQueuedMessages = 0
    for (let b = 0; b < BATCHES; b++) {
      await publish(30)
      // the healthy subscriber has read everything: what is queued is the stalled one's
      maxQueuedBytes = Math.max(maxQueuedBytes, await gauge('pubsub_queued_bytes'))
      maxQueuedMessages = Math.max(maxQueuedMessages, await gauge('pubsub_queued_messages'))
      if (b === BATCHES / 2) {
        // other requests are served meanwhile
        const id = await fetch(url('/api/v0/id'), { method: 'POST' })
        assert.equal(id.status, 200)
        assert.equal(((await id.json()) as { ID: string }).ID, peerId)
      }
    }
    const delivered = [...healthy.got]
    const rssAfter = await rssMiB(daemon.pid)
    t.diagnostic(
      `daemon RSS ${rssBefore} → ${rssAfter} MiB while ${delivered.length} messages were delivered`
    )
    t.diagnostic(`queued at most ${maxQueuedMessages} messages, ${maxQueuedBytes} bytes`)
    if (closes > 0) t.diagnostic(`libp2p connections closed and redialled: ${closes}`)
    assert.ok(delivered.length > 1000, `only ${delivered.length} of 1201 messages reached the daemon`)
    assert.ok(
      delivered.every((v, i) => i === 0 || v > (delivered[i - 1] ?? -1)),
      'the reading subscriber got the messages in order, without repeats'
    )

    // the stalled subscriber reads again: first what was kept for it, then new messages
    stalled.read()
    await waitFor(
      async () => (await gauge('pubsub_queued_messages')) === 0,
      'the stalled subscriber to read what was kept for it',
      60_000
    )
    const markers: number[] = []
    for (let i = 0; i < 5 && markers.length === 0; i++) markers.push(...(await publish(3)))
    assert.ok(markers.length > 0, 'new messages reach the daemon')
    await waitFor(
      () => markers.every((id) => stalled.got.includes(id)),
      'the resumed subscriber to get the new messages',
      60_000
    )

    const kept = stalled.got.filter((id) => id < (markers[0] ?? 0))
    const missed = delivered.filter((id) => !kept.includes(id)).length
    assert.ok(
      missed > 0,
      `nothing was dropped: all ${delivered.length} messages (about 45 MiB) were held for the client that did not read`
    )
    assert.ok(
      kept.every((v, i) => i === 0 || v > (kept[i - 1] ?? -1)),
      'what the stalled subscriber got is in order, without repeats'
    )
    assert.deepEqual(stalled.got.slice(kept.length), markers)
    assert.equal(
      await dropped(),
      missed,
      'every message the stalled subscriber missed was counted as dropped'
    )
    assert.ok(
      maxQueuedBytes <= API_PUBSUB_SUB_MAX_QUEUED_BYTES,
      `queued ${maxQueuedBytes} bytes, over the ${API_PUBSUB_SUB_MAX_QUEUED_BYTES} byte bound`
    )
    assert.ok(maxQueuedMessages <= API_PUBSUB_SUB_MAX_QUEUED_MESSAGES)
    assert.ok(
      maxQueuedBytes > API_PUBSUB_SUB_MAX_QUEUED_BYTES - 61 * KiB ||
        maxQueuedMessages === API_PUBSUB_SUB_MAX_QUEUED_MESSAGES,
      `the queue was full (${maxQueuedMessages} messages, ${maxQueuedBytes} bytes) while the client stalled`
    )
  })

  it('a stalled subscriber that goes away frees its queue; the daemon keeps serving', async () => {
    const { healthy, stalled, publish } = await channel('gone')
    const before = await dropped()
    // publish until the daemon drops for the stalled subscriber (bounded: 40 × 20 messages)
    for (let round = 0; round < 40 && (await dropped()) === before; round++) await publish(20)
    assert.ok((await dropped()) > before, 'the daemon dropped for the stalled subscriber')
    assert.ok((await gauge('pubsub_queued_bytes')) > 0, 'messages are queued for it')
    stalled.req.destroy()
    await waitFor(
      async () => (await gauge('pubsub_queued_bytes')) === 0 && (await gauge('pubsub_queued_messages')) === 0,
      'the queue to be freed once the client went away'
    )
    // the topic is still served to the subscriber that reads
    let got: number[] = []
    for (let i = 0; i < 5 && got.length === 0; i++) got = await publish(1)
    assert.equal(healthy.got.at(-1), got[0])
    const ls = await fetch(url('/api/v0/pubsub/ls'), { method: 'POST' })
    assert.equal(ls.status, 200)
  })
})

describe('SubscriberQueue', () => {
  const message = (n: number, bytes: number): PubsubMessage => ({
    from: '',
    data: payload(n, bytes),
    topicIDs: ['t']
  })
  const counting = () => {
    const seen = { messages: 0, bytes: 0, dropped: { messages: 0, bytes: 0 } }
    return {
      seen,
      metrics: {
        pubsubQueued(m: number, b: number) {
          seen.messages += m
          seen.bytes += b
        },
        pubsubDropped(limit: 'messages' | 'bytes') {
          seen.dropped[limit]++
        }
      }
    }
  }

  it('drops the newest message past the message bound, and counts it', () => {
    const { seen, metrics } = counting()
    const q = new SubscriberQueue({ maxMessages: 3, maxBytes: 1_000_000, metrics })
    const taken = [0, 1, 2, 3, 4].map((n) => q.push(message(n, HEADER)))
    assert.deepEqual(taken, [true, true, true, false, false])
    assert.equal(q.size, 3)
    assert.equal(q.dropped, 2)
    assert.deepEqual(seen, { messages: 3, bytes: 3 * HEADER, dropped: { messages: 2, bytes: 0 } })
  })

  it('drops past the byte bound, but always takes a message when empty', () => {
    const { seen, metrics } = counting()
    const q = new SubscriberQueue({ maxMessages: 100, maxBytes: 100, metrics })
    assert.equal(q.push(message(0, 150)), true, 'one message over the bound fits an empty queue')
    assert.equal(q.push(message(1, HEADER)), false)
    assert.equal(q.bytes, 150)
    assert.deepEqual(seen.dropped, { messages: 0, bytes: 1 })
    q.close()
    assert.deepEqual([seen.messages, seen.bytes], [0, 0], 'closing releases what was counted as queued')
    assert.equal(q.push(message(2, HEADER)), false, 'a closed queue takes nothing')
  })

  it('sends in order, one at a time, waiting for each send; stops when a send says the client is gone', async () => {
    const { seen, metrics } = counting()
    const q = new SubscriberQueue({ maxMessages: 2, maxBytes: 1_000_000, metrics })
    const sent: number[] = []
    let release: (ok: boolean) => void = () => undefined
    let inFlight = 0
    const running = q.run(async (m) => {
      inFlight++
      assert.equal(inFlight, 1, 'one send at a time')
      sent.push(indexOf(`u${base64url.baseEncode(m.data.subarray(0, HEADER))}`))
      const ok = await new Promise<boolean>((resolve) => {
        release = resolve
      })
      inFlight--
      return ok
    })
    q.push(message(0, HEADER))
    await waitFor(() => sent.length === 1, 'the first send')
    // the socket is full: two more wait, the fourth is dropped
    assert.deepEqual(
      [q.push(message(1, HEADER)), q.push(message(2, HEADER)), q.push(message(3, HEADER))],
      [true, true, false]
    )
    release(true)
    await waitFor(() => sent.length === 2, 'the second send')
    release(false)
    await running
    assert.deepEqual(sent, [0, 1])
    assert.equal(q.push(message(4, HEADER)), false, 'the queue is closed once the client is gone')
    assert.deepEqual([seen.messages, seen.bytes], [0, 0])
  })
})
