import { type Command, Option } from 'commander'
import type { Profile, Role } from '../../constants.ts'
import { RepoError } from '../../errors.ts'
import { globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'
import { loadRepo } from '../repo.ts'

/** `--profile` of init and daemon: public (Kubo's default) or local. */
export function profileOption(): Option {
  return new Option(
    '--profile <profile>',
    'network profile of a new repo (env IPFS_KIT_PROFILE; default public)'
  ).choices(['public', 'local'])
}

/** `--role` of init and daemon. */
export function roleOption(): Option {
  return new Option('--role <role>', 'node role').choices(['master', 'worker', 'leecher'])
}

interface InitOptions {
  profile?: Profile
  role?: Role
}

/** `ipfs-kit init`: create a repo with a new identity; refuses an existing one. */
export function registerInit(program: Command): void {
  program
    .command('init')
    .description('Create a repo: config and a new peer identity')
    .addOption(profileOption())
    .addOption(roleOption())
    .action(async (opts: InitOptions, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { initRepo, readConfig, resolveRepoPath } = await loadRepo()
      const path = resolveRepoPath(globals.repo)
      const created = await initRepo(path, { profile: opts.profile, role: opts.role })
      if (!created) {
        throw new RepoError(
          `an ipfs-kit repo already exists at ${path}; remove it to start over, or use another --repo`
        )
      }
      const config = await readConfig(path)
      const { PeerID } = config.Identity
      if (globals.json) {
        await printJson({ ID: PeerID, RepoPath: path, Profile: config.Kit.Profile, Role: config.Kit.Role })
      } else if (globals.quiet) {
        await printLine(PeerID)
      } else {
        await printLine(`initialized ipfs-kit node at ${path}`)
        await printLine(`peer identity: ${PeerID}`)
        await printLine(`profile: ${config.Kit.Profile}, role: ${config.Kit.Role}`)
      }
    })
}
