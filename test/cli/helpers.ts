import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

/** The built CLI: tests run the real binary, as users do. */
export const BIN = resolve(import.meta.dirname, '../../dist/src/cli/bin.js')

/** Fail clearly when the CLI has not been built (`npm test` builds it first). */
export function requireBuild(): void {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} is missing: run \`npm run build\` first (\`npm test\` does)`)
  }
}

/** Environment of every CLI process: never a public profile, no debug output, no inherited repo. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, IPFS_KIT_PROFILE: 'local', ...extra }
  delete env.DEBUG
  if (extra.IPFS_KIT_PATH == null) delete env.IPFS_KIT_PATH
  return env
}

/** Every process started by a test, so `killAll` can end the ones still running. */
const running = new Set<ChildProcess>()

/** Kill (by pid, SIGKILL) every CLI process a test started that is still running. */
export function killAll(): void {
  for (const child of running) {
    if (child.exitCode == null && child.signalCode == null && child.pid != null) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  running.clear()
}

/** Result of a finished CLI run. */
export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  /** standard output as UTF-8 */
  out: string
  stderr: string
}

/** Options of {@link run}. */
export interface RunOptions {
  /** bytes for standard input (else it is closed at once) */
  input?: string | Uint8Array
  env?: Record<string, string>
  cwd?: string
  /** the process is killed and the test fails after this long @default 30 s */
  timeoutMs?: number
}

/** Run `ipfs-kit <args>` to completion. */
export function run(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 90_000
  const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(options.env), cwd: options.cwd })
  running.add(child)
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => stdout.push(b))
  child.stderr.on('data', (b: Buffer) => stderr.push(b))
  child.stdin.on('error', () => {})
  child.stdin.end(options.input)
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      if (child.pid != null) process.kill(child.pid, 'SIGKILL')
      reject(new Error(`ipfs-kit ${args.join(' ')} did not exit within ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      const out = Buffer.concat(stdout)
      resolvePromise({
        code,
        signal,
        stdout: out,
        out: out.toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8')
      })
    })
  })
}

/** Run and expect success (exit 0, nothing on standard error); the standard output. */
export async function ok(args: string[], options: RunOptions = {}): Promise<string> {
  const r = await run(args, options)
  assert.equal(r.code, 0, `ipfs-kit ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return r.out
}

/** Expect a failure: non-zero exit, exactly one `Error: …` line on standard error matching `pattern`. */
export function assertOneError(r: RunResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure, got exit 0 with ${r.out}`)
  assert.equal(r.code, 1)
  const lines = r.stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${JSON.stringify(r.stderr)}`)
  assert.match(lines[0] ?? '', /^Error: /)
  assert.match(lines[0] ?? '', pattern)
}

/** A long-running CLI process (daemon, pubsub sub) whose output can be awaited. */
export interface LiveProcess {
  readonly child: ChildProcess
  readonly pid: number
  stdout(): string
  stderr(): string
  /** resolve with the first match of `pattern` on a stream, or fail after `timeoutMs` */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<RegExpMatchArray>
  /** send `signal` and wait (bounded) for the exit code */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>
}

/** Start `ipfs-kit <args>` and leave it running. */
export function start(args: string[], options: Omit<RunOptions, 'timeoutMs' | 'input'> = {}): LiveProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(options.env), cwd: options.cwd })
  running.add(child)
  const pid = child.pid
  if (pid == null) throw new Error(`could not start ipfs-kit ${args.join(' ')}`)
  let out = ''
  let err = ''
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString('utf8')
  })
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString('utf8')
  })
  const exited = new Promise<number | null>((resolveExit) => {
    child.on('close', (code) => {
      running.delete(child)
      resolveExit(code)
    })
  })
  return {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    async waitFor(pattern, stream = 'stdout', timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const m = (stream === 'stdout' ? out : err).match(pattern)
        if (m != null) return m
        if (child.exitCode != null) {
          throw new Error(`ipfs-kit ${args.join(' ')} exited (${child.exitCode}) before ${pattern}: ${err}`)
        }
        if (Date.now() > deadline) {
          throw new Error(
            `no ${pattern} on ${stream} of ipfs-kit ${args.join(' ')} within ${timeoutMs} ms: ${out} ${err}`
          )
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode == null && child.signalCode == null) process.kill(pid, signal)
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`ipfs-kit ${args.join(' ')} did not exit on ${signal}`)),
          timeoutMs
        )
      })
      try {
        return await Promise.race([exited, timeout])
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

/** A fresh temporary folder under the OS temp dir. */
export function tempDir(prefix = 'ipfs-kit-cli-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

/** Remove temporary folders. */
export async function removeAll(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
}

/** `ipfs-kit init --profile local` on a new repo; its peer id. */
export async function initLocal(repo: string, ...extra: string[]): Promise<string> {
  return (await ok(['--repo', repo, 'init', '--profile', 'local', '-q', ...extra])).trim()
}

/**
 * One CLI suite's scratch space: `setup()` (in `before`) makes a temp folder `work` with an
 * initialised local repo `repo` in it; `kit(...)` puts `--repo <repo>` before the arguments;
 * `teardown()` (in `after`) kills what the suite started and removes `work` and any folder
 * pushed on `dirs`.
 */
export class CliScratch {
  work = ''
  repo = ''
  readonly dirs: string[] = []
  readonly kit = (...args: string[]): string[] => ['--repo', this.repo, ...args]

  async setup(...initArgs: string[]): Promise<void> {
    requireBuild()
    this.work = await tempDir()
    this.dirs.push(this.work)
    this.repo = join(this.work, 'repo')
    await initLocal(this.repo, ...initArgs)
  }

  async teardown(): Promise<void> {
    killAll()
    await removeAll(this.dirs)
  }
}
