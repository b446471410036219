/**
 * What every benchmark shares: the result row and its target, the order of contenders,
 * percentiles, deterministic content, reading a process's memory from `/proc`, and child
 * processes that are always killed by pid.
 *
 * @packageDocumentation
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'

export const MiB = 1024 * 1024

/** Progress to standard error (the table goes to standard output). */
export function note(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}

/**
 * A goal that can be checked: the row's `ratio` (ours / baseline) compared with `value` by `op`.
 * An absolute goal (every retrieval succeeds) is a row whose baseline is the goal itself.
 */
export interface Target {
  op: '>=' | '<='
  value: number
}

/** One benchmark figure: ours against a baseline measured in the same run. */
export interface BenchFigure {
  /** what is measured */
  figure: string
  /** our value */
  ours: number
  /** the baseline's value */
  baseline: number
  /** what the baseline is */
  baselineName: string
  /** unit of `ours` and `baseline` */
  unit: string
  /** whether lower or higher values are better */
  better: 'lower' | 'higher'
  /** the goal in words (the threshold is in `target`); "report …" where the row only reports */
  goal: string
  /** `ours / baseline` */
  ratio: number
  /** the goal as a number; null where the row only reports */
  target: Target | null
  /** whether `target` is met; absent where `target` is null */
  met?: boolean
}

/** What a benchmark gives {@link row}: `ratio` and `met` are computed there, and only there. */
export type FigureInit = Omit<BenchFigure, 'ratio' | 'target' | 'met'> & { target?: Target }

/** Whether a figure meets its target (a ratio that is not a number never does). */
export function isMet(target: Target, ratio: number): boolean {
  return target.op === '>=' ? ratio >= target.value : ratio <= target.value
}

/**
 * A row: `ratio` is `ours / baseline`; `met` is computed from `target`. A row has a target exactly
 * when its goal does not start with "report", and the target's direction is the row's `better`.
 */
export function row(init: FigureInit): BenchFigure {
  const { target, ...rest } = init
  const ratio = init.baseline === 0 ? Number.NaN : init.ours / init.baseline
  if ((target == null) !== init.goal.startsWith('report')) {
    throw new Error(`${init.figure}: a row has no target exactly when its goal is "report …"`)
  }
  if (target == null) return { ...rest, ratio, target: null }
  if (target.op !== (init.better === 'higher' ? '>=' : '<=')) {
    throw new Error(`${init.figure}: target ${target.op} but ${init.better} is better`)
  }
  return { ...rest, ratio, target, met: isMet(target, ratio) }
}

/** A number for the tables: about 3 significant digits. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a === 0) return '0'
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toPrecision(2)
}

/** A target in words for the tables: `ratio ≥ 0.67`, `—` for none. */
export function targetText(target: Target | null): string {
  if (target == null) return '—'
  // two significant digits, no padding: 0.67, 1.1, 100
  return `ratio ${target.op === '>=' ? '≥' : '≤'} ${Number(target.value.toPrecision(2))}`
}

/**
 * The contenders of repetition `rep` in the order they run: as given in even repetitions,
 * reversed in odd ones (ABBA over two repetitions), so that neither side always goes first.
 */
export function alternate<T>(contenders: readonly T[], rep: number): T[] {
  return rep % 2 === 0 ? [...contenders] : [...contenders].reverse()
}

/** The q-quantile (0..1) of samples, nearest rank. */
export function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export function median(samples: number[]): number {
  return quantile(samples, 0.5)
}

/**
 * Pseudo-random bytes from a seed (the AES-256-CTR key stream of `sha256(seed)`), as a stream of
 * `chunkSize` pieces: every process given the same seed and size makes the same file, hence the
 * same CIDs, without holding the whole file in memory.
 */
export async function* seededChunks(
  seed: string,
  size: number,
  chunkSize = 256 * 1024
): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16))
  const zeros = Buffer.alloc(chunkSize)
  for (let done = 0; done < size; ) {
    const n = Math.min(chunkSize, size - done)
    yield new Uint8Array(cipher.update(n === chunkSize ? zeros : zeros.subarray(0, n)))
    done += n
  }
}

/** The same bytes as {@link seededChunks}, all at once. */
export function seededBytes(seed: string, size: number): Uint8Array {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16))
  return new Uint8Array(cipher.update(Buffer.alloc(size)))
}

/** SHA-256 (hex) of a stream of bytes, and how many bytes it had. */
export async function hashStream(source: AsyncIterable<Uint8Array>): Promise<{ sha: string; bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of source) {
    hash.update(chunk)
    bytes += chunk.byteLength
  }
  return { sha: hash.digest('hex'), bytes }
}

/** SHA-256 (hex) of a seeded file, computed as a stream. */
export async function seededSha(seed: string, size: number): Promise<string> {
  return (await hashStream(seededChunks(seed, size))).sha
}

/** Resident set size (`VmRSS`) and its peak (`VmHWM`) of a process, in MiB. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN)
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 }
}

/** CPU time this process has used so far, user and system, in seconds. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

/**
 * Reset a process's peak RSS to its current RSS (Linux: `5` into `/proc/<pid>/clear_refs`), so
 * that a later `VmHWM` is the peak of what happened since. Returns false where that is refused.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/** A child process started by a benchmark. */
export interface Child {
  pid: number
  /** the lines it printed before it was ready */
  lines: string[]
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited */
  kill(graceMs?: number): Promise<void>
  /** write one line to its standard input */
  send(line: string): void
  /** the next line it prints for which `match` is true (rejects if it exits or `timeoutMs` passes) */
  nextLine(match: (line: string) => boolean, timeoutMs: number): Promise<string>
}

/** pids of the children still running: killed when the bench process exits, however it exits */
const running = new Set<number>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const pid of running) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

/**
 * Start a process and wait until it prints a line for which `ready` is true (or it exits, or
 * `timeoutMs` passes: then it is killed and this throws). The caller kills it by `kill()`, in a
 * `finally`. Its standard input stays open: a bench provider exits when it closes, so nothing
 * outlives a bench that crashed.
 */
export async function startChild(
  command: string,
  args: string[],
  ready: (line: string) => boolean,
  options: { timeoutMs?: number; what?: string } = {}
): Promise<Child> {
  const what = options.what ?? args.join(' ')
  const child: ChildProcess = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  const pid = child.pid
  if (pid == null) throw new Error(`could not start ${what}`)
  installExitHook()
  running.add(pid)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(pid)
      resolve()
    })
  )
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const lines: string[] = []
  const listeners = new Set<(line: string) => void>()
  const kill = async (graceMs = 5000): Promise<void> => {
    if (child.exitCode != null || child.signalCode != null) return
    process.kill(pid, 'SIGTERM')
    const timer = setTimeout(() => {
      if (child.exitCode == null && child.signalCode == null) process.kill(pid, 'SIGKILL')
    }, graceMs)
    await exited
    clearTimeout(timer)
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${what} not ready after ${options.timeoutMs ?? 120_000} ms`)),
        options.timeoutMs ?? 120_000
      )
      const rl = createInterface({ input: child.stdout! })
      rl.on('line', (line) => {
        lines.push(line)
        for (const listener of listeners) listener(line)
        if (ready(line)) {
          clearTimeout(timer)
          resolve()
        }
      })
      void exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`${what} exited before it was ready: ${stderr.trim()}`))
      })
    })
  } catch (err) {
    await kill(1000)
    throw err
  }
  const nextLine = (match: (line: string) => boolean, timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        listeners.delete(listener)
      }
      const listener = (line: string): void => {
        if (!match(line)) return
        done()
        resolve(line)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${what}: no answer after ${timeoutMs} ms`))
      }, timeoutMs)
      listeners.add(listener)
      void exited.then(() => {
        if (!listeners.has(listener)) return
        done()
        reject(new Error(`${what} exited: ${stderr.trim().slice(-500)}`))
      })
    })
  const send = (line: string): void => {
    child.stdin?.write(`${line}\n`)
  }
  return { pid, lines, kill, send, nextLine }
}

/** Kill every child, by pid, and wait for them all. */
export async function killAll(children: Array<Child | undefined>): Promise<void> {
  await Promise.all(children.map((c) => c?.kill()))
}

/** Node flags that run a `.ts` file in a child: none where Node strips types itself, else tsx. */
export function tsFlags(): string[] {
  return process.features.typescript === false || process.features.typescript == null
    ? ['--import', 'tsx']
    : []
}

/** A seeded pseudo-random generator (xorshift32) for shuffles that every run repeats. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A row of the results, with the item (or scenario) number. */
export interface ResultRow extends BenchFigure {
  item: number
}

/** The first element of a results.json (bench/results.json, bench/wan/results.json). */
export interface ResultHeader {
  date: string
  node: string
  cpu: string
  cores: number
  commit: string
  /** source files differed from `commit` */
  dirty: boolean
  durationSeconds: number
  notes: string[]
}

/** A positive number from the environment, or `fallback` where it is unset. */
export function positiveEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw == null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not "${raw}"`)
  return n
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}

/** The header of a run that began at `started` (a `performance.now()`): machine, commit, notes. */
export function resultHeader(started: number, notes: string[]): ResultHeader {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    dirty: git(['status', '--porcelain', '--', 'src', 'bench']) !== '',
    durationSeconds: Math.round((performance.now() - started) / 1000),
    notes
  }
}

/** The results as a Markdown table. */
export function markdownTable(rows: ResultRow[]): string {
  const lines = [
    '| # | figure | ours | baseline | unit | ratio (ours / baseline) | better | goal | target | met | baseline is |',
    '|---|---|---:|---:|---|---:|---|---|---|---|---|'
  ]
  for (const r of rows) {
    const met = r.met == null ? '—' : r.met ? 'yes' : 'no'
    lines.push(
      `| ${r.item} | ${r.figure} | ${fmt(r.ours)} | ${fmt(r.baseline)} | ${r.unit} | ${fmt(r.ratio)} | ` +
        `${r.better} | ${r.goal} | ${targetText(r.target)} | ${met} | ${r.baselineName} |`
    )
  }
  return lines.join('\n')
}

/**
 * Write `results.json` (the header, then the rows) and `results.md` (a line on the run, its notes,
 * the table) into `dir`; returns the Markdown. `title` starts the first line ("Benchmarks");
 * `name` is the files' name (`cluster-results` for `cluster-results.json` and `.md`).
 */
export async function writeResults(
  dir: string,
  title: string,
  header: ResultHeader,
  rows: ResultRow[],
  name = 'results'
): Promise<string> {
  const machine = `${header.cpu}, ${header.cores} cores, Node ${header.node}`
  const md = [
    `${title} of ${header.date.slice(0, 10)} on ${machine}; commit ${header.commit}` +
      `${header.dirty ? ' (with uncommitted changes)' : ''}; ${header.durationSeconds} s.`,
    ...header.notes.map((n) => `Note: ${n}`),
    '',
    markdownTable(rows),
    ''
  ].join('\n')
  await mkdir(dir, { recursive: true })
  await writeFile(resolve(dir, `${name}.json`), `${JSON.stringify([header, ...rows], null, 2)}\n`)
  await writeFile(resolve(dir, `${name}.md`), md)
  return md
}

/** One retrieval of a retrieval benchmark: whether the file came back, and how long it took. */
export interface RetrievalOutcome {
  ok: boolean
  ms: number
}

/** Percentage of retrievals that returned the file. */
export function successRate(outcomes: RetrievalOutcome[]): number {
  return (100 * outcomes.filter((o) => o.ok).length) / outcomes.length
}

/** The `q` quantile of time to content, a failed retrieval counting as `timeoutMs`. */
export function timeToContent(outcomes: RetrievalOutcome[], q: number, timeoutMs: number): number {
  return quantile(
    outcomes.map((o) => (o.ok ? o.ms : timeoutMs)),
    q
  )
}

/**
 * The rows every retrieval benchmark gives (loopback item 3, WAN scenario 1): success against
 * the goal of 100 %, success against the baseline, and time to content p50, p95 (with `p95Goal`
 * as ratio ≤ 0.2) and p99 against the baseline.
 */
export function retrievalRows(init: {
  setting: string
  ours: RetrievalOutcome[]
  baseline: RetrievalOutcome[]
  baselineName: string
  timeoutMs: number
  p95Goal: string
}): BenchFigure[] {
  const { setting, ours, baseline, baselineName, timeoutMs } = init
  return [
    row({
      figure: `success rate, ${setting}`,
      ours: successRate(ours),
      baseline: 100,
      baselineName: 'the goal: every retrieval returns the file (100 %)',
      unit: '%',
      better: 'higher',
      goal: 'every retrieval returns the file',
      target: { op: '>=', value: 1 }
    }),
    row({
      figure: `success rate, ${setting}`,
      ours: successRate(ours),
      baseline: successRate(baseline),
      baselineName,
      unit: '%',
      better: 'higher',
      goal: 'report'
    }),
    ...([0.5, 0.95, 0.99] as const).map((q) =>
      row({
        figure: `time to content p${Math.round(q * 100)}, ${setting}`,
        ours: timeToContent(ours, q, timeoutMs),
        baseline: timeToContent(baseline, q, timeoutMs),
        baselineName,
        unit: 'ms',
        better: 'lower',
        ...(q === 0.95
          ? { goal: init.p95Goal, target: { op: '<=', value: 0.2 } as const }
          : { goal: 'report' })
      })
    )
  ]
}

/**
 * How a bench child process (a provider, a node in a WAN host) ends: on SIGTERM, SIGINT or the
 * end of its stdin (the parent is gone), `stop` runs once and the process exits, after 3 s at
 * the latest (a silent blockstore may hold a read open forever).
 */
export function exitOnShutdown(stop: () => Promise<void>): void {
  let stopping = false
  const shutdown = (): void => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(0), 3000).unref()
    void stop()
      .catch(() => {})
      .finally(() => process.exit(0))
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
  process.stdin.on('end', shutdown)
  process.stdin.resume()
}

/**
 * Keep a bench going past an error thrown where nobody awaits it (an abort listener, a timer of a
 * stopped component): it is noted and pushed to `uncaught` (every item has its own time-outs);
 * Ctrl-C or SIGTERM exits with 130, and the exit handlers kill the child processes.
 */
export function keepGoingOnStrayErrors(uncaught: string[]): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  process.on('uncaughtException', (err) => {
    note(`uncaught ${err.name}: ${err.message}`)
    uncaught.push(`${err.name}: ${err.message}`)
  })
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? reason : new Error(String(reason))
    note(`unhandled rejection ${err.name}: ${err.message}`)
    uncaught.push(`${err.name}: ${err.message}`)
  })
}
