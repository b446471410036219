/**
 * The seeker of the WAN scenarios, one process in the seeker's host (`ip netns exec <ns> node
 * bench/wan/seeker.ts <plan.json>`): our seeker ({@link ContentRoutingManager} over
 * {@link EnhancedDHTDiscovery}) and a plain Helia node (`unixfs(helia).cat`), each connected to
 * every provider and keeping blocks in a `MemoryBlockstore`, as in bench/unreliable.ts. They take
 * turns, one pass over the files at a time, in the opposite order in every pass (ours, Helia,
 * Helia, ours, …). Then, if asked, a second seeker of ours, new but with the first one's
 * datastore (reputation persisted on disk), runs the first retrievals again.
 *
 * Prints one JSON line per retrieval ({@link RetrievalLine}) and a last one ({@link SeekerDone}).
 *
 * @packageDocumentation
 */

import { readFile } from 'node:fs/promises'
import { unixfs } from '@helia/unixfs'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { LevelDatastore } from 'datastore-level'
import { CID } from 'multiformats/cid'
import { EnhancedDHTDiscovery } from '../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import type { PeerStats } from '../../src/libp2p/discovery/types.ts'
import type { IPFSLibp2pPeer } from '../../src/libp2p/peer/index.ts'
import { ContentRoutingManager, type RoutingMetrics } from '../../src/libp2p/routing/index.ts'
import { alternate, hashStream, memoryOf, sleep } from '../common.ts'
import { plainHelia } from '../helia.ts'
import { forgetAll, poke, RESEND_WINDOW_MS } from '../unreliable.ts'
import { ourPeer } from './peers.ts'
import { sampleTcp, type TcpTimeline } from './tcp-bytes.ts'

/** What the seeker is given (a JSON file). */
export interface SeekerPlan {
  /** the seeker host's address */
  address: string
  /** one multiaddr (with /p2p/) per provider */
  providers: string[]
  cids: string[]
  shas: string[]
  /** files in the order they are retrieved, by every seeker */
  order: number[]
  /** retrievals per turn @default the number of files */
  pass: number
  timeoutMs: number
  /** folder of our seeker's datastore (LevelDB): reputation is persisted there */
  datastoreDir: string
  /** retrievals of the order that a second seeker of ours, on the same datastore, runs again @default 0 */
  rerun: number
  /** run plain Helia too @default true */
  helia?: boolean
  /**
   * before each retrieval, dial (without waiting) every provider not connected: providers die
   * and come back (churn), and neither seeker redials a peer by itself @default false
   */
  redial?: boolean
  /**
   * record the bytes each seeker received over TCP from each address during each retrieval,
   * sampled every this many ms (bench/wan/tcp-bytes.ts) @default undefined: not recorded
   */
  tcpSampleMs?: number
}

/** Who retrieves: ours, plain Helia, ours again with the reputation of the first run. */
export type SeekerName = 'ours' | 'helia' | 'ours-rerun'

/** One retrieval. */
export interface RetrievalLine {
  seeker: SeekerName
  /** position in the seeker's own sequence, from 0 */
  n: number
  file: number
  ms: number
  ok: boolean
  error?: string
  /** ours: bytes each provider (peer id) served during this retrieval, from the reputation records */
  servedBy?: Record<string, number>
  /** bytes received over TCP from each address during this retrieval (if the plan asks) */
  tcp?: TcpTimeline
  /** CPU time the seeker process used during this retrieval (user + system, all threads), ms */
  cpuMs?: number
  /** ms from the start to the file's first bytes (the root and the first leaf have arrived) */
  firstByteMs?: number
  /** ours: the router's counters during this retrieval (see {@link RoutingMetrics}) */
  routing?: RoutingCounts
}

/** The router's counters of one retrieval, from `getMetrics()` before and after it. */
export type RoutingCounts = Pick<
  RoutingMetrics,
  'blocksFetched' | 'blockLookups' | 'lookupsSkipped' | 'hedgeDeadlinesPassed' | 'blockFetchPasses'
>

const ROUTING_COUNTS = [
  'blocksFetched',
  'blockLookups',
  'lookupsSkipped',
  'hedgeDeadlinesPassed',
  'blockFetchPasses'
] as const satisfies ReadonlyArray<keyof RoutingCounts>

function routingCounts(m: RoutingMetrics): RoutingCounts {
  return Object.fromEntries(ROUTING_COUNTS.map((k) => [k, m[k]])) as RoutingCounts
}

/** The last line. */
export interface SeekerDone {
  done: true
  /** our seekers' reputation records of the providers at the end of their runs */
  reputation: Record<'ours' | 'ours-rerun', PeerStats[]>
  /** the seeker process's memory at the end, MiB */
  rss: number
}

interface Seeker {
  name: SeekerName
  cat(cid: string, signal: AbortSignal): AsyncIterable<Uint8Array>
  forget(): Promise<void>
  poke(): Promise<void>
  stop(): Promise<void>
  /** ours: bytes served so far by each peer */
  served?(): Record<string, number>
  stats?(): PeerStats[]
  /** ours: the router's counters so far */
  routing?(): RoutingCounts
  /** dial every provider not connected, without waiting */
  redial(): void
  lastAsked: Map<number, number>
  done: number
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

async function oursSeeker(plan: SeekerPlan, name: SeekerName): Promise<Seeker> {
  const datastore = new LevelDatastore(plan.datastoreDir)
  await datastore.open()
  const peer: IPFSLibp2pPeer = ourPeer(plan.address, 'leecher', { datastore })
  const discovery = new EnhancedDHTDiscovery(peer)
  const router = new ContentRoutingManager(discovery, peer)
  await router.start()
  for (const p of plan.providers) await peer.connect(p)
  const stats = (): PeerStats[] =>
    peer.reputation
      .peers()
      .map((id) => peer.reputation.stats(id))
      .filter((s): s is PeerStats => s != null)
  return {
    name,
    lastAsked: new Map(),
    done: 0,
    cat: (cid, signal) => router.retrieveContentStream(cid, { signal, timeout: 2 * plan.timeoutMs }),
    forget: () => forgetAll(peer.helia.blockstore),
    poke: () => poke(peer.helia.blockstore),
    redial: () => {
      for (const p of plan.providers) {
        const id = p.split('/p2p/')[1]
        if (id != null && peer.host.getConnections().some((c) => c.remotePeer.toString() === id)) continue
        void peer.connect(p).catch(() => {})
      }
    },
    served: () => Object.fromEntries(stats().map((s) => [s.peerId, s.bytesServed])),
    stats,
    routing: () => routingCounts(router.getMetrics()),
    stop: async () => {
      await router.stop()
      await discovery.stop()
      await peer.stop()
      await datastore.close()
    }
  }
}

async function heliaSeeker(plan: SeekerPlan): Promise<Seeker> {
  const blockstore = new MemoryBlockstore()
  const helia = plainHelia({ blockstore, listen: [`/ip4/${plan.address}/tcp/0`] })
  await helia.start()
  for (const p of plan.providers) await helia.libp2p.dial(multiaddr(p))
  return {
    name: 'helia',
    lastAsked: new Map(),
    done: 0,
    cat: (cid, signal) => unixfs(helia).cat(CID.parse(cid), { signal }),
    forget: () => forgetAll(blockstore),
    poke: () => poke(helia.blockstore),
    redial: () => {
      for (const p of plan.providers) {
        const id = p.split('/p2p/')[1]
        if (id != null && helia.libp2p.getConnections().some((c) => c.remotePeer.toString() === id)) continue
        void helia.libp2p.dial(multiaddr(p)).catch(() => {})
      }
    },
    stop: async () => {
      await helia.stop()
    }
  }
}

/** `source`, calling `onChunk` as each chunk arrives */
async function* stamped(source: AsyncIterable<Uint8Array>, onChunk: () => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    onChunk()
    yield chunk
  }
}

/** Retrieve every file of `files` in turn; one {@link RetrievalLine} each. */
async function runTurn(seeker: Seeker, files: number[], plan: SeekerPlan): Promise<void> {
  for (const file of files) {
    const wait = (seeker.lastAsked.get(file) ?? -Infinity) + RESEND_WINDOW_MS - performance.now()
    if (wait > 0) {
      await sleep(wait)
      await seeker.poke()
    }
    if (plan.redial === true) seeker.redial()
    const before = seeker.served?.()
    const routingBefore = seeker.routing?.()
    const sampler = plan.tcpSampleMs == null ? undefined : await sampleTcp(plan.tcpSampleMs)
    const cpu = process.cpuUsage()
    const start = performance.now()
    let ok = false
    let error: string | undefined
    let firstByteMs: number | undefined
    try {
      const got = await hashStream(
        stamped(seeker.cat(plan.cids[file]!, AbortSignal.timeout(plan.timeoutMs)), () => {
          firstByteMs ??= performance.now() - start
        })
      )
      ok = got.sha === plan.shas[file]
      if (!ok) error = 'wrong bytes'
    } catch (err) {
      error = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 200)
    }
    const ms = performance.now() - start
    const used = process.cpuUsage(cpu)
    const cpuMs = (used.user + used.system) / 1000
    const tcp = await sampler?.stop()
    seeker.lastAsked.set(file, performance.now())
    let servedBy: Record<string, number> | undefined
    if (before != null) {
      servedBy = {}
      for (const [peer, bytes] of Object.entries(seeker.served!())) {
        const delta = bytes - (before[peer] ?? 0)
        if (delta > 0) servedBy[peer] = delta
      }
    }
    const routingAfter = seeker.routing?.()
    const routing =
      routingBefore == null || routingAfter == null
        ? undefined
        : (Object.fromEntries(
            ROUTING_COUNTS.map((k) => [k, routingAfter[k] - routingBefore[k]])
          ) as RoutingCounts)
    print({
      seeker: seeker.name,
      n: seeker.done++,
      file,
      ms,
      ok,
      error,
      servedBy,
      tcp,
      cpuMs,
      firstByteMs,
      routing
    } satisfies RetrievalLine)
    await seeker.forget()
  }
}

async function main(plan: SeekerPlan): Promise<void> {
  const reputation: SeekerDone['reputation'] = { ours: [], 'ours-rerun': [] }
  const seekers: Seeker[] = []
  try {
    seekers.push(await oursSeeker(plan, 'ours'))
    if (plan.helia !== false) seekers.push(await heliaSeeker(plan))
    for (let turn = 0; turn * plan.pass < plan.order.length; turn++) {
      const files = plan.order.slice(turn * plan.pass, (turn + 1) * plan.pass)
      for (const seeker of alternate(seekers, turn)) {
        // the other seeker's turn was a pause for this one (see bench/unreliable.ts, POKE_MS)
        await seeker.poke()
        await runTurn(seeker, files, plan)
      }
    }
    reputation.ours = seekers[0]!.stats!()
    // stopping saves the reputation records in the datastore
    await Promise.allSettled(seekers.splice(0).map((s) => s.stop()))
    if (plan.rerun > 0) {
      const again = await oursSeeker(plan, 'ours-rerun')
      seekers.push(again)
      await runTurn(again, plan.order.slice(0, plan.rerun), plan)
      reputation['ours-rerun'] = again.stats!()
    }
  } finally {
    await Promise.allSettled(seekers.map((s) => s.stop()))
  }
  print({ done: true, reputation, rss: memoryOf(process.pid).rss } satisfies SeekerDone)
}

// a rejection nobody handled (a library's, after a retrieval ended) is reported, not fatal: the
// retrievals already printed stand, and the next ones still run
process.on('unhandledRejection', (reason) => {
  process.stderr.write(
    `seeker: unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`
  )
})
const path = process.argv[2]
if (path == null) {
  process.stderr.write('usage: node bench/wan/seeker.ts <plan.json>\n')
  process.exit(2)
}
await main(JSON.parse(await readFile(path, 'utf8')) as SeekerPlan)
process.exit(0)
