/**
 * An IPFS node in a testbed host: one process, started inside the host (`ip netns exec <ns>
 * node bench/wan/node.ts '<json>'`), listening on that host's address only. One JSON argument
 * ({@link WanNodeSpec}); prints one JSON line.
 *
 * - `provide`: adds a seeded file of `bytes` and serves it until SIGTERM, SIGINT or the end of
 *   its standard input; prints {@link ProvideReady}. `kit` is our peer ({@link IPFSLibp2pPeer}:
 *   the `public` profile made private: no bootstrap peers, no mDNS, a DHT of its own prefix, the
 *   given listen address only), `helia` a plain Helia node (bench/helia.ts).
 * - `fetch`: dials `from`, fetches `cid` and hashes it, prints {@link FetchDone} and exits. `helia`
 *   fetches with `unixfs(helia).cat`; `kit` with our router (`ContentRoutingManager`).
 * - `serve`: our peer over a {@link FaultyBlockstore} holding some of a set of seeded files (the
 *   same CIDs on every host), then its fault turned on (bench/faults.ts: `silent` is a dead
 *   provider, `corrupt` a corrupting one); prints {@link ServeReady} and serves like `provide`.
 *
 * @packageDocumentation
 */

import { unixfs } from '@helia/unixfs'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import { kuboImporterOptions } from '../../src/kit/importer.ts'
import { EnhancedDHTDiscovery } from '../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { ContentRoutingManager } from '../../src/libp2p/routing/index.ts'
import { exitOnShutdown, hashStream, seededChunks } from '../common.ts'
import { type Fault, FaultyBlockstore } from '../faults.ts'
import { plainHelia } from '../helia.ts'
import { fileSeed } from '../providers.ts'
import { ourPeer } from './peers.ts'

/** Which implementation a node runs. */
export type WanImpl = 'kit' | 'helia'

/** The argument of bench/wan/node.ts. */
export type WanNodeSpec =
  | { role: 'provide'; impl: WanImpl; address: string; seed: string; bytes: number }
  | { role: 'fetch'; impl: WanImpl; address: string; from: string; cid: string; timeoutMs: number }
  | {
      role: 'serve'
      address: string
      /** seeded files `fileSeed(prefix, i)` for each i of `indices`, `size` bytes each */
      files: { prefix: string; indices: number[]; size: number }
      fault: Fault
      /** a private key (protobuf, base64), so that a restarted provider is the same peer @default a new one */
      key?: string
      /** TCP port to listen on, so that a restarted provider is at the same address @default any */
      port?: number
    }

/** What a provider prints once it serves. */
export interface ProvideReady {
  ready: true
  multiaddrs: string[]
  cid: string
}

/** What a fetch prints when it is done. */
export interface FetchDone {
  done: true
  bytes: number
  sha: string
  /** dialling the provider, ms */
  connectMs: number
  /** from the request to the last byte, ms */
  fetchMs: number
}

/** What a `serve` node prints once it serves: the CIDs of its files, in the order of `indices`. */
export interface ServeReady {
  ready: true
  multiaddrs: string[]
  cids: string[]
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

async function provide(spec: Extract<WanNodeSpec, { role: 'provide' }>): Promise<void> {
  let stop: () => Promise<void>
  let ready: ProvideReady
  const add = async (blockstore: Parameters<typeof importer>[1]): Promise<string> => {
    let root: string | undefined
    for await (const entry of importer(
      [{ content: seededChunks(spec.seed, spec.bytes) }],
      blockstore,
      kuboImporterOptions()
    )) {
      root = entry.cid.toString()
    }
    return root!
  }
  if (spec.impl === 'kit') {
    const peer = ourPeer(spec.address, 'worker')
    await peer.start()
    stop = () => peer.stop()
    ready = {
      ready: true,
      multiaddrs: peer.getMultiaddrs().map(String),
      cid: await add(peer.helia.blockstore)
    }
  } else {
    const helia = plainHelia({ listen: [`/ip4/${spec.address}/tcp/0`] })
    await helia.start()
    stop = async () => {
      await helia.stop()
    }
    ready = {
      ready: true,
      multiaddrs: helia.libp2p.getMultiaddrs().map(String),
      cid: await add(helia.blockstore)
    }
  }
  exitOnShutdown(stop)
  print(ready)
}

/** Our peer over a {@link FaultyBlockstore} holding some seeded files, then its fault turned on. */
async function serve(spec: Extract<WanNodeSpec, { role: 'serve' }>): Promise<void> {
  const store = new FaultyBlockstore()
  const peer = ourPeer(spec.address, 'worker', {
    blockstore: store,
    listenAddrs: [`/ip4/${spec.address}/tcp/${spec.port ?? 0}`],
    ...(spec.key == null ? {} : { privateKey: privateKeyFromProtobuf(Buffer.from(spec.key, 'base64')) })
  })
  await peer.start()
  const cids: string[] = []
  for (const i of spec.files.indices) {
    const content = seededChunks(fileSeed(spec.files.prefix, i), spec.files.size)
    let root: string | undefined
    for await (const entry of importer([{ content }], peer.helia.blockstore, kuboImporterOptions())) {
      root = entry.cid.toString()
    }
    cids.push(root!)
  }
  store.setFault(spec.fault)
  exitOnShutdown(async () => peer.stop())
  print({ ready: true, multiaddrs: peer.getMultiaddrs().map(String), cids } satisfies ServeReady)
}

async function fetch(spec: Extract<WanNodeSpec, { role: 'fetch' }>): Promise<void> {
  const signal = AbortSignal.timeout(spec.timeoutMs)
  const cid = CID.parse(spec.cid)
  let done: FetchDone
  if (spec.impl === 'kit') {
    const peer = ourPeer(spec.address, 'leecher')
    const discovery = new EnhancedDHTDiscovery(peer)
    const router = new ContentRoutingManager(discovery, peer)
    await router.start()
    try {
      const t0 = performance.now()
      await peer.connect(spec.from)
      const t1 = performance.now()
      const got = await hashStream(router.retrieveContentStream(cid, { signal }))
      done = { done: true, ...got, connectMs: t1 - t0, fetchMs: performance.now() - t1 }
    } finally {
      await router.stop()
      await discovery.stop()
      await peer.stop()
    }
  } else {
    const helia = plainHelia({ listen: [`/ip4/${spec.address}/tcp/0`] })
    await helia.start()
    try {
      const t0 = performance.now()
      await helia.libp2p.dial(multiaddr(spec.from), { signal })
      const t1 = performance.now()
      const got = await hashStream(unixfs(helia).cat(cid, { signal }))
      done = { done: true, ...got, connectMs: t1 - t0, fetchMs: performance.now() - t1 }
    } finally {
      await helia.stop()
    }
  }
  print(done)
}

const arg = process.argv[2]
if (arg == null) {
  process.stderr.write("usage: node bench/wan/node.ts '<json spec>'\n")
  process.exit(2)
}
const spec = JSON.parse(arg) as WanNodeSpec
if (spec.role === 'provide') await provide(spec)
else if (spec.role === 'serve') await serve(spec)
else {
  await fetch(spec)
  process.exit(0)
}
