/**
 * The `ipfs-kit` command line: Kubo-like commands on a local repo.
 *
 * @packageDocumentation
 */
import { Command, CommanderError, Option } from 'commander'
import { errorResponse } from '../api/http.ts'
import { TimeoutError } from '../errors.ts'
import { VERSION } from '../version.ts'
import { registerAdd } from './commands/add.ts'
import { registerCluster } from './commands/cluster.ts'
import { registerConfig } from './commands/config.ts'
import { registerContent } from './commands/content.ts'
import { type RunDaemonOptions, registerDaemon, runDaemon } from './commands/daemon.ts'
import { registerDag } from './commands/dag.ts'
import { registerFiles } from './commands/files.ts'
import { ROLES_HELP, registerInit } from './commands/init.ts'
import { registerNames } from './commands/names.ts'
import { registerNetwork } from './commands/network.ts'
import { registerOps } from './commands/ops.ts'
import { registerPin } from './commands/pin.ts'
import { registerPubsub } from './commands/pubsub.ts'
import { registerBlock, registerRefs } from './commands/refs.ts'
import { registerRepo } from './commands/repo.ts'
import { reportFor } from './errors.ts'
import {
  loadMultiaddr,
  needsMultiaddr,
  normalizeBooleanFlags,
  parseDuration,
  parseEncoding
} from './options.ts'
import { watchStdout, writeOut } from './output.ts'

export type { KitClient } from './client.ts'
export type { GlobalOptions } from './options.ts'
export { type RunDaemonOptions, runDaemon }

/**
 * Build the `ipfs-kit` program. Commander never exits the process nor prints errors
 * itself: {@link main} turns every failure into one line.
 */
export function createProgram(): Command {
  const program = new Command('ipfs-kit')
    .description('A real IPFS node in TypeScript: Kubo-like commands on a local repo')
    .option(
      '--repo <path>',
      'repo folder (default: $IPFS_KIT_PATH, else the nearest ./.ipfs-kit here or above, as npm start makes, else ~/.ipfs-kit)'
    )
    .option('--json', 'machine-readable output')
    .addOption(
      new Option('--enc <encoding>', 'output encoding: json or text (Kubo)').argParser(parseEncoding)
    )
    .option('-q, --quiet', 'minimal output')
    .option('--offline', 'never use the network')
    .option('--api <multiaddr>', "talk to this daemon's API (/ip4/<host>/tcp/<port> or http://…)")
    .option('--api-auth <auth>', 'the token for --api: bearer:<token> (else $IPFS_KIT_API_TOKEN)')
    .addOption(
      new Option('--timeout <duration>', 'fail the command after this long (e.g. 30s, 1m30s)').argParser(
        parseDuration
      )
    )
    .version(VERSION, '--version', 'print the version')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, outputError: () => {} })
    .showSuggestionAfterError(true)
    .addHelpText('after', `\n${ROLES_HELP}`)
    // the multiaddr parser is loaded only for a command whose options check multiaddrs
    .hook('preSubcommand', async (_program, sub) => {
      if (needsMultiaddr(sub)) await loadMultiaddr()
    })
  registerInit(program)
  registerDaemon(program)
  registerAdd(program)
  registerContent(program)
  registerPin(program)
  registerPubsub(program)
  registerNetwork(program)
  registerRepo(program)
  registerFiles(program)
  registerConfig(program)
  registerOps(program)
  registerNames(program)
  registerCluster(program)
  registerDag(program)
  registerRefs(program)
  registerBlock(program)
  return program
}

/** True when the command line asks for JSON output (`--json`, `--enc json`, `--enc=json`; before `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const args = argv.slice(2)
  const end = args.indexOf('--')
  const own = end === -1 ? args : args.slice(0, end)
  // after `config`, `--json` is Kubo's "the value is JSON", not the output encoding
  return own.some(
    (a, i) =>
      (a === '--json' && !own.slice(0, i).includes('config')) ||
      a === '--enc=json' ||
      (a === '--enc' && own[i + 1] === 'json')
  )
}

/** A failure as Kubo's error object: `{Message, Code, Type: 'error'}` (Code 1: bad usage), plus our `Name`. */
function errorJson(
  err: unknown,
  message: string
): { Message: string; Code: number; Type: 'error'; Name?: string } {
  const usage = err instanceof CommanderError || (err instanceof Error && err.name === 'UsageError')
  const { body } = errorResponse(err)
  return {
    Message: message.replace(/^Error: /, ''),
    Code: usage ? 1 : body.Code,
    Type: 'error',
    ...(err instanceof Error && !(err instanceof CommanderError) ? { Name: err.name } : {})
  }
}

/**
 * Parse and run, failing with {@link TimeoutError} once `--timeout` passes (what the command
 * still holds open goes with the process: `bin.ts` exits a failed command).
 */
async function withTimeout(program: Command, argv: string[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    program.hook('preAction', (_root, action) => {
      const ms = action.optsWithGlobals<{ timeout?: number }>().timeout
      if (ms == null) return
      timer = setTimeout(
        () => reject(new TimeoutError(`the command timed out after ${ms} ms (--timeout)`)),
        ms
      )
    })
  })
  try {
    await Promise.race([program.parseAsync(argv), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Run the CLI on `argv` (as `process.argv`: node, script, then arguments). Returns the
 * exit code; on failure exactly one line `Error: <message>` is written to standard
 * error (with the stack as well when `DEBUG` is set).
 *
 * @example
 * ```ts
 * process.exitCode = await main(['node', 'ipfs-kit', 'add', '-q', 'file.txt'])
 * ```
 */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  watchStdout()
  // Some library code (Helia's graph walker, on a failed pin) rejects a promise nobody
  // awaits as well as the one we await. Keep it from crashing with a stack trace; a
  // command that still succeeds is failed with it below.
  const stray: unknown[] = []
  const onStray = (reason: unknown): void => {
    stray.push(reason)
  }
  process.on('unhandledRejection', onStray)
  let failure: unknown
  let failed = false
  try {
    const program = createProgram()
    // no command at all: the help, as Kubo
    if (argv.length <= 2) await writeOut(`${program.helpInformation()}\n${ROLES_HELP}\n`)
    else await withTimeout(program, normalizeBooleanFlags(argv))
  } catch (err) {
    failure = err
    failed = true
  }
  // let rejections from the last microtasks arrive
  await new Promise((resolve) => setImmediate(resolve))
  process.off('unhandledRejection', onStray)
  if (!failed && stray.length === 0) return 0
  const err = failed ? failure : stray[0]
  const { message, exitCode } = reportFor(err)
  if (message != null) {
    // with --json / --enc json the one line is Kubo's error object, for scripts that parse it
    process.stderr.write(wantsJson(argv) ? `${JSON.stringify(errorJson(err, message))}\n` : `${message}\n`)
  }
  if (process.env.DEBUG != null) {
    for (const e of [err, ...stray.filter((s) => s !== err)]) {
      if (e instanceof Error && e.stack != null) process.stderr.write(`${e.stack}\n`)
    }
  }
  return exitCode
}
