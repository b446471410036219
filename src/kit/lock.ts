import { open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { RepoError, RepoLockedError } from '../errors.ts'

/** Name of the lock file inside the repo (as Kubo's `repo.lock`). */
export const LOCK_FILE = 'repo.lock'

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

/** A held repo lock; `release()` may be called more than once. */
export interface RepoLock {
  readonly file: string
  release(): Promise<void>
}

/**
 * Take the repo's lock: a file created exclusively that holds our pid. A lock left by
 * a process that no longer runs (killed with SIGKILL, say) is taken over; a lock held
 * by a live process is a {@link RepoLockedError}.
 */
export async function lockRepo(repoPath: string): Promise<RepoLock> {
  const file = join(repoPath, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(`${process.pid}\n`)
      await handle.close()
      let released = false
      return {
        file,
        async release() {
          if (released) return
          released = true
          await unlink(file).catch(() => {})
        }
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'EEXIST') {
        throw new RepoError(`cannot create the lock file ${file}: ${(err as Error).message}`, { cause: err })
      }
    }
    const holder = Number.parseInt((await readFile(file, 'utf8').catch(() => '')).trim(), 10)
    if (holder === process.pid || isAlive(holder)) {
      throw new RepoLockedError(
        `the repo ${repoPath} is in use by process ${holder} (a running daemon?); stop it, or use another repo with --repo or IPFS_KIT_PATH`
      )
    }
    // stale lock: its process is gone
    await unlink(file).catch(() => {})
  }
  throw new RepoLockedError(`could not take the lock ${file}: another process keeps taking it`)
}
