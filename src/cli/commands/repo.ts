import type { Command } from 'commander'
import { REPO_VERSION } from '../../constants.ts'
import { VERSION } from '../../version.ts'
import { withClient } from '../client.ts'
import { groupCommand } from '../group.ts'
import { globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'

/** `ipfs-kit repo stat`, `gc` and `version`. */
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
