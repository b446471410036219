/**
 * Commands that are one `/api/v0` call. The command's handler lives once, in `src/api/rpc`;
 * the CLI calls it over HTTP: on the daemon named by `--api`, else on the daemon holding the
 * repo, else on the repo's own kit served for this one command on an ephemeral loopback port
 * with a random token (as Kubo's CLI runs its commands in-process when no daemon is up). So
 * the CLI's `--enc json` output, the HTTP API and `kubo-rpc-client` see the same shapes.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto'
import type { HttpKitClient } from '../api/client.ts'
import { InvalidParametersError, OfflineError } from '../errors.ts'
import { daemonOf, openKit } from './client.ts'
import type { GlobalOptions } from './options.ts'
import { loadRepoConfig } from './repo.ts'

/** How a command wants its node when no daemon runs. */
export interface RpcOptions {
  /** the command needs the network; else the repo's kit starts offline @default false */
  network?: boolean
  /** peers to dial first (`--connect`) @default [] */
  connect?: string[]
}

/** The URL of `--api`: a `/ip4|ip6/<host>/tcp/<port>` multiaddr or an `http(s)://` URL. */
export async function apiUrl(api: string): Promise<string> {
  if (/^https?:\/\//.test(api)) {
    try {
      return new URL(api).origin
    } catch (err) {
      throw new InvalidParametersError(`--api "${api}" is not a URL`, { cause: err })
    }
  }
  const { parseListenAddr } = await import('../api/address.ts')
  const { host, port, family } = parseListenAddr(api)
  return `http://${family === 6 ? `[${host}]` : host}:${port}`
}

/** The bearer token of `--api-auth bearer:<token>`, else `$IPFS_KIT_API_TOKEN`. */
export function apiToken(globals: GlobalOptions): string | undefined {
  const auth = globals.apiAuth ?? undefined
  if (auth == null) {
    const env = process.env.IPFS_KIT_API_TOKEN
    return env == null || env === '' ? undefined : env
  }
  const m = /^bearer:(.+)$/i.exec(auth)
  if (m == null) throw new InvalidParametersError('--api-auth must be bearer:<token>')
  return m[1]
}

/**
 * Run `fn` with an HTTP client of a node: `--api`'s daemon, the repo's daemon, or the repo's
 * kit served on 127.0.0.1 for this command (stopped afterwards, whatever happens).
 *
 * @example
 * ```ts
 * await withRpc(globals, {}, async (rpc) => (await rpc.request('files/stat', { arg: '/' })).json())
 * ```
 */
export async function withRpc<T>(
  globals: GlobalOptions,
  options: RpcOptions,
  fn: (rpc: HttpKitClient) => Promise<T>
): Promise<T> {
  if (options.network === true && globals.offline === true) {
    throw new OfflineError('this command needs the network: run it without --offline')
  }
  const { HttpKitClient } = await import('../api/client.ts')
  const dial = async (rpc: HttpKitClient): Promise<T> => {
    for (const addr of options.connect ?? []) await rpc.ipfsSwarmConnect(addr)
    return fn(rpc)
  }
  if (globals.api != null) {
    const token = apiToken(globals)
    return dial(new HttpKitClient({ url: await apiUrl(globals.api), ...(token == null ? {} : { token }) }))
  }
  const repo = (await loadRepoConfig()).resolveRepoPath(globals.repo)
  const daemon = await daemonOf(repo)
  if (daemon != null) return dial(daemon)
  const kit = await openKit(globals, { network: options.network === true })
  try {
    const { ApiServer } = await import('../api/index.ts')
    const token = randomBytes(24).toString('base64url')
    const api = new ApiServer({ kit }, { listen: '/ip4/127.0.0.1/tcp/0', token, requireToken: true })
    try {
      const { url } = await api.start()
      return await dial(new HttpKitClient({ url, token }))
    } finally {
      await api.stop()
    }
  } finally {
    await kit.stop()
  }
}
