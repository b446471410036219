import { CommanderError } from 'commander'
import { IpfsKitError, RepoLockedError } from '../errors.ts'
import { describeHolder, holderState, readLockHolder } from '../kit/lock.ts'

/** A command line that cannot be run as given (missing or unknown argument, bad value). */
export class UsageError extends IpfsKitError {
  static override readonly code = 'ERR_USAGE'
}

/** Standard output was closed by the reader (`ipfs-kit cat … | head`): stop quietly. */
export class OutputClosedError extends IpfsKitError {
  static override readonly code = 'ERR_OUTPUT_CLOSED'
}

/** Exit code of every failure, usage errors included (as Kubo). */
export const EXIT_FAILURE = 1

/**
 * The repo is locked: say which process holds it (a daemon, another command, a program
 * using the library, as its `repo.lock` says) and what to do, in one line.
 */
export async function daemonHoldsRepo(repoPath: string, cause: unknown): Promise<RepoLockedError> {
  const holder = await readLockHolder(repoPath)
  const who =
    holder != null && (await holderState(holder)) !== 'dead'
      ? describeHolder(holder)
      : 'another process (a daemon?)'
  return new RepoLockedError(
    `${who} holds the repo ${repoPath}: stop it first, or use another repo with --repo or IPFS_KIT_PATH`,
    { cause }
  )
}

/** One line, whatever the message holds. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

/** What the CLI prints for an error, and the exit code. `undefined` message: print nothing. */
export interface ErrorReport {
  message: string | undefined
  exitCode: number
}

/**
 * Turn anything thrown by a command (or by commander) into one `Error: …` line and an
 * exit code. `--help` and `--version` are not failures.
 */
export function reportFor(err: unknown): ErrorReport {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) {
      return { message: undefined, exitCode: 0 }
    }
    if (err.code === 'commander.help') {
      return { message: 'Error: missing command: see `ipfs-kit --help`', exitCode: EXIT_FAILURE }
    }
    const text = err.message.replace(/^error:\s*/i, '')
    return { message: `Error: ${oneLine(text)}`, exitCode: err.exitCode === 0 ? EXIT_FAILURE : err.exitCode }
  }
  if (err instanceof OutputClosedError) return { message: undefined, exitCode: 0 }
  const message = err instanceof Error ? err.message : String(err)
  return {
    message: `Error: ${oneLine(message) || (err as Error)?.name || 'unknown error'}`,
    exitCode: EXIT_FAILURE
  }
}
