/**
 * Running the system commands the testbed is made with (`ip`, `tc`, `iptables-restore`, …),
 * and the processes it leaves running.
 *
 * @packageDocumentation
 */

import { execFile } from 'node:child_process'
import { accessSync, constants, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { CommandError, type HelperProcess, KILL_GRACE_MS, MissingToolError } from './types.ts'

/** Output of a command that succeeded. */
export interface CommandOutput {
  stdout: string
  stderr: string
}

/** Options of {@link run}. */
export interface RunOptions {
  /** written to its standard input (then closed) */
  input?: string
  signal?: AbortSignal
}

/** Run a command; throws a {@link CommandError} with its stderr if it fails. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { signal: options.signal, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err == null) {
          resolve({ stdout, stderr })
          return
        }
        if (err.name === 'AbortError') {
          reject(err)
          return
        }
        const what = [cmd, ...args].join(' ')
        const shown = what.length > 200 ? `${what.slice(0, 200)}…` : what
        const detail = stderr.trim() || err.message
        reject(
          new CommandError(
            `${shown}: ${detail}${options.input == null ? '' : ` (input: ${options.input.length} chars)`}`,
            { cause: err }
          )
        )
      }
    )
    if (options.input != null) child.stdin?.end(options.input)
  })
}

/** Whether a command is on the PATH (as `command -v` would say). */
export function hasCommand(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK)
      return true
    } catch {
      // not in this folder
    }
  }
  return false
}

/** Throw a {@link MissingToolError} unless `cmd` is installed; `pkg` is the Debian package. */
export function requireCommand(cmd: string, pkg: string, why: string): void {
  if (!hasCommand(cmd)) {
    throw new MissingToolError(`${cmd} is not installed (${why}): apt-get install ${pkg}`)
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined if the pid is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** Whether the helper is still the process we started (same pid, start time and command). */
export function isOurHelper(helper: HelperProcess): boolean {
  if (processStartTime(helper.pid) !== helper.startTime) return false
  try {
    return readFileSync(`/proc/${helper.pid}/cmdline`, 'utf8').includes(helper.marker)
  } catch {
    return false
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** SIGTERM each pid, then SIGKILL those still there after `graceMs`; resolves when all are gone. */
export async function terminate(pids: readonly number[], graceMs = KILL_GRACE_MS): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig)
    } catch {
      // gone already
    }
  }
  for (const pid of pids) signal(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  let left = pids.filter(alive)
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    left = left.filter(alive)
  }
  for (const pid of left) signal(pid, 'SIGKILL')
  const last = Date.now() + graceMs
  while (left.length > 0 && Date.now() < last) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    left = left.filter(alive)
  }
}
