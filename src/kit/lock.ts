import { randomBytes } from 'node:crypto'
import { link, readdir, readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { DiskFullError, isDiskFull, RepoError, RepoLockedError } from '../errors.ts'

/** Name of the lock file inside the repo (as Kubo's `repo.lock`). */
export const LOCK_FILE = 'repo.lock'

/** What kind of process holds a repo: `ipfs-kit daemon`, another `ipfs-kit` command, or a program using the library. */
export type LockHolderKind = 'daemon' | 'cli' | 'library'

/** The record in `repo.lock`: who holds the repo. */
export interface LockHolder {
  /** process id */
  pid: number
  /**
   * when that process started, as the kernel counts it (`/proc/<pid>/stat` field 22 on
   * Linux): a live process with this pid but another start time is not the holder
   * (the pid was reused); absent where it cannot be read
   */
  startedAt?: string
  /** what kind of process it is */
  cmd?: LockHolderKind
  /** the command (`ipfs-kit pin ls`) or script it runs */
  command?: string
  /** the machine it runs on (a repo on a shared filesystem) */
  host?: string
  /** when it took the lock (ISO 8601) */
  since?: string
  /** random, one per lock taken: a lock is removed only by the process whose token it holds */
  token?: string
}

/** A held repo lock; `release()` may be called more than once. */
export interface RepoLock {
  readonly file: string
  /** the record this lock writes into {@link LOCK_FILE} */
  readonly holder: LockHolder
  /**
   * Make {@link LOCK_FILE} name this process, replacing a stale one. Call it only while
   * holding the repo's kernel lock (the datastore's LevelDB `LOCK`): that lock decides
   * between processes that found the same stale file.
   */
  claim(): Promise<void>
  /**
   * Remove the lock file if it still holds this lock's token, then run `closeKernelLock`
   * (the datastore's close: the lock file goes first, while the kernel lock still keeps
   * every other process out), then forget the repo in this process.
   */
  release(closeKernelLock?: () => Promise<void>): Promise<void>
}

/** Options of {@link lockRepo}. */
export interface LockRepoInit {
  /** the kind recorded for this process @default guessed from `process.argv` ({@link processKind}) */
  cmd?: LockHolderKind
}

/** Repos this process holds (by real path), shared by every copy of this module in the thread. */
function heldHere(): Set<string> {
  const key = Symbol.for('ipfs-kit.heldRepos')
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>
  g[key] ??= new Set<string>()
  return g[key]
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat` field 22);
 * undefined where there is no `/proc` or the process is gone.
 */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // field 2 (the command name) is in parentheses and may hold spaces: count from after it
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const start = fields[22 - 3]
    return start != null && /^\d+$/.test(start) ? start : undefined
  } catch {
    return undefined
  }
}

/**
 * The kind of this process, from its command line: `ipfs-kit daemon`, another
 * `ipfs-kit` command (with its command words), or a program using the library.
 */
export function processKind(argv: readonly string[] = process.argv): {
  cmd: LockHolderKind
  command?: string
} {
  const script = argv[1] ?? ''
  if (!/(^|[/\\])(ipfs-kit|cli[/\\]bin\.[cm]?[jt]s)$/.test(script)) {
    return script === '' ? { cmd: 'library' } : { cmd: 'library', command: `node ${script}` }
  }
  const words: string[] = []
  for (let i = 2; i < argv.length && words.length < 2; i++) {
    const arg = argv[i] ?? ''
    if (arg === '--repo') i++
    else if (arg.startsWith('-')) continue
    else if (/^[a-z][a-z-]*$/.test(arg)) words.push(arg)
    else break
  }
  return { cmd: words[0] === 'daemon' ? 'daemon' : 'cli', command: ['ipfs-kit', ...words].join(' ') }
}

/** Parse the contents of a lock file: this version's JSON record, or an older version's bare pid. */
export function parseLockHolder(text: string): LockHolder | undefined {
  const t = text.trim()
  if (/^\d+$/.test(t)) {
    const pid = Number(t)
    return Number.isSafeInteger(pid) && pid > 0 ? { pid } : undefined
  }
  try {
    const v = JSON.parse(t) as Record<string, unknown>
    if (typeof v !== 'object' || v == null || !Number.isSafeInteger(v.pid) || (v.pid as number) <= 0)
      return undefined
    const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined)
    const cmd = v.cmd === 'daemon' || v.cmd === 'cli' || v.cmd === 'library' ? v.cmd : undefined
    return {
      pid: v.pid as number,
      startedAt: str(v.startedAt),
      cmd,
      command: str(v.command),
      host: str(v.host),
      since: str(v.since),
      token: str(v.token)
    }
  } catch {
    return undefined
  }
}

/** The holder named in `<repo>/repo.lock`, if the file is there and readable. */
export async function readLockHolder(repoPath: string): Promise<LockHolder | undefined> {
  const text = await readFile(join(repoPath, LOCK_FILE), 'utf8').catch(() => '')
  return parseLockHolder(text)
}

/**
 * Whether the holder a lock names still runs: `dead` (no such process, or a process
 * that started at another time: its pid was reused), `alive` (same pid, same start
 * time), or `unknown` (no start time to compare, or another machine).
 */
export async function holderState(holder: LockHolder): Promise<'alive' | 'dead' | 'unknown'> {
  if (holder.host != null && holder.host !== hostname()) return 'unknown'
  if (!isAlive(holder.pid)) return 'dead'
  if (holder.startedAt == null) return 'unknown'
  const started = await processStartTime(holder.pid)
  if (started == null) return 'unknown'
  return started === holder.startedAt ? 'alive' : 'dead'
}

/** The holder in words: "a daemon (process 123)", "the command `ipfs-kit pin ls` (process 123)", … */
export function describeHolder(holder: LockHolder): string {
  const where = holder.host != null && holder.host !== hostname() ? ` on ${holder.host}` : ''
  const since = holder.since == null ? '' : `, since ${holder.since}`
  switch (holder.cmd) {
    case 'daemon':
      return `a daemon (process ${holder.pid}${where}${since})`
    case 'cli':
      return `the command \`${holder.command ?? 'ipfs-kit'}\` (process ${holder.pid}${where}${since})`
    case 'library':
      return `a program using ipfs-kit (process ${holder.pid}${where}${holder.command == null ? '' : `: ${holder.command}`}${since})`
    default:
      return `process ${holder.pid}${where}`
  }
}

/** The error for a repo another process holds, naming it when its lock file does. */
export function repoLockedError(repoPath: string, holder?: LockHolder, cause?: unknown): RepoLockedError {
  const who = holder == null ? 'another process' : describeHolder(holder)
  return new RepoLockedError(
    `the repo ${repoPath} is in use by ${who}; stop it, or use another repo with --repo or IPFS_KIT_PATH`,
    cause == null ? undefined : { cause }
  )
}

/** Write `text` to a new file next to the lock (mode 0644: it names a process, no secret). */
async function writeTemp(repoPath: string, text: string): Promise<string> {
  const tmp = join(repoPath, `${LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    await writeFile(tmp, text, { flag: 'wx', flush: true })
  } catch (err) {
    await unlink(tmp).catch(() => {})
    const file = join(repoPath, LOCK_FILE)
    if (isDiskFull(err)) {
      throw new DiskFullError(
        `cannot write the lock file ${file}: the disk holding the repo is full; free space and start again`,
        { cause: err }
      )
    }
    throw new RepoError(`cannot create the lock file ${file}: ${(err as Error).message}`, { cause: err })
  }
  return tmp
}

/** Errors of `link()` on a filesystem without hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

/**
 * Create `file` with the contents of `tmp` (already written whole) if it does not exist:
 * `link()` makes it appear whole at once. False if it exists. On a filesystem without
 * hard links, falls back to an exclusive create and write.
 */
export async function createWhole(
  tmp: string,
  file: string,
  data: string | Uint8Array,
  mode?: number
): Promise<boolean> {
  try {
    await link(tmp, file)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code == null || !NO_HARD_LINKS.has(code)) throw err
  }
  try {
    await writeFile(file, data, { flag: 'wx', flush: true, mode })
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

/** Remove temp files of the lock left by processes that died while taking it. */
async function sweepTemps(repoPath: string): Promise<void> {
  const names = await readdir(repoPath).catch(() => [] as string[])
  for (const name of names) {
    const m = /^repo\.lock\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name)
    if (m != null && !isAlive(Number(m[1]))) await unlink(join(repoPath, name)).catch(() => {})
  }
}

/**
 * Take the repo's lock file, {@link LOCK_FILE}: a record of who holds it (pid, process
 * start time, kind of process, a token of its own), written whole to a temp file and
 * linked into place, so that a reader never sees it empty or half-written.
 *
 * - No lock file: this process's record is linked in (only one process can create it).
 * - A lock naming a live holder (same pid, same start time): {@link RepoLockedError} naming it.
 * - A lock this process holds already (in this thread): {@link RepoLockedError}.
 * - A stale lock (its process is gone, or its pid now belongs to another process) or one
 *   whose holder cannot be checked: left in place for now; the caller takes the kernel
 *   lock (LevelDB's `LOCK`, released by the kernel when a process dies) and then
 *   {@link RepoLock.claim}s the file, replacing it atomically. Of many processes that
 *   found the same stale lock only the one holding the kernel lock claims it.
 *
 * A lock file is removed only by the process whose token it holds, and only while that
 * process still holds the kernel lock.
 */
export async function lockRepo(repoPath: string, init: LockRepoInit = {}): Promise<RepoLock> {
  const file = join(repoPath, LOCK_FILE)
  const key = await realpath(repoPath).catch(() => resolve(repoPath))
  const held = heldHere()
  const kind = processKind()
  const me: LockHolder = {
    pid: process.pid,
    startedAt: await processStartTime(process.pid),
    cmd: init.cmd ?? kind.cmd,
    command: kind.command,
    host: hostname(),
    since: new Date().toISOString(),
    token: randomBytes(16).toString('hex')
  }
  // checked and marked with no await between: two opens in one process cannot both pass
  if (held.has(key)) {
    throw new RepoLockedError(
      `the repo ${repoPath} is already open in this process; close it first, or use another repo with --repo or IPFS_KIT_PATH`
    )
  }
  held.add(key)
  const text = `${JSON.stringify(me)}\n`
  let owned = false
  try {
    const tmp = await writeTemp(repoPath, text)
    try {
      owned = await createWhole(tmp, file, text)
    } catch (err) {
      throw new RepoError(`cannot create the lock file ${file}: ${(err as Error).message}`, { cause: err })
    } finally {
      await unlink(tmp).catch(() => {})
    }
    if (!owned) {
      const holder = parseLockHolder(await readFile(file, 'utf8').catch(() => ''))
      if (holder != null && (await holderState(holder)) === 'alive') throw repoLockedError(repoPath, holder)
    }
  } catch (err) {
    held.delete(key)
    throw err
  }

  let released = false
  return {
    file,
    holder: me,
    async claim() {
      if (released) throw new RepoError(`the lock ${file} was released`)
      if (!owned) {
        const tmp = await writeTemp(repoPath, text)
        try {
          await rename(tmp, file)
        } catch (err) {
          await unlink(tmp).catch(() => {})
          throw new RepoError(`cannot write the lock file ${file}: ${(err as Error).message}`, { cause: err })
        }
        owned = true
      }
      await sweepTemps(repoPath)
    },
    async release(closeKernelLock) {
      if (released) return
      released = true
      try {
        if (owned) {
          const now = parseLockHolder(await readFile(file, 'utf8').catch(() => ''))
          if (now?.token === me.token) await unlink(file).catch(() => {})
        }
      } finally {
        try {
          await closeKernelLock?.()
        } finally {
          held.delete(key)
        }
      }
    }
  }
}
