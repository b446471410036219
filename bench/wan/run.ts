/**
 * `npm run bench:wan`: the scenarios of issue 14 on the WAN testbed (bench/wan/testbed.ts), each
 * figure a ratio against a baseline measured in the same run (plain Helia in the same host) or
 * computed from the spec (an oracle). Writes bench/wan/results.json (a header, then one row per
 * figure, the shape of bench/results.json) and bench/wan/results.md, and prints the table; the
 * trace behind the figures (who served what, the seeker's reputation records) goes to
 * bench/wan/trace.json. The testbed is always removed, on failure and on Ctrl-C too.
 *
 * Options (environment): `BENCH_WAN_ONLY` (e.g. `1,5`: only those scenarios' rows; 3 and 5 run 1 too;
 * `nat` or `6` is the NAT scenario of issue 16, alone: `BENCH_WAN_ONLY=nat`),
 * `BENCH_WAN_RETRIEVALS` (default 300: retrievals per seeker in scenario 1, smaller for trial
 * runs), `BENCH_WAN_TIMEOUT_MS` (default 60 000: a retrieval not done by then failed),
 * `BENCH_WAN_RERUN` (default 60: retrievals run again with persisted reputation, scenario 5),
 * `BENCH_WAN_CHURN_RETRIEVALS` (default 150, at most `BENCH_WAN_RETRIEVALS`: ours under churn,
 * scenario 3; 3 needs 1 in the same run, for its baseline),
 * `BENCH_OUT` (a folder to write the results to instead of bench/wan/), `BENCH_WAN_PREFIX` (the
 * testbeds' namespace prefix, default `ikbench`: runs side by side need their own); scenario 2's
 * own options (`BENCH_WAN_SWARM_MIB`, …) are in bench/wan/swarm.ts, the NAT scenario's
 * (`BENCH_WAN_NAT_FILES`, `BENCH_WAN_NAT_KIB`, `BENCH_WAN_NAT_TIMEOUT_MS`) in bench/wan/nat.ts.
 *
 * @packageDocumentation
 */

import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { note, positiveEnv, type ResultRow, resultHeader, writeResults } from '../common.ts'
import { copyResultsToReadme } from '../readme.ts'
import { coldDhtInit, coldDhtSpec, runColdDht } from './cold-dht.ts'
import { type HeterogeneousResult, heterogeneousSpec, runHeterogeneous } from './heterogeneous.ts'
import { natBenchSpec, natEnv, runNat } from './nat.ts'
import { runSwarm, swarmEnv, swarmSpec } from './swarm.ts'
import { Testbed } from './testbed.ts'

/** The namespaces of the bench's testbeds: `ikbench-sw`, `ikbench-h1`, … (`BENCH_WAN_PREFIX`: another) */
const PREFIX = process.env.BENCH_WAN_PREFIX || 'ikbench'
const ISSUE_RETRIEVALS = 300

const SCENARIOS: Record<number, string> = {
  1: 'heterogeneous providers',
  2: 'swarm download',
  3: 'churn',
  4: 'cold DHT over latency',
  5: 'learning curve (from scenario 1)',
  6: 'nat: time to content across two NATs (issue 16)'
}

/**
 * The hosts' TCP settings that shape a transfer after idle (a host namespace starts with the
 * machine's congestion control): Linux restarts an idle connection's congestion window only
 * under `tcp_slow_start_after_idle` and a congestion control that does not set the window
 * itself (Reno, CUBIC; not BBR).
 */
async function tcpSettings(bed: Testbed): Promise<string> {
  const { stdout } = await bed.exec(1, 'sysctl', [
    '-n',
    'net.ipv4.tcp_congestion_control',
    'net.ipv4.tcp_slow_start_after_idle'
  ])
  const [cc, idle] = stdout.trim().split('\n')
  const restart = idle === '1' && cc !== 'bbr' ? 'restarts' : 'does not restart'
  return (
    `TCP congestion control ${cc}, tcp_slow_start_after_idle ${idle} in the hosts (the machine's ` +
    `defaults): an idle connection ${restart} from the initial window`
  )
}

/** Scenarios `BENCH_WAN_ONLY` may name by word. */
const SCENARIO_NAMES: Record<string, number> = { nat: 6 }

async function main(): Promise<void> {
  const started = performance.now()
  const only = (process.env.BENCH_WAN_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => SCENARIO_NAMES[s] ?? Number(s))
  const wanted = (n: number): boolean => only.length === 0 || only.includes(n)
  const retrievals = positiveEnv('BENCH_WAN_RETRIEVALS', ISSUE_RETRIEVALS)
  const timeoutMs = positiveEnv('BENCH_WAN_TIMEOUT_MS', 60_000)
  const rerun = positiveEnv('BENCH_WAN_RERUN', 60)
  const notes: string[] = []
  if (retrievals !== ISSUE_RETRIEVALS) {
    notes.push(`scaled: ${retrievals} retrievals per seeker instead of ${ISSUE_RETRIEVALS} (scenarios 1, 5)`)
  }
  if (only.length > 0) notes.push(`only scenario${only.length === 1 ? '' : 's'} ${only.join(', ')}`)
  const churnRetrievals = positiveEnv('BENCH_WAN_CHURN_RETRIEVALS', Math.min(retrievals, 150))
  const rows: ResultRow[] = []
  const failed: string[] = []
  const trace: Record<string, unknown> = {}

  // each scenario on a testbed of its own, removed whatever happens
  const onTestbed = async (
    n: number,
    fn: (bed: Testbed) => Promise<Omit<HeterogeneousResult, 'ours'>>,
    spec = heterogeneousSpec()
  ): Promise<Omit<HeterogeneousResult, 'ours'> | undefined> => {
    // a testbed left by a crashed run (the state file, or namespaces of the prefix) goes first
    await Testbed.down(PREFIX).catch(() => {})
    const t = performance.now()
    note(`scenario ${n} (${SCENARIOS[n]}) …`)
    const bed = await Testbed.up(spec, { prefix: PREFIX, seed: 14, log: (l) => note(l) })
    const delay = bed.delay === 'nfqueue' ? 'the NFQUEUE delay line (no netem in this kernel)' : bed.delay
    if (!notes.some((n) => n.startsWith('testbed:'))) {
      notes.push(`testbed: delay by ${delay}`)
      const tcp = await tcpSettings(bed).catch(() => undefined)
      if (tcp != null) notes.push(`testbed: ${tcp}`)
    }
    try {
      const result = await fn(bed)
      rows.push(...result.figures.filter((f) => wanted(f.item)))
      notes.push(...result.notes)
      trace[`scenario${n}`] = result.trace
      note(`scenario ${n} done in ${((performance.now() - t) / 1000).toFixed(0)} s`)
      return result
    } catch (err) {
      const message = `scenario ${n} (${SCENARIOS[n]}) could not be measured: ${(err as Error).stack ?? err}`
      note(message)
      failed.push(message)
      return undefined
    } finally {
      await bed.down({ log: (l) => note(l) })
    }
  }
  let first: HeterogeneousResult | undefined
  if (wanted(1) || wanted(5) || wanted(3)) {
    await onTestbed(1, async (bed) => {
      first = await runHeterogeneous(bed, { retrievals, timeoutMs, rerun })
      return first
    })
  }
  if (wanted(3)) {
    const baseline = first?.ours
    if (baseline == null) failed.push('scenario 3 (churn) not run: it needs scenario 1 of the same run')
    else {
      await onTestbed(3, (bed) =>
        runHeterogeneous(bed, { retrievals: churnRetrievals, timeoutMs, churn: { baseline } })
      )
    }
  }
  if (wanted(2)) await onTestbed(2, (bed) => runSwarm(bed, { ...swarmEnv(), timeoutMs }), swarmSpec())
  if (wanted(4)) {
    const dht = coldDhtInit(timeoutMs)
    await onTestbed(4, (bed) => runColdDht(bed, dht.init), coldDhtSpec(dht.init.hosts))
    notes.push(...dht.notes)
  }
  if (wanted(6)) await onTestbed(6, (bed) => runNat(bed, natEnv(positiveEnv)), natBenchSpec())
  rows.sort((a, b) => a.item - b.item)

  const header = resultHeader(started, [...notes, ...failed])
  const wanDir = fileURLToPath(new URL('.', import.meta.url))
  const dir = resolve(process.env.BENCH_OUT || wanDir)
  const md = await writeResults(dir, 'WAN benchmarks', header, rows)
  await writeFile(resolve(dir, 'trace.json'), `${JSON.stringify(trace)}\n`)
  if (dir !== resolve(wanDir)) note(`results written to ${dir} (bench/wan/results.* left as they were)`)
  else await copyResultsToReadme('wan')
  process.stdout.write(`\n${md}`)
  if (failed.length > 0) process.exitCode = 1
}

// Ctrl-C: the testbed goes, with every process still running in it; children die on exit
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    note(`${signal}: removing the testbed`)
    void Testbed.down(PREFIX)
      .catch(() => {})
      .finally(() => process.exit(130))
  })
}
process.on('unhandledRejection', (reason) => {
  note(`unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`)
})
await main()
process.exit()
