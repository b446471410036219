/**
 * Several DHT nodes in one testbed host (scenario 4, bench/wan/cold-dht.ts): one process started
 * inside the host (`ip netns exec <ns> node bench/wan/dht-host.ts '<json>'`), running `nodes`
 * libp2p nodes with `@libp2p/kad-dht` in server mode, all on the host's address, node j on TCP
 * port `basePort + j`. Built from libp2p's and Helia's own packages only (none of ours): the
 * network every seeker meets is the same plain kad-dht network.
 *
 * The DHT: protocol {@link WAN_DHT_PROTOCOL} (our peer's `dhtProtocolPrefix` on the testbed,
 * bench/wan/peers.ts), never the public `/ipfs/kad/1.0.0` nor Helia's LAN `/ipfs/lan/kad/1.0.0`;
 * addresses kept as they are (`passthroughMapper`): every testbed address is private
 * (10.77.0.0/16), which the public DHT's `removePrivateAddressesMapper` would strip; server mode
 * forced (`clientMode: false`): kad-dht would otherwise stay a client for want of a public address.
 *
 * A node given a file in `provide` is a plain Helia node (bitswap) over that libp2p: it adds the
 * seeded file at start and serves it. The others are libp2p alone.
 *
 * Prints {@link DhtHostReady}, then takes one JSON command a line on its standard input
 * ({@link DhtHostCommand}) and answers each with one JSON line. Ends on SIGTERM, SIGINT or the
 * end of its standard input.
 *
 * @packageDocumentation
 */

import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { createHeliaLight, type Helia } from 'helia'
import { importer } from 'ipfs-unixfs-importer'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { CID } from 'multiformats/cid'
import { kuboImporterOptions } from '../../src/kit/importer.ts'
import { cpuSeconds, exitOnShutdown, memoryOf, seededChunks } from '../common.ts'
import { WAN_DHT_PROTOCOL } from './types.ts'

/** The argument of bench/wan/dht-host.ts. */
export interface DhtHostSpec {
  /** the host's address: every node listens there */
  address: string
  /** nodes in this process */
  nodes: number
  /** node j listens on TCP `basePort + j` */
  basePort: number
  /** node → the seeded file it adds, serves and (on `provide`) announces */
  provide: Array<{ node: number; seed: string; bytes: number }>
}

/** One node, as printed when ready. */
export interface DhtNodeInfo {
  peerId: string
  /** its one listen address, with `/p2p/` */
  multiaddr: string
  /** the root CID of its file, if it provides one */
  cid?: string
}

/** The first line: every node listens. */
export interface DhtHostReady {
  ready: true
  nodes: DhtNodeInfo[]
}

/**
 * A command on standard input:
 * - `connect`: node j dials every multiaddr of `peers[j]` (its bootstrap peers; each dial tried
 *   up to 3 times); answered with how many dials succeeded and failed;
 * - `settle`: wait (at most `timeoutMs`) for each node's first self-query, which kad-dht runs as
 *   soon as its routing table has a peer, then let every node walk the DHT towards its own id
 *   once more (now that all nodes are connected), filling its routing table; answered with
 *   {@link DhtHostStats};
 * - `provide`: every providing node announces its file's root (kad-dht `provide`), answered
 *   with each one's time once all have finished;
 * - `stats`: answered with {@link DhtHostStats}.
 */
export type DhtHostCommand =
  | { cmd: 'connect'; peers: string[][] }
  | { cmd: 'settle'; timeoutMs: number }
  | { cmd: 'provide'; timeoutMs: number }
  | { cmd: 'stats' }

/** Routing table sizes, connections and memory. */
export interface DhtHostStats {
  stats: true
  /** routing table size, per node */
  tables: number[]
  /** open connections, per node */
  connections: number[]
  /** nodes whose first self-query had finished */
  selfQueried: number
  /** MiB: this process's resident set now, and its peak */
  rss: number
  peak: number
  /** CPU time this process has used, user and system, s */
  cpuS: number
  /** the longest its event loop was held up since the last stats, ms (a starved or blocked process) */
  lagMaxMs: number
}

type DhtServices = { identify: ReturnType<ReturnType<typeof identify>>; ping: unknown; dht: KadDHT }

interface HostNode {
  libp2p: Libp2p<DhtServices>
  helia?: Helia
  cid?: string
  selfQueried: Promise<void>
  selfQueriedDone: boolean
}

/** Tries of one bootstrap dial, and the time each may take, ms. */
const DIAL_ATTEMPTS = 3
const DIAL_TIMEOUT_MS = 20_000

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

function libp2pOptions(address: string, port: number): Libp2pOptions<DhtServices> {
  return {
    addresses: { listen: [`/ip4/${address}/tcp/${port}`] },
    transports: [tcp()],
    // a testbed of 100 nodes bootstrapping at once, 4 to an address, over links of up to 200 ms:
    // libp2p's defaults for one node on the Internet (5 inbound connections a second per remote
    // address, 10 upgrading at once, a ping that closes a connection slow to answer) refuse or
    // drop most of them
    connectionManager: {
      inboundConnectionThreshold: 1000,
      maxIncomingPendingConnections: 256,
      dialTimeout: DIAL_TIMEOUT_MS
    },
    connectionMonitor: { enabled: false },
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: WAN_DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper })
    }
  } as Libp2pOptions<DhtServices>
}

async function startNode(spec: DhtHostSpec, j: number): Promise<HostNode> {
  const options = libp2pOptions(spec.address, spec.basePort + j)
  const file = spec.provide.find((p) => p.node === j)
  let libp2p: Libp2p<DhtServices>
  let helia: Helia | undefined
  let cid: string | undefined
  if (file == null) {
    libp2p = await createLibp2p(options)
  } else {
    const blockstore = new MemoryBlockstore()
    const node = withBitswap(withLibp2pLight(createHeliaLight({ blockstore }), options))
    await node.start()
    helia = node
    libp2p = node.libp2p as Libp2p<DhtServices>
    for await (const entry of importer(
      [{ content: seededChunks(file.seed, file.bytes) }],
      blockstore,
      kuboImporterOptions()
    )) {
      cid = entry.cid.toString()
    }
  }
  const node: HostNode = { libp2p, helia, cid, selfQueried: Promise.resolve(), selfQueriedDone: false }
  node.selfQueried = new Promise<void>((resolve) => {
    libp2p.addEventListener(
      'kad-dht:query:self' as never,
      () => {
        node.selfQueriedDone = true
        resolve()
      },
      { once: true }
    )
  })
  return node
}

const lag = monitorEventLoopDelay({ resolution: 20 })
lag.enable()

function stats(nodes: HostNode[]): DhtHostStats {
  const mem = memoryOf(process.pid)
  const out: DhtHostStats = {
    stats: true,
    tables: nodes.map(
      (n) => (n.libp2p.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
    ),
    connections: nodes.map((n) => n.libp2p.getConnections().length),
    selfQueried: nodes.filter((n) => n.selfQueriedDone).length,
    rss: mem.rss,
    peak: mem.peak,
    cpuS: cpuSeconds(),
    lagMaxMs: lag.max / 1e6
  }
  lag.reset()
  return out
}

async function handle(nodes: HostNode[], command: DhtHostCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'connect': {
      // a dial that times out on a loaded machine is tried again, up to DIAL_ATTEMPTS times
      const dial = async (n: HostNode, a: string): Promise<void> => {
        for (let attempt = 1; ; attempt++) {
          try {
            await n.libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
            return
          } catch (err) {
            if (attempt >= DIAL_ATTEMPTS) throw err
          }
        }
      }
      const outcomes = await Promise.allSettled(
        nodes.flatMap((n, j) => (command.peers[j] ?? []).map((a) => dial(n, a)))
      )
      return {
        connected: true,
        dialled: outcomes.filter((o) => o.status === 'fulfilled').length,
        failed: outcomes.filter((o) => o.status === 'rejected').length,
        errors: [
          ...new Set(
            outcomes.flatMap((o) =>
              o.status === 'rejected' ? [String((o.reason as Error).message).slice(0, 120)] : []
            )
          )
        ].slice(0, 3)
      }
    }
    case 'settle': {
      const signal = AbortSignal.timeout(command.timeoutMs)
      const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))
      await Promise.race([Promise.all(nodes.map((n) => n.selfQueried)), aborted])
      await Promise.allSettled(
        nodes.map(async (n) => {
          for await (const _ of n.libp2p.services.dht.getClosestPeers(n.libp2p.peerId.toMultihash().bytes, {
            signal
          })) {
            // walking the query fills the routing table
          }
        })
      )
      return stats(nodes)
    }
    case 'provide': {
      const providing = nodes.filter((n) => n.helia != null && n.cid != null)
      const times = await Promise.all(
        providing.map(async (n) => {
          const t0 = performance.now()
          try {
            await n.helia!.routing.provide(CID.parse(n.cid!), {
              signal: AbortSignal.timeout(command.timeoutMs)
            })
            return { cid: n.cid!, ms: performance.now() - t0 }
          } catch (err) {
            return { cid: n.cid!, ms: performance.now() - t0, error: (err as Error).message }
          }
        })
      )
      return { provided: true, times }
    }
    case 'stats':
      return stats(nodes)
  }
}

async function main(spec: DhtHostSpec): Promise<void> {
  const nodes: HostNode[] = []
  exitOnShutdown(async () => {
    await Promise.allSettled(nodes.map(async (n) => (n.helia == null ? n.libp2p.stop() : n.helia.stop())))
  })
  for (let j = 0; j < spec.nodes; j++) nodes.push(await startNode(spec, j))
  print({
    ready: true,
    nodes: nodes.map((n) => {
      const ma = n.libp2p.getMultiaddrs().find((a) => a.toString().startsWith(`/ip4/${spec.address}/`))
      return { peerId: n.libp2p.peerId.toString(), multiaddr: String(ma), cid: n.cid }
    })
  } satisfies DhtHostReady)
  // one command at a time, in order
  let queue = Promise.resolve()
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === '') return
    queue = queue.then(async () => {
      try {
        print(await handle(nodes, JSON.parse(line) as DhtHostCommand))
      } catch (err) {
        print({ error: (err as Error).message })
      }
    })
  })
}

const arg = process.argv[2]
if (arg == null) {
  process.stderr.write("usage: node bench/wan/dht-host.ts '<json spec>'\n")
  process.exit(2)
}
await main(JSON.parse(arg) as DhtHostSpec)
