/**
 * Probe of the block stream's throughput against a raw libp2p stream (not part of `bench/run.ts`):
 * a provider process serves 256 MiB of 256 KiB blocks from a memory blockstore over
 * `/ipfs-kit/blocks/1.0.0`, and the same number of bytes as one raw stream push; this process
 * fetches both (16 wants in flight for the blocks) and prints MiB/s, alternating the two.
 *
 * Run: `node --import tsx bench/block-stream-probe.ts [MiB] [repetitions] [wants in flight]`
 *
 * @packageDocumentation
 */

import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { blockMatches } from '../src/blocks/verify.ts'
import { IPFSLibp2pPeer } from '../src/libp2p/peer/index.ts'
import { BlockStreamClient, BlockStreamServer } from '../src/libp2p/routing/block-stream.ts'
import { kitLogger } from '../src/logger.ts'
import { type Child, killAll, MiB, note, seededChunks, startChild, tsFlags } from './common.ts'

const RAW = '/ipfs-kit-bench/raw-push/1.0.0'
const BLOCK_SIZE = 256 * 1024

interface Ready {
  ready: true
  multiaddrs: string[]
  cids: string[]
}

/** Resolves at the stream's next `drain` (see block-stream-session.ts on `stream.onDrain()`). */
async function drained(stream: Stream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.addEventListener('drain', () => resolve(), { once: true })
    stream.addEventListener('close', (evt) => reject(evt.error ?? new Error('closed')), { once: true })
  })
}

/** The provider process: blocks on the block stream, and a raw push of as many bytes. */
async function serve(bytes: number): Promise<void> {
  const store = new MemoryBlockstore()
  const cids: string[] = []
  for await (const chunk of seededChunks('block-stream-probe', bytes, BLOCK_SIZE)) {
    const cid = CID.createV1(raw.code, await sha256.digest(chunk))
    await store.put(cid, chunk)
    cids.push(cid.toString())
  }
  const peer = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
  await peer.start()
  const server = new BlockStreamServer({ libp2p: peer.host, blockstore: store, logger: kitLogger() })
  await server.start()
  const chunk = new Uint8Array(BLOCK_SIZE).fill(7)
  await peer.handle(RAW, async (stream) => {
    try {
      for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
        if (!stream.send(chunk)) await drained(stream)
      }
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  })
  const shutdown = (): void => {
    setTimeout(() => process.exit(0), 3000).unref()
    void server
      .stop()
      .then(async () => peer.stop())
      .finally(() => process.exit(0))
  }
  process.once('SIGTERM', shutdown)
  process.stdin.on('end', shutdown)
  process.stdin.resume()
  const ready: Ready = { ready: true, multiaddrs: peer.getMultiaddrs().map(String), cids }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
}

async function rawPush(peer: IPFSLibp2pPeer, addr: string, bytes: number): Promise<number> {
  const start = performance.now()
  const stream = await peer.dialProtocol(multiaddr(addr), RAW, { signal: AbortSignal.timeout(120_000) })
  let got = 0
  for await (const chunk of stream) got += chunk.byteLength
  const ms = performance.now() - start
  if (got !== bytes) throw new Error(`the raw stream carried ${got} of ${bytes} bytes`)
  return bytes / MiB / (ms / 1000)
}

async function blockStream(
  peer: IPFSLibp2pPeer,
  provider: IPFSLibp2pPeer['peerId'],
  cids: CID[],
  inFlight: number,
  verify: boolean
): Promise<number> {
  const client = new BlockStreamClient({ libp2p: peer.host, logger: kitLogger() })
  client.start()
  try {
    const start = performance.now()
    let next = 0
    let bytes = 0
    const signal = AbortSignal.timeout(120_000)
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < cids.length) {
          const cid = cids[next++]!
          const answer = await client.want(provider, cid, { signal })
          if (answer.block == null) throw new Error(`the provider does not have ${cid}`)
          if (verify && !(await blockMatches(cid, answer.block))) throw new Error(`${cid} does not match`)
          bytes += answer.block.byteLength
        }
      })
    )
    const ms = performance.now() - start
    if (client.getStats().streamsOpened !== 1) throw new Error('more than one stream was opened')
    return bytes / MiB / (ms / 1000)
  } finally {
    client.stop()
  }
}

async function main(): Promise<void> {
  const sizeMiB = Number(process.argv[2] ?? 256)
  const repetitions = Number(process.argv[3] ?? 3)
  const inFlight = Number(process.argv[4] ?? 16)
  const bytes = sizeMiB * MiB
  let child: Child | undefined
  const peer = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local', blockstore: new MemoryBlockstore() })
  try {
    child = await startChild(
      process.execPath,
      [...tsFlags(), new URL(import.meta.url).pathname, 'serve', String(bytes)],
      (line) => line.startsWith('{"ready":true'),
      { what: 'block-stream provider', timeoutMs: 180_000 }
    )
    const ready = JSON.parse(child.lines.at(-1)!) as Ready
    const cids = ready.cids.map((c) => CID.parse(c))
    const addr = ready.multiaddrs[0]!
    await peer.start()
    await peer.connect(addr)
    const provider = peer.host.getConnections()[0]!.remotePeer
    const results: Record<string, number[]> = { raw: [], blocks: [], 'blocks+verify': [] }
    for (let rep = 0; rep < repetitions; rep++) {
      for (const kind of Object.keys(results)) {
        const mibs =
          kind === 'raw'
            ? await rawPush(peer, addr, bytes)
            : await blockStream(peer, provider, cids, inFlight, kind === 'blocks+verify')
        results[kind]!.push(mibs)
        note(`${kind}, ${sizeMiB} MiB, repetition ${rep + 1}: ${mibs.toFixed(1)} MiB/s`)
      }
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    const rawMean = mean(results.raw!)
    for (const [kind, xs] of Object.entries(results)) {
      process.stdout.write(
        `${kind.padEnd(14)} ${mean(xs).toFixed(1).padStart(7)} MiB/s  (${(mean(xs) / rawMean).toFixed(2)}× raw; runs ${xs.map((x) => x.toFixed(1)).join(', ')})\n`
      )
    }
    process.stdout.write(`${sizeMiB} MiB in ${BLOCK_SIZE / 1024} KiB blocks, ${inFlight} wants in flight\n`)
  } finally {
    await peer.stop()
    await killAll([child])
  }
}

if (process.argv[2] === 'serve') await serve(Number(process.argv[3]))
else await main()
