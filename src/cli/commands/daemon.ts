import { join } from 'node:path'
import { type Command, InvalidArgumentError, Option } from 'commander'
import type { ApiServerInit } from '../../api/index.ts'
import type { ApiServer } from '../../api/server.ts'
import type { Profile, Role } from '../../constants.ts'
import { API_TOKEN_FILE, DAEMON_READY_LINE } from '../../constants.ts'
import { isErrorNamed, RepoNotInitializedError } from '../../errors.ts'
import type { IPFSKit } from '../../kit/index.ts'
import { VERSION } from '../../version.ts'
import { openKit } from '../client.ts'
import { checkMultiaddr, globalsOf, multiaddrOption } from '../options.ts'
import { printLine } from '../output.ts'
import { loadRepo } from '../repo.ts'
import { aborted, onShutdown } from '../signals.ts'
import { profileOption, roleOption } from './init.ts'

/** Options of {@link runDaemon}. */
export interface RunDaemonOptions {
  /** the daemon shuts down when this aborts (SIGINT/SIGTERM in the CLI) */
  signal: AbortSignal
  /** prints one line of the daemon's log @default standard output */
  print?: (line: string) => Promise<void>
  /** HTTP API options; `listen` overrides the repo's `Addresses.API` (`--api`) */
  api?: Omit<ApiServerInit, 'writeApiFile'>
}

/**
 * Serve a started kit until `signal` aborts, then stop it: the libp2p integration is
 * registered (discovery, routing, reputation), the HTTP API, gateway, metrics and
 * dashboard listen on one port, and the peer id, every listen address, the API address,
 * the dashboard URL and `Daemon is ready` are printed.
 */
export async function runDaemon(kit: IPFSKit, options: RunDaemonOptions): Promise<void> {
  const print = options.print ?? printLine
  let api: ApiServer | undefined
  try {
    if (kit.libp2pIntegration == null && !kit.peer.offline) {
      const { registerLibp2pWithIpfsKit } = await import('../../kit/integration.ts')
      await registerLibp2pWithIpfsKit(kit, kit.peer)
    }
    if (await kit.cluster.startFromRepo())
      await print(`Cluster: ${kit.cluster.address} (${kit.cluster.role})`)
    const { ApiServer } = await import('../../api/server.ts')
    api = new ApiServer({ kit }, { ...options.api, writeApiFile: true })
    const where = await api.start()
    const id = await kit.ipfsId()
    await print(`ipfs-kit version: ${VERSION}`)
    await print(`Repo: ${kit.repo.path}`)
    await print(`PeerID: ${id.ID}`)
    await print(
      `Role: ${kit.role}, profile: ${kit.repo.config.Kit.Profile}${kit.peer.offline ? ', offline' : ''}`
    )
    for (const addr of id.Addresses) await print(`Swarm listening on ${addr}`)
    await print(`RPC API server listening on ${where.multiaddr}`)
    await print(`Gateway: ${where.url}/ipfs/<cid>`)
    await print(`Metrics: ${where.url}/metrics`)
    await print(`Dashboard: ${where.dashboard}`)
    if (where.tokenRequired) {
      await print(
        `API token required (not a loopback address): send "Authorization: Bearer <token>" with the token in ${join(kit.repo.path, API_TOKEN_FILE)}`
      )
    }
    // `shutdown` (the API command) stops the daemon as a signal does
    const stopRequest = new AbortController()
    kit.setShutdownHandler((reason) => stopRequest.abort(reason))
    const stop = AbortSignal.any([options.signal, stopRequest.signal])
    await print(DAEMON_READY_LINE)
    await aborted(stop)
    const reason = stop.reason
    await print(`Received ${typeof reason === 'string' ? reason : 'a stop request'}, shutting down...`)
  } finally {
    kit.setShutdownHandler(undefined)
    await api?.stop()
    await kit.stop()
  }
  await print('Daemon stopped')
}

interface DaemonOptions {
  init?: boolean
  profile?: Profile
  role?: Role
  api?: string
}

/** `ipfs-kit daemon`: run the node until SIGINT or SIGTERM. */
export function registerDaemon(program: Command): void {
  program
    .command('daemon')
    .description('Run the node until SIGINT or SIGTERM')
    .option('--init', 'create the repo first if it does not exist')
    .addOption(profileOption().default(undefined, 'public, for a repo made by --init'))
    .addOption(roleOption())
    .addOption(
      multiaddrOption(
        new Option(
          '--api <multiaddr>',
          "HTTP API, gateway and dashboard address (default: the repo's Addresses.API); a non-loopback address requires the token in <repo>/api.token"
        ).argParser((value: string) => {
          try {
            return checkMultiaddr(value)
          } catch (err) {
            throw new InvalidArgumentError((err as Error).message)
          }
        })
      )
    )
    .action(async (opts: DaemonOptions, cmd: Command) => {
      const globals = globalsOf(cmd)
      // listen first: a signal during start-up stops the daemon as soon as it is up
      const shutdown = onShutdown()
      try {
        const { initRepo, readConfig, resolveRepoPath } = await loadRepo()
        const path = resolveRepoPath(globals.repo)
        if (opts.init === true) {
          if (await initRepo(path, { profile: opts.profile, role: opts.role })) {
            await printLine(`initialized ipfs-kit node at ${path}`)
          }
        } else {
          await readConfig(path).catch((err: unknown) => {
            if (!isErrorNamed(err, 'RepoNotInitializedError')) throw err
            throw new RepoNotInitializedError(
              `no repo at ${path}: run \`ipfs-kit init\` first, or start with \`ipfs-kit daemon --init\``
            )
          })
        }
        const kit = await openKit(globals, { network: globals.offline !== true, role: opts.role })
        // `daemon --api` is where it listens; the program's global `--api` (the daemon another
        // command talks to) takes the same flag when it comes first
        const listen = opts.api ?? globals.api
        await runDaemon(kit, {
          signal: shutdown.signal,
          ...(listen == null ? {} : { api: { listen } })
        })
      } finally {
        shutdown.dispose()
      }
    })
}
