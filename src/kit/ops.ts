/**
 * The network and operations commands of a kit (Kubo's `ping`, `routing findpeer|provide`,
 * `swarm addrs|disconnect`, `bitswap stat|wantlist`, `stats bw`), over its libp2p node.
 *
 * @packageDocumentation
 */
import type { AbortOptions, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import {
  PING_DEFAULT_COUNT,
  PING_INTERVAL_MS,
  PING_MAX_COUNT,
  PING_TIMEOUT_MS,
  ROUTING_FINDPEER_TIMEOUT_MS,
  ROUTING_PROVIDE_TIMEOUT_MS
} from '../constants.ts'
import { InvalidParametersError, NotFoundError, OfflineError } from '../errors.ts'
import type { BandwidthStats } from '../libp2p/peer/bandwidth.ts'
import { parseMultiaddr } from '../libp2p/peer/index.ts'
import type { IPFSKit } from './index.ts'
import { strictDepthFirstWalker } from './walker.ts'

export type { BandwidthStats } from '../libp2p/peer/bandwidth.ts'

/** One line of `ping` (Kubo's `PingResult`): `Time` in nanoseconds, 0 with a `Text`. */
export interface PingResult {
  Success: boolean
  Time: number
  Text: string
}

/** Kubo's `bitswap stat`. */
export interface BitswapStat {
  ProvideBufLen: number
  Wantlist: Array<{ '/': string }>
  Peers: string[]
  BlocksReceived: number
  DataReceived: number
  BlocksSent: number
  DataSent: number
  DupBlksReceived: number
  DupDataReceived: number
}

function online(kit: IPFSKit): IPFSKit['peer']['host'] {
  if (kit.peer.offline) throw new OfflineError('this command needs the network, and the node is offline')
  return kit.peer.host
}

/** A peer id from text. @throws {InvalidParametersError} */
export function parsePeerId(text: string): PeerId {
  try {
    return peerIdFromString(text)
  } catch (err) {
    throw new InvalidParametersError(`"${text}" is not a peer id: ${(err as Error).message}`, { cause: err })
  }
}

/** A peer named by its id or by a multiaddr ending in `/p2p/<id>`. */
function peerTarget(text: string): { peer: PeerId; addr?: Multiaddr } {
  if (!text.startsWith('/')) return { peer: parsePeerId(text) }
  const addr = parseMultiaddr(text)
  const id = addr.getComponents().find((c) => c.name === 'p2p')?.value
  if (id == null) throw new InvalidParametersError(`"${text}" has no /p2p/<peer id>`)
  return { peer: parsePeerId(id), addr }
}

/**
 * Ping a peer over libp2p's ping protocol `count` times, one second apart, as Kubo's `ping`:
 * a `PING <id>.` line, one line per pong (its round trip in `Time`) or failure, then the
 * average. Fails if no ping succeeded.
 */
export async function* ping(
  kit: IPFSKit,
  target: string,
  options: AbortOptions & { count?: number } = {}
): AsyncGenerator<PingResult> {
  const host = online(kit)
  const count = options.count ?? PING_DEFAULT_COUNT
  if (!Number.isSafeInteger(count) || count < 1 || count > PING_MAX_COUNT) {
    throw new InvalidParametersError(`ping count must be from 1 to ${PING_MAX_COUNT}, not ${count}`)
  }
  const { peer, addr } = peerTarget(target)
  if (peer.equals(host.peerId)) throw new InvalidParametersError('peer ID refers to self')
  if (addr != null) await kit.peer.connect(addr, options)
  else if (host.getConnections(peer).length === 0) {
    const known = await host.peerStore.get(peer).catch(() => undefined)
    if (known == null || known.addresses.length === 0) {
      yield { Success: true, Time: 0, Text: `Looking up peer ${peer}` }
      await findPeer(kit, peer.toString(), options)
    }
  }
  yield { Success: true, Time: 0, Text: `PING ${peer}.` }
  let ok = 0
  let totalMs = 0
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(PING_INTERVAL_MS, options.signal)
    const signal = AbortSignal.any([
      AbortSignal.timeout(PING_TIMEOUT_MS),
      kit.peer.stopSignal,
      ...(options.signal == null ? [] : [options.signal])
    ])
    try {
      const ms = await host.services.ping.ping(peer, { signal })
      ok++
      totalMs += ms
      yield { Success: true, Time: Math.round(ms * 1e6), Text: '' }
    } catch (err) {
      options.signal?.throwIfAborted()
      yield { Success: false, Time: 0, Text: `Ping error: ${(err as Error).message}` }
    }
  }
  if (ok === 0) throw new NotFoundError(`ping failed: no pong from ${peer}`)
  yield { Success: true, Time: 0, Text: `Average latency: ${(totalMs / ok).toFixed(2)}ms` }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** A peer's addresses: from the peer store, else the DHT (Kubo's `routing findpeer`). */
export async function findPeer(
  kit: IPFSKit,
  peerText: string,
  options: AbortOptions = {}
): Promise<{ ID: string; Addrs: string[] }> {
  const host = online(kit)
  const peer = parsePeerId(peerText)
  if (peer.equals(host.peerId)) throw new InvalidParametersError('cannot look up this node itself')
  const signal = AbortSignal.any([
    AbortSignal.timeout(ROUTING_FINDPEER_TIMEOUT_MS),
    kit.peer.stopSignal,
    ...(options.signal == null ? [] : [options.signal])
  ])
  // a peer we are connected to, or know addresses of, is answered from the peer store, as Kubo's
  // DHT answers a connected peer locally (FindLocal) before it asks the network
  if (host.getConnections(peer).length > 0) {
    const known = await host.peerStore.get(peer, { signal }).catch(() => undefined)
    if (known != null && known.addresses.length > 0) {
      return { ID: peer.toString(), Addrs: known.addresses.map((a) => a.multiaddr.toString()) }
    }
  }
  try {
    const info = await host.peerRouting.findPeer(peer, { signal })
    return { ID: info.id.toString(), Addrs: info.multiaddrs.map((m) => m.toString()) }
  } catch (err) {
    options.signal?.throwIfAborted()
    throw new NotFoundError(`routing: peer ${peer} not found`, { cause: err })
  }
}

/**
 * Announce to the DHT that this node has `cids` (each must be held; with `recursive`, every
 * block of each DAG, all held). Fails if the node has no peer to tell. Returns how many CIDs
 * were announced.
 */
export async function provide(
  kit: IPFSKit,
  cids: CID[],
  options: AbortOptions & { recursive?: boolean } = {}
): Promise<number> {
  const host = online(kit)
  if (host.getConnections().length === 0) throw new OfflineError('cannot provide: no connected peers')
  const signal = AbortSignal.any([
    AbortSignal.timeout(ROUTING_PROVIDE_TIMEOUT_MS),
    kit.peer.stopSignal,
    ...(options.signal == null ? [] : [options.signal])
  ])
  const helia = kit.helia
  const all: CID[] = []
  for (const cid of cids) {
    if (!(await helia.blockstore.has(cid, { signal }))) {
      throw new NotFoundError(`block ${cid} is not held here: cannot provide it`)
    }
    if (options.recursive !== true) {
      all.push(cid)
      continue
    }
    const walker = strictDepthFirstWalker()({ blockstore: helia.blockstore, getCodec: helia.getCodec })
    for await (const node of walker.walk(cid, { signal, offline: true } as never)) all.push(node.block.cid)
  }
  for (const cid of all) await helia.routing.provide(cid, { signal })
  return all.length
}

/** Every peer in the peer store with its known addresses (Kubo's `swarm addrs`). */
export async function swarmAddrs(kit: IPFSKit): Promise<Record<string, string[]>> {
  const host = online(kit)
  const out: Record<string, string[]> = {}
  for (const p of await host.peerStore.all()) {
    if (p.id.equals(host.peerId)) continue
    out[p.id.toString()] = p.addresses.map((a) => a.multiaddr.toString())
  }
  return out
}

/** The addresses this node listens on (Kubo's `swarm addrs local`); with `id`, each with `/p2p/<id>`. */
export function localAddrs(kit: IPFSKit, options: { id?: boolean } = {}): string[] {
  const host = online(kit)
  const suffix = `/p2p/${host.peerId}`
  return host.getMultiaddrs().map((m) => {
    const text = m.toString()
    const bare = text.endsWith(suffix) ? text.slice(0, -suffix.length) : text
    return options.id === true ? `${bare}${suffix}` : bare
  })
}

/**
 * Close the connections to the peer of a multiaddr ending in `/p2p/<id>` (all of them when the
 * address is only `/p2p/<id>`, else those on that address). @throws {NotFoundError} if none is open
 */
export async function swarmDisconnect(
  kit: IPFSKit,
  address: string,
  options: AbortOptions = {}
): Promise<string> {
  const host = online(kit)
  if (!address.startsWith('/')) {
    throw new InvalidParametersError(
      `"${address}" is not a multiaddr: give /…/p2p/<peer id> (or /p2p/<peer id>)`
    )
  }
  const { peer, addr } = peerTarget(address)
  const transport = addr?.decapsulateCode(421).toString() ?? ''
  const conns = host
    .getConnections(peer)
    .filter(
      (c) =>
        transport === '' || transport === '/' || c.remoteAddr.decapsulateCode(421).toString() === transport
    )
  if (conns.length === 0)
    throw new NotFoundError(
      `not connected to ${peer}${transport === '' || transport === '/' ? '' : ` on ${transport}`}`
    )
  await Promise.all(conns.map((c) => c.close(options)))
  return `disconnect ${peer} success`
}

/** Kubo's `bitswap stat`: real counters of blocks exchanged, the want list, the bitswap partners. */
export function bitswapStat(kit: IPFSKit, provideQueue = 0): BitswapStat {
  online(kit)
  const stats = kit.peer.bitswapStats
  const counters = stats.stat(kit.libp2pIntegration?.router.blockStreamStats())
  return {
    ProvideBufLen: provideQueue,
    Wantlist: bitswapWantlist(kit).map((c) => ({ '/': c.toString() })),
    Peers: stats.partners(),
    ...counters
  }
}

/**
 * The blocks this node is fetching now (Helia's bitswap wants and the kit's router's fetches);
 * with `peer`, the blocks that peer asked this node for.
 */
export function bitswapWantlist(kit: IPFSKit, peer?: string): CID[] {
  online(kit)
  const stats = kit.peer.bitswapStats
  if (peer != null) return stats.wantlist(parsePeerId(peer))
  const seen = new Set<string>()
  const out: CID[] = []
  for (const cid of [...stats.wantlist(), ...(kit.libp2pIntegration?.router.fetching() ?? [])]) {
    const key = cid.multihash.toString()
    if (seen.has(key)) continue
    seen.add(key)
    out.push(cid)
  }
  return out
}

/**
 * Bytes on libp2p's wire (Kubo's `stats bw`): the node's totals, or one peer's or one
 * protocol's stream bytes. An offline node has moved none.
 */
export function bandwidth(kit: IPFSKit, options: { peer?: string; proto?: string } = {}): BandwidthStats {
  if (options.peer != null && options.proto != null) {
    throw new InvalidParametersError('use --peer or --proto, not both')
  }
  if (kit.peer.offline) return { TotalIn: 0, TotalOut: 0, RateIn: 0, RateOut: 0 }
  const meter = kit.peer.bandwidth
  if (options.peer != null) return meter.peer(parsePeerId(options.peer).toString())
  if (options.proto != null) return meter.protocol(options.proto)
  return meter.total()
}
