/**
 * Item 2, transfer throughput over loopback, from 1 provider and from 4: ours on both ends (our
 * daemon, `ipfs-kit daemon`, serving; our {@link ContentRoutingManager} fetching) against plain
 * Helia on both ends (a plain Helia node serving the same blocks; `unixfs(helia).cat` fetching).
 * Every provider is a separate process reading the same blocks through the same block store
 * class (`RepoBlockstore`); the seeker runs in the bench process, over a `MemoryBlockstore` on
 * both sides. Ours and the baseline run in the opposite order in every repetition. Every
 * transfer is hashed and checked against the file's SHA-256.
 *
 * While each single-provider transfer runs, the provider's peak RSS is measured (item 6).
 *
 * @packageDocumentation
 */

import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { CID } from 'multiformats/cid'
import { ipfsKit } from '../src/kit/index.ts'
import { EnhancedDHTDiscovery } from '../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../src/libp2p/routing/index.ts'
import {
  alternate,
  type BenchFigure,
  hashStream,
  killAll,
  MiB,
  memoryOf,
  note,
  resetPeak,
  row,
  seededChunks,
  seededSha
} from './common.ts'
import { plainHelia } from './helia.ts'
import { type Provider, RAW_PROTOCOL, startDaemon, startProvider } from './providers.ts'

/** Options of {@link runTransferBench}. */
export interface TransferBenchInit {
  /** the large file, MiB @default 256 */
  sizeMiB?: number
  /** the small file, for the memory figures only (1 provider), MiB @default 64 */
  smallSizeMiB?: number
  /** providers of the multi-provider run @default 4 */
  providers?: number
  /** repetitions, ours and the baseline in the opposite order each time (ABBA) @default 2 */
  repetitions?: number
}

/** Peak RSS (MiB) of the single provider, per implementation and file size (item 6). */
export interface ServingPeaks {
  ours: Record<number, number>
  helia: Record<number, number>
  /** whether the peak was reset when serving began (else it includes start-up) */
  resetWorked: boolean
  /** transfers each peak is the highest of */
  repetitions: number
}

/** The contenders, in the order of even repetitions (odd ones reverse it). */
const IMPLS = ['ours', 'helia'] as const
type Impl = (typeof IMPLS)[number]

/** A transfer that takes longer has failed (it counts as 0 MiB/s, with a note saying why). */
const TRANSFER_TIMEOUT_MS = 180_000

interface Transfer {
  ms: number
  /** peak RSS (MiB) of each provider during the transfer */
  peaks: number[]
  /** why the transfer did not return the file */
  failed?: string
}

/**
 * Run item 2 in a temp folder (removed afterwards): its figures, and the serving peaks for item 6.
 * Each repetition starts fresh providers for each side, ours and the baseline in the opposite
 * order to the repetition before; a figure is the mean rate of the repetitions, a peak the
 * highest of them.
 */
export async function runTransferBench(
  init: TransferBenchInit = {}
): Promise<{ figures: BenchFigure[]; peaks: ServingPeaks; notes: string[] }> {
  const large = init.sizeMiB ?? 256
  const small = init.smallSizeMiB ?? 64
  const count = init.providers ?? 4
  const repetitions = init.repetitions ?? 2
  const dir = await mkdtemp(join(tmpdir(), 'ipfs-kit-bench-transfer-'))
  const peaks: ServingPeaks = { ours: {}, helia: {}, resetWorked: true, repetitions }
  /** MiB/s of every repetition, per side and provider count (large file) */
  const rates: Record<Impl, Record<number, number[]>> = { ours: {}, helia: {} }
  /** MiB/s of a raw libp2p stream pushing the large file's bytes, once per repetition */
  const raw: number[] = []
  const notes: string[] = []
  try {
    for (const [sizeMiB, providerCounts] of [
      [large, [1, count]],
      [small, [1]]
    ] as const) {
      const seed = `transfer-${sizeMiB}`
      const sha = await seededSha(seed, sizeMiB * MiB)
      const stores = await prepareStores(dir, seed, sizeMiB, Math.max(...providerCounts))
      for (let rep = 0; rep < repetitions; rep++) {
        if (sizeMiB === large) {
          const r = await rawStream(sizeMiB * MiB)
          note(
            `raw libp2p stream, ${sizeMiB} MiB, repetition ${rep + 1}/${repetitions}: ${r.toFixed(1)} MiB/s`
          )
          raw.push(r)
        }
        for (const impl of alternate(IMPLS, rep)) {
          const providers: Provider[] = []
          try {
            for (const store of stores[impl]) {
              providers.push(
                await (impl === 'ours'
                  ? startDaemon(store, ['--role', 'worker'])
                  : startProvider({ mode: 'helia', dir: store }))
              )
            }
            for (const n of providerCounts) {
              const t = await transfer(impl, providers.slice(0, n), stores.cid, sha, peaks)
              // a transfer that failed delivered no file: 0 MiB/s
              const rate = t.failed == null ? sizeMiB / (t.ms / 1000) : 0
              const what = `transfer ${sizeMiB} MiB from ${n} provider(s), ${impl}, repetition ${rep + 1}/${repetitions}`
              if (t.failed != null)
                notes.push(`${what} failed after ${(t.ms / 1000).toFixed(0)} s: ${t.failed}`)
              note(`${what}: ${t.failed ?? `${t.ms.toFixed(0)} ms, ${rate.toFixed(1)} MiB/s`}`)
              if (sizeMiB === large) rates[impl][n] = [...(rates[impl][n] ?? []), rate]
              if (n === 1) peaks[impl][sizeMiB] = Math.max(peaks[impl][sizeMiB] ?? 0, t.peaks[0]!)
            }
          } finally {
            await killAll(providers)
          }
        }
      }
      await rm(join(dir, String(sizeMiB)), { recursive: true, force: true })
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const mean = (xs: number[] | undefined): number =>
    xs == null || xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length
  const figures: BenchFigure[] = [1, count].map((n) =>
    row({
      figure:
        `transfer throughput, ${large} MiB file, ${n} provider${n === 1 ? '' : 's'} (separate processes), ` +
        `mean of ${repetitions} (alternating order)`,
      ours: mean(rates.ours[n]),
      baseline: mean(rates.helia[n]),
      baselineName: 'plain Helia on both ends (Helia provider over RepoBlockstore, unixfs.cat)',
      unit: 'MiB/s',
      better: 'higher',
      goal:
        n === 1
          ? 'twice plain Helia (issue 13: ipfs-kit peers trade blocks over /ipfs-kit/blocks/1.0.0)'
          : 'well ahead of plain Helia: blocks spread over the providers',
      target: { op: '>=', value: 2 }
    })
  )
  figures.push(
    row({
      figure: `transfer throughput, ${large} MiB file, ours with ${count} providers against ours with 1, mean of ${repetitions}`,
      ours: mean(rates.ours[count]),
      baseline: mean(rates.ours[1]),
      baselineName: 'ours with 1 provider (the same run)',
      unit: 'MiB/s',
      better: 'higher',
      goal: 'more providers are never slower',
      target: { op: '>=', value: 1 }
    })
  )
  figures.push(
    row({
      figure: `transfer throughput, ${large} MiB file, 1 provider, as a fraction of a raw libp2p stream (TCP + Noise + Yamux, ${RAW_PROTOCOL}) pushing the same bytes between two processes, mean of ${repetitions}`,
      ours: mean(rates.ours[1]),
      baseline: mean(raw),
      baselineName: 'a raw libp2p stream from a separate process (our peer on both ends, no bitswap)',
      unit: 'MiB/s',
      better: 'higher',
      goal: 'at least half of what the stream carries',
      target: { op: '>=', value: 0.5 }
    })
  )
  return { figures, peaks, notes }
}

/**
 * MiB/s of one libp2p stream (TCP + Noise + Yamux) carrying `bytes` from a provider process to
 * this one: what the transport allows, with no bitswap, no blocks and no hashing.
 */
async function rawStream(bytes: number): Promise<number> {
  const provider = await startProvider({ mode: 'raw', bytes })
  const seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local', blockstore: new MemoryBlockstore() })
  try {
    await seeker.start()
    await seeker.connect(provider.multiaddrs[0]!)
    const start = performance.now()
    const stream = await seeker.dialProtocol(multiaddr(provider.multiaddrs[0]!), RAW_PROTOCOL, {
      signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS)
    })
    let got = 0
    for await (const chunk of stream) got += chunk.byteLength
    const ms = performance.now() - start
    if (got !== bytes) throw new Error(`the raw stream carried ${got} bytes of ${bytes}`)
    return bytes / MiB / (ms / 1000)
  } finally {
    await seeker.stop()
    await killAll([provider])
  }
}

/**
 * The file's blocks, once per provider: added once by our kit (so its CID is the Kubo CID), then
 * the repo's `blocks` folder copied into the other repos and into the plain Helia stores (both
 * read them through the repo's `RepoBlockstore`), so every provider serves identical blocks alike.
 */
async function prepareStores(
  dir: string,
  seed: string,
  sizeMiB: number,
  n: number
): Promise<{ cid: string; ours: string[]; helia: string[] }> {
  const base = join(dir, String(sizeMiB))
  const ours = Array.from({ length: n }, (_, i) => join(base, `ours-${i}`))
  const helia = Array.from({ length: n }, (_, i) => join(base, `helia-${i}`))
  let cid = ''
  for (const [i, repo] of ours.entries()) {
    const kit = await ipfsKit({ repo, profile: 'local', role: 'worker', offline: true })
    try {
      if (i === 0) {
        // not pinned: pinning reads the DAG back, and serving does not need it
        cid = (await kit.ipfsAddBytes(seededChunks(seed, sizeMiB * MiB), { pin: false })).Hash
      }
    } finally {
      await kit.stop()
    }
    if (i > 0) await cp(join(ours[0]!, 'blocks'), join(repo, 'blocks'), { recursive: true, force: true })
  }
  for (const store of helia) await cp(join(ours[0]!, 'blocks'), store, { recursive: true })
  return { cid, ours, helia }
}

async function transfer(
  impl: Impl,
  providers: Provider[],
  cid: string,
  sha: string,
  peaks: ServingPeaks
): Promise<Transfer> {
  const reset = (): void => {
    for (const p of providers) if (!resetPeak(p.pid)) peaks.resetWorked = false
  }
  let bytes = 0
  const counted = async function* (source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      bytes += chunk.byteLength
      yield chunk
    }
  }
  let start = performance.now()
  let got: { sha: string; bytes: number } | undefined
  let error: Error | undefined
  let watchdog: ReturnType<typeof setInterval> | undefined
  const watch = (detail: () => string): void => {
    watchdog = setInterval(() => {
      const s = ((performance.now() - start) / 1000).toFixed(0)
      note(
        `transfer, ${impl}, ${providers.length} provider(s): ${(bytes / MiB).toFixed(1)} MiB after ${s} s; ${detail()}`
      )
    }, 30_000)
  }
  try {
    if (impl === 'ours') {
      // both seekers keep blocks in the same store class (a MemoryBlockstore)
      const seeker = new IPFSLibp2pPeer({
        role: 'leecher',
        profile: 'local',
        blockstore: new MemoryBlockstore()
      })
      const discovery = new EnhancedDHTDiscovery(seeker)
      const router = new ContentRoutingManager(discovery, seeker)
      try {
        await router.start()
        for (const p of providers) await seeker.connect(p.multiaddrs[0]!)
        watch(() => {
          const d = discovery.getMetrics()
          return (
            `${seeker.host.getConnections().length} connections, ${router.getMetrics().blocksFetched} blocks, ` +
            `${d.failedRequests} failed requests, ${d.peersInBackoff} peers in backoff`
          )
        })
        reset()
        start = performance.now()
        got = await hashStream(counted(router.retrieveContentStream(cid, { timeout: TRANSFER_TIMEOUT_MS })))
      } finally {
        clearInterval(watchdog)
        await router.stop()
        await discovery.stop()
        await seeker.stop()
      }
    } else {
      const helia = plainHelia({ blockstore: new MemoryBlockstore() })
      const signal = AbortSignal.timeout(TRANSFER_TIMEOUT_MS)
      try {
        await helia.start()
        for (const p of providers) await helia.libp2p.dial(multiaddr(p.multiaddrs[0]!), { signal })
        watch(() => `${helia.libp2p.getConnections().length} connections`)
        reset()
        start = performance.now()
        got = await hashStream(counted(unixfs(helia).cat(CID.parse(cid), { signal })))
      } finally {
        clearInterval(watchdog)
        await helia.stop()
      }
    }
  } catch (err) {
    error = err as Error
  }
  const ms = performance.now() - start
  if (got != null && got.sha !== sha) error = new Error(`${impl} transfer of ${cid} returned different bytes`)
  return {
    ms,
    peaks: providers.map((p) => memoryOf(p.pid).peak),
    ...(error == null
      ? {}
      : { failed: `${error.name}: ${error.message} (${(bytes / MiB).toFixed(1)} MiB received)` })
  }
}
