/**
 * Item 6, memory: the RSS of an idle daemon (`ipfs-kit daemon` on a fresh repo, after it printed
 * `Daemon is ready` and settled) against an idle plain Helia node over an empty folder read by the
 * same block store class as the daemon's (bench/provider.ts), both started at once and measured at
 * the same moment; and, from item 2, the peak RSS of the single provider process while it served
 * the large and the small file.
 *
 * @packageDocumentation
 */

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BenchFigure, type Child, killAll, memoryOf, note, row, sleep } from './common.ts'
import { startDaemon, startProvider } from './providers.ts'
import type { ServingPeaks } from './transfer.ts'

/** Options of {@link runIdleMemoryBench}. */
export interface MemoryBenchInit {
  /** ms an idle process is left to settle before it is measured @default 5 000 */
  settleMs?: number
}

/** Idle RSS of our daemon and of a plain Helia node. */
export async function runIdleMemoryBench(init: MemoryBenchInit = {}): Promise<BenchFigure[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ipfs-kit-bench-memory-'))
  const children: Child[] = []
  try {
    await mkdir(join(dir, 'helia'))
    // started together (neither first), then left to settle, then measured at the same moment
    const started = await Promise.allSettled([
      startDaemon(join(dir, 'daemon')),
      startProvider({ mode: 'helia', dir: join(dir, 'helia') })
    ])
    for (const s of started) if (s.status === 'fulfilled') children.push(s.value)
    for (const s of started) if (s.status === 'rejected') throw s.reason
    const [daemon, helia] = children as [Child, Child]
    await sleep(init.settleMs ?? 5000)
    const ours = memoryOf(daemon.pid).rss
    const base = memoryOf(helia.pid).rss
    note(`idle RSS: daemon ${ours.toFixed(0)} MiB, plain Helia ${base.toFixed(0)} MiB`)
    return [
      row({
        figure: 'RSS of an idle daemon (fresh repo, local profile)',
        ours,
        baseline: base,
        baselineName: 'idle plain Helia node (TCP, Noise, Yamux, identify, bitswap; RepoBlockstore)',
        unit: 'MiB',
        better: 'lower',
        goal: 'report (ours also runs kad-dht, gossipsub, WebSockets, ping)'
      })
    ]
  } finally {
    await killAll(children)
    await rm(dir, { recursive: true, force: true })
  }
}

/** The serving figures, from the single-provider transfers of item 2. */
export function servingMemoryFigures(peaks: ServingPeaks, largeMiB: number, smallMiB: number): BenchFigure[] {
  const since =
    `${peaks.resetWorked ? 'since serving began' : 'since start (peak reset refused)'}, ` +
    `highest of ${peaks.repetitions}`
  const baselineName = 'plain Helia provider serving the same blocks (RepoBlockstore)'
  return [
    ...[smallMiB, largeMiB].map((size) =>
      row({
        figure: `peak RSS of the serving process, ${size} MiB file, 1 provider (${since})`,
        ours: peaks.ours[size]!,
        baseline: peaks.helia[size]!,
        baselineName,
        unit: 'MiB',
        better: 'lower',
        goal: 'report'
      })
    ),
    row({
      figure: `peak RSS of the serving daemon, ${largeMiB} MiB file vs ${smallMiB} MiB file`,
      ours: peaks.ours[largeMiB]!,
      baseline: peaks.ours[smallMiB]!,
      baselineName: `the same daemon serving a ${smallMiB} MiB file`,
      unit: 'MiB',
      better: 'lower',
      goal: 'does not grow with file size',
      target: { op: '<=', value: 1.1 }
    })
  ]
}
