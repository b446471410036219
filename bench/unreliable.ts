/**
 * Item 3, retrieval under unreliable providers (the reason the seed exists): 10 provider processes
 * hold the same 50 distinct 1 MiB files; 3 are slow (every block answer delayed 500 ms), 2 are dead
 * (accept connections and wants, never answer), 1 corrupts every block, 4 are sound. 200
 * retrievals in a seeded random order (each file 4 times) by our seeker
 * ({@link ContentRoutingManager} over {@link EnhancedDHTDiscovery}) and by a plain Helia node
 * (`unixfs(helia).cat`), each connected to all 10 providers and keeping blocks in a
 * `MemoryBlockstore`. They take turns, one pass over the files at a time, in the opposite order
 * in every pass. A retrieval that does not return the right bytes within the time-out is a
 * failure and counts as the time-out in the percentiles.
 *
 * @packageDocumentation
 */

import { unixfs } from '@helia/unixfs'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { EnhancedDHTDiscovery } from '../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../src/libp2p/routing/index.ts'
import {
  alternate,
  type BenchFigure,
  hashStream,
  killAll,
  MiB,
  note,
  quantile,
  retrievalRows,
  seededRandom,
  seededSha,
  shuffle,
  sleep
} from './common.ts'
import type { Fault } from './faults.ts'
import { plainHelia } from './helia.ts'
import { fileSeed, type Provider, startProvider } from './providers.ts'

/** Options of {@link runUnreliableBench}. */
export interface UnreliableBenchInit {
  /** distinct files @default 50 */
  files?: number
  /** bytes per file @default 1 MiB */
  fileSize?: number
  /** retrievals per contender @default 200 */
  retrievals?: number
  /** ms after which a retrieval has failed @default 10 000 */
  timeoutMs?: number
}

/** The providers: 3 slow, 2 dead, 1 corrupting, 4 sound. */
export const PROVIDER_FAULTS: Fault[] = [
  { kind: 'slow', delayMs: 500 },
  { kind: 'slow', delayMs: 500 },
  { kind: 'slow', delayMs: 500 },
  { kind: 'silent' },
  { kind: 'silent' },
  { kind: 'corrupt' },
  { kind: 'none' },
  { kind: 'none' },
  { kind: 'none' },
  { kind: 'none' }
]

/**
 * A bitswap server does not send the same block to the same peer twice within 5 s (Helia's
 * `doNotResendBlockWindow`): a file is not asked for again by the same seeker sooner than this.
 */
export const RESEND_WINDOW_MS = 5_500

/**
 * Helia's bitswap server (in every provider here) forgets a block it sent only when that peer's
 * next message arrives, and handles that message's wants before forgetting: so a want repeated
 * after the window with no message in between is swallowed, and never answered. After a pause,
 * each seeker first asks every provider for a block nobody has (untimed), so the next want is
 * served; both seekers get the same treatment.
 */
const POKE_MS = 300

/** What a seeker needs to be benchmarked. */
interface Seeker {
  name: string
  /** the file's bytes, streamed */
  cat(cid: string, signal: AbortSignal): AsyncIterable<Uint8Array>
  /** forget every block held (the next retrieval goes to the network) */
  forget(): Promise<void>
  /** send every provider a want for a block nobody has (see {@link POKE_MS}) */
  poke(): Promise<void>
  stop(): Promise<void>
  /** when it last asked for each file (see {@link RESEND_WINDOW_MS}) */
  lastAsked: Map<number, number>
  /** its retrievals so far, in order */
  outcomes: Outcome[]
}

interface Outcome {
  ms: number
  ok: boolean
}

/** Run item 3 and return its figures. */
export async function runUnreliableBench(init: UnreliableBenchInit = {}): Promise<BenchFigure[]> {
  const files = init.files ?? 50
  const fileSize = init.fileSize ?? MiB
  const retrievals = init.retrievals ?? 200
  const timeoutMs = init.timeoutMs ?? 10_000
  const prefix = 'unreliable'
  const shas = await Promise.all(
    Array.from({ length: files }, (_, i) => seededSha(fileSeed(prefix, i), fileSize))
  )
  const random = seededRandom(42)
  const order: number[] = []
  while (order.length < retrievals) {
    order.push(...shuffle([...Array(files).keys()], random))
  }
  order.length = retrievals

  const providers: Provider[] = []
  const seekers: Seeker[] = []
  try {
    providers.push(
      ...(await Promise.all(
        PROVIDER_FAULTS.map((fault) =>
          startProvider({ mode: 'faulty', fault, files: { prefix, count: files, size: fileSize } })
        )
      ))
    )
    const cids = providers[0]!.cids
    for (const p of providers) {
      if (p.cids.join() !== cids.join()) throw new Error('providers added the same files with different CIDs')
    }
    // both seekers stay up (and connected) for the whole run; they take turns, one pass over the
    // files at a time, in the opposite order in every pass (ours, Helia, Helia, ours, …)
    seekers.push(await oursSeeker(providers), await heliaSeeker(providers))
    for (let pass = 0; pass * files < order.length; pass++) {
      const retrievals = order.slice(pass * files, (pass + 1) * files)
      for (const seeker of alternate(seekers, pass)) {
        // the other seeker's pass was a pause for this one (see POKE_MS)
        await seeker.poke()
        await runSeeker(seeker, retrievals, cids, shas, timeoutMs)
      }
    }
  } finally {
    await Promise.allSettled(seekers.map((seeker) => seeker.stop()))
    await killAll(providers)
  }

  const ours = seekers[0]!.outcomes
  const base = seekers[1]!.outcomes
  const baselineName = 'plain Helia unixfs.cat, all 10 providers connected'
  const setting = `${files} × ${fileSize / MiB} MiB files, 10 providers (3 slow, 2 dead, 1 corrupt), ${retrievals} retrievals`
  return retrievalRows({
    setting,
    ours,
    baseline: base,
    baselineName,
    timeoutMs,
    p95Goal: 'a much shorter tail than plain Helia'
  })
}

/** Retrieve every file of `order` in turn (each must hash to its SHA-256), into `seeker.outcomes`. */
async function runSeeker(
  seeker: Seeker,
  order: number[],
  cids: string[],
  shas: string[],
  timeoutMs: number
): Promise<void> {
  const out = seeker.outcomes
  for (const file of order) {
    const wait = (seeker.lastAsked.get(file) ?? -Infinity) + RESEND_WINDOW_MS - performance.now()
    if (wait > 0) {
      await sleep(wait)
      await seeker.poke()
    }
    const start = performance.now()
    let ok = false
    try {
      const got = await hashStream(seeker.cat(cids[file]!, AbortSignal.timeout(timeoutMs)))
      ok = got.sha === shas[file]
      if (!ok) note(`unreliable providers, ${seeker.name}: retrieval ${out.length + 1} returned wrong bytes`)
    } catch (err) {
      const e = err as Error
      note(
        `unreliable providers, ${seeker.name}: retrieval ${out.length + 1} failed after ` +
          `${(performance.now() - start).toFixed(0)} ms: ${e.name}: ${e.message}`
      )
    }
    const ms = performance.now() - start
    seeker.lastAsked.set(file, performance.now())
    out.push({ ms, ok })
    await seeker.forget()
  }
  const failed = out.filter((o) => !o.ok).length
  note(
    `unreliable providers, ${seeker.name}: ${out.length} retrievals, ${failed} failed, p95 so far ` +
      `${quantile(
        out.map((o) => (o.ok ? o.ms : timeoutMs)),
        0.95
      ).toFixed(0)} ms`
  )
}

/** Delete every block of a store, so that the next retrieval goes to the network. */
export async function forgetAll(blockstore: Pick<Blockstore, 'getAll' | 'delete'>): Promise<void> {
  const held: CID[] = []
  for await (const { cid } of blockstore.getAll()) held.push(cid)
  // (deleting while getAll holds Helia's read lock would wait forever)
  for (const cid of held) await blockstore.delete(cid)
}

let pokes = 0

/** Ask the connected peers (Helia's bitswap broadcasts wants) for a block that does not exist. */
export async function poke(blockstore: Pick<Blockstore, 'get'>): Promise<void> {
  const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`poke-${pokes++}`)))
  try {
    for await (const _ of blockstore.get(cid, { signal: AbortSignal.timeout(POKE_MS) })) {
      // nobody has it
    }
  } catch {
    // the time-out is the point
  }
}

async function oursSeeker(providers: Provider[]): Promise<Seeker> {
  // both seekers keep blocks in the same store class (a MemoryBlockstore)
  const peer = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local', blockstore: new MemoryBlockstore() })
  const discovery = new EnhancedDHTDiscovery(peer)
  const router = new ContentRoutingManager(discovery, peer)
  await router.start()
  for (const p of providers) await peer.connect(p.multiaddrs[0]!)
  return {
    name: 'ours',
    lastAsked: new Map(),
    outcomes: [],
    cat: (cid, signal) => router.retrieveContentStream(cid, { signal, timeout: 120_000 }),
    forget: () => forgetAll(peer.helia.blockstore),
    poke: () => poke(peer.helia.blockstore),
    stop: async () => {
      await router.stop()
      await discovery.stop()
      await peer.stop()
    }
  }
}

async function heliaSeeker(providers: Provider[]): Promise<Seeker> {
  // deleting through Helia would cancel a reprovide, which a node without a DHT cannot do
  const blockstore = new MemoryBlockstore()
  const helia = plainHelia({ blockstore })
  await helia.start()
  for (const p of providers) await helia.libp2p.dial(multiaddr(p.multiaddrs[0]!))
  return {
    name: 'helia',
    lastAsked: new Map(),
    outcomes: [],
    cat: (cid, signal) => unixfs(helia).cat(CID.parse(cid), { signal }),
    forget: () => forgetAll(blockstore),
    poke: () => poke(helia.blockstore),
    stop: async () => {
      await helia.stop()
    }
  }
}
