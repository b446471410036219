import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

/** The repository root: examples run from here and import 'ipfs-kit' (the built dist). */
export const ROOT = resolve(import.meta.dirname, '../..')

/** Fail clearly when the package has not been built (examples import the built `ipfs-kit`). */
export function requireBuild(): void {
  const entry = join(ROOT, 'dist/src/index.js')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`)
}

/** One JSON line an example printed. */
export interface ExampleEvent extends Record<string, unknown> {
  event: string
}

/** How an example process ended. */
export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** An example running as its own OS process. */
export interface ExampleProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** every JSON line printed on standard output so far */
  events(): ExampleEvent[]
  /** the events named `name` so far */
  all(name: string): ExampleEvent[]
  stderr(): string
  /** settles when the process has exited */
  readonly exited: Promise<Exit>
  /** the first event named `name` (and matching `where`), waiting at most `timeoutMs` */
  waitFor(name: string, where?: (e: ExampleEvent) => boolean, timeoutMs?: number): Promise<ExampleEvent>
  /** wait (bounded) for the process to exit by itself */
  waitExit(timeoutMs?: number): Promise<Exit>
  /** send `signal` (by pid) and wait (bounded) for the exit */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>
}

/** Every process a test started, so {@link killAll} can end those still running. */
const running = new Set<ChildProcess>()

/** SIGKILL, by pid, every example process still running (for `after` hooks). */
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

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Start `examples/<name>.ts` with the project's Node (types stripped natively), in the
 * local profile (loopback only), with `args`.
 */
export function startExample(name: string, args: string[], env: Record<string, string> = {}): ExampleProcess {
  const script = join(ROOT, 'examples', `${name}.ts`)
  const childEnv: NodeJS.ProcessEnv = { ...process.env, IPFS_KIT_PROFILE: 'local', ...env }
  delete childEnv.DEBUG
  delete childEnv.NODE_OPTIONS
  if (env.IPFS_KIT_PATH == null) delete childEnv.IPFS_KIT_PATH
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: childEnv })
  if (child.pid == null) throw new Error(`could not start ${name}`)
  running.add(child)
  const events: ExampleEvent[] = []
  let partial = ''
  let err = ''
  child.stdout?.on('data', (b: Buffer) => {
    partial += b.toString('utf8')
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') continue
      try {
        events.push(JSON.parse(line) as ExampleEvent)
      } catch {
        events.push({ event: 'non-json', line })
      }
    }
  })
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString('utf8')
  })
  const exited = new Promise<Exit>((resolveExit) => {
    child.on('close', (code, signal) => {
      running.delete(child)
      resolveExit({ code, signal })
    })
  })
  const describeState = (): string =>
    `${name} ${args.join(' ')}\nstdout: ${events.map((e) => JSON.stringify(e)).join('\n')}\nstderr: ${err}`
  const proc: ExampleProcess = {
    child,
    pid: child.pid,
    events: () => [...events],
    all: (event) => events.filter((e) => e.event === event),
    stderr: () => err,
    exited,
    async waitFor(event, where = () => true, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = events.find((e) => e.event === event && where(e))
        if (found != null) return found
        if (child.exitCode != null || child.signalCode != null) {
          throw new Error(`${name} exited before printing "${event}": ${describeState()}`)
        }
        if (Date.now() > deadline) throw new Error(`no "${event}" within ${timeoutMs} ms: ${describeState()}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    waitExit(timeoutMs = 90_000) {
      return withTimeout(exited, timeoutMs, () => `${name} did not exit: ${describeState()}`)
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode == null && child.signalCode == null) process.kill(child.pid!, signal)
      return withTimeout(exited, timeoutMs, () => `${name} did not exit on ${signal}: ${describeState()}`)
    }
  }
  return proc
}

/** A fresh temporary folder under the OS temp dir. */
export function tempDir(prefix = 'ipfs-kit-example-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

/** Remove temporary folders. */
export async function removeAll(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
}

/** The first TCP address (with `/p2p/`) in a `ready` event. */
export function quicAddr(ready: ExampleEvent): string {
  const addr = (ready.addrs as string[]).find((a) => a.includes('/quic-v1'))
  if (addr == null) throw new Error(`no QUIC address in ${JSON.stringify(ready)}`)
  return addr
}

export function tcpAddr(ready: ExampleEvent): string {
  const addrs = ready.addrs as string[]
  const addr = addrs.find((a) => a.includes('/tcp/') && !a.includes('/ws'))
  if (addr == null) throw new Error(`no TCP address in ${JSON.stringify(ready)}`)
  return addr
}
