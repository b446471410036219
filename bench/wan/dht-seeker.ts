/**
 * The seekers of scenario 4 (bench/wan/cold-dht.ts), one process in the seeker's host (`ip netns
 * exec <ns> node bench/wan/dht-seeker.ts <plan.json>`). In every round, two new nodes join the
 * testbed's DHT through the same few bootstrap peers:
 *
 * - ours: our peer (bench/wan/peers.ts, role `leecher`) with {@link EnhancedDHTDiscovery} and
 *   {@link ContentRoutingManager}; one retrieval is `retrieveContentStream(cid)`, which finds the
 *   providers through our discovery (known records, want-haves to connected peers, kad-dht) and
 *   fetches the file; its first provider is the first one our discovery yields for the CID;
 * - kad-dht: a plain Helia node (Helia's and libp2p's own packages) with `@libp2p/kad-dht` in
 *   client mode; one retrieval is `helia.routing.findProviders(cid)` until its first provider,
 *   a dial to it, then `unixfs(helia).cat(cid)`.
 *
 * Once both have run their first kad-dht self-query (at most `settleMs`), they take turns
 * (alternated from one file to the next) over the round's files: a first lookup of each file,
 * then a repeated lookup of each file again. Blocks are removed after every retrieval; nothing
 * else is. Each kad-dht `findProviders` either node makes is tapped (the events pass through
 * unchanged) for the trace: which peers were asked and when the first provider record arrived.
 *
 * Prints one JSON line per retrieval ({@link DhtLookupLine}) and a last one ({@link DhtSeekerDone}).
 *
 * @packageDocumentation
 */

import { readFile } from 'node:fs/promises'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { peerIdFromCID } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import {
  EnhancedDHTDiscovery,
  type FindProvidersOptions
} from '../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import type { Provider } from '../../src/libp2p/discovery/types.ts'
import { ContentRoutingManager } from '../../src/libp2p/routing/index.ts'
import { alternate, cpuSeconds, hashStream, memoryOf, sleep } from '../common.ts'
import { forgetAll, poke, RESEND_WINDOW_MS } from '../unreliable.ts'
import { ourPeer } from './peers.ts'
import { WAN_DHT_PROTOCOL } from './types.ts'

/** What the seeker is given (a JSON file). */
export interface DhtSeekerPlan {
  /** the seeker host's address */
  address: string
  /** the files' root CIDs and SHA-256 */
  cids: string[]
  shas: string[]
  /** peer id → a label for the trace (`h3.1`: host 3, node 1) */
  labels: Record<string, string>
  /** one entry per round: the bootstrap peers (multiaddrs with /p2p/) and the files' order */
  rounds: Array<{ bootstrap: string[]; order: number[] }>
  timeoutMs: number
  /** how long to wait for each seeker's first self-query before the lookups begin, ms */
  settleMs: number
}

/** Who looks up. */
export type DhtSeekerName = 'ours' | 'kad-dht'

/** One event of a kad-dht query, ms from the retrieval's start: [ms, event, from (label)]. */
export type DhtTraceEvent = [number, string, string]

/** One retrieval. */
export interface DhtLookupLine {
  seeker: DhtSeekerName
  round: number
  pass: 'first' | 'repeat'
  file: number
  ok: boolean
  /** from the request to the first provider, ms (absent if none was found) */
  firstProviderMs?: number
  /** from the request to the last byte hashed and checked, ms */
  ms: number
  error?: string
  /** the first provider: its label and how it was found */
  provider?: string
  provenance?: string
  /** kad-dht queries made during the retrieval: for the file's root, and for other blocks */
  rootQueries: number
  otherQueries: number
  /** events of the root's kad-dht queries (at most {@link MAX_TRACE_EVENTS}) */
  trace: DhtTraceEvent[]
}

/** The last line. */
export interface DhtSeekerDone {
  done: true
  /** the seeker process's memory at the end, MiB */
  rss: number
  peak: number
  /** CPU time the process used, s */
  cpuS: number
  /** per round and seeker: ms from start to the first self-query's end (absent: not seen) */
  selfQueryMs: Array<Partial<Record<DhtSeekerName, number>>>
}

const MAX_TRACE_EVENTS = 200

/** What a retrieval's instruments record. */
interface Tap {
  t0: number
  root?: string
  rootQueries: number
  otherQueries: number
  trace: DhtTraceEvent[]
  firstAt?: number
  first?: { id: string; provenance: string }
}

interface Seeker {
  name: DhtSeekerName
  /** fetch the file; the tap records the first provider */
  retrieve(cid: CID, tap: Tap, signal: AbortSignal): Promise<{ sha: string; bytes: number }>
  forget(): Promise<void>
  /** a want for a block nobody has, to every connected peer (bench/unreliable.ts, `poke`) */
  poke(): Promise<void>
  stop(): Promise<void>
  /** resolves with ms from start when the first self-query ended */
  selfQueried: Promise<number>
  lastFetched: Map<number, number>
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

/**
 * Pass every event of the node's kad-dht `findProviders` through unchanged, recording it in the
 * current retrieval's tap.
 */
function tapDht(dht: KadDHT, current: () => Tap | undefined, labels: Record<string, string>): void {
  const original = dht.findProviders.bind(dht)
  dht.findProviders = async function* (key, options) {
    const tap = current()
    const isRoot = tap?.root === key.toString()
    if (tap != null) {
      if (isRoot) tap.rootQueries++
      else tap.otherQueries++
    }
    for await (const event of original(key, options)) {
      if (tap != null && isRoot && tap.trace.length < MAX_TRACE_EVENTS && event.name !== 'PATH_ENDED') {
        const peer =
          event.name === 'SEND_QUERY'
            ? event.to
            : event.name === 'DIAL_PEER'
              ? event.peer
              : 'from' in event
                ? event.from
                : undefined
        const label = peer == null ? '' : (labels[peer.toString()] ?? peer.toString().slice(-6))
        const name =
          event.name === 'PROVIDER'
            ? `PROVIDER(${event.providers.length})`
            : event.name === 'QUERY_ERROR'
              ? `QUERY_ERROR(${event.error.message.slice(0, 60)})`
              : event.name
        tap.trace.push([Math.round(performance.now() - tap.t0), name, label])
      }
      yield event
    }
  }
}

/** ms from now until the node's first kad-dht self-query ends. */
function selfQueried(libp2p: Libp2p): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    libp2p.addEventListener('kad-dht:query:self' as never, () => resolve(performance.now() - t0), {
      once: true
    })
  })
}

/**
 * Our discovery, with the time its first provider for the current retrieval's root came out:
 * from a lookup, or from what it knew already (the router asks for known providers first).
 */
class TimedDiscovery extends EnhancedDHTDiscovery {
  tap?: Tap

  #found(cid: CID, p: Provider | undefined, how?: string): void {
    const tap = this.tap
    if (p == null || tap == null || tap.firstAt != null || tap.root !== cid.toString()) return
    tap.firstAt = performance.now()
    tap.first = { id: p.id.toString(), provenance: how ?? p.provenance }
  }

  override getOptimalProviders(
    cid: CID,
    options: Omit<FindProvidersOptions, 'signal' | 'noCache'> = {}
  ): Provider[] {
    const known = super.getOptimalProviders(cid, options)
    this.#found(cid, known[0], `known (${known[0]?.provenance})`)
    return known
  }

  override async *findProviders(cid: CID, options: FindProvidersOptions = {}): AsyncGenerator<Provider> {
    for await (const p of super.findProviders(cid, options)) {
      this.#found(cid, p)
      yield p
    }
  }
}

async function oursSeeker(plan: DhtSeekerPlan, bootstrap: string[]): Promise<Seeker> {
  const peer = ourPeer(plan.address, 'leecher', { bootstrapPeers: bootstrap })
  const discovery = new TimedDiscovery(peer)
  const router = new ContentRoutingManager(discovery, peer)
  await router.start()
  const dht = peer.host.services.dht
  tapDht(dht, () => discovery.tap, plan.labels)
  return {
    name: 'ours',
    lastFetched: new Map(),
    selfQueried: selfQueried(peer.host),
    retrieve: async (cid, tap, signal) => {
      discovery.tap = tap
      try {
        return await hashStream(router.retrieveContentStream(cid, { signal }))
      } finally {
        discovery.tap = undefined
      }
    },
    forget: () => forgetAll(peer.helia.blockstore),
    poke: () => poke(peer.helia.blockstore),
    stop: async () => {
      await router.stop()
      await discovery.stop()
      await peer.stop()
    }
  }
}

async function kadSeeker(plan: DhtSeekerPlan, bootstrap: string[]): Promise<Seeker> {
  const blockstore = new MemoryBlockstore()
  const helia = withBitswap(
    withLibp2pLight(createHeliaLight({ blockstore }), {
      addresses: { listen: [`/ip4/${plan.address}/tcp/0`] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({ protocol: WAN_DHT_PROTOCOL, clientMode: true, peerInfoMapper: passthroughMapper })
      }
    })
  )
  await helia.start()
  const libp2p = helia.libp2p as Libp2p<{ dht: KadDHT }>
  const queried = selfQueried(libp2p)
  let current: Tap | undefined
  tapDht(libp2p.services.dht, () => current, plan.labels)
  await Promise.allSettled(
    bootstrap.map((a) => libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(30_000) }))
  )
  const fs = unixfs(helia)
  return {
    name: 'kad-dht',
    lastFetched: new Map(),
    selfQueried: queried,
    retrieve: async (cid, tap, signal) => {
      current = tap
      try {
        let provider: PeerId | undefined
        for await (const p of helia.routing.findProviders(cid, { signal })) {
          provider = peerIdFromCID(p.id)
          tap.firstAt = performance.now()
          tap.first = { id: provider.toString(), provenance: 'dht' }
          if (p.multiaddrs.length > 0) await libp2p.peerStore.merge(provider, { multiaddrs: p.multiaddrs })
          break
        }
        if (provider == null) throw new Error(`no provider of ${cid} found`)
        await libp2p.dial(provider, { signal })
        return await hashStream(fs.cat(cid, { signal }))
      } finally {
        current = undefined
      }
    },
    forget: () => forgetAll(blockstore),
    poke: () => poke(helia.blockstore),
    stop: async () => {
      await helia.stop()
    }
  }
}

async function lookup(
  seeker: Seeker,
  plan: DhtSeekerPlan,
  round: number,
  pass: DhtLookupLine['pass'],
  file: number
): Promise<void> {
  // a bitswap server does not send a block to a peer again within 5 s, and after that swallows
  // the first want of it unless another message came in between (bench/unreliable.ts, POKE_MS)
  const last = seeker.lastFetched.get(file)
  if (last != null) {
    const wait = last + RESEND_WINDOW_MS - performance.now()
    if (wait > 0) await sleep(wait)
    await seeker.poke()
  }
  const cid = CID.parse(plan.cids[file]!)
  const tap: Tap = { t0: performance.now(), root: cid.toString(), rootQueries: 0, otherQueries: 0, trace: [] }
  let ok = false
  let error: string | undefined
  try {
    const got = await seeker.retrieve(cid, tap, AbortSignal.timeout(plan.timeoutMs))
    ok = got.sha === plan.shas[file]
    if (!ok) error = 'wrong bytes'
  } catch (err) {
    error = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 200)
  }
  const ms = performance.now() - tap.t0
  seeker.lastFetched.set(file, performance.now())
  await seeker.forget()
  print({
    seeker: seeker.name,
    round,
    pass,
    file,
    ok,
    ms,
    error,
    firstProviderMs: tap.firstAt == null ? undefined : tap.firstAt - tap.t0,
    provider: tap.first == null ? undefined : (plan.labels[tap.first.id] ?? tap.first.id),
    provenance: tap.first?.provenance,
    rootQueries: tap.rootQueries,
    otherQueries: tap.otherQueries,
    trace: tap.trace
  } satisfies DhtLookupLine)
}

async function main(plan: DhtSeekerPlan): Promise<void> {
  const selfQueryMs: DhtSeekerDone['selfQueryMs'] = []
  for (const [round, { bootstrap, order }] of plan.rounds.entries()) {
    const seekers: Seeker[] = []
    try {
      // both join at once, through the same bootstrap peers
      seekers.push(...(await Promise.all([oursSeeker(plan, bootstrap), kadSeeker(plan, bootstrap)])))
      const times: Partial<Record<DhtSeekerName, number>> = {}
      await Promise.race([
        Promise.all(seekers.map(async (s) => (times[s.name] = await s.selfQueried))),
        sleep(plan.settleMs)
      ])
      selfQueryMs.push(times)
      for (const pass of ['first', 'repeat'] as const) {
        for (const [k, file] of order.entries()) {
          for (const seeker of alternate(seekers, k + round)) await lookup(seeker, plan, round, pass, file)
        }
      }
    } finally {
      await Promise.allSettled(seekers.map((s) => s.stop()))
    }
  }
  const mem = memoryOf(process.pid)
  print({ done: true, rss: mem.rss, peak: mem.peak, cpuS: cpuSeconds(), selfQueryMs } satisfies DhtSeekerDone)
}

const path = process.argv[2]
if (path == null) {
  process.stderr.write('usage: node bench/wan/dht-seeker.ts <plan.json>\n')
  process.exit(2)
}
await main(JSON.parse(await readFile(path, 'utf8')) as DhtSeekerPlan)
process.exit(0)
