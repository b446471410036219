import { access } from 'node:fs/promises'
import { join } from 'node:path'
import type { HttpKitClient } from '../api/client.ts'
import type { Role } from '../constants.ts'
import { API_ADDR_FILE } from '../constants.ts'
import { isErrorNamed, NotFoundError, OfflineError } from '../errors.ts'
import type { IPFSKit } from '../kit/index.ts'
import { daemonHoldsRepo } from './errors.ts'
import type { GlobalOptions } from './options.ts'
import { loadRepoConfig } from './repo.ts'

/**
 * What commands ask of a node: a kit opened on the repo for one command, or, while a
 * daemon holds the repo, a client of the daemon's HTTP API (`HttpKitClient`) with the
 * same methods.
 */
export type KitClient = Pick<
  IPFSKit,
  | 'ipfsAddPath'
  | 'ipfsAddBytes'
  | 'ipfsCatStream'
  | 'ipfsGet'
  | 'ipfsLs'
  | 'ipfsPinAdd'
  | 'ipfsPinRm'
  | 'ipfsPinLs'
  | 'ipfsPubsubPublish'
  | 'ipfsPubsubSubscribe'
  | 'ipfsPubsubUnsubscribe'
  | 'ipfsPubsubPeers'
  | 'ipfsPubsubLs'
  | 'ipfsId'
  | 'ipfsSwarmConnect'
  | 'ipfsSwarmPeers'
  | 'ipfsRepoStat'
  | 'ipfsGc'
  | 'ipfsRepoVerify'
  | 'ipfsPinVerify'
  | 'stop'
>

/** How a command wants its node. */
export interface OpenClientOptions {
  /** the command needs the network (swarm, pubsub); else the node starts offline */
  network: boolean
  /** peers to dial once started (`--connect`) @default [] */
  connect?: string[]
  /** role for this run (daemon `--role`) */
  role?: Role
}

/**
 * Open the kit on the repo: an initialised repo is required (`ipfs-kit init`), a repo
 * held by a daemon is one clear error, and `--connect` peers are dialled before the
 * command runs.
 */
export async function openKit(globals: GlobalOptions, options: OpenClientOptions): Promise<IPFSKit> {
  if (options.network && globals.offline === true) {
    throw new OfflineError('this command needs the network: run it without --offline')
  }
  const { readConfig, resolveRepoPath } = await loadRepoConfig()
  const repo = resolveRepoPath(globals.repo)
  await readConfig(repo)
  // loaded on first use: `version`, `--help` and usage errors stay fast
  const { ipfsKit } = await import('../kit/index.ts')
  let kit: IPFSKit
  try {
    kit = await ipfsKit({ repo, offline: !options.network, role: options.role })
  } catch (err) {
    if (isErrorNamed(err, 'RepoLockedError')) throw await daemonHoldsRepo(repo, err)
    throw err
  }
  try {
    for (const addr of options.connect ?? []) await kit.ipfsSwarmConnect(addr)
  } catch (err) {
    await kit.stop()
    throw err
  }
  return kit
}

/**
 * The running daemon of `repo`, through its HTTP API: the address it wrote to
 * `<repo>/api` and its token, if it answers as the repo's own peer; else undefined.
 */
export async function daemonOf(repo: string): Promise<HttpKitClient | undefined> {
  // no `<repo>/api` file, no daemon: the HTTP client is not even loaded
  if (
    !(await access(join(repo, API_ADDR_FILE)).then(
      () => true,
      () => false
    ))
  )
    return undefined
  const { connectDaemon } = await import('../api/client.ts')
  const client = await connectDaemon(repo).catch(() => undefined)
  if (client == null) return undefined
  try {
    const { readConfig } = await loadRepoConfig()
    const [id, config] = await Promise.all([client.ipfsId(), readConfig(repo)])
    return id.ID === config.Identity.PeerID ? client : undefined
  } catch {
    // a file left by a daemon that is gone
    return undefined
  }
}

/**
 * A client for one command: the running daemon through its HTTP API when one holds the
 * repo, else the kit on the repo. `--connect` peers are dialled either way.
 */
export async function openClient(globals: GlobalOptions, options: OpenClientOptions): Promise<KitClient> {
  if (options.network && globals.offline === true) {
    throw new OfflineError('this command needs the network: run it without --offline')
  }
  const repo = (await loadRepoConfig()).resolveRepoPath(globals.repo)
  const daemon = await daemonOf(repo)
  if (daemon == null) return openKit(globals, options)
  for (const addr of options.connect ?? []) await daemon.ipfsSwarmConnect(addr)
  return daemon
}

/** Run `fn` with a client for one command, and always stop it afterwards. */
export async function withClient<T>(
  globals: GlobalOptions,
  options: OpenClientOptions,
  fn: (client: KitClient) => Promise<T>
): Promise<T> {
  const client: KitClient = await openClient(globals, options)
  try {
    return await fn(client)
  } finally {
    await client.stop()
  }
}

/** True for a read that failed only because a block is not in the local repo. */
function isMissingLocally(err: unknown): boolean {
  return isErrorNamed(err, 'NotFoundError') && isErrorNamed(err.cause, 'BlockNotFoundWhileOfflineError')
}

/**
 * Run a content read (cat, get, ls, pin add) local first: offline on the repo; if a
 * block is missing, again online when the node can find peers (bootstrap list, mDNS
 * or `--connect`). `fn` may run twice, and must pick up where it left off.
 */
export async function withContent<T>(
  globals: GlobalOptions,
  connect: string[],
  fn: (client: KitClient) => Promise<T>
): Promise<T> {
  if (connect.length > 0) return withClient(globals, { network: true, connect }, fn)
  try {
    return await withClient(globals, { network: false }, fn)
  } catch (err) {
    if (globals.offline === true || !isMissingLocally(err)) throw err
    const { readConfig, resolveRepoPath } = await loadRepoConfig()
    const config = await readConfig(resolveRepoPath(globals.repo))
    if (config.Bootstrap.length === 0 && !config.Discovery.MDNS.Enabled) {
      throw new NotFoundError(
        `${(err as Error).message.replace(/ and the node is offline$/, '')}, and this repo knows no peers: pass --connect <multiaddr>`,
        { cause: err }
      )
    }
    return withClient(globals, { network: true }, fn)
  }
}
