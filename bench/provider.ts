/**
 * A provider process for the transfer benchmarks: providers run as separate processes so that a
 * transfer is not limited by sharing one event loop with its seeker. Started by the benchmarks
 * with one JSON argument ({@link ProviderSpec}); prints one JSON line ({@link ProviderReady}) once
 * it serves, and serves until SIGTERM, SIGINT or the end of its standard input (so it never
 * outlives the bench that started it).
 *
 * - `helia`: a plain Helia node (bench/helia.ts) serving a folder prepared by the bench through
 *   {@link RepoBlockstore}, the block store class of our daemon's repo (`blockstore-fs` read one
 *   file per block), so that both sides read blocks alike.
 * - `faulty`: our peer ({@link IPFSLibp2pPeer}) over a {@link FaultyBlockstore}: it adds `count`
 *   seeded files (identical CIDs in every provider), then turns on its fault.
 *
 * @packageDocumentation
 */

import { importer } from 'ipfs-unixfs-importer'
import { RepoBlockstore } from '../src/blocks/fs-blockstore.ts'
import { kuboImporterOptions } from '../src/kit/importer.ts'
import { IPFSLibp2pPeer } from '../src/libp2p/peer/index.ts'
import { exitOnShutdown, seededChunks } from './common.ts'
import { FaultyBlockstore } from './faults.ts'
import { plainHelia } from './helia.ts'
import { fileSeed, type ProviderReady, type ProviderSpec, RAW_PROTOCOL } from './providers.ts'

async function main(spec: ProviderSpec): Promise<void> {
  let stop: () => Promise<void>
  let ready: ProviderReady
  if (spec.mode === 'helia') {
    // the block store class of our daemon's repo, so both providers serve from the same code
    const blockstore = spec.dir == null ? undefined : new RepoBlockstore(spec.dir)
    await blockstore?.open()
    const helia = plainHelia({ blockstore })
    await helia.start()
    stop = async () => {
      await helia.stop()
      await blockstore?.close()
    }
    ready = { ready: true, multiaddrs: helia.libp2p.getMultiaddrs().map(String), cids: [] }
  } else if (spec.mode === 'raw') {
    const peer = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
    await peer.start()
    // one 256 KiB buffer sent over and over: the cost is the stream's, not ours
    const chunk = new Uint8Array(256 * 1024).fill(7)
    await peer.handle(RAW_PROTOCOL, async (stream) => {
      try {
        for (let sent = 0; sent < spec.bytes; sent += chunk.byteLength) {
          const part = spec.bytes - sent < chunk.byteLength ? chunk.subarray(0, spec.bytes - sent) : chunk
          if (!stream.send(part)) await stream.onDrain()
        }
        await stream.close()
      } catch (err) {
        stream.abort(err as Error)
      }
    })
    stop = () => peer.stop()
    ready = { ready: true, multiaddrs: peer.getMultiaddrs().map(String), cids: [] }
  } else {
    const store = new FaultyBlockstore()
    const peer = new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore: store })
    await peer.start()
    stop = () => peer.stop()
    const cids: string[] = []
    for (let i = 0; i < spec.files.count; i++) {
      const content = seededChunks(fileSeed(spec.files.prefix, i), spec.files.size)
      let root: string | undefined
      for await (const entry of importer([{ content }], peer.helia.blockstore, kuboImporterOptions())) {
        root = entry.cid.toString()
      }
      cids.push(root!)
    }
    store.setFault(spec.fault)
    ready = { ready: true, multiaddrs: peer.getMultiaddrs().map(String), cids }
  }
  exitOnShutdown(stop)
  process.stdout.write(`${JSON.stringify(ready)}\n`)
}

const arg = process.argv[2]
if (arg == null) {
  process.stderr.write('usage: node bench/provider.ts <json spec>\n')
  process.exit(2)
}
await main(JSON.parse(arg) as ProviderSpec)
