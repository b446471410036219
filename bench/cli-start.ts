/**
 * Item 7, CLI start: the wall time of whole `ipfs-kit` processes that do almost nothing,
 * `--version` and an offline `add` of a 1-byte file (the CLI opens a temporary local repo itself,
 * no daemon), against `node -e 0` on the same Node, the three run in turn (ABBA over repetitions),
 * after one warm-up each (which also fills Node's compile cache, as any second run of the CLI
 * finds it). Each figure is the median over the repetitions.
 *
 * @packageDocumentation
 */

import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { alternate, type BenchFigure, median, note, row } from './common.ts'

/** The built CLI (`npm run bench` builds it first). */
const BIN = resolve(fileURLToPath(new URL('.', import.meta.url)), '../dist/src/cli/bin.js')

/** Options of {@link runCliStartBench}. */
export interface CliStartBenchInit {
  /** counted runs of each command @default 11 */
  runs?: number
  /** a run that takes longer is killed and the item fails @default 60 000 */
  timeoutMs?: number
}

/** One command line to time (after `node`). */
interface Contender {
  name: string
  args: string[]
  /** what the standard output must match */
  expect: RegExp
}

/** Run `node <args>` to its end: its wall time in ms; throws unless it exits 0 printing `expect`. */
function timeRun(c: Contender, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, c.args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8')
    })
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString('utf8')
    })
    const timer = setTimeout(() => {
      if (child.pid != null) process.kill(child.pid, 'SIGKILL')
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      const ms = performance.now() - started
      clearTimeout(timer)
      if (code !== 0 || !c.expect.test(out)) {
        reject(new Error(`${c.name} failed (exit ${code ?? signal}): ${out.trim()} ${err.trim()}`))
      } else resolveRun(ms)
    })
  })
}

/** `ipfs-kit --version` and an offline `add` of 1 byte, each against `node -e 0`. */
export async function runCliStartBench(init: CliStartBenchInit = {}): Promise<BenchFigure[]> {
  const runs = init.runs ?? 11
  const timeoutMs = init.timeoutMs ?? 60_000
  const dir = await mkdtemp(join(tmpdir(), 'ipfs-kit-bench-start-'))
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, IPFS_KIT_PROFILE: 'local' }
    for (const key of ['DEBUG', 'IPFS_KIT_PATH', 'NODE_OPTIONS']) delete env[key]
    const repo = join(dir, 'repo')
    const file = join(dir, 'one-byte.txt')
    await writeFile(file, 'x')
    await timeRun(
      { name: 'init', args: [BIN, '--repo', repo, 'init', '--profile', 'local', '-q'], expect: /\S/ },
      env,
      timeoutMs
    )
    const node: Contender = { name: 'node -e 0', args: ['-e', '0'], expect: /^$/ }
    const version: Contender = { name: 'ipfs-kit --version', args: [BIN, '--version'], expect: /^\d+\.\d+/ }
    const add: Contender = {
      name: 'ipfs-kit add (1 byte, offline)',
      args: [BIN, '--repo', repo, 'add', '-q', file],
      expect: /^Qm\w+\s*$/
    }
    const contenders = [version, add, node]
    const times = new Map<Contender, number[]>(contenders.map((c) => [c, []]))
    for (const c of contenders) await timeRun(c, env, timeoutMs)
    for (let rep = 0; rep < runs; rep++) {
      for (const c of alternate(contenders, rep)) times.get(c)!.push(await timeRun(c, env, timeoutMs))
    }
    const base = median(times.get(node)!)
    const ms = (c: Contender): number => median(times.get(c)!)
    note(
      `CLI start (median of ${runs}): --version ${ms(version).toFixed(0)} ms, add ${ms(add).toFixed(0)} ms, ` +
        `node -e 0 ${base.toFixed(0)} ms`
    )
    const baselineName = `\`node -e 0\` (same Node, run in turn; median of ${runs})`
    return [
      row({
        figure: 'CLI start: `ipfs-kit --version`',
        ours: ms(version),
        baseline: base,
        baselineName,
        unit: 'ms',
        better: 'lower',
        goal: 'report'
      }),
      row({
        figure: 'CLI start: `ipfs-kit add` of a 1-byte file (offline, temporary local repo)',
        ours: ms(add),
        baseline: base,
        baselineName,
        unit: 'ms',
        better: 'lower',
        goal: 'report (offline commands load no networking module: test/cli/start.test.ts)'
      })
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
