/**
 * Our peer in a testbed host for the NAT scenarios (test/wan/nat.test.ts, bench/wan/nat.ts): one
 * process, started inside the host, the `public` profile with every NAT-traversal service as the
 * kit configures them (QUIC, AutoNAT, circuit relay v2 client, and server on a master, DCUtR),
 * no mDNS, no bootstrap peer but the ones given. One JSON argument ({@link NatNodeSpec}); it
 * prints JSON lines: {@link NatNodeReady} once started, then an event for every change the
 * scenario waits on (so waits are event-driven, never polls):
 *
 * - `{"ev":"reachability","value":…}`: `peer.reachability` changed (AutoNAT's verdict as the kit reads it)
 * - `{"ev":"addrs","addrs":[…]}`: our announced addresses changed (a relay reservation adds a `/p2p-circuit` one)
 * - `{"ev":"open"|"close","peer","addr","limited","direction"}`: a connection opened or closed
 * - `{"ev":"dcutr","line":…}`: a line of libp2p's DCUtR log (`DEBUG=libp2p:dcutr*` in its environment)
 *
 * Commands, one JSON line each on its standard input, one `{"re":<cmd>,…}` answer each:
 * `state` (reachability, addresses, connections, and the address manager's view: which
 * addresses AutoNAT verified), `add` (a seeded file → its CID), `connect` (a multiaddr → the
 * connection's address), `fetch` (a CID with our router → bytes, SHA-256, ms, and the
 * connections to `from` at the end).
 *
 * @packageDocumentation
 */

import { createInterface } from 'node:readline'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import { durationLimitMs, type KitConfig } from '../../src/kit/config.ts'
import { kuboImporterOptions } from '../../src/kit/importer.ts'
import { EnhancedDHTDiscovery } from '../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { ContentRoutingManager } from '../../src/libp2p/routing/index.ts'
import { exitOnShutdown, hashStream, seededChunks } from '../common.ts'
import { ourPeer } from './peers.ts'

/** The argument of bench/wan/nat-node.ts. */
export interface NatNodeSpec {
  /** the host's address (a LAN address behind a NAT router) */
  address: string
  role: 'master' | 'worker' | 'leecher'
  /** `all`: TCP, WebSockets and QUIC, as the `public` profile; `quic`: listen on QUIC only */
  transports: 'all' | 'quic'
  /** dialled on start (the master) */
  bootstrap: string[]
  /** kad-dht protocol prefix */
  dhtPrefix: string
  /**
   * the relay server's limits on a master, as the config's `Swarm.RelayService` has them
   * (`{ ConnectionDataLimit: 0, ConnectionDurationLimit: '0s' }`: no limit) @default the role's
   */
  relayService?: Partial<
    Pick<KitConfig['Swarm']['RelayService'], 'ConnectionDataLimit' | 'ConnectionDurationLimit'>
  >
}

/** What the node prints once it runs. */
export interface NatNodeReady {
  ready: true
  id: string
  multiaddrs: string[]
}

/** One connection as `state` and the events show it. */
export interface NatConn {
  peer: string
  addr: string
  /** a relayed connection with the relay's limits (data, duration) */
  limited: boolean
  direction: 'inbound' | 'outbound'
}

/** The answer to `state`. */
export interface NatNodeState {
  re: 'state'
  reachability: string
  /** what we announce */
  addrs: string[]
  conns: NatConn[]
  /** the address manager's addresses: type (transport, observed, …) and whether AutoNAT verified them */
  known: Array<{ addr: string; type: string; verified: boolean }>
}

/** The answer to `fetch`. */
export interface NatFetchDone {
  re: 'fetch'
  ok: boolean
  bytes: number
  sha: string
  ms: number
  error?: string
  /** our connections to the provider when the fetch ended */
  conns: NatConn[]
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

// libp2p's DCUtR log (the `debug` module writes to stderr): passed on as events
const writeErr = process.stderr.write.bind(process.stderr)
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
  for (const line of text.split('\n')) {
    if (line.includes('libp2p:dcutr')) print({ ev: 'dcutr', line: line.slice(0, 400) })
  }
  return (writeErr as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest)
}) as typeof process.stderr.write

const spec = JSON.parse(process.argv[2] ?? '{}') as NatNodeSpec
const listen =
  spec.transports === 'quic'
    ? [`/ip4/${spec.address}/udp/4001/quic-v1`]
    : [
        `/ip4/${spec.address}/tcp/4001`,
        `/ip4/${spec.address}/tcp/4002/ws`,
        `/ip4/${spec.address}/udp/4001/quic-v1`
      ]
const peer = ourPeer(spec.address, 'worker', {
  role: spec.role,
  listenAddrs: listen,
  bootstrapPeers: spec.bootstrap,
  dhtProtocolPrefix: spec.dhtPrefix,
  relayServiceLimits: {
    dataLimitBytes: spec.relayService?.ConnectionDataLimit,
    durationLimitMs: durationLimitMs(spec.relayService?.ConnectionDurationLimit)
  }
})
await peer.start()
const host = peer.host
const conn = (c: ReturnType<typeof host.getConnections>[number]): NatConn => ({
  peer: c.remotePeer.toString(),
  addr: c.remoteAddr.toString(),
  limited: c.limits != null,
  direction: c.direction
})
let reachability = peer.reachability
let addrs = peer.getMultiaddrs().map(String)
host.addEventListener('self:peer:update', () => {
  const now = peer.getMultiaddrs().map(String)
  if (now.join() !== addrs.join()) print({ ev: 'addrs', addrs: now })
  addrs = now
})
host.services.reachability.addEventListener('change', () => {
  if (peer.reachability === reachability) return
  reachability = peer.reachability
  print({ ev: 'reachability', value: reachability })
})
host.addEventListener('connection:open', (e) => print({ ev: 'open', ...conn(e.detail) }))
host.addEventListener('connection:close', (e) => print({ ev: 'close', ...conn(e.detail) }))

const discovery = new EnhancedDHTDiscovery(peer)
const router = new ContentRoutingManager(discovery, peer)
await router.start()
exitOnShutdown(async () => {
  await router.stop()
  await discovery.stop()
  await peer.stop()
})

type Command =
  | { cmd: 'state' }
  | { cmd: 'add'; seed: string; bytes: number }
  | { cmd: 'connect'; addr: string; timeoutMs: number }
  | { cmd: 'fetch'; cid: string; from: string; timeoutMs: number }

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'state': {
      const am = (
        host as unknown as {
          components: {
            addressManager: {
              getAddressesWithMetadata(): Array<{ multiaddr: unknown; type: string; verified: boolean }>
            }
          }
        }
      ).components.addressManager
      return {
        re: 'state',
        reachability: peer.reachability,
        addrs: peer.getMultiaddrs().map(String),
        conns: host.getConnections().map(conn),
        known: am
          .getAddressesWithMetadata()
          .map((a) => ({ addr: String(a.multiaddr), type: a.type, verified: a.verified }))
      } satisfies NatNodeState
    }
    case 'add': {
      let root: CID | undefined
      for await (const entry of importer(
        [{ content: seededChunks(c.seed, c.bytes) }],
        peer.helia.blockstore,
        kuboImporterOptions()
      )) {
        root = entry.cid
      }
      return { re: 'add', cid: root!.toString() }
    }
    case 'connect': {
      const connection = await host.dial(multiaddr(c.addr), { signal: AbortSignal.timeout(c.timeoutMs) })
      return { re: 'connect', ...conn(connection) }
    }
    case 'fetch': {
      const t0 = performance.now()
      const from = peerIdFromString(c.from)
      try {
        const got = await hashStream(
          router.retrieveContentStream(CID.parse(c.cid), { signal: AbortSignal.timeout(c.timeoutMs) })
        )
        const conns = host.getConnections(from).map(conn)
        return { re: 'fetch', ok: true, ...got, ms: performance.now() - t0, conns } satisfies NatFetchDone
      } catch (err) {
        const conns = host.getConnections(from).map(conn)
        // how our router saw the provider when it gave up
        const seen = `provider backed off ${discovery.backoff.isBackedOff(from)}, flagged ${discovery.reputation.isFlagged(from)}, ${discovery.reputation.observations(from)} outcomes, protocols ${(await host.peerStore.get(from).catch(() => undefined))?.protocols.filter((p) => /bitswap|ipfs-kit/.test(p))}`
        const error = `${(err as Error).name}: ${(err as Error).message} (${seen})`
        return { re: 'fetch', ok: false, bytes: 0, sha: '', ms: performance.now() - t0, error, conns }
      }
    }
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  let c: Command
  try {
    c = JSON.parse(line) as Command
  } catch {
    return
  }
  handle(c).then(print, (err: Error) => print({ re: c.cmd, error: `${err.name}: ${err.message}` }))
})
print({ ready: true, id: peer.peerId.toString(), multiaddrs: addrs } satisfies NatNodeReady)
