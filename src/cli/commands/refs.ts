import { type Command, InvalidArgumentError } from 'commander'
import { NotFoundError, PinnedBlockError } from '../../errors.ts'
import { groupCommand } from '../group.ts'
import { responseLines } from '../ndjson.ts'
import { connectOption, globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'
import { withRpc } from '../rpc.ts'

/** Kubo's `--max-depth`: a whole number, -1 for no limit. */
function parseMaxDepth(value: string): number {
  if (!/^-?[0-9]+$/.test(value) || Number(value) < -1) {
    throw new InvalidArgumentError('expected a whole number, -1 (no limit) or more.')
  }
  return Number(value)
}

/** Print `{ Ref, Err }` lines; an `Err` fails the command (after the refs before it). */
async function printRefs(lines: AsyncIterable<unknown>, json: boolean): Promise<void> {
  for await (const line of lines) {
    const { Ref, Err } = line as { Ref: string; Err: string }
    if (Err != null && Err !== '') throw new NotFoundError(Err)
    if (json) await printJson(line)
    else await printLine(Ref)
  }
}

/** `ipfs-kit refs [-r] [--unique] [--format] [--edges] [--max-depth] <paths...>` and `refs local`. */
export function registerRefs(program: Command): void {
  const refs = program
    .command('refs')
    .description('List the links under DAGs (one level, or all with -r); `refs local`: every block held')
    .argument('<paths...>', 'CIDs or /ipfs/ paths')
    .option(
      '--format <format>',
      'how each link is printed: <src>, <dst> and <linkname> are replaced',
      '<dst>'
    )
    .option('-e, --edges', 'print each link as "<src> -> <dst>"')
    .option('-u, --unique', 'print each target once')
    .option('-r, --recursive', 'follow links below the first level')
    .option('--max-depth <n>', 'with -r: how deep (-1: no limit)', parseMaxDepth, -1)
    .addOption(connectOption())
    .action(
      async (
        paths: string[],
        opts: {
          format: string
          edges?: boolean
          unique?: boolean
          recursive?: boolean
          maxDepth: number
          connect: string[]
        },
        cmd: Command
      ) => {
        const globals = globalsOf(cmd)
        await withRpc(globals, { network: opts.connect.length > 0, connect: opts.connect }, async (rpc) => {
          const res = await rpc.request('refs', {
            arg: paths,
            format: opts.format,
            edges: opts.edges === true,
            unique: opts.unique === true,
            recursive: opts.recursive === true,
            'max-depth': opts.maxDepth
          })
          await printRefs(responseLines(res), globals.json === true)
        })
      }
    )

  refs
    .command('local')
    .description('List every block held in the repo (as raw CIDv1, as Kubo)')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await withRpc(globals, {}, async (rpc) =>
        printRefs(responseLines(await rpc.request('refs/local')), globals.json === true)
      )
    })
}

/** `ipfs-kit block rm [-f] <cids...>` (`-q`: only failures). */
export function registerBlock(program: Command): void {
  const block = groupCommand(program, 'block', 'Raw blocks')

  block
    .command('rm')
    .description('Remove blocks from the repo (pinned blocks are refused)')
    .argument('<cids...>', 'CIDs of the blocks')
    .option('-f, --force', 'ignore blocks that are not held')
    .action(async (cids: string[], opts: { force?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const failed: string[] = []
      let pinned = false
      await withRpc(globals, {}, async (rpc) => {
        const res = await rpc.request('block/rm', {
          arg: cids,
          force: opts.force === true,
          quiet: globals.quiet
        })
        for await (const line of responseLines(res)) {
          const { Hash, Error: error } = line as { Hash: string; Error?: string }
          if (globals.json) await printJson(line)
          if (error != null && error !== '') {
            failed.push(`cannot remove ${Hash}: ${error}`)
            pinned ||= error.startsWith('pinned')
          } else if (!globals.json) await printLine(`removed ${Hash}`)
        }
      })
      if (failed.length === 0) return
      const message = failed.length === 1 ? failed[0] : `some blocks not removed: ${failed.join('; ')}`
      throw pinned ? new PinnedBlockError(message as string) : new NotFoundError(message as string)
    })
}
