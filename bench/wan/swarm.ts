/**
 * Scenario 2 of issue 14, swarm download: one 256 MiB file held by 6 providers whose uploads are
 * capped at 20 to 100 Mbit/s; the seeker (1000 Mbit/s down) fetches it whole, ours and plain
 * Helia in turns (bench/wan/seeker.ts, the order alternated). The figure is the throughput
 * against the sum of the providers' upload caps, the physical limit.
 *
 * No link has a delay, jitter or loss: on a kernel without netem every bridged packet would go
 * through the NFQUEUE delay line, which carries about 120–130 Mbit/s in all, under the caps' sum
 * (360 Mbit/s); without any delay the testbed makes no delay line and the caps (htb) are the
 * only limit. The queue of each cap (100 ms at its rate) still adds delay under load, as a
 * home router's does.
 *
 * Options by environment (read by {@link swarmEnv}): `BENCH_WAN_SWARM_MIB` (default 256: the
 * file, MiB), `BENCH_WAN_SWARM_REPS` (default 2: retrievals per seeker), and
 * `BENCH_WAN_SWARM_CPU_PROF` (a folder: the seeker process runs with `--cpu-prof` there), and
 * `BENCH_WAN_SWARM_HELIA` (`0`: ours only, for a profile of our seeker alone).
 *
 * @packageDocumentation
 */

import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  type BenchFigure,
  type Child,
  MiB,
  memoryOf,
  note,
  positiveEnv,
  row,
  seededSha,
  startChild,
  tsFlags
} from '../common.ts'
import { fileSeed } from '../providers.ts'
import type { ServeReady, WanNodeSpec } from './node.ts'
import type { BulkStream } from './probe.ts'
import type { RetrievalLine, SeekerDone, SeekerName, SeekerPlan } from './seeker.ts'
import type { Testbed } from './testbed.ts'
import type { TestbedSpec } from './types.ts'

/** A provider host of scenario 2: its upload cap. */
export interface SwarmProvider {
  name: string
  upMbit: number
}

/**
 * The 6 providers: caps evenly spread over 20–100 Mbit/s (sum 360), shuffled against the host
 * order so that neither the first connected nor the last is the fastest.
 */
export const SWARM_PROVIDERS: readonly SwarmProvider[] = [
  { name: 'p1', upMbit: 52 },
  { name: 'p2', upMbit: 100 },
  { name: 'p3', upMbit: 20 },
  { name: 'p4', upMbit: 84 },
  { name: 'p5', upMbit: 36 },
  { name: 'p6', upMbit: 68 }
]

/** The seeker's link: downloads far above the caps' sum, so the providers are the limit. */
export const SWARM_SEEKER_LINK = { upMbit: 100, downMbit: 1000 } as const

/** Every provider's download (the seeker's wants and acknowledgements). */
const PROVIDER_DOWN_MBIT = 100

/** The physical limit: the sum of the providers' upload caps, Mbit/s (under the seeker's download). */
export function swarmLimitMbit(providers: readonly SwarmProvider[] = SWARM_PROVIDERS): number {
  const sum = providers.reduce((s, p) => s + p.upMbit, 0)
  return Math.min(sum, SWARM_SEEKER_LINK.downMbit)
}

/** The testbed of scenario 2: host 1 is the seeker, hosts 2–7 the providers; no delay anywhere. */
export function swarmSpec(): TestbedSpec {
  return {
    hosts: [
      { name: 'seeker', ...SWARM_SEEKER_LINK },
      ...SWARM_PROVIDERS.map((p) => ({ name: p.name, upMbit: p.upMbit, downMbit: PROVIDER_DOWN_MBIT }))
    ]
  }
}

/** Options of {@link runSwarm}. */
export interface SwarmInit {
  /** the file's size, bytes @default 256 MiB */
  fileSize?: number
  /** retrievals per seeker, ours and Helia in the opposite order each time @default 2 */
  repetitions?: number
  /**
   * a retrieval not done by then has failed (throughput 0); at least the file's time at 5
   * Mbit/s (a quarter of the smallest cap) @default 60 000
   */
  timeoutMs?: number
  /** a folder: the seeker process runs with `--cpu-prof` and writes its profile there @default none */
  cpuProfDir?: string
  /** the seeker's TCP counters are sampled this often, ms (the trace's timelines) @default 1000 */
  sampleMs?: number
  /** run plain Helia too (off: a CPU profile of ours alone; Helia's rows are then NaN) @default true */
  helia?: boolean
}

/** {@link SwarmInit} from the environment (see the module's documentation). */
export function swarmEnv(): SwarmInit {
  const cpuProfDir = process.env.BENCH_WAN_SWARM_CPU_PROF
  return {
    fileSize: positiveEnv('BENCH_WAN_SWARM_MIB', 256) * MiB,
    repetitions: positiveEnv('BENCH_WAN_SWARM_REPS', 2),
    helia: process.env.BENCH_WAN_SWARM_HELIA !== '0',
    ...(cpuProfDir == null || cpuProfDir === '' ? {} : { cpuProfDir: resolve(cpuProfDir) })
  }
}

/** What scenario 2 gives: its rows, notes for the header, and a trace. */
export interface SwarmResult {
  figures: Array<BenchFigure & { item: number }>
  notes: string[]
  trace: unknown
}

const nodeScript = fileURLToPath(new URL('./node.ts', import.meta.url))
const seekerScript = fileURLToPath(new URL('./seeker.ts', import.meta.url))
const probeScript = fileURLToPath(new URL('./probe.ts', import.meta.url))
const PREFIX = 'swarm'
const ISSUE_FILE_SIZE = 256 * MiB
/** A retrieval may take as long as the file takes at this rate, Mbit/s (a quarter of the smallest cap) */
const SLOWEST_MBIT = 5

/** What `probe.ts bulk-all` prints. */
interface RawTransfer {
  bytes: number
  ms: number
  mbit: number
  streams: Array<{ address: string; bytes: number; ms: number }>
}

/**
 * The links' own capacity, measured: one plain TCP stream from every provider to the seeker at
 * once (bench/wan/probe.ts, no libp2p), each sending its cap's share of `bytes`, so that with
 * every link at its cap all end together.
 */
async function rawTransfer(bed: Testbed, bytes: number, timeoutMs: number): Promise<RawTransfer> {
  const sum = SWARM_PROVIDERS.reduce((s, p) => s + p.upMbit, 0)
  const servers: Child[] = []
  try {
    const streams: BulkStream[] = []
    for (const p of SWARM_PROVIDERS) {
      const host = bed.host(p.name)
      const [cmd, args] = bed.argv(host, process.execPath, [...tsFlags(), probeScript, 'serve', host.address])
      const child = await startChild(cmd, args, (line) => line.startsWith('{"ready":true'), {
        what: `probe server on ${p.name}`
      })
      servers.push(child)
      const { port } = JSON.parse(child.lines.at(-1)!) as { port: number }
      streams.push({ address: host.address, port, bytes: Math.round((bytes * p.upMbit) / sum) })
    }
    const [cmd, args] = bed.argv(bed.host('seeker'), process.execPath, [
      ...tsFlags(),
      probeScript,
      'bulk-all',
      JSON.stringify(streams)
    ])
    const { stdout } = await promisify(execFile)(cmd, args, { timeout: timeoutMs })
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as RawTransfer
  } finally {
    await Promise.allSettled(servers.map((c) => c.kill()))
  }
}

/** Run scenario 2 on `bed`, made from {@link swarmSpec}. */
export async function runSwarm(bed: Testbed, init: SwarmInit = {}): Promise<SwarmResult> {
  const fileSize = init.fileSize ?? ISSUE_FILE_SIZE
  const repetitions = Math.max(1, Math.round(init.repetitions ?? 2))
  const timeoutMs = Math.max(init.timeoutMs ?? 60_000, Math.ceil((fileSize * 8) / (SLOWEST_MBIT * 1000)))
  const sha = await seededSha(fileSeed(PREFIX, 0), fileSize)
  const providers: Array<Child & ServeReady> = []
  const dir = await mkdtemp(join(tmpdir(), 'ikwan-swarm-'))
  let seekerPid: number | undefined
  try {
    const startOne = async (p: SwarmProvider): Promise<Child & ServeReady> => {
      const host = bed.host(p.name)
      const spec: WanNodeSpec = {
        role: 'serve',
        address: host.address,
        fault: { kind: 'none' },
        files: { prefix: PREFIX, size: fileSize, indices: [0] }
      }
      const [cmd, args] = bed.argv(host, process.execPath, [...tsFlags(), nodeScript, JSON.stringify(spec)])
      const child = await startChild(cmd, args, (line) => line.startsWith('{"ready":true'), {
        what: `provider ${p.name}`,
        timeoutMs: 300_000
      })
      return Object.assign(child, JSON.parse(child.lines.at(-1)!) as ServeReady)
    }
    // three at a time: each adds the whole file (hashing every byte) on two shared cores
    for (let i = 0; i < SWARM_PROVIDERS.length; i += 3) {
      providers.push(...(await Promise.all(SWARM_PROVIDERS.slice(i, i + 3).map(startOne))))
    }
    const cid = providers[0]!.cids[0]!
    for (const [i, p] of providers.entries()) {
      if (p.cids[0] !== cid) throw new Error(`provider ${SWARM_PROVIDERS[i]!.name} added another CID`)
    }
    note(`scenario 2: ${providers.length} providers serve ${fileSize / MiB} MiB as ${cid}`)
    const raw = [await rawTransfer(bed, fileSize, timeoutMs)]
    note(`scenario 2: 6 raw TCP streams: ${raw[0]!.mbit.toFixed(0)} Mbit/s`)
    const seeker = bed.host('seeker')
    const plan: SeekerPlan = {
      address: seeker.address,
      providers: providers.map((p, i) => {
        const address = bed.host(SWARM_PROVIDERS[i]!.name).address
        const ma = p.multiaddrs.find((a) => a.startsWith(`/ip4/${address}/tcp/`) && a.includes('/p2p/'))
        if (ma == null) throw new Error(`provider ${SWARM_PROVIDERS[i]!.name} is not on ${address}`)
        return ma
      }),
      cids: [cid],
      shas: [sha],
      order: Array.from({ length: repetitions }, () => 0),
      pass: 1,
      timeoutMs,
      datastoreDir: join(dir, 'datastore'),
      rerun: 0,
      helia: init.helia !== false,
      // a connection that idled through the other seeker's turn may be gone (pings time out on
      // busy cores), and neither seeker redials by itself
      redial: true,
      tcpSampleMs: init.sampleMs ?? 1000
    }
    const planPath = join(dir, 'plan.json')
    await writeFile(planPath, JSON.stringify(plan))
    const prof = init.cpuProfDir == null ? [] : ['--cpu-prof', `--cpu-prof-dir=${init.cpuProfDir}`]
    const [cmd, args] = bed.argv(seeker, process.execPath, [...prof, ...tsFlags(), seekerScript, planPath])
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    seekerPid = child.pid
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    const lines: RetrievalLine[] = []
    let done: SeekerDone | undefined
    for await (const line of createInterface({ input: child.stdout })) {
      if (!line.startsWith('{')) continue
      const value = JSON.parse(line) as RetrievalLine | SeekerDone
      if ('done' in value) {
        done = value
        continue
      }
      lines.push(value)
      const mbit = value.ok ? (fileSize * 8) / (value.ms * 1000) : 0
      note(
        `scenario 2, ${value.seeker} #${value.n}: ` +
          (value.ok
            ? `${(value.ms / 1000).toFixed(1)} s, ${mbit.toFixed(0)} Mbit/s`
            : `failed: ${value.error}`)
      )
    }
    const code = await exited
    seekerPid = undefined
    if (done == null) throw new Error(`the seeker exited (${code}) before it was done`)
    raw.push(await rawTransfer(bed, fileSize, timeoutMs))
    note(`scenario 2: 6 raw TCP streams again: ${raw[1]!.mbit.toFixed(0)} Mbit/s`)
    const rss = providers.map((p) => memoryOf(p.pid).rss)
    const addresses = new Map(SWARM_PROVIDERS.map((p) => [bed.host(p.name).address, p.name]))
    const peers = new Map<string, string>()
    providers.forEach((p, i) => {
      const id = p.multiaddrs[0]?.split('/p2p/')[1]
      if (id != null) peers.set(id, SWARM_PROVIDERS[i]!.name)
    })
    return summarizeSwarm({ lines, done, fileSize, repetitions, timeoutMs, rss, addresses, peers, raw })
  } finally {
    if (seekerPid != null) process.kill(seekerPid, 'SIGKILL')
    await Promise.allSettled(providers.map((p) => p.kill()))
    await rm(dir, { recursive: true, force: true })
  }
}

interface Collected {
  lines: RetrievalLine[]
  done: SeekerDone
  fileSize: number
  repetitions: number
  timeoutMs: number
  /** the providers' RSS at the end, MiB */
  rss: number[]
  /** provider name by address */
  addresses: Map<string, string>
  /** provider name by peer id */
  peers: Map<string, string>
  /** the raw TCP streams, before and after the seekers */
  raw: RawTransfer[]
}

/** How one provider's link was used in one retrieval (from the seeker's TCP counters). */
export interface LinkUse {
  /** bytes received from it over TCP */
  bytes: number
  /** its share of all the bytes received */
  share: number
  /** its average rate over the whole retrieval against its cap */
  use: number
  /** when it had sent 99% of its bytes, ms from the start */
  doneMs: number
}

/** Each provider's use in a retrieval, by name, from its TCP timeline. */
export function linkUse(line: RetrievalLine, addresses: Map<string, string>): Record<string, LinkUse> {
  const out: Record<string, LinkUse> = {}
  const received = line.tcp?.received ?? {}
  const total = Object.values(received).reduce((s, b) => s + b, 0)
  for (const p of SWARM_PROVIDERS) {
    const address = [...addresses].find(([, name]) => name === p.name)?.[0]
    const bytes = address == null ? 0 : (received[address] ?? 0)
    const last = line.tcp?.samples.find((s) => (s.received[address ?? ''] ?? 0) >= 0.99 * bytes)
    out[p.name] = {
      bytes,
      share: total === 0 ? 0 : bytes / total,
      use: (bytes * 8) / (p.upMbit * 1000 * line.ms),
      doneMs: bytes === 0 ? 0 : Math.min(line.ms, last?.ms ?? line.ms)
    }
  }
  return out
}

function summarizeSwarm(c: Collected): SwarmResult {
  const limit = swarmLimitMbit()
  const sum = SWARM_PROVIDERS.reduce((s, p) => s + p.upMbit, 0)
  const mbit = (l: RetrievalLine): number => (l.ok ? (c.fileSize * 8) / (l.ms * 1000) : 0)
  const of = (s: SeekerName): RetrievalLine[] => c.lines.filter((l) => l.seeker === s)
  const mean = (ls: RetrievalLine[]): number => ls.reduce((s, l) => s + mbit(l), 0) / ls.length
  const ours = of('ours')
  const helia = of('helia')
  const caps = SWARM_PROVIDERS.map((p) => p.upMbit).join(', ')
  const setting =
    `one ${c.fileSize / MiB} MiB file on 6 WAN providers (upload caps ${caps} Mbit/s, sum ${sum}; ` +
    `no delay), mean of ${c.repetitions}`
  const limitName =
    `the sum of the 6 providers' upload caps, from the spec (the physical limit; the seeker's ` +
    `download is ${SWARM_SEEKER_LINK.downMbit} Mbit/s)`
  const rawMbit = c.raw.reduce((s, r) => s + (r.bytes * 8) / (r.ms * 1000), 0) / c.raw.length
  const item2 = (f: Parameters<typeof row>[0]): BenchFigure & { item: number } => ({ item: 2, ...row(f) })
  const figures = [
    item2({
      figure: `throughput, ${setting}`,
      ours: mean(ours),
      baseline: limit,
      baselineName: limitName,
      unit: 'Mbit/s',
      better: 'higher',
      goal: "at least 80% of the sum of the providers' upload caps",
      target: { op: '>=', value: 0.8 }
    }),
    item2({
      figure: `plain Helia's throughput (its share of the limit; the "ours" column is Helia's), ${setting}`,
      ours: mean(helia),
      baseline: limit,
      baselineName: limitName,
      unit: 'Mbit/s',
      better: 'higher',
      goal: "report: Helia's share of the sum of the upload caps"
    }),
    item2({
      figure: `throughput against raw TCP, ${setting}`,
      ours: mean(ours),
      baseline: rawMbit,
      baselineName:
        "6 plain TCP streams at once (bench/wan/probe.ts, no libp2p), one from each provider, each its cap's " +
        'share of the file, mean of one before and one after the seekers',
      unit: 'Mbit/s',
      better: 'higher',
      goal: 'report'
    }),
    item2({
      figure: `throughput against plain Helia, ${setting}`,
      ours: mean(ours),
      baseline: mean(helia),
      baselineName: 'plain Helia unixfs.cat in the same host, all 6 providers connected',
      unit: 'Mbit/s',
      better: 'higher',
      goal: 'report'
    })
  ]

  // how each provider's link was used, from the seeker's own TCP counters (both seekers alike)
  const uses = c.lines.map((l) => linkUse(l, c.addresses))
  const useText = (s: SeekerName): string =>
    SWARM_PROVIDERS.map((p) => {
      const us = c.lines.flatMap((l, i) => (l.seeker === s ? [uses[i]![p.name]!] : []))
      const m = (f: (u: LinkUse) => number): number => us.reduce((a, u) => a + f(u), 0) / us.length
      return `${p.name} (${p.upMbit}) ${(100 * m((u) => u.share)).toFixed(0)}%/${m((u) => u.use).toFixed(2)}`
    }).join(', ')
  const received = (l: RetrievalLine): number =>
    Object.values(l.tcp?.received ?? {}).reduce((s, b) => s + b, 0)
  const overhead = (ls: RetrievalLine[]): string =>
    (ls.reduce((s, l) => s + received(l), 0) / (ls.length * c.fileSize)).toFixed(2)
  // what the seeker's CPU allows: the file over the CPU time it took, as if that were one core's
  const cpuText = (all: RetrievalLine[]): string => {
    const ls = all.filter((l) => l.ok && l.cpuMs != null)
    if (ls.length === 0) return 'no retrieval done'
    const cpu = ls.reduce((s, l) => s + (l.cpuMs ?? 0), 0) / ls.length
    const wall = ls.reduce((s, l) => s + l.ms, 0) / ls.length
    return (
      `${(cpu / 1000).toFixed(1)} s in ${(wall / 1000).toFixed(1)} s ` +
      `(${((c.fileSize * 8) / (cpu * 1000)).toFixed(0)} Mbit/s per CPU second)`
    )
  }
  const notes = [
    'scenario 2: no delay, jitter or loss on any link, so no delay line: it carries about 120–130 Mbit/s in all, ' +
      `under the caps' sum of ${sum} Mbit/s; the caps' queues (100 ms at each rate) are the only delay`,
    'scenario 2: throughput is the file (payload) over the time to its last byte; htb counts whole frames, ' +
      'so TCP/IP headers alone keep the payload under about 96% of the caps',
    `scenario 2: each provider's share of the bytes / its average rate over the retrieval against its cap ` +
      `(the seeker's TCP counters, mean of the retrievals): ours ${useText('ours')}; Helia ${useText('helia')}`,
    "scenario 2: 6 raw TCP streams (one per provider, its cap's share of the file): " +
      c.raw
        .map(
          (r) =>
            `${r.mbit.toFixed(0)} Mbit/s, each stream's rate against its cap ` +
            r.streams
              .map((st) => {
                const p = SWARM_PROVIDERS.find((x) => x.name === c.addresses.get(st.address))
                return `${p?.name} ${((st.bytes * 8) / (st.ms * 1000) / (p?.upMbit ?? 1)).toFixed(2)}`
              })
              .join(', ')
        )
        .join('; after the seekers '),
    `scenario 2: the seeker process's CPU time per retrieval done (all threads): ours ${cpuText(ours)}, Helia ${cpuText(helia)}`,
    `scenario 2: bytes received over TCP per byte of the file: ours ${overhead(ours)}, Helia ${overhead(helia)}`,
    `scenario 2: failures: ours ${ours.filter((l) => !l.ok).length}, Helia ${helia.filter((l) => !l.ok).length} ` +
      `of ${c.repetitions} (${c.timeoutMs / 1000} s each at most); RSS: seeker ${c.done.rss.toFixed(0)} MiB, ` +
      `providers ${Math.min(...c.rss).toFixed(0)}–${Math.max(...c.rss).toFixed(0)} MiB`
  ]
  if (c.fileSize !== ISSUE_FILE_SIZE) {
    notes.unshift(`scaled: scenario 2's file is ${c.fileSize / MiB} MiB instead of ${ISSUE_FILE_SIZE / MiB}`)
  }
  const name = (record: Record<string, number>, names: Map<string, string>): Record<string, number> =>
    Object.fromEntries(Object.entries(record).map(([k, v]) => [names.get(k) ?? k, v]))
  const trace = {
    providers: SWARM_PROVIDERS,
    limitMbit: limit,
    raw: c.raw.map((r) => ({
      ...r,
      streams: r.streams.map((st) => ({ ...st, provider: c.addresses.get(st.address) }))
    })),
    retrievals: c.lines.map((l, i) => ({
      seeker: l.seeker,
      n: l.n,
      ms: l.ms,
      ok: l.ok,
      error: l.error,
      mbit: mbit(l),
      cpuMs: l.cpuMs,
      firstByteMs: l.firstByteMs,
      routing: l.routing,
      links: uses[i],
      servedBy: l.servedBy == null ? undefined : name(l.servedBy, c.peers),
      timeline: l.tcp?.samples.map((s) => ({ ms: Math.round(s.ms), received: name(s.received, c.addresses) }))
    })),
    reputation: c.done.reputation.ours.map((s) => ({ ...s, provider: c.peers.get(s.peerId) ?? s.peerId })),
    rssMiB: { seeker: c.done.rss, providers: c.rss }
  }
  return { figures, notes, trace }
}
