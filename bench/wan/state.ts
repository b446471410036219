/**
 * The testbed's state file and its teardown. `up` writes the state before it creates anything
 * and again after each helper it starts, so `down` can remove everything from the state file
 * alone, after a crash too; `down` also sweeps every namespace named like the prefix's.
 *
 * @packageDocumentation
 */

import { chmod, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isOurHelper, run, terminate } from './shell.ts'
import {
  CommandError,
  InvalidSpecError,
  PREFIX_PATTERN,
  type TeardownReport,
  type TestbedState
} from './types.ts'

/** Folder of the netns files made by `ip netns add`. */
const NETNS_DIR = '/run/netns'

/** Where state files live: `${TMPDIR:-/tmp}/ipfs-kit-wan`. */
export function stateRoot(): string {
  return join(tmpdir(), 'ipfs-kit-wan')
}

/** The folder of one testbed's state, logs and helper files. */
export function stateDir(prefix: string, root = stateRoot()): string {
  return join(root, prefix)
}

/** Throw an {@link InvalidSpecError} unless `prefix` is a valid namespace prefix. */
export function checkPrefix(prefix: string): void {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InvalidSpecError(
      `prefix "${prefix}" must match ${PREFIX_PATTERN} (it names namespaces and interfaces)`
    )
  }
}

/** Write the state atomically (a reader never sees half a file). */
export async function writeState(state: TestbedState, root = stateRoot()): Promise<void> {
  // the root is shared by every user, as /tmp is: anyone may add a testbed, none remove another's
  if ((await mkdir(root, { recursive: true })) === root) await chmod(root, 0o1777)
  const dir = stateDir(state.prefix, root)
  await mkdir(dir, { recursive: true })
  const file = join(dir, 'state.json')
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`)
  await rename(`${file}.tmp`, file)
}

/** The state of a testbed, or undefined if it has none (or an unreadable one). */
export async function readState(prefix: string, root = stateRoot()): Promise<TestbedState | undefined> {
  try {
    const state = JSON.parse(
      await readFile(join(stateDir(prefix, root), 'state.json'), 'utf8')
    ) as TestbedState
    return state.version === 1 && state.prefix === prefix ? state : undefined
  } catch {
    return undefined
  }
}

/** Every testbed that has a state file. */
export async function listStates(root = stateRoot()): Promise<TestbedState[]> {
  let names: string[]
  try {
    names = await readdir(root)
  } catch {
    return []
  }
  const states = await Promise.all(names.filter((n) => PREFIX_PATTERN.test(n)).map((n) => readState(n, root)))
  return states.filter((s): s is TestbedState => s != null)
}

/** Every network namespace (from `ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list'])
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '')
}

/** The namespaces named like a testbed of this prefix: `<prefix>-sw`, `<prefix>-h<n>` and its NAT routers' `<prefix>-n<n>`. */
export async function prefixNamespaces(prefix: string): Promise<string[]> {
  checkPrefix(prefix)
  const pattern = new RegExp(`^${prefix}-(sw|h[0-9]+|n[0-9]+)$`)
  return (await listNamespaces()).filter((n) => pattern.test(n))
}

/** pids of the processes whose network namespace is one of `namespaces` (by inode). */
export async function pidsIn(namespaces: readonly string[]): Promise<number[]> {
  const inodes = new Set<string>()
  for (const ns of namespaces) {
    try {
      inodes.add(`net:[${(await stat(join(NETNS_DIR, ns))).ino}]`)
    } catch {
      // gone already
    }
  }
  if (inodes.size === 0) return []
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (inodes.has(await readlink(`/proc/${entry}/ns/net`))) pids.push(Number(entry))
    } catch {
      // exited, or not ours to look at
    }
  }
  return pids
}

/**
 * Remove a testbed: stop its helpers (only if pid, start time and command line are still
 * theirs), then every process left inside its namespaces, then delete the namespaces (their
 * veths, bridge, qdiscs and iptables rules go with them), then the state folder. Works from the
 * state file alone and sweeps namespaces of the prefix that the state does not list. Throws a
 * {@link CommandError} if a namespace is left.
 */
export async function teardown(
  prefix: string,
  options: { root?: string; log?: (line: string) => void } = {}
): Promise<TeardownReport> {
  checkPrefix(prefix)
  const started = performance.now()
  const log = options.log ?? (() => {})
  const state = await readState(prefix, options.root)
  const all = await listNamespaces()
  const pattern = new RegExp(`^${prefix}-(sw|h[0-9]+|n[0-9]+)$`)
  // the state's namespaces, and any other of the prefix (a crash before the state was written)
  const namespaces = all.filter((ns) => pattern.test(ns) || state?.namespaces.includes(ns) === true)
  const helpers = (state?.helpers ?? []).filter(isOurHelper).map((h) => h.pid)
  const inside = (await pidsIn(namespaces)).filter((pid) => !helpers.includes(pid))
  const killed = [...helpers, ...inside]
  if (killed.length > 0) {
    log(`stopping ${helpers.length} helper(s) and ${inside.length} process(es) left in the testbed`)
    await terminate(killed)
  }
  if (namespaces.length > 0) {
    await run('ip', ['-force', '-batch', '-'], {
      input: namespaces.map((ns) => `netns del ${ns}\n`).join('')
    })
  }
  // the delay line's last words: its counters (packets held, dropped by the kernel)
  const lastWords = await readFile(join(stateDir(prefix, options.root), 'delay-line.log'), 'utf8').catch(
    () => ''
  )
  const stopped = lastWords.trim().split('\n').at(-1)
  if (stopped?.includes('stopped') === true) log(stopped)
  await rm(stateDir(prefix, options.root), { recursive: true, force: true })
  const left = await prefixNamespaces(prefix)
  if (left.length > 0) throw new CommandError(`namespaces left after teardown: ${left.join(', ')}`)
  const ms = performance.now() - started
  log(`testbed ${prefix} down: ${namespaces.length} namespaces removed in ${(ms / 1000).toFixed(2)} s`)
  return { prefix, namespaces, killed, ms }
}
