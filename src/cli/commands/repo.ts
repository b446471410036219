import type { Command } from 'commander'
import { REPO_VERSION } from '../../constants.ts'
import { CorruptBlockError } from '../../errors.ts'
import { VERSION } from '../../version.ts'
import { withClient } from '../client.ts'
import { groupCommand } from '../group.ts'
import { connectOption, globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'

/** `ipfs-kit repo stat|verify`, `gc` and `version`. */
export function registerRepo(program: Command): void {
  const repo = groupCommand(program, 'repo', 'The repo on disk')

  repo
    .command('stat')
    .description('Blocks held and bytes used')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const stat = await withClient(globals, { network: false }, (client) => client.ipfsRepoStat())
      if (globals.json) return printJson(stat)
      await printLine(`NumObjects: ${stat.NumObjects}`)
      await printLine(`RepoSize:   ${stat.RepoSize}`)
      await printLine(`BlocksSize: ${stat.BlocksSize}`)
      await printLine(`RepoPath:   ${stat.RepoPath}`)
      await printLine(`Version:    ${stat.Version}`)
    })

  repo
    .command('verify')
    .description(
      'Check every block against its CID: bad blocks are removed, pinned ones fetched again from peers'
    )
    .addOption(connectOption())
    .action(async (opts: { connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      let checked = 0
      let bad = 0
      const lost: string[] = []
      // online (unless --offline) so that pinned blocks can be fetched again
      await withClient(
        globals,
        { network: globals.offline !== true, connect: opts.connect },
        async (client) => {
          for await (const p of client.ipfsRepoVerify()) {
            checked = p.Progress
            if (p.Cid == null) continue
            bad++
            if (p.Action === 'lost') lost.push(p.Cid)
            if (globals.json) await printJson(p)
            else await printLine(p.Msg)
          }
        }
      )
      if (lost.length > 0) {
        throw new CorruptBlockError(
          `verify complete: ${bad} of ${checked} blocks were corrupt; ${lost.length} pinned block(s) could not be fetched again (${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ', …' : ''}): connect to a peer that has them (--connect) and run it again`
        )
      }
      const summary =
        bad === 0
          ? `verify complete, all ${checked} blocks validated.`
          : `verify complete, ${bad} of ${checked} blocks were corrupt and have been repaired.`
      if (globals.json) await printJson({ Msg: summary, Progress: checked })
      else if (!globals.quiet) await printLine(summary)
    })

  program
    .command('gc')
    .description('Remove every block no pin holds: prints removed <cid>')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const removed = await withClient(globals, { network: false }, (client) => client.ipfsGc())
      for (const cid of removed) {
        const text = cid.toString()
        if (globals.json) await printJson({ Key: { '/': text } })
        else await printLine(globals.quiet ? text : `removed ${text}`)
      }
    })

  program
    .command('version')
    .description('Print the version')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      if (globals.json) {
        return printJson({
          Version: VERSION,
          Repo: String(REPO_VERSION),
          System: `${process.arch}/${process.platform}`,
          Node: process.version
        })
      }
      await printLine(globals.quiet ? VERSION : `ipfs-kit version ${VERSION}`)
    })
}
