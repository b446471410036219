import { type Command, Option } from 'commander'
import { DEFAULT_ROLE, type Profile, type Role } from '../../constants.ts'
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

/** What each role means for what the node adds (printed by `init`, stated in `--help`). */
export const ROLE_MEANING: Readonly<Record<Role, string>> = {
  leecher:
    'fetches content and serves it to peers connected to it, but does not provide (announce) what it adds: other peers find it only through a direct connection',
  worker: 'provides (announces) what it adds to the DHT and to other ipfs-kit nodes, and answers DHT queries',
  master: 'a worker with larger caches and more connections: provides what it adds and answers DHT queries'
}

/** The roles and what they mean, for `--help`: leecher first, as the default. */
export const ROLES_HELP = `Roles (--role of init and daemon; default ${DEFAULT_ROLE}):\n${(
  ['leecher', 'worker', 'master'] as const
)
  .map((r) => `  ${r.padEnd(8)} ${ROLE_MEANING[r]}`)
  .join('\n')}`

/** `--role` of init and daemon. */
export function roleOption(): Option {
  return new Option(
    '--role <role>',
    `node role: ${DEFAULT_ROLE} (the default) does not provide what it adds; worker or master provide it`
  ).choices(['master', 'worker', 'leecher'])
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
    .addHelpText('after', `\n${ROLES_HELP}`)
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
        await printJson({
          ID: PeerID,
          RepoPath: path,
          Profile: config.Kit.Profile,
          Role: config.Kit.Role,
          Provides: config.Kit.Role !== 'leecher'
        })
      } else if (globals.quiet) {
        await printLine(PeerID)
      } else {
        await printLine(`initialized ipfs-kit node at ${path}`)
        await printLine(`peer identity: ${PeerID}`)
        await printLine(`profile: ${config.Kit.Profile}, role: ${config.Kit.Role}`)
        await printLine(`a ${config.Kit.Role} ${ROLE_MEANING[config.Kit.Role]}`)
        if (config.Kit.Role === 'leecher') {
          await printLine(
            'to provide what this node adds: ipfs-kit daemon --role worker (or init --role worker)'
          )
        }
      }
    })
}
