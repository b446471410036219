import { statfs } from 'node:fs/promises'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { base64 } from 'multiformats/bases/base64'
import { API_FINDPROVS_DEFAULT_COUNT, DISCOVERY_FIND_TIMEOUT_MS, REPO_VERSION } from '../../constants.ts'
import { InvalidParametersError, NotFoundError, OfflineError } from '../../errors.ts'
import type { IPFSKit } from '../../kit/index.ts'
import { VERSION } from '../../version.ts'
import { arg, args, flag, type Handler, NdjsonWriter, sendJson, timeoutOption, uint } from '../http.ts'
import { resolveCid } from './blocks.ts'

function requireOnline(kit: IPFSKit): void {
  if (kit.peer.offline) throw new OfflineError('this command needs the network, and the node is offline')
}

/** `id`: this node, or a peer we know (`arg`). */
const id: Handler = async (ctx) => {
  const self = await ctx.kit.ipfsId()
  const who = ctx.params.get('arg')
  if (who == null || who === '' || who === self.ID) return sendJson(ctx.res, self)
  requireOnline(ctx.kit)
  let peerId: ReturnType<typeof peerIdFromString>
  try {
    peerId = peerIdFromString(who)
  } catch (err) {
    throw new InvalidParametersError(`"${who}" is not a peer id: ${(err as Error).message}`, { cause: err })
  }
  const peer = await ctx.kit.peer.host.peerStore.get(peerId).catch(() => undefined)
  if (peer == null) throw new NotFoundError(`peer ${who} is not known to this node`)
  const agent = peer.metadata.get('AgentVersion')
  sendJson(ctx.res, {
    ID: who,
    PublicKey: peerId.publicKey == null ? '' : base64.baseEncode(publicKeyToProtobuf(peerId.publicKey)),
    Addresses: peer.addresses.map((a) => `${a.multiaddr.toString()}/p2p/${who}`),
    AgentVersion: agent == null ? '' : new TextDecoder().decode(agent),
    Protocols: peer.protocols
  })
}

const version: Handler = async (ctx) => {
  sendJson(ctx.res, {
    Version: VERSION,
    Commit: '',
    Repo: String(REPO_VERSION),
    System: `${process.arch}/${process.platform}`,
    Node: process.version
  })
}

/** `swarm/peers`: open connections; `Direction` (Kubo's 1 inbound, 2 outbound) with `direction`. */
const swarmPeers: Handler = async (ctx) => {
  const direction = flag(ctx.params, 'direction', false)
  const peers = await ctx.kit.ipfsSwarmPeers()
  sendJson(ctx.res, {
    Peers: peers.map((p) => ({
      Addr: p.Addr.replace(new RegExp(`/p2p/${p.Peer}$`), ''),
      Peer: p.Peer,
      Latency: '',
      Muxer: '',
      ...(direction ? { Direction: p.Direction === 'inbound' ? 1 : 2 } : {})
    }))
  })
}

const swarmConnect: Handler = async (ctx) => {
  requireOnline(ctx.kit)
  const lines: string[] = []
  for (const addr of args(ctx.params, 'address')) {
    lines.push(`connect ${await ctx.kit.ipfsSwarmConnect(addr, { signal: ctx.signal })} success`)
  }
  sendJson(ctx.res, { Strings: lines })
}

/** Kubo's routing event type of a provider record. */
const PROVIDER_EVENT = 4

/** `routing/findprovs`: providers as they are found, one Kubo routing event per line. */
const findProvs: Handler = async (ctx) => {
  requireOnline(ctx.kit)
  const count = uint(ctx.params, 'num-providers') ?? API_FINDPROVS_DEFAULT_COUNT
  if (count < 1) throw new InvalidParametersError('option "num-providers" must be 1 or more')
  const signal = AbortSignal.any([
    ctx.signal,
    AbortSignal.timeout(timeoutOption(ctx.params) ?? DISCOVERY_FIND_TIMEOUT_MS)
  ])
  const cid = await resolveCid(ctx.kit, arg(ctx.params, 'key'), signal)
  const discovery = ctx.kit.libp2pIntegration?.discovery
  const source =
    discovery?.isStarted === true
      ? discovery.findProviders(cid, { count, signal })
      : ctx.kit.helia.routing.findProviders(cid, { signal })
  let out: NdjsonWriter | undefined
  let found = 0
  try {
    for await (const p of source) {
      out ??= new NdjsonWriter(ctx.res)
      const ok = await out.send({
        Extra: '',
        ID: '',
        Responses: [{ ID: p.id.toString(), Addrs: p.multiaddrs.map((m) => m.toString()) }],
        Type: PROVIDER_EVENT
      })
      if (!ok || ++found >= count) break
    }
  } catch (err) {
    // the time limit ends a lookup as Kubo's does: with what was found
    if (!signal.aborted) throw err
  }
  ;(out ?? new NdjsonWriter(ctx.res)).end()
}

/** `repo/stat` (and `stats/repo`): Kubo's shape, `StorageMax` being the repo's size plus the free disk space. */
export const repoStat: Handler = async (ctx) => {
  const stat = await ctx.kit.ipfsRepoStat()
  const fs = await statfs(stat.RepoPath).catch(() => undefined)
  const free = fs == null ? 0 : fs.bavail * fs.bsize
  sendJson(ctx.res, {
    RepoSize: stat.RepoSize,
    StorageMax: stat.RepoSize + free,
    NumObjects: stat.NumObjects,
    BlocksSize: stat.BlocksSize,
    RepoPath: stat.RepoPath,
    Version: stat.Version
  })
}

const repoGc: Handler = async (ctx) => {
  const removed = await ctx.kit.ipfsGc({ signal: ctx.signal })
  const out = new NdjsonWriter(ctx.res)
  for (const cid of removed) await out.send({ Key: { '/': cid.toString() } })
  out.end()
}

/**
 * `repo/verify`: Kubo's progress lines (`{ Msg, Progress }`) while every block is checked, a
 * message per bad block (removed, and fetched again if pinned), and a last message.
 */
const repoVerify: Handler = async (ctx) => {
  const out = new NdjsonWriter(ctx.res)
  let bad = 0
  let lost = 0
  let checked = 0
  for await (const p of ctx.kit.ipfsRepoVerify({ signal: ctx.signal })) {
    checked = p.Progress
    if (p.Cid != null) {
      bad++
      if (p.Action === 'lost') lost++
    }
    await out.send(p)
  }
  await out.send({
    Msg:
      bad === 0
        ? `verify complete, all ${checked} blocks validated.`
        : `verify complete, ${bad} of ${checked} blocks were corrupt and removed; ${lost} pinned block(s) could not be fetched again`,
    Progress: checked,
    Corrupt: bad,
    Lost: lost
  })
  out.end()
}

/** `id`, `version`, `swarm/*`, `routing/findprovs`, `repo/stat|gc|verify` (`stats/bw` is in `ops.ts`). */
export const networkCommands: Record<string, Handler> = {
  id,
  version,
  'swarm/peers': swarmPeers,
  'swarm/connect': swarmConnect,
  'routing/findprovs': findProvs,
  'repo/stat': repoStat,
  'repo/gc': repoGc,
  'repo/verify': repoVerify
}
