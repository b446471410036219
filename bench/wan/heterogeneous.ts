/**
 * Scenario 1 of issue 14, heterogeneous providers, and scenario 5, the learning curve, from its
 * data: 12 provider hosts with RTTs to the seeker from 10 to 400 ms and uploads from 2 to 200
 * Mbit/s, one with 5% loss, two dead (accept connections, never answer: the `silent` fault of
 * bench/faults.ts), one corrupting (`corrupt`); 50 distinct 1 MiB files, each on 4 providers (at
 * least 2 of them sound); 300 retrievals in a seeded random order by our seeker and by plain
 * Helia (bench/wan/seeker.ts), in turns of one pass over the files, alternated. Then a second
 * seeker of ours, on the first one's datastore (reputation persisted), runs the first retrievals
 * again.
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
  median,
  memoryOf,
  note,
  quantile,
  retrievalRows,
  row,
  seededRandom,
  seededSha,
  shuffle,
  startChild,
  tsFlags
} from '../common.ts'
import type { Fault } from '../faults.ts'
import { fileSeed } from '../providers.ts'
import { CHURN_PORT, type Churn, type ChurnInit, providerKeys, startChurn, summarizeChurn } from './churn.ts'
import type { ServeReady, WanNodeSpec } from './node.ts'
import type { RetrievalLine, SeekerDone, SeekerPlan } from './seeker.ts'
import { specCapMbit, specRttMs } from './spec.ts'
import type { Testbed } from './testbed.ts'
import type { HostSpec, TestbedSpec } from './types.ts'

/** A provider host of scenario 1: its link (RTT to the seeker, upload) and its fault. */
export interface ProviderHost {
  name: string
  rttMs: number
  upMbit: number
  lossPct: number
  fault: Fault
}

/** The seeker's access link: 2 ms one way, 100 Mbit/s both ways. */
export const SEEKER_LINK = { delayMs: 2, upMbit: 100, downMbit: 100 } as const

/**
 * The 12 providers. RTTs and uploads are spread over their ranges and shuffled against each
 * other (the nearest is not the fastest); the dead and corrupt ones have attractive links, so a
 * seeker that goes by link alone keeps picking them.
 */
export const PROVIDER_HOSTS: ProviderHost[] = [
  { name: 'p1', rttMs: 10, upMbit: 12, lossPct: 0, fault: { kind: 'none' } },
  { name: 'p2-dead', rttMs: 14, upMbit: 200, lossPct: 0, fault: { kind: 'silent' } },
  { name: 'p3-corrupt', rttMs: 20, upMbit: 50, lossPct: 0, fault: { kind: 'corrupt' } },
  { name: 'p4', rttMs: 28, upMbit: 3, lossPct: 0, fault: { kind: 'none' } },
  { name: 'p5', rttMs: 40, upMbit: 120, lossPct: 0, fault: { kind: 'none' } },
  { name: 'p6-lossy', rttMs: 56, upMbit: 80, lossPct: 5, fault: { kind: 'none' } },
  { name: 'p7', rttMs: 76, upMbit: 2, lossPct: 0, fault: { kind: 'none' } },
  { name: 'p8-dead', rttMs: 104, upMbit: 160, lossPct: 0, fault: { kind: 'silent' } },
  { name: 'p9', rttMs: 144, upMbit: 30, lossPct: 0, fault: { kind: 'none' } },
  { name: 'p10', rttMs: 200, upMbit: 20, lossPct: 0, fault: { kind: 'none' } },
  { name: 'p11', rttMs: 280, upMbit: 8, lossPct: 0, fault: { kind: 'none' } },
  { name: 'p12', rttMs: 400, upMbit: 5, lossPct: 0, fault: { kind: 'none' } }
]

/** Options of {@link runHeterogeneous}. */
export interface HeterogeneousInit {
  /** distinct files @default 50 */
  files?: number
  /** bytes per file @default 1 MiB */
  fileSize?: number
  /** providers per file @default 4 */
  copies?: number
  /** retrievals per seeker @default 300 */
  retrievals?: number
  /** a retrieval not done by then has failed and counts as this time @default 60 000 */
  timeoutMs?: number
  /** retrievals run again by a new seeker of ours with the first one's reputation @default 60 */
  rerun?: number
  /** scenario 3: providers die and come back during the run (ours only, no rerun) */
  churn?: ChurnInit
}

/** The testbed of scenario 1: host 1 is the seeker, hosts 2–13 the providers. */
export function heterogeneousSpec(): TestbedSpec {
  const hosts: HostSpec[] = [{ name: 'seeker', ...SEEKER_LINK }]
  for (const p of PROVIDER_HOSTS) {
    // RTT(seeker, p) = 2 (d_seeker + d_p)
    hosts.push({
      name: p.name,
      delayMs: p.rttMs / 2 - SEEKER_LINK.delayMs,
      upMbit: p.upMbit,
      downMbit: 100,
      lossPct: p.lossPct
    })
  }
  return { hosts }
}

const sound = (p: ProviderHost): boolean => p.fault.kind === 'none'

/** Which providers hold each file: `copies` of them, seeded, at least 2 sound. */
export function placeFiles(files: number, copies: number, seed = 14): number[][] {
  const random = seededRandom(seed)
  const all = [...PROVIDER_HOSTS.keys()]
  return Array.from({ length: files }, () => {
    for (;;) {
      const pick = shuffle(all, random).slice(0, copies)
      if (pick.filter((i) => sound(PROVIDER_HOSTS[i]!)).length >= 2) return pick.sort((a, b) => a - b)
    }
  })
}

/**
 * The oracle's time for a file, ms: over the sound providers holding it, the least
 * RTT + size / min(upload, seeker download).
 */
export function oracleMs(holders: number[], fileSize: number): number {
  const seeker = SEEKER_LINK
  return Math.min(
    ...holders
      .map((i) => PROVIDER_HOSTS[i]!)
      .filter(sound)
      .map((p) => {
        const link = { delayMs: p.rttMs / 2 - seeker.delayMs, upMbit: p.upMbit }
        const mbit = specCapMbit(link, seeker)
        return specRttMs(link, seeker) + (fileSize * 8) / (mbit * 1000)
      })
  )
}

/** What scenario 1 gives: its rows (scenarios 1 and 5), notes for the header, and a trace. */
export interface HeterogeneousResult {
  figures: Array<BenchFigure & { item: number }>
  /** our p50 and p95, ms (scenario 3's baseline) */
  ours?: { p50: number; p95: number }
  notes: string[]
  trace: unknown
}

const nodeScript = fileURLToPath(new URL('./node.ts', import.meta.url))
const seekerScript = fileURLToPath(new URL('./seeker.ts', import.meta.url))
const PREFIX = 'hetero'

/** Run scenario 1 (and 5) on `bed`, made from {@link heterogeneousSpec}. */
export async function runHeterogeneous(
  bed: Testbed,
  init: HeterogeneousInit = {}
): Promise<HeterogeneousResult> {
  const files = init.files ?? 50
  const fileSize = init.fileSize ?? MiB
  const copies = init.copies ?? 4
  const retrievals = init.retrievals ?? 300
  const timeoutMs = init.timeoutMs ?? 60_000
  const rerun = Math.min(init.rerun ?? 60, retrievals)
  const label = init.churn == null ? 'scenario 1' : 'scenario 3'
  const placement = placeFiles(files, copies)
  const shas = await Promise.all(
    Array.from({ length: files }, (_, i) => seededSha(fileSeed(PREFIX, i), fileSize))
  )
  const random = seededRandom(42)
  const order: number[] = []
  while (order.length < retrievals) order.push(...shuffle([...Array(files).keys()], random))
  order.length = retrievals

  const providers: Array<Child & ServeReady> = []
  const dir = await mkdtemp(join(tmpdir(), 'ikwan-hetero-'))
  let seekerPid: number | undefined
  try {
    const keys = init.churn == null ? [] : await providerKeys(PROVIDER_HOSTS.length)
    const startOne = async (index: number): Promise<Child & ServeReady> => {
      const p = PROVIDER_HOSTS[index]!
      const host = bed.host(p.name)
      const spec: WanNodeSpec = {
        role: 'serve',
        address: host.address,
        fault: p.fault,
        files: {
          prefix: PREFIX,
          size: fileSize,
          indices: placement.flatMap((holders, file) => (holders.includes(index) ? [file] : []))
        },
        // a provider that churns comes back as the same peer at the same address
        ...(init.churn == null ? {} : { key: keys[index], port: CHURN_PORT })
      }
      const [cmd, args] = bed.argv(host, process.execPath, [...tsFlags(), nodeScript, JSON.stringify(spec)])
      const child = await startChild(cmd, args, (line) => line.startsWith('{"ready":true'), {
        what: `provider ${p.name}`,
        timeoutMs: 180_000
      })
      return Object.assign(child, JSON.parse(child.lines.at(-1)!) as ServeReady)
    }
    // three at a time: twelve Node processes starting at once on two cores take longer in all
    for (let i = 0; i < PROVIDER_HOSTS.length; i += 3) {
      const batch = PROVIDER_HOSTS.slice(i, i + 3).map((_, k) => startOne(i + k))
      providers.push(...(await Promise.all(batch)))
    }
    note(`${label}: ${providers.length} providers serve`)
    // every provider added the same file under the same CID
    const cids: string[] = []
    providers.forEach((p, index) => {
      const indices = placement.flatMap((holders, file) => (holders.includes(index) ? [file] : []))
      indices.forEach((file, k) => {
        if (cids[file] != null && cids[file] !== p.cids[k]) throw new Error(`file ${file}: two CIDs`)
        cids[file] = p.cids[k]!
      })
    })
    const seeker = bed.host('seeker')
    const plan: SeekerPlan = {
      address: seeker.address,
      providers: providers.map((p, i) => {
        const address = bed.host(PROVIDER_HOSTS[i]!.name).address
        const ma = p.multiaddrs.find((a) => a.startsWith(`/ip4/${address}/tcp/`) && a.includes('/p2p/'))
        if (ma == null)
          throw new Error(`provider ${PROVIDER_HOSTS[i]!.name} is not on ${address}: ${p.multiaddrs}`)
        return ma
      }),
      cids,
      shas,
      order,
      pass: files,
      timeoutMs,
      datastoreDir: join(dir, 'datastore'),
      rerun: init.churn == null ? rerun : 0,
      helia: init.churn == null,
      redial: init.churn != null
    }
    const planPath = join(dir, 'plan.json')
    await writeFile(planPath, JSON.stringify(plan))
    const lines: RetrievalLine[] = []
    let done: SeekerDone | undefined
    let churn: Churn | undefined
    const [cmd, args] = bed.argv(seeker, process.execPath, [...tsFlags(), seekerScript, planPath])
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    seekerPid = child.pid
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    for await (const line of createInterface({ input: child.stdout })) {
      if (!line.startsWith('{')) continue
      const value = JSON.parse(line) as RetrievalLine | SeekerDone
      if ('done' in value) {
        done = value
        continue
      }
      lines.push(value)
      // churn begins once the seekers have connected to every provider and started
      if (init.churn != null && churn == null) churn = startChurn(providers, startOne, init.churn)
      if (!value.ok) note(`${label}, ${value.seeker} #${value.n} (file ${value.file}) failed: ${value.error}`)
      if ((value.n + 1) % 50 === 0) note(`${label}, ${value.seeker}: ${value.n + 1} retrievals`)
    }
    const code = await exited
    seekerPid = undefined
    const events = (await churn?.stop()) ?? []
    if (done == null) throw new Error(`the seeker exited (${code}) before it was done`)
    if (init.churn != null) return summarizeChurn(lines, events, timeoutMs, init.churn)
    const rss = providers.map((p) => memoryOf(p.pid).rss)
    return summarize({ lines, done, placement, providers, fileSize, timeoutMs, files, retrievals, rss })
  } finally {
    if (seekerPid != null) process.kill(seekerPid, 'SIGKILL')
    await Promise.allSettled(providers.map((p) => p.kill()))
    await rm(dir, { recursive: true, force: true })
  }
}

interface Collected {
  lines: RetrievalLine[]
  done: SeekerDone
  placement: number[][]
  providers: Array<Child & ServeReady>
  fileSize: number
  timeoutMs: number
  files: number
  retrievals: number
  rss: number[]
}

function summarize(c: Collected): HeterogeneousResult {
  const of = (s: RetrievalLine['seeker']): RetrievalLine[] => c.lines.filter((l) => l.seeker === s)
  const ours = of('ours')
  const helia = of('helia')
  const rerun = of('ours-rerun')
  const ms = (l: RetrievalLine): number => (l.ok ? l.ms : c.timeoutMs)
  const _success = (ls: RetrievalLine[]): number => (100 * ls.filter((l) => l.ok).length) / ls.length
  const at = (ls: RetrievalLine[], q: number): number => quantile(ls.map(ms), q)
  const mean = (ls: RetrievalLine[]): number => ls.reduce((s, l) => s + ms(l), 0) / ls.length
  const oracle = ours.map((l) => oracleMs(c.placement[l.file]!, c.fileSize))
  const setting =
    `${c.files} × ${c.fileSize / MiB} MiB files on 4 of 12 WAN providers (RTT 10–400 ms, 2–200 Mbit/s, ` +
    `1 lossy, 2 dead, 1 corrupt), ${c.retrievals} retrievals`
  const baselineName = 'plain Helia unixfs.cat in the same host, all 12 providers connected'
  const item1 = (f: Parameters<typeof row>[0]): BenchFigure & { item: number } => ({ item: 1, ...row(f) })
  const item5 = (f: Parameters<typeof row>[0]): BenchFigure & { item: number } => ({ item: 5, ...row(f) })
  const figures = [
    ...retrievalRows({
      setting,
      ours,
      baseline: helia,
      baselineName,
      timeoutMs: c.timeoutMs,
      p95Goal: 'p95 at least 5x better than plain Helia'
    }).map((f) => ({ item: 1, ...f })),
    item1({
      figure: `time to content p50 against an oracle, ${setting}`,
      ours: at(ours, 0.5),
      baseline: median(oracle),
      baselineName:
        'oracle, p50 over the same retrievals of: min over the sound providers holding the file of ' +
        'RTT + 1 MiB / min(upload, seeker download 100 Mbit/s), from the spec',
      unit: 'ms',
      better: 'lower',
      goal: 'p50 within 1.5x of the oracle',
      target: { op: '<=', value: 1.5 }
    }),
    item5({
      figure: 'time to content p50, first 20 retrievals against the last 100 (ours, scenario 1)',
      ours: at(ours.slice(0, 20), 0.5),
      baseline: at(ours.slice(-100), 0.5),
      baselineName: 'p50 of our last 100 retrievals of scenario 1',
      unit: 'ms',
      better: 'lower',
      goal: 'report'
    }),
    item5({
      figure: 'time to content mean, first 20 retrievals against the last 100 (ours, scenario 1)',
      ours: mean(ours.slice(0, 20)),
      baseline: mean(ours.slice(-100)),
      baselineName: 'mean of our last 100 retrievals of scenario 1',
      unit: 'ms',
      better: 'lower',
      goal: 'report'
    })
  ]
  if (rerun.length >= 20) {
    figures.push(
      item5({
        figure: 'time to content mean, first 20 retrievals with reputation persisted from scenario 1',
        ours: mean(rerun.slice(0, 20)),
        baseline: mean(ours.slice(0, 20)),
        baselineName: 'mean of our first 20 retrievals of scenario 1 (no reputation yet), same files',
        unit: 'ms',
        better: 'lower',
        goal: 'report'
      }),
      item5({
        figure: 'time to content p50, first 20 retrievals with reputation persisted from scenario 1',
        ours: at(rerun.slice(0, 20), 0.5),
        baseline: at(ours.slice(0, 20), 0.5),
        baselineName: 'p50 of our first 20 retrievals of scenario 1 (no reputation yet), same files',
        unit: 'ms',
        better: 'lower',
        goal: 'report'
      })
    )
  }

  // the trace: who served ours, first and overall; the reputation it ended with
  const names = new Map<string, string>()
  c.providers.forEach((p, i) => {
    const id = p.multiaddrs[0]?.split('/p2p/')[1]
    if (id != null) names.set(id, PROVIDER_HOSTS[i]!.name)
  })
  const byProvider = (
    ls: RetrievalLine[]
  ): Record<string, { retrievals: number; mainly: number; MiB: number }> => {
    const out: Record<string, { retrievals: number; mainly: number; MiB: number }> = {}
    for (const p of PROVIDER_HOSTS) out[p.name] = { retrievals: 0, mainly: 0, MiB: 0 }
    for (const l of ls) {
      const served = Object.entries(l.servedBy ?? {})
      const top = served.sort((a, b) => b[1] - a[1])[0]?.[0]
      for (const [peer, bytes] of served) {
        const o = out[names.get(peer) ?? peer]
        if (o == null) continue
        o.retrievals++
        o.MiB += bytes / MiB
        if (peer === top) o.mainly++
      }
    }
    return out
  }
  const named = (stats: SeekerDone['reputation']['ours']): unknown[] =>
    stats.map((s) => ({ ...s, provider: names.get(s.peerId) ?? s.peerId }))
  const trace = {
    placement: c.placement.map((holders) => holders.map((i) => PROVIDER_HOSTS[i]!.name)),
    served: {
      ours: byProvider(ours),
      oursFirst20: byProvider(ours.slice(0, 20)),
      oursLast100: byProvider(ours.slice(-100)),
      rerunFirst20: byProvider(rerun.slice(0, 20))
    },
    reputation: { ours: named(c.done.reputation.ours), rerun: named(c.done.reputation['ours-rerun']) },
    rssMiB: { seeker: c.done.rss, providers: c.rss },
    retrievals: c.lines.map((l) => ({
      ...l,
      oracleMs: oracleMs(c.placement[l.file]!, c.fileSize),
      servedBy: Object.fromEntries(Object.entries(l.servedBy ?? {}).map(([p, b]) => [names.get(p) ?? p, b]))
    }))
  }
  const rssText = `${Math.min(...c.rss).toFixed(0)}–${Math.max(...c.rss).toFixed(0)}`
  const notes = [
    `scenario 1: provider processes' RSS ${rssText} MiB each at the end, the seeker's (ours and Helia in one process) ${c.done.rss.toFixed(0)} MiB`,
    `scenario 1: failures: ours ${ours.filter((l) => !l.ok).length}, Helia ${helia.filter((l) => !l.ok).length}` +
      (rerun.length > 0
        ? `, ours with persisted reputation ${rerun.filter((l) => !l.ok).length} of ${rerun.length}`
        : '')
  ]
  return { figures, notes, trace, ours: { p50: at(ours, 0.5), p95: at(ours, 0.95) } }
}
