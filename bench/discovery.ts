/**
 * Item 5, discovery: time, hops and DHT queries to the first provider in a 50-node loopback
 * swarm (one process), for a first lookup and a repeated one. Ours is
 * {@link EnhancedDHTDiscovery}'s `findProviders` (provider records and the discovery cache
 * first, then connected peers and the DHT); the baseline is kad-dht's own `findProviders` on
 * another peer of the same swarm, which walks the DHT every time.
 *
 * Hops: the DHT query's depth at the peer that returned the provider record (a peer from the
 * seeker's own routing table is 1 hop; a peer first named in the reply of an n-hop peer is n + 1;
 * a record held locally is 0). Queries: messages the seeker sent before the first provider.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { QueryEvent } from '@libp2p/kad-dht'
import type { CID } from 'multiformats/cid'
import { EnhancedDHTDiscovery } from '../src/libp2p/discovery/enhanced-dht-discovery.ts'
import type { IPFSLibp2pPeer } from '../src/libp2p/peer/index.ts'
import { addOn, startSwarm, stopAll, waitForRoutingTables } from '../test/libp2p/swarm.ts'
import { type BenchFigure, median, note, row, seededBytes } from './common.ts'

/** Options of {@link runDiscoveryBench}. */
export interface DiscoveryBenchInit {
  /** swarm size @default 50 */
  nodes?: number
  /** distinct CIDs looked up (each by one seeker per contender) @default 10 */
  lookups?: number
}

/** A lookup that has not found the provider by then has failed. */
const LOOKUP_TIMEOUT_MS = 10_000

/** What one lookup cost until its first provider. */
interface Lookup {
  ms: number
  hops: number
  queries: number
}

/** Counts a DHT query's events until the first provider (see the module's doc). */
class QueryCounter {
  queries = 0
  hops: number | undefined
  readonly #depth = new Map<string, number>()
  readonly #self: string

  constructor(self: PeerId) {
    this.#self = self.toString()
  }

  see(event: QueryEvent): void {
    if (this.hops != null) return
    if (event.name === 'SEND_QUERY') this.queries++
    if (event.name === 'PEER_RESPONSE') {
      const depth = this.#depth.get(event.from.toString()) ?? 1
      for (const peer of event.closer) {
        const key = peer.id.toString()
        if (!this.#depth.has(key)) this.#depth.set(key, depth + 1)
      }
    }
    if (event.name === 'PROVIDER' && event.providers.length > 0) {
      const from = event.from.toString()
      this.hops = from === this.#self ? 0 : (this.#depth.get(from) ?? 1)
    }
  }
}

type FindProviders = (key: CID, options?: { signal?: AbortSignal }) => AsyncIterable<QueryEvent>

/**
 * The seeker's kad-dht, with its `findProviders` events visible to the bench: every query gets
 * its own counter (a query abandoned after its first provider may still run a little while, and
 * must not be counted in the next lookup); `take()` returns those of the queries started since
 * the last `take()`.
 */
function instrument(peer: IPFSLibp2pPeer): { take: () => QueryCounter[]; restore: () => void } {
  const dht = peer.host.services.dht as unknown as { findProviders: FindProviders }
  const original = dht.findProviders
  let counters: QueryCounter[] = []
  dht.findProviders = async function* (key, options) {
    const counter = new QueryCounter(peer.peerId)
    counters.push(counter)
    for await (const event of original.call(dht, key, options)) {
      counter.see(event)
      yield event
    }
  }
  return {
    take: () => {
      const taken = counters
      counters = []
      return taken
    },
    restore: () => {
      dht.findProviders = original
    }
  }
}

/** kad-dht's XOR key of a CID or a peer: SHA-256 of its multihash. */
function kadKey(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}

function xorDistance(a: Buffer, b: Buffer): bigint {
  let d = 0n
  for (let i = 0; i < a.length; i++) d = (d << 8n) | BigInt((a[i] ?? 0) ^ (b[i] ?? 0))
  return d
}

/** The provider of `cid`, as our discovery finds it: first lookup, then the same again. */
async function lookupOurs(seeker: IPFSLibp2pPeer, provider: PeerId, cid: CID): Promise<Lookup[]> {
  const probe = instrument(seeker)
  const discovery = new EnhancedDHTDiscovery(seeker)
  const out: Lookup[] = []
  try {
    await discovery.start()
    for (let round = 0; round < 2; round++) {
      const start = performance.now()
      let ms = Number.NaN
      for await (const p of discovery.findProviders(cid, {
        count: 1,
        signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS)
      })) {
        if (p.id.equals(provider)) ms = performance.now() - start
      }
      // no DHT query at all (a record or the discovery cache answered): 0 hops, 0 queries
      const queries = probe.take()
      out.push({
        ms,
        hops: Math.max(0, ...queries.map((c) => c.hops ?? 0)),
        queries: queries.reduce((n, c) => n + c.queries, 0)
      })
    }
  } finally {
    await discovery.stop()
    probe.restore()
  }
  return out
}

/** The provider of `cid`, as kad-dht alone finds it: first lookup, then the same again. */
async function lookupDht(seeker: IPFSLibp2pPeer, provider: PeerId, cid: CID): Promise<Lookup[]> {
  const out: Lookup[] = []
  for (let round = 0; round < 2; round++) {
    const counter = new QueryCounter(seeker.peerId)
    const start = performance.now()
    let ms = Number.NaN
    for await (const event of seeker.host.services.dht.findProviders(cid, {
      signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS)
    })) {
      counter.see(event)
      if (event.name === 'PROVIDER' && event.providers.some((p) => p.id.equals(provider))) {
        ms = performance.now() - start
        break
      }
    }
    out.push({ ms, hops: counter.hops ?? Number.NaN, queries: counter.queries })
  }
  return out
}

/** Run item 5 and return its figures. */
export async function runDiscoveryBench(init: DiscoveryBenchInit = {}): Promise<BenchFigure[]> {
  const nodes = init.nodes ?? 50
  const lookups = init.lookups ?? 10
  let peers: IPFSLibp2pPeer[] = []
  /** per CID: [first, repeated] */
  const results = { ours: [] as Lookup[][], dht: [] as Lookup[][] }
  try {
    const started = performance.now()
    peers = await startSwarm(nodes)
    await waitForRoutingTables(peers, 3)
    // a warm-up lookup, not counted: the first provider record of a new swarm may not be found
    // yet by peers whose routing tables only hold their direct neighbours
    const warm = await addOn(peers[1]!, seededBytes('discovery-warm-up', 10_000))
    await peers[1]!.helia.routing.provide(warm, { signal: AbortSignal.timeout(30_000) })
    await lookupDht(peers[nodes - 1]!, peers[1]!.peerId, warm)
    note(`discovery: ${nodes}-node swarm up in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    const used = new Set<string>()
    for (let i = 0; i < lookups; i++) {
      const provider = peers[(i * 7) % nodes]!
      used.add(provider.peerId.toString())
      const cid = await addOn(provider, seededBytes(`discovery-${i}`, 10_000))
      await provider.helia.routing.provide(cid, { signal: AbortSignal.timeout(30_000) })
      // the seekers: the peers farthest from the key (so not among those that hold its record)
      const key = kadKey(cid.multihash.bytes)
      const [a, b] = peers
        .filter((p) => !used.has(p.peerId.toString()))
        .map((p) => ({ p, d: xorDistance(key, kadKey(p.peerId.toMultihash().bytes)) }))
        .sort((x, y) => (x.d < y.d ? 1 : x.d > y.d ? -1 : 0))
        .map((x) => x.p)
      if (a == null || b == null) throw new Error('the swarm is too small for this many lookups')
      used.add(a.peerId.toString())
      used.add(b.peerId.toString())
      for (const seeker of [a, b]) await seeker.host.hangUp(provider.peerId)
      // alternate which contender gets the farthest seeker, and which goes first
      if (i % 2 === 0) {
        results.ours.push(await lookupOurs(a, provider.peerId, cid))
        results.dht.push(await lookupDht(b, provider.peerId, cid))
      } else {
        results.dht.push(await lookupDht(a, provider.peerId, cid))
        results.ours.push(await lookupOurs(b, provider.peerId, cid))
      }
      const ms = (l: Lookup[] | undefined, round: number): string => l?.[round]?.ms.toFixed(2) ?? '?'
      note(
        `discovery lookup ${i + 1}/${lookups}: ours ${ms(results.ours.at(-1), 0)} ms then ` +
          `${ms(results.ours.at(-1), 1)} ms, kad-dht ${ms(results.dht.at(-1), 0)} ms then ${ms(results.dht.at(-1), 1)} ms`
      )
    }
  } finally {
    await stopAll(peers)
  }

  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length
  const setting = `${nodes}-node loopback swarm, ${lookups} CIDs`
  const baselineName = 'kad-dht findProviders (no discovery cache), another peer of the swarm'
  const found = (l: Lookup | undefined): l is Lookup => l != null && Number.isFinite(l.ms)
  // a repeated lookup repeats a first lookup that found the provider; the time, hops and queries
  // to the first provider are over the lookups that found it (the "found" rows say how many)
  const pick = (per: Lookup[][], round: number): Lookup[] =>
    per.filter((l) => round === 0 || found(l[0])).map((l) => l[round]!)
  const share = (ls: Lookup[]): number => (100 * ls.filter(found).length) / ls.length
  // a repeated lookup by ours is answered by the discovery cache, kad-dht's walks the DHT again:
  // ours wins by construction, so those rows report
  const repeated = 'report (ours answers from its discovery cache, kad-dht walks the DHT: no contest)'
  const figures: BenchFigure[] = []
  for (const round of [0, 1]) {
    const label = round === 0 ? 'first lookup' : 'repeated lookup'
    const allOurs = pick(results.ours, round)
    const allDht = pick(results.dht, round)
    const ours = allOurs.filter(found)
    const dht = allDht.filter(found)
    figures.push(
      ...(round === 0
        ? [
            row({
              figure: `lookups that found the provider within ${LOOKUP_TIMEOUT_MS / 1000} s, ${label} (${setting})`,
              ours: share(allOurs),
              baseline: 100,
              baselineName: 'the goal: every lookup finds the provider (100 %)',
              unit: '%',
              better: 'higher',
              goal: 'every lookup finds the provider',
              target: { op: '>=', value: 1 }
            })
          ]
        : []),
      row({
        figure: `lookups that found the provider within ${LOOKUP_TIMEOUT_MS / 1000} s, ${label} (${setting})`,
        ours: share(allOurs),
        baseline: share(allDht),
        baselineName,
        unit: '%',
        better: 'higher',
        goal: round === 0 ? 'report' : repeated
      }),
      row({
        figure: `DHT time to first provider, ${label}, median (${setting})`,
        ours: median(ours.map((l) => l.ms)),
        baseline: median(dht.map((l) => l.ms)),
        baselineName,
        unit: 'ms',
        better: 'lower',
        ...(round === 0
          ? { goal: 'no slower than kad-dht (within noise)', target: { op: '<=', value: 1.2 } as const }
          : { goal: repeated })
      }),
      row({
        figure: `DHT hops to first provider, ${label}, mean (${setting})`,
        ours: mean(ours.map((l) => l.hops)),
        baseline: mean(dht.map((l) => l.hops)),
        baselineName,
        unit: 'hops',
        better: 'lower',
        goal: round === 0 ? 'report' : repeated
      }),
      row({
        figure: `DHT queries sent before first provider, ${label}, mean (${setting})`,
        ours: mean(ours.map((l) => l.queries)),
        baseline: mean(dht.map((l) => l.queries)),
        baselineName,
        unit: 'queries',
        better: 'lower',
        goal: round === 0 ? 'report' : repeated
      })
    )
  }
  return figures
}
