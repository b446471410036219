/**
 * CLI arguments, fuzzed: 10,000 argument vectors through the CLI in-process (a child
 * process runs them, see fixtures/cli-fuzz-worker.ts), then 50 runs of the real binary with
 * random bad arguments.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { BIN, killAll, requireBuild, run } from '../cli/helpers.ts'
import { tempDir } from '../helpers.ts'

const WORKER = join(import.meta.dirname, 'fixtures', 'cli-fuzz-worker.ts')
const TSX = import.meta.resolve('tsx')
const IN_PROCESS_RUNS = 10_000
const BINARY_RUNS = 50

interface WorkerReport {
  cases: number
  failures: number
  slowestMs: number
  thrown: Record<string, number>
  failure?: string
}

describe('fuzzed CLI arguments', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    requireBuild()
    dir = await tempDir('ipfs-kit-rel-cli-')
  })
  after(async () => {
    killAll()
    await dir?.cleanup()
  })

  it(`${IN_PROCESS_RUNS} argument vectors in-process: only typed errors, exit 0 or 1, one stderr line on failure`, async () => {
    const repoFile = join(dir.path, 'repo-is-a-file')
    await writeFile(repoFile, 'not a repo')
    const child = spawn(
      process.execPath,
      ['--import', TSX, WORKER, String(IN_PROCESS_RUNS), '20261124', repoFile],
      {
        cwd: dir.path,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8')
    })
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString('utf8')
    })
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (child.pid != null) process.kill(child.pid, 'SIGKILL')
        reject(new Error('the CLI fuzz worker did not finish within 120 s'))
      }, 120_000)
      child.on('close', (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    assert.equal(code, 0, `worker failed: ${err}`)
    const report = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as WorkerReport
    console.log('in-process CLI fuzz:', JSON.stringify(report))
    assert.equal(report.failure, undefined, report.failure)
    assert.equal(report.cases, IN_PROCESS_RUNS)
    assert.ok(report.failures > 0, 'most vectors are bad and fail')
    assert.ok(Object.keys(report.thrown).length >= 3, 'errors of several kinds were reached')
  })

  it(`${BINARY_RUNS} runs of the real binary with bad arguments: exit 1, exactly one "Error:" line`, async () => {
    const commandNames = new Set([
      'init',
      'daemon',
      'add',
      'cat',
      'get',
      'ls',
      'pin',
      'pubsub',
      'id',
      'swarm',
      'repo',
      'gc',
      'version',
      'help'
    ])
    const word = fc.stringMatching(/^[a-z][a-z0-9-]{2,11}$/)
    const junk = fc.string({ minLength: 1, maxLength: 12 }).map((s) => `!${s.replace(/^-+/, '')}`)
    const bad = fc.oneof(
      word.filter((w) => !commandNames.has(w)).map((w) => [w]),
      fc
        .tuple(fc.constantFrom('add', 'cat', 'ls', 'id', 'gc', 'init'), word)
        .map(([c, w]) => [c, `--zz-${w}`]),
      fc.tuple(fc.constantFrom('cat', 'ls', 'get'), junk).map(([c, j]) => [c, j]),
      fc.tuple(fc.constantFrom(['pin', 'add'], ['pin', 'rm']), junk).map(([c, j]) => [...c, j]),
      fc.integer({ min: 2, max: 99 }).map((v) => ['add', '--cid-version', String(v), 'x']),
      word.map((w) => ['add', '--chunker', w, 'x']),
      fc
        .integer({ min: -99, max: -1 })
        .map((n) => ['cat', '--offset', String(n), 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn']),
      word.map((w) => ['swarm', 'connect', w]),
      word.map((w) => ['init', '--profile', w]),
      word.map((w) => ['daemon', '--role', w]),
      fc.constantFrom(['cat'], ['pin', 'add'], ['swarm', 'connect'], ['pubsub', 'pub']).map((c) => [...c])
    )
    const cases: string[][] = fc.sample(bad, { numRuns: BINARY_RUNS, seed: 424242 })
    const env = { IPFS_KIT_PATH: join(dir.path, 'no-repo-here') }
    const results: Array<{ args: string[]; code: number | null; stderr: string }> = []
    // two at a time: each run loads the whole CLI
    for (let i = 0; i < cases.length; i += 2) {
      const batch = cases.slice(i, i + 2)
      const done = await Promise.all(
        batch.map((args) => run(args, { env, cwd: dir.path, timeoutMs: 20_000 }))
      )
      for (const [j, r] of done.entries()) results.push({ args: batch[j]!, code: r.code, stderr: r.stderr })
    }
    for (const r of results) {
      const lines = r.stderr.split('\n').filter((l) => l !== '')
      assert.equal(r.code, 1, `ipfs-kit ${JSON.stringify(r.args)} exited ${r.code}`)
      assert.equal(lines.length, 1, `ipfs-kit ${JSON.stringify(r.args)}: ${JSON.stringify(r.stderr)}`)
      // `Error: …`, or with --json / --enc json Kubo's error object
      const line = lines[0]!
      const json = line.startsWith('{')
        ? (JSON.parse(line) as { Type?: string; Message?: string })
        : undefined
      assert.ok(
        /^Error: \S/.test(line) || (json?.Type === 'error' && (json.Message ?? '') !== ''),
        `ipfs-kit ${JSON.stringify(r.args)}: ${line}`
      )
    }
    assert.equal(results.length, BINARY_RUNS)
    assert.ok(BIN.endsWith('bin.js'))
  })
})
