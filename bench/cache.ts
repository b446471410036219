/**
 * Cache benchmark: memory-hit and disk-hit latency (p50, p99) against reading the same bytes with
 * `fs.readFile`, and ARC against LRU hit ratios on the scan-plus-hot-set trace.
 *
 * Run: `npx node --import tsx bench/cache.ts`. `runCacheBench()` returns the figures for a combined
 * `npm run bench`.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { DiskTier, TieredCache } from '../src/cache/index.ts'
import { DEFAULT_CHUNK_SIZE } from '../src/constants.ts'
import { DEFAULT_TRACE, replay, scanHotTrace, type TraceBlock } from './cache-trace.ts'

/** One benchmark figure: ours against a baseline. */
export interface BenchFigure {
  /** what is measured */
  figure: string
  /** our value */
  ours: number
  /** the baseline's value */
  baseline: number
  /** what the baseline is */
  baselineName: string
  /** `ours / baseline` */
  ratio: number
  /** unit of `ours` and `baseline` */
  unit: string
  /** whether lower or higher values are better */
  better: 'lower' | 'higher'
  /** the target, in words */
  goal: string
  /** whether the goal is met, where the goal can be checked (absent: "report") */
  met?: boolean
}

const BLOCKS = 32
const READS = 2000
const MiB = 1024 * 1024

/** Run the cache benchmark in a temp folder (removed afterwards) and return its figures. */
export async function runCacheBench(): Promise<BenchFigure[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ipfs-kit-bench-cache-'))
  try {
    const blocks = (
      await scanHotTrace({
        hotBlocks: BLOCKS,
        scanBlocks: 0,
        blockSize: DEFAULT_CHUNK_SIZE,
        hotPerScan: 0,
        seed: 7
      })
    ).blocks
    const memoryHit = await memoryHitLatency(join(dir, 'tiered'), blocks)
    const diskHit = await diskHitLatency(join(dir, 'disk'), blocks)
    const trace = await scanHotTrace(DEFAULT_TRACE)
    const arc = await replay(trace, 'arc', 256 * 1024)
    const lru = await replay(trace, 'lru', 256 * 1024)
    const kib = DEFAULT_CHUNK_SIZE / 1024
    return [
      figure(
        `memory-hit latency p50 (${kib} KiB block)`,
        memoryHit.ours.p50,
        memoryHit.base.p50,
        'ms',
        'lower',
        'ours ≤ 0.1× baseline',
        0.1
      ),
      figure(
        `memory-hit latency p99 (${kib} KiB block)`,
        memoryHit.ours.p99,
        memoryHit.base.p99,
        'ms',
        'lower',
        'ours ≤ 0.1× baseline',
        0.1
      ),
      figure(
        `disk-hit latency p50 (${kib} KiB block, verified)`,
        diskHit.ours.p50,
        diskHit.base.p50,
        'ms',
        'lower',
        'ours ≤ 4× baseline (ours hashes every read)',
        4
      ),
      figure(
        `disk-hit latency p99 (${kib} KiB block, verified)`,
        diskHit.ours.p99,
        diskHit.base.p99,
        'ms',
        'lower',
        'ours ≤ 4× baseline (ours hashes every read)',
        4
      ),
      {
        figure: 'hit ratio, scan + hot set trace (memory 256 KiB)',
        ours: arc,
        baseline: lru,
        baselineName: 'byte-aware LRU',
        ratio: arc / lru,
        unit: 'ratio',
        better: 'higher',
        goal: 'ARC > LRU',
        met: arc > lru
      }
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  function figure(
    name: string,
    ours: number,
    baseline: number,
    unit: string,
    better: 'lower' | 'higher',
    goal: string,
    goalRatio: number
  ): BenchFigure {
    return {
      figure: name,
      ours,
      baseline,
      baselineName: 'fs.readFile of the same bytes',
      ratio: ours / baseline,
      unit,
      better,
      goal,
      met: ours / baseline <= goalRatio
    }
  }
}

interface Percentiles {
  p50: number
  p99: number
}

/** TieredCache memory hits against fs.readFile of the block files. */
async function memoryHitLatency(
  dir: string,
  blocks: TraceBlock[]
): Promise<{ ours: Percentiles; base: Percentiles }> {
  const disk = new DiskTier({ dir })
  await disk.start()
  for (const block of blocks) {
    await disk.put(block.cid, block.bytes)
  }
  const paths = blocks.map((block) => disk.pathOf(block.cid))
  await disk.stop()
  const cache = new TieredCache({ dir, memoryMaxBytes: 2 * BLOCKS * DEFAULT_CHUNK_SIZE })
  await cache.start()
  try {
    for (const block of blocks) {
      await cache.put(block.cid, block.bytes)
    }
    return await compare(
      async (i) => cache.get(pick(blocks, i).cid),
      async (i) => readFile(pick(paths, i))
    )
  } finally {
    await cache.stop()
  }
}

/** DiskTier hits (read, verify, touch) against fs.readFile of the same files. */
async function diskHitLatency(
  dir: string,
  blocks: TraceBlock[]
): Promise<{ ours: Percentiles; base: Percentiles }> {
  const disk = new DiskTier({ dir, maxBytes: 64 * MiB })
  await disk.start()
  try {
    for (const block of blocks) {
      await disk.put(block.cid, block.bytes)
    }
    return await compare(
      async (i) => disk.get(pick(blocks, i).cid),
      async (i) => readFile(disk.pathOf(pick(blocks, i).cid))
    )
  } finally {
    await disk.stop()
  }
}

/** Time `ours` and `base` alternately, READS times each after a warm-up; milliseconds. */
async function compare(
  ours: (i: number) => Promise<unknown>,
  base: (i: number) => Promise<unknown>
): Promise<{ ours: Percentiles; base: Percentiles }> {
  for (let i = 0; i < 200; i++) {
    await ours(i)
    await base(i)
  }
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < READS; i++) {
    let start = performance.now()
    const hit = await ours(i)
    a.push(performance.now() - start)
    if (hit == null) {
      throw new Error(`benchmark read ${i} missed: the figures would not measure hits`)
    }
    start = performance.now()
    await base(i)
    b.push(performance.now() - start)
  }
  return { ours: percentiles(a), base: percentiles(b) }
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((x, y) => x - y)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  return { p50: at(0.5), p99: at(0.99) }
}

function pick<T>(items: T[], i: number): T {
  const item = items[i % items.length]
  if (item === undefined) {
    throw new RangeError('empty benchmark set')
  }
  return item
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await runCacheBench()
  for (const f of figures) {
    const fmt = (v: number): string => (f.unit === 'ms' ? `${v.toFixed(4)} ms` : v.toFixed(3))
    console.log(
      `${f.figure}: ours ${fmt(f.ours)}, ${f.baselineName} ${fmt(f.baseline)}, ratio ${f.ratio.toFixed(2)} ` +
        `(${f.better} is better; goal: ${f.goal})`
    )
  }
}
