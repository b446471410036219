/**
 * `npm run bench:cluster`: the cluster bench of issue 17, with members as separate processes
 * (real `ipfs-kit daemon`s from dist, each on its own repo with a cluster.json, on 127.0.0.1,
 * with the cluster's default timers). Writes bench/cluster-results.json (a header, then one row
 * per figure) and bench/cluster-results.md, and prints the table. A benchmark reports: the exit
 * code is non-zero only when an item could not be measured at all.
 *
 * Items: 1 dead member detected (p95 over SIGKILLs); 2 `replicationFactorMin` restored after a
 * kill, and the repins; 3 a new member syncing a large state; 4 pin throughput.
 *
 * Options (environment), the issue's sizes by default: `BENCH_CLUSTER_KILLS` (20: item 1),
 * `BENCH_CLUSTER_PINS` (1,000: item 2), `BENCH_CLUSTER_STATE_PINS` (100,000: item 3),
 * `BENCH_CLUSTER_THROUGHPUT_PINS` (2,000: item 4), `BENCH_CLUSTER_WORKERS` (3),
 * `BENCH_CLUSTER_CONCURRENCY` (64 HTTP requests at once), `BENCH_ONLY` (e.g. `1,3`), `BENCH_OUT`
 * (a folder for the results instead of bench/), `BENCH_CLUSTER_PROFILE` (members to CPU-profile:
 * `master`, `worker1`…, `joiner…`; into `BENCH_CLUSTER_PROFILE_DIR`, default bench/profiles).
 *
 * @packageDocumentation
 */

import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { killAll, requireBuild } from '../test/cli/helpers.ts'
import { runDetectionBench, runRestoreBench } from './cluster-failure.ts'
import { type BenchCluster, startCluster, stopCluster } from './cluster-members.ts'
import { runSyncBench, runThroughputBench } from './cluster-state.ts'
import {
  type BenchFigure,
  keepGoingOnStrayErrors,
  note,
  positiveEnv,
  type ResultRow,
  resultHeader,
  writeResults
} from './common.ts'
import { copyResultsToReadme } from './readme.ts'

/** The sizes the issue asks for (and the bench's own where it is silent). */
const FULL = { kills: 20, pins: 1_000, statePins: 100_000, throughputPins: 2_000, workers: 3 }

const TITLES: Record<number, string> = {
  1: 'dead member detected',
  2: 'replication restored after a kill',
  3: 'a new member syncs a large state',
  4: 'pin throughput'
}

const uncaught: string[] = []

async function main(): Promise<void> {
  requireBuild()
  const started = performance.now()
  const size = {
    kills: positiveEnv('BENCH_CLUSTER_KILLS', FULL.kills),
    pins: positiveEnv('BENCH_CLUSTER_PINS', FULL.pins),
    statePins: positiveEnv('BENCH_CLUSTER_STATE_PINS', FULL.statePins),
    throughputPins: positiveEnv('BENCH_CLUSTER_THROUGHPUT_PINS', FULL.throughputPins),
    workers: positiveEnv('BENCH_CLUSTER_WORKERS', FULL.workers)
  }
  const concurrency = positiveEnv('BENCH_CLUSTER_CONCURRENCY', 64)
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number)
  const wanted = (item: number): boolean => only.length === 0 || only.includes(item)
  const notes: string[] = [
    `members: 1 master and ${size.workers} workers, each an ipfs-kit daemon (its own process and repo) on ` +
      `127.0.0.1 with the cluster's default timers; item 3 adds a new worker; ${concurrency} HTTP requests at once`
  ]
  const scaled = (Object.keys(FULL) as Array<keyof typeof FULL>).filter((k) => size[k] !== FULL[k])
  if (scaled.length > 0) {
    notes.push(`scaled: ${scaled.map((k) => `${k} ${size[k]} instead of ${FULL[k]}`).join(', ')}`)
  }
  if (only.length > 0) notes.push(`only item${only.length === 1 ? '' : 's'} ${only.join(', ')}`)

  const rows: ResultRow[] = []
  const failed: string[] = []
  let bench: BenchCluster | undefined
  const plan: Array<[number, () => Promise<BenchFigure[]>]> = [
    [1, async () => (await runDetectionBench(bench!, size.kills)).figures],
    [
      2,
      async () => {
        const r = await runRestoreBench(bench!, { pins: size.pins, concurrency })
        notes.push(...r.notes)
        return r.figures
      }
    ],
    [4, () => runThroughputBench(bench!, { pins: size.throughputPins, concurrency })],
    [
      3,
      async () => {
        const r = await runSyncBench(bench!, { pins: size.statePins, concurrency })
        notes.push(...r.notes)
        return r.figures
      }
    ]
  ]
  try {
    note(`starting 1 master and ${size.workers} workers …`)
    bench = await startCluster(size.workers)
    for (const [item, run] of plan) {
      if (!wanted(item)) continue
      const t = performance.now()
      note(`item ${item} (${TITLES[item]}) …`)
      try {
        rows.push(...(await run()).map((f) => ({ item, ...f })))
        note(`item ${item} done in ${((performance.now() - t) / 1000).toFixed(0)} s`)
      } catch (err) {
        const message = `item ${item} (${TITLES[item]}) could not be measured: ${(err as Error).stack ?? err}`
        note(message)
        failed.push(message)
      }
    }
  } catch (err) {
    failed.push(`the cluster could not be started: ${(err as Error).stack ?? err}`)
  } finally {
    if (bench != null) await stopCluster(bench)
  }
  rows.sort((a, b) => a.item - b.item)
  const header = resultHeader(started, [
    ...notes,
    ...failed,
    ...[...new Set(uncaught)].map((e) => `uncaught during the run (not from the bench code): ${e}`)
  ])
  const benchDir = fileURLToPath(new URL('.', import.meta.url))
  const dir = resolve(process.env.BENCH_OUT || benchDir)
  const md = await writeResults(dir, 'Cluster bench', header, rows, 'cluster-results')
  if (dir !== resolve(benchDir)) note(`results written to ${dir} (bench/cluster-results.* left as they were)`)
  else await copyResultsToReadme('cluster')
  process.stdout.write(`\n${md}`)
  if (failed.length > 0) process.exitCode = 1
}

// however the bench ends (Ctrl-C too), every member still running is killed by its pid
process.once('exit', () => killAll())
keepGoingOnStrayErrors(uncaught)
await main()
process.exit()
