/**
 * Scenario 4 of issue 14, a cold DHT over latency: 100 kad-dht nodes on 25 hosts (4 per host
 * process, bench/wan/dht-host.ts) whose one-way delays are spread from 5 to 50 ms, so that the
 * RTT between two of them is 20 to 200 ms; 10 files of 1 MiB, each held and provided by one node.
 * The DHT is bootstrapped among the testbed's nodes only: each node dials 3 others picked at
 * random, waits for its first self-query, then walks the DHT towards its own id once more; the
 * providers `provide` their file, and the lookups begin only once every provide has finished.
 *
 * Then, in each round, two new seekers join on a 26th host through the same 3 random bootstrap
 * nodes (bench/wan/dht-seeker.ts): ours (our discovery and router) and kad-dht alone (plain
 * Helia with `@libp2p/kad-dht`). Each looks up and fetches every file (first lookup), then
 * every file again (repeated lookup), in turns. Figures: time to the first provider and to the
 * content, p50 and p95, and the successes, of ours against kad-dht alone.
 *
 * @packageDocumentation
 */

import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import {
  type BenchFigure,
  type Child,
  MiB,
  memoryOf,
  note,
  positiveEnv,
  quantile,
  row,
  seededRandom,
  seededSha,
  shuffle,
  startChild,
  successRate,
  tsFlags
} from '../common.ts'
import type { DhtHostCommand, DhtHostReady, DhtHostSpec, DhtHostStats, DhtNodeInfo } from './dht-host.ts'
import type { DhtLookupLine, DhtSeekerDone, DhtSeekerPlan } from './dht-seeker.ts'
import type { HeterogeneousResult } from './heterogeneous.ts'
import { specRttMs } from './spec.ts'
import type { Testbed } from './testbed.ts'
import type { HostSpec, TestbedSpec } from './types.ts'

/** Options of {@link runColdDht}. Every option is optional. */
export interface ColdDhtInit {
  /** DHT hosts @default 25 */
  hosts?: number
  /** DHT nodes per host process @default 4 */
  nodesPerHost?: number
  /** files, each provided by one node @default 10 */
  files?: number
  /** bytes per file @default 1 MiB */
  fileSize?: number
  /** rounds, each with two new seekers (ours, kad-dht) @default 3 */
  rounds?: number
  /** bootstrap peers every node (and each round's seekers) dials @default 3 */
  bootstrapPeers?: number
  /** a retrieval not done by then has failed, and counts as this time @default 60 000 */
  timeoutMs?: number
}

/** Defaults of {@link ColdDhtInit}: the issue's figures. */
export const COLD_DHT_DEFAULTS = {
  hosts: 25,
  nodesPerHost: 4,
  files: 10,
  fileSize: MiB,
  rounds: 3,
  bootstrapPeers: 3,
  timeoutMs: 60_000
} as const satisfies Required<ColdDhtInit>

/**
 * The options of a bench run, from the environment (`BENCH_WAN_DHT_HOSTS`, `BENCH_WAN_DHT_NODES`
 * per host, `BENCH_WAN_DHT_FILES`, `BENCH_WAN_DHT_ROUNDS`), with a note where the run is
 * smaller than the issue's 100 nodes on 25 hosts and 10 CIDs.
 */
export function coldDhtInit(timeoutMs: number): { init: Required<ColdDhtInit>; notes: string[] } {
  const d = COLD_DHT_DEFAULTS
  const init: Required<ColdDhtInit> = {
    ...d,
    hosts: positiveEnv('BENCH_WAN_DHT_HOSTS', d.hosts),
    nodesPerHost: positiveEnv('BENCH_WAN_DHT_NODES', d.nodesPerHost),
    files: positiveEnv('BENCH_WAN_DHT_FILES', d.files),
    rounds: positiveEnv('BENCH_WAN_DHT_ROUNDS', d.rounds),
    timeoutMs
  }
  const notes: string[] = []
  if (init.hosts !== d.hosts || init.nodesPerHost !== d.nodesPerHost || init.files !== d.files) {
    notes.push(
      `scaled: scenario 4 with ${init.hosts * init.nodesPerHost} DHT nodes on ${init.hosts} hosts and ${init.files} CIDs ` +
        `instead of ${d.hosts * d.nodesPerHost} on ${d.hosts} and ${d.files}`
    )
  }
  return { init, notes }
}

/** One-way delays of the DHT hosts, ms: spread evenly over this range (RTT 20–200 ms). */
export const DHT_DELAY_MS = { min: 5, max: 50 } as const
/** Every access link's rate, both ways, Mbit/s (the same for all: the DHT is what differs). */
export const DHT_LINK_MBIT = 50
/** The seekers' host: 10 ms one way (RTT 30–120 ms to the DHT hosts), 100 Mbit/s both ways. */
export const DHT_SEEKER_LINK = { delayMs: 10, upMbit: 100, downMbit: 100 } as const
/** Node j of a host listens on this port + j. */
const BASE_PORT = 4101
/** Host processes started at once (Node processes starting together on 2 cores take longer in all). */
const START_BATCH = 4
/** How long a host may take to settle (first self-queries, then one walk each), ms. */
const SETTLE_MS = 90_000
/** How long the seekers wait for their first self-query before the lookups begin, ms. */
const SEEKER_SETTLE_MS = 30_000
const PROVIDE_MS = 120_000
/** Times nodes left with an empty routing table after bootstrap dial others. */
const REBOOTSTRAP_PASSES = 3

/** The testbed of scenario 4: hosts 1…`hosts` hold the DHT nodes, the last one the seekers. */
export function coldDhtSpec(hosts: number = COLD_DHT_DEFAULTS.hosts, seed = 4): TestbedSpec {
  const { min, max } = DHT_DELAY_MS
  const delays = Array.from({ length: hosts }, (_, i) =>
    hosts === 1 ? min : Math.round(min + ((max - min) * i) / (hosts - 1))
  )
  const out: HostSpec[] = shuffle(delays, seededRandom(seed)).map((delayMs, i) => ({
    name: `d${i + 1}`,
    delayMs,
    upMbit: DHT_LINK_MBIT,
    downMbit: DHT_LINK_MBIT
  }))
  out.push({ name: 'seeker', ...DHT_SEEKER_LINK })
  return { hosts: out }
}

/** Which node provides each file: `[host index from 0, node]`, on as many distinct hosts as can be. */
export function placeProviders(
  files: number,
  hosts: number,
  nodesPerHost: number,
  seed = 4
): Array<[number, number]> {
  if (files > hosts * nodesPerHost)
    throw new RangeError(`${files} files need more than ${hosts * nodesPerHost} nodes`)
  const order = shuffle([...Array(hosts).keys()], seededRandom(seed))
  return Array.from({ length: files }, (_, i) => [order[i % hosts]!, Math.floor(i / hosts)])
}

/** `count` distinct picks from `n`, none of them `self`. */
function pick(n: number, count: number, random: () => number, self = -1): number[] {
  return shuffle(
    [...Array(n).keys()].filter((i) => i !== self),
    random
  ).slice(0, count)
}

const hostScript = fileURLToPath(new URL('./dht-host.ts', import.meta.url))
const seekerScript = fileURLToPath(new URL('./dht-seeker.ts', import.meta.url))
const FILE_PREFIX = 'colddht'

type HostProcess = Child & DhtHostReady

async function ask<T>(
  host: HostProcess,
  command: DhtHostCommand,
  key: string,
  timeoutMs: number
): Promise<T> {
  const answer = host.nextLine((l) => l.startsWith(`{"${key}":`) || l.startsWith('{"error":'), timeoutMs)
  host.send(JSON.stringify(command))
  const value = JSON.parse(await answer) as T & { error?: string }
  if (value.error != null) throw new Error(`DHT host ${host.pid}: ${value.error}`)
  return value
}

/** Run scenario 4 on `bed`, made from {@link coldDhtSpec} with the same number of hosts. */
export async function runColdDht(bed: Testbed, init: ColdDhtInit = {}): Promise<HeterogeneousResult> {
  const o = { ...COLD_DHT_DEFAULTS, ...init }
  const placement = placeProviders(o.files, o.hosts, o.nodesPerHost)
  const shas = await Promise.all(
    Array.from({ length: o.files }, (_, i) => seededSha(`${FILE_PREFIX}-${i}`, o.fileSize))
  )
  const hosts: HostProcess[] = []
  const dir = await mkdtemp(join(tmpdir(), 'ikwan-dht-'))
  let seekerPid: number | undefined
  try {
    const tStart = performance.now()
    // the DHT hosts, a few at a time
    const startHost = async (h: number): Promise<HostProcess> => {
      const host = bed.host(`d${h + 1}`)
      const spec: DhtHostSpec = {
        address: host.address,
        nodes: o.nodesPerHost,
        basePort: BASE_PORT,
        provide: placement.flatMap(([ph, node], file) =>
          ph === h ? [{ node, seed: `${FILE_PREFIX}-${file}`, bytes: o.fileSize }] : []
        )
      }
      const [cmd, args] = bed.argv(host, process.execPath, [...tsFlags(), hostScript, JSON.stringify(spec)])
      const child = await startChild(cmd, args, (line) => line.startsWith('{"ready":true'), {
        what: `DHT host d${h + 1}`,
        timeoutMs: 180_000
      })
      return Object.assign(child, JSON.parse(child.lines.at(-1)!) as DhtHostReady)
    }
    for (let h = 0; h < o.hosts; h += START_BATCH) {
      const batch = [...Array(Math.min(START_BATCH, o.hosts - h)).keys()].map((k) => startHost(h + k))
      hosts.push(...(await Promise.all(batch)))
    }
    const nodes: Array<DhtNodeInfo & { label: string; host: number }> = hosts.flatMap((p, h) =>
      p.nodes.map((n, j) => ({ ...n, label: `d${h + 1}.${j}`, host: h }))
    )
    note(`scenario 4: ${nodes.length} DHT nodes on ${hosts.length} hosts listen`)
    const cids = placement.map(([h, node]) => {
      const cid = hosts[h]!.nodes[node]!.cid
      if (cid == null) throw new Error(`node d${h + 1}.${node} printed no CID`)
      return cid
    })

    // bootstrap: every node dials a few others at random; then each settles
    const random = seededRandom(44)
    const connects = await Promise.all(
      hosts.map((p, h) =>
        ask<{ dialled: number; failed: number }>(
          p,
          {
            cmd: 'connect',
            peers: p.nodes.map((_, j) =>
              pick(nodes.length, o.bootstrapPeers, random, h * o.nodesPerHost + j).map(
                (i) => nodes[i]!.multiaddr
              )
            )
          },
          'connected',
          120_000
        )
      )
    )
    let failedDials = connects.reduce((s, c) => s + c.failed, 0)
    // a node whose routing table is still empty (its dials failed, or its peers' pings did not
    // come back in time on a loaded machine) dials others, a few more times at most
    for (let again = 0; again < REBOOTSTRAP_PASSES; again++) {
      const now = await Promise.all(hosts.map((p) => ask<DhtHostStats>(p, { cmd: 'stats' }, 'stats', 30_000)))
      const empty = now.map((s) => s.tables.map((t) => t === 0))
      if (!empty.flat().some(Boolean)) break
      note(
        `scenario 4: ${empty.flat().filter(Boolean).length} DHT nodes with an empty routing table dial again`
      )
      const more = await Promise.all(
        hosts.map((p, h) =>
          ask<{ dialled: number; failed: number }>(
            p,
            {
              cmd: 'connect',
              peers: p.nodes.map((_, j) =>
                empty[h]![j]
                  ? pick(nodes.length, o.bootstrapPeers, random, h * o.nodesPerHost + j).map(
                      (i) => nodes[i]!.multiaddr
                    )
                  : []
              )
            },
            'connected',
            120_000
          )
        )
      )
      failedDials += more.reduce((s, c) => s + c.failed, 0)
    }
    const tSettle = performance.now()
    const settled = await Promise.all(
      hosts.map((p) =>
        ask<DhtHostStats>(p, { cmd: 'settle', timeoutMs: SETTLE_MS }, 'stats', SETTLE_MS + 30_000)
      )
    )
    const settleS = (performance.now() - tSettle) / 1000
    const tables = settled.flatMap((s) => s.tables)
    note(
      `scenario 4: DHT settled in ${settleS.toFixed(0)} s (routing tables ${Math.min(...tables)}–${Math.max(...tables)} peers, ` +
        `${settled.reduce((s, x) => s + x.selfQueried, 0)} of ${nodes.length} self-queried, ${failedDials} bootstrap dials failed)`
    )
    const provided = await Promise.all(
      hosts
        .filter((_, h) => placement.some(([ph]) => ph === h))
        .map((p) =>
          ask<{ times: Array<{ cid: string; ms: number; error?: string }> }>(
            p,
            { cmd: 'provide', timeoutMs: PROVIDE_MS },
            'provided',
            PROVIDE_MS + 30_000
          )
        )
    )
    const provides = provided.flatMap((p) => p.times)
    const provideErrors = provides.filter((p) => p.error != null)
    note(
      `scenario 4: ${provides.length} files provided (${Math.max(...provides.map((p) => p.ms)).toFixed(0)} ms at most` +
        `${provideErrors.length > 0 ? `, ${provideErrors.length} failed: ${provideErrors[0]!.error}` : ''})`
    )

    // the seekers
    const seeker = bed.host('seeker')
    const labels = Object.fromEntries(nodes.map((n) => [n.peerId, n.label]))
    const plan: DhtSeekerPlan = {
      address: seeker.address,
      cids,
      shas,
      labels,
      rounds: Array.from({ length: o.rounds }, () => ({
        bootstrap: pick(nodes.length, o.bootstrapPeers, random).map((i) => nodes[i]!.multiaddr),
        order: shuffle([...Array(o.files).keys()], random)
      })),
      timeoutMs: o.timeoutMs,
      settleMs: SEEKER_SETTLE_MS
    }
    const planPath = join(dir, 'plan.json')
    await writeFile(planPath, JSON.stringify(plan))
    const lines: DhtLookupLine[] = []
    let done: DhtSeekerDone | undefined
    const [cmd, args] = bed.argv(seeker, process.execPath, [...tsFlags(), seekerScript, planPath])
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    seekerPid = child.pid
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    for await (const line of createInterface({ input: child.stdout })) {
      if (!line.startsWith('{')) continue
      const value = JSON.parse(line) as DhtLookupLine | DhtSeekerDone
      if ('done' in value) {
        done = value
        continue
      }
      lines.push(value)
      if (!value.ok)
        note(
          `scenario 4, ${value.seeker} round ${value.round} ${value.pass} file ${value.file} failed: ${value.error}`
        )
    }
    const code = await exited
    seekerPid = undefined
    if (done == null) throw new Error(`the DHT seeker exited (${code}) before it was done`)
    note(`scenario 4: ${lines.length} retrievals`)
    const end = await Promise.all(hosts.map((p) => ask<DhtHostStats>(p, { cmd: 'stats' }, 'stats', 30_000)))
    const rtt = (h: number): number => specRttMs(bed.host(`d${h + 1}`).link, seeker.link)
    return summarize({
      o,
      lines,
      done,
      end,
      settled,
      provides,
      settleS,
      failedDials,
      runS: (performance.now() - tStart) / 1000,
      trace: {
        placement: placement.map(([h, node], file) => ({
          file,
          cid: cids[file],
          node: `d${h + 1}.${node}`,
          rttMs: rtt(h)
        })),
        hosts: hosts.map((_, h) => ({ host: `d${h + 1}`, delayMs: bed.host(`d${h + 1}`).link.delayMs })),
        bootstrap: plan.rounds.map((r) => r.bootstrap.map((a) => labels[a.split('/p2p/')[1]!] ?? a)),
        provides,
        selfQueryMs: done.selfQueryMs,
        tables: { settled: settled.map((s) => s.tables), end: end.map((s) => s.tables) },
        lookups: lines
      }
    })
  } finally {
    if (seekerPid != null) process.kill(seekerPid, 'SIGKILL')
    await Promise.allSettled(hosts.map((p) => p.kill()))
    await rm(dir, { recursive: true, force: true })
  }
}

interface Collected {
  o: Required<ColdDhtInit>
  lines: DhtLookupLine[]
  done: DhtSeekerDone
  end: DhtHostStats[]
  settled: DhtHostStats[]
  provides: Array<{ ms: number; error?: string }>
  settleS: number
  failedDials: number
  /** seconds from the first host's start to the end */
  runS: number
  trace: Record<string, unknown>
}

/** The rows of scenario 4 (item 4): per pass, successes, then time to first provider and to content. */
export function coldDhtFigures(
  lines: DhtLookupLine[],
  o: Pick<
    Required<ColdDhtInit>,
    'hosts' | 'nodesPerHost' | 'files' | 'rounds' | 'timeoutMs' | 'bootstrapPeers'
  >
): Array<BenchFigure & { item: number }> {
  const setting =
    `${o.files} CIDs each provided by 1 of ${o.hosts * o.nodesPerHost} kad-dht nodes on ${o.hosts} hosts ` +
    `(RTT 20–200 ms), a new seeker bootstrapped by ${o.bootstrapPeers} of them, ${o.rounds} round${o.rounds === 1 ? '' : 's'}`
  const baselineName =
    'kad-dht alone: plain Helia with @libp2p/kad-dht (client mode) in the same host, same bootstrap peers: ' +
    'findProviders, dial the first provider, unixfs.cat'
  const item4 = (f: Parameters<typeof row>[0]): BenchFigure & { item: number } => ({ item: 4, ...row(f) })
  const at = (ls: DhtLookupLine[], q: number, ms: (l: DhtLookupLine) => number | undefined): number =>
    quantile(
      ls.map((l) => ms(l) ?? o.timeoutMs),
      q
    )
  const figures: Array<BenchFigure & { item: number }> = []
  for (const pass of ['first', 'repeat'] as const) {
    const of = (s: DhtLookupLine['seeker']): DhtLookupLine[] =>
      lines.filter((l) => l.seeker === s && l.pass === pass)
    const ours = of('ours')
    const kad = of('kad-dht')
    const which = pass === 'first' ? 'first lookup (cold)' : 'repeated lookup (same CIDs again)'
    figures.push(
      item4({
        figure: `success rate, ${which}, ${setting}`,
        ours: successRate(ours),
        baseline: successRate(kad),
        baselineName,
        unit: '%',
        better: 'higher',
        goal: 'report'
      })
    )
    const measures: Array<[string, (l: DhtLookupLine) => number | undefined]> = [
      ['time to first provider', (l) => l.firstProviderMs],
      ['time to content', (l) => (l.ok ? l.ms : undefined)]
    ]
    for (const [name, ms] of measures) {
      for (const q of [0.5, 0.95]) {
        figures.push(
          item4({
            figure: `${name} p${Math.round(q * 100)}, ${which}, ${setting}`,
            ours: at(ours, q, ms),
            baseline: at(kad, q, ms),
            baselineName,
            unit: 'ms',
            better: 'lower',
            goal: 'report'
          })
        )
      }
    }
  }
  return figures
}

function summarize(c: Collected): HeterogeneousResult {
  const figures = coldDhtFigures(c.lines, c.o)
  const range = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`
  const peaks = c.end.map((s) => s.peak)
  const tables = c.settled.flatMap((s) => s.tables)
  const failed = (s: DhtLookupLine['seeker']): string => {
    const f = c.lines.filter((l) => l.seeker === s && !l.ok)
    return `${f.length} of ${c.lines.filter((l) => l.seeker === s).length}`
  }
  const self = c.done.selfQueryMs
  const notes = [
    `scenario 4: peak RSS: DHT host processes (${c.o.nodesPerHost} nodes each) ${range(peaks)} MiB, ` +
      `${peaks.reduce((s, x) => s + x, 0).toFixed(0)} MiB together; the seekers' process ${c.done.peak.toFixed(0)} MiB; ` +
      `this process ${memoryOf(process.pid).peak.toFixed(0)} MiB; CPU time used: DHT hosts ` +
      `${c.end.reduce((s, x) => s + x.cpuS, 0).toFixed(0)} s together, seekers ${c.done.cpuS.toFixed(0)} s, ` +
      `in a run of ${c.runS.toFixed(0)} s`,
    `scenario 4: DHT bootstrapped among its own nodes in ${c.settleS.toFixed(0)} s (${c.failedDials} bootstrap dials ` +
      `failed), routing tables ${range(tables)} peers; ${c.provides.length} provides took ${range(c.provides.map((p) => p.ms))} ms` +
      `${c.provides.some((p) => p.error != null) ? ` (${c.provides.filter((p) => p.error != null).length} failed)` : ''}; ` +
      `first self-query of the seekers: ours ${range(self.map((s) => s.ours ?? Number.NaN))} ms, ` +
      `kad-dht ${range(self.map((s) => s['kad-dht'] ?? Number.NaN))} ms`,
    `scenario 4: failed retrievals: ours ${failed('ours')}, kad-dht ${failed('kad-dht')}`
  ]
  return { figures, notes, trace: c.trace }
}
