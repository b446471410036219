import type { Command } from 'commander'
import type { IdResult } from '../../kit/index.ts'
import { VERSION } from '../../version.ts'
import { daemonOf, withClient } from '../client.ts'
import { groupCommand } from '../group.ts'
import { checkMultiaddrs, connectOption, globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'
import { loadRepoConfig } from '../repo.ts'
import { withRpc } from '../rpc.ts'

/**
 * `ipfs id` of a repo, read from its config: what an offline node reports (no
 * addresses, no protocols), without taking the repo lock, so it works while a daemon runs.
 */
export async function idFromRepo(repo: string | undefined): Promise<IdResult> {
  const [{ readConfig, resolveRepoPath }, { privateKeyFromProtobuf, publicKeyToProtobuf }, { base64 }] =
    await Promise.all([loadRepoConfig(), import('@libp2p/crypto/keys'), import('multiformats/bases/base64')])
  const config = await readConfig(resolveRepoPath(repo))
  const key = privateKeyFromProtobuf(base64.baseDecode(config.Identity.PrivKey))
  return {
    ID: config.Identity.PeerID,
    PublicKey: base64.baseEncode(publicKeyToProtobuf(key.publicKey)),
    Addresses: [],
    AgentVersion: `ipfs-kit/${VERSION}`,
    Protocols: [],
    Role: config.Kit.Role,
    Reachability: 'unknown'
  }
}

/** A connection's address with `/p2p/<peer>`, as `ipfs swarm peers` prints it. */
function peerAddr(addr: string, peer: string): string {
  return addr.endsWith(`/p2p/${peer}`) ? addr : `${addr}/p2p/${peer}`
}

/** `ipfs-kit id` and `ipfs-kit swarm peers|connect`. */
export function registerNetwork(program: Command): void {
  program
    .command('id')
    .description(
      "This node's identity, addresses and protocols (the running daemon's), or a known peer's (JSON, as Kubo)"
    )
    .argument('[peer]', 'a peer id (connected or known to the node)')
    .action(async (peer: string | undefined, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      // no daemon and no peer: the repo's identity, read without taking the repo's lock
      const daemon =
        globals.api != null || peer != null
          ? undefined
          : await daemonOf((await loadRepoConfig()).resolveRepoPath(globals.repo))
      const id =
        globals.api == null && peer == null && daemon == null
          ? await idFromRepo(globals.repo)
          : await withRpc(globals, { network: peer != null }, async (rpc) =>
              (await rpc.request('id', peer == null ? {} : { arg: peer })).json()
            )
      await printLine(JSON.stringify(id, null, 2))
    })

  const swarm = groupCommand(program, 'swarm', 'Connections to other peers')

  swarm
    .command('peers')
    .description('Open connections: <multiaddr>/p2p/<peer>')
    .addOption(connectOption())
    .action(async (opts: { connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const peers = await withClient(globals, { network: true, connect: opts.connect }, (client) =>
        client.ipfsSwarmPeers()
      )
      if (globals.json) return printJson({ Peers: peers })
      for (const p of peers) await printLine(globals.quiet ? p.Peer : peerAddr(p.Addr, p.Peer))
    })

  swarm
    .command('connect')
    .description('Connect to peers by multiaddr (/…/p2p/<id>)')
    .argument('<multiaddrs...>')
    .action(async (addrs: string[], _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkMultiaddrs(addrs)
      const lines = await withClient(globals, { network: true }, async (client) => {
        const out: string[] = []
        for (const addr of addrs) out.push(`connect ${await client.ipfsSwarmConnect(addr)} success`)
        return out
      })
      if (globals.json) return printJson({ Strings: lines })
      for (const line of lines) await printLine(line)
    })
}
