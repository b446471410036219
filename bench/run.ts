/**
 * `npm run bench`: every benchmark of issue 7, each figure a ratio against a baseline measured in
 * the same run. Writes bench/results.json (a header, then one row per figure) and
 * bench/results.md, and prints the table. Benchmarks report: they never fail on time (the exit
 * code is non-zero only when a benchmark could not be measured at all).
 *
 * bench/results.md is also copied into the README's benchmark section (bench/readme.ts).
 *
 * Options (environment): `BENCH_LARGE_MIB` (default 256: items 1 and 2), `BENCH_SMALL_MIB`
 * (default 64: the second file size of item 6), `BENCH_ONLY` (e.g. `1,3`: run only those items),
 * `BENCH_OUT` (a folder to write results.json and results.md to instead of bench/, leaving
 * bench/results.* and the README as they are: for trial runs).
 *
 * @packageDocumentation
 */

import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runAddBench } from './add.ts'
import { runCacheBench } from './cache.ts'
import { runCliStartBench } from './cli-start.ts'
import {
  type BenchFigure,
  keepGoingOnStrayErrors,
  note,
  positiveEnv,
  type ResultRow,
  resultHeader,
  writeResults
} from './common.ts'
import { runDiscoveryBench } from './discovery.ts'
import { runIdleMemoryBench, servingMemoryFigures } from './memory.ts'
import { copyResultsToReadme } from './readme.ts'
import { runTransferBench, type ServingPeaks } from './transfer.ts'
import { runUnreliableBench } from './unreliable.ts'

/** errors thrown outside any awaited call during the run (reported in the header's notes) */
const uncaught: string[] = []

/** The sizes the issue asks for. */
const ISSUE_LARGE_MIB = 256
const ISSUE_SMALL_MIB = 64

const ITEM_TITLES: Record<number, string> = {
  1: 'add throughput',
  2: 'transfer throughput',
  3: 'retrieval under unreliable providers',
  4: 'cache',
  5: 'discovery',
  6: 'memory',
  7: 'CLI start'
}

async function main(): Promise<void> {
  const started = performance.now()
  const large = positiveEnv('BENCH_LARGE_MIB', ISSUE_LARGE_MIB)
  const small = positiveEnv('BENCH_SMALL_MIB', ISSUE_SMALL_MIB)
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number)
  const wanted = (item: number): boolean => only.length === 0 || only.includes(item)
  const notes: string[] = []
  if (large !== ISSUE_LARGE_MIB || small !== ISSUE_SMALL_MIB) {
    notes.push(
      `scaled: ${large} MiB instead of ${ISSUE_LARGE_MIB} MiB (items 1, 2), ${small} MiB instead of ` +
        `${ISSUE_SMALL_MIB} MiB (item 6)`
    )
  }
  if (only.length > 0) notes.push(`only item${only.length === 1 ? '' : 's'} ${only.join(', ')}`)

  const rows: ResultRow[] = []
  const failed: string[] = []
  let peaks: ServingPeaks | undefined
  // cheap and in-process first; item 6's serving figures come from item 2's providers
  const plan: Array<[number, () => Promise<BenchFigure[]>]> = [
    [7, () => runCliStartBench()],
    [4, () => runCacheBench()],
    [5, () => runDiscoveryBench()],
    [1, () => runAddBench({ sizeMiB: large })],
    [
      2,
      async () => {
        const result = await runTransferBench({ sizeMiB: large, smallSizeMiB: small })
        peaks = result.peaks
        notes.push(...result.notes)
        return result.figures
      }
    ],
    [3, () => runUnreliableBench()],
    [
      6,
      async () => [
        ...(await runIdleMemoryBench()),
        ...(peaks == null ? [] : servingMemoryFigures(peaks, large, small))
      ]
    ]
  ]
  for (const [item, run] of plan) {
    if (!wanted(item) && !(item === 2 && wanted(6))) continue
    const t = performance.now()
    note(`item ${item} (${ITEM_TITLES[item]}) …`)
    try {
      const figures = await run()
      if (wanted(item)) rows.push(...figures.map((f) => ({ item, ...f })))
      note(`item ${item} done in ${((performance.now() - t) / 1000).toFixed(0)} s`)
    } catch (err) {
      const message = `item ${item} (${ITEM_TITLES[item]}) could not be measured: ${(err as Error).stack ?? err}`
      note(message)
      failed.push(message)
    }
  }
  if (wanted(6) && peaks == null) notes.push('item 6: no serving figures (item 2 did not complete)')
  rows.sort((a, b) => a.item - b.item)

  const header = resultHeader(started, [
    ...notes,
    ...failed,
    ...[...new Set(uncaught)].map((e) => `uncaught during the run (not from the bench code): ${e}`)
  ])
  const benchDir = fileURLToPath(new URL('.', import.meta.url))
  const dir = resolve(process.env.BENCH_OUT || benchDir)
  const md = await writeResults(dir, 'Benchmarks', header, rows)
  // the README quotes bench/results.md, and nothing else
  if (dir === resolve(benchDir)) await copyResultsToReadme()
  else note(`results written to ${dir} (bench/results.* and the README left as they were)`)
  process.stdout.write(`\n${md}`)
  if (failed.length > 0) process.exitCode = 1
}

keepGoingOnStrayErrors(uncaught)
await main()
// libp2p may leave a socket or timer behind: the bench is over
process.exit()
