import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { identify } from '@libp2p/identify'
import type { Libp2p, Stream } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { createLibp2p } from 'libp2p'
import { varint } from 'multiformats'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { BLOCK_STREAM_PROTOCOL } from '../../../src/constants.ts'
import { BlockStreamClient, BlockStreamServer } from '../../../src/libp2p/routing/block-stream.ts'
import {
  BLOCK,
  type BlockStreamStore,
  frameHeader,
  WANT
} from '../../../src/libp2p/routing/block-stream-wire.ts'
import { pseudoRandomBytes, waitFor } from '../../helpers.ts'

const logger = defaultLogger()

/** A bare libp2p node on 127.0.0.1: TCP, Noise, Yamux, identify; no discovery. */
async function node(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

async function rawBlock(length: number, seed: number): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = pseudoRandomBytes(length, seed)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/**
 * A blockstore whose reads of `held` CIDs wait until their signal aborts (a read in progress
 * that only a CANCEL or a stop ends); `started` counts reads begun.
 */
class HoldingBlockstore implements BlockStreamStore {
  readonly store = new MemoryBlockstore()
  readonly held = new Set<string>()
  started = 0
  aborted = 0

  async *get(cid: CID, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    this.started++
    if (this.held.has(cid.toString())) {
      await new Promise<void>((_resolve, reject) => {
        const signal = options.signal
        const onAbort = (): void => {
          this.aborted++
          reject(signal?.reason)
        }
        if (signal?.aborted === true) onAbort()
        else signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
    yield* this.store.get(cid, options)
  }
}

/** Wait until `client` knows (through identify) that `peer` speaks the block stream. */
async function waitSupports(client: BlockStreamClient, peer: Libp2p): Promise<void> {
  await waitFor(() => client.supports(peer.peerId), 'identify to report the block-stream protocol', 10_000)
}

describe('block stream', () => {
  let serverNode: Libp2p
  let clientNode: Libp2p
  let server: BlockStreamServer
  const store = new HoldingBlockstore()
  const nodes: Libp2p[] = []

  before(async () => {
    serverNode = await node()
    clientNode = await node()
    nodes.push(serverNode, clientNode)
    server = new BlockStreamServer({ libp2p: serverNode, blockstore: store, logger }, { readConcurrency: 2 })
    await server.start()
    await clientNode.dial(serverNode.getMultiaddrs()[0]!)
  })

  after(async () => {
    await server.stop()
    await Promise.all(nodes.map((n) => n.stop()))
  })

  /** A started client on the client node; stopped by the caller. */
  function newClient(init: ConstructorParameters<typeof BlockStreamClient>[1] = {}): BlockStreamClient {
    const client = new BlockStreamClient({ libp2p: clientNode, logger }, init)
    client.start()
    return client
  }

  it('fetches a block, and answers DONT_HAVE for a block it does not have', async () => {
    const client = newClient()
    try {
      const block = await rawBlock(100_000, 1)
      await store.store.put(block.cid, block.bytes)
      const missing = await rawBlock(10, 2)
      const got = await client.want(serverNode.peerId, block.cid)
      assert.equal(got.has, true)
      assert.ok(got.block != null && equals(got.block, block.bytes))
      assert.deepEqual(await client.want(serverNode.peerId, missing.cid), { has: false })
      assert.equal(client.getStats().streamsOpened, 1)
      assert.equal(client.getStats().wantsPending, 0)
    } finally {
      client.stop()
    }
  })

  it('carries 200 concurrent wants of 256 KiB on one stream', { timeout: 120_000 }, async () => {
    const client = newClient()
    const opened = server.getStats().streamsOpened
    try {
      const blocks = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => rawBlock(256 * 1024, 1000 + i))
      )
      for (const b of blocks) await store.store.put(b.cid, b.bytes)
      const answers = await Promise.all(
        blocks.map(async (b) =>
          client.want(serverNode.peerId, b.cid, { signal: AbortSignal.timeout(60_000) })
        )
      )
      for (const [i, answer] of answers.entries()) {
        assert.equal(answer.has, true)
        assert.ok(answer.block != null && equals(answer.block, blocks[i]!.bytes), `block ${i} differs`)
      }
      assert.equal(client.getStats().streamsOpened, 1)
      assert.equal(server.getStats().streamsOpened - opened, 1)
      const streams = clientNode
        .getConnections(serverNode.peerId)
        .flatMap((c) => c.streams)
        .filter((s) => s.protocol === BLOCK_STREAM_PROTOCOL)
      assert.equal(streams.length, 1)
    } finally {
      client.stop()
    }
  })

  it('holds back the wants past maxWants until answers make room', async () => {
    const node2 = await node()
    nodes.push(node2)
    const limited = new BlockStreamServer({ libp2p: node2, blockstore: store.store, logger }, { maxWants: 4 })
    await limited.start()
    const client = newClient({ maxWants: 4 })
    try {
      await clientNode.dial(node2.getMultiaddrs()[0]!)
      const blocks = await Promise.all(Array.from({ length: 20 }, async (_, i) => rawBlock(5000, 500 + i)))
      for (const b of blocks) await store.store.put(b.cid, b.bytes)
      const answers = await Promise.all(blocks.map(async (b) => client.want(node2.peerId, b.cid)))
      for (const [i, answer] of answers.entries()) assert.ok(equals(answer.block!, blocks[i]!.bytes))
      assert.equal(limited.getStats().violations, 0)
      assert.equal(limited.getStats().blocksSent, 20)
    } finally {
      client.stop()
      await limited.stop()
    }
  })

  it('cancels a want whose signal aborts, queued or being read, and keeps the stream', async () => {
    const client = newClient()
    const before = server.getStats()
    try {
      const [slow, queued, after] = await Promise.all([
        rawBlock(1000, 11),
        rawBlock(1000, 12),
        rawBlock(1000, 13)
      ])
      for (const b of [slow, queued, after]) await store.store.put(b.cid, b.bytes)
      store.held.add(slow.cid.toString())
      store.held.add(queued.cid.toString())
      // the server reads 2 at once: two held reads fill it, so `queued` waits in its queue
      const other = await rawBlock(1000, 14)
      await store.store.put(other.cid, other.bytes)
      store.held.add(other.cid.toString())
      const started = store.started
      const slowAbort = new AbortController()
      const otherAbort = new AbortController()
      const queuedAbort = new AbortController()
      const slowWant = client.want(serverNode.peerId, slow.cid, { signal: slowAbort.signal })
      const otherWant = client.want(serverNode.peerId, other.cid, { signal: otherAbort.signal })
      await waitFor(() => store.started - started === 2, 'two reads in progress', 10_000)
      const queuedWant = client.want(serverNode.peerId, queued.cid, { signal: queuedAbort.signal })
      await new Promise((resolve) => setTimeout(resolve, 100))
      queuedAbort.abort()
      await assert.rejects(queuedWant, { name: 'AbortError' })
      slowAbort.abort()
      await assert.rejects(slowWant, { name: 'AbortError' })
      otherAbort.abort()
      await assert.rejects(otherWant, { name: 'AbortError' })
      await waitFor(
        () => server.getStats().cancelled - before.cancelled === 3,
        'three CANCELLED answers',
        10_000
      )
      await waitFor(() => client.getStats().wantsPending === 0, 'the answers to the cancels', 10_000)
      assert.equal(store.started - started, 2, 'the queued want was never read')
      assert.equal(server.getStats().blocksSent, before.blocksSent)
      const got = await client.want(serverNode.peerId, after.cid)
      assert.ok(got.block != null && equals(got.block, after.bytes))
      assert.equal(client.getStats().streamsOpened, 1)
      assert.equal(client.getStats().violations, 0)
      assert.equal(server.getStats().violations, 0)
    } finally {
      client.stop()
    }
  })

  it('asks again for a block wanted anew after its CANCEL went out', async () => {
    const client = newClient()
    const before = server.getStats()
    try {
      const block = await rawBlock(1000, 15)
      await store.store.put(block.cid, block.bytes)
      store.held.add(block.cid.toString())
      const started = store.started
      const abort = new AbortController()
      const first = client.want(serverNode.peerId, block.cid, { signal: abort.signal })
      await waitFor(() => store.started > started, 'the read to start', 10_000)
      // the CANCEL goes out, and in the same turn the block is wanted again
      abort.abort()
      store.held.delete(block.cid.toString())
      const again = client.want(serverNode.peerId, block.cid)
      await assert.rejects(first, { name: 'AbortError' })
      const got = await again
      assert.ok(got.block != null && equals(got.block, block.bytes))
      assert.equal(server.getStats().cancelled - before.cancelled, 1)
      assert.equal(store.started - started, 2, 'read once before the CANCEL, once after')
      assert.equal(client.getStats().streamsOpened, 1)
      assert.equal(client.getStats().violations, 0)
    } finally {
      client.stop()
    }
  })

  it('closes idle streams, and keeps at most maxPeers open', async () => {
    const others = await Promise.all([node(), node(), node()])
    nodes.push(...others)
    const servers = others.map((n) => new BlockStreamServer({ libp2p: n, blockstore: store.store, logger }))
    const client = newClient({ maxPeers: 2, idleMs: 300 })
    try {
      await Promise.all(servers.map(async (s) => s.start()))
      const block = await rawBlock(100, 16)
      await store.store.put(block.cid, block.bytes)
      for (const other of others) {
        await clientNode.dial(other.getMultiaddrs()[0]!)
        assert.equal((await client.want(other.peerId, block.cid)).has, true)
        assert.ok(client.getStats().streams <= 2, 'at most maxPeers streams')
      }
      assert.equal(client.getStats().streamsOpened, 3)
      await waitFor(() => client.getStats().streams === 0, 'idle streams to close', 10_000)
      await waitFor(
        () => servers.every((s) => s.getStats().streams === 0),
        'the servers to see the streams end',
        10_000
      )
      // a want after the idle close opens a new stream
      assert.equal((await client.want(others[0]!.peerId, block.cid)).has, true)
      assert.equal(client.getStats().streamsOpened, 4)
    } finally {
      client.stop()
      await Promise.all(servers.map(async (s) => s.stop()))
    }
  })

  it('stop() rejects the wants not yet answered with an AbortError', async () => {
    const client = newClient()
    const block = await rawBlock(1000, 21)
    await store.store.put(block.cid, block.bytes)
    store.held.add(block.cid.toString())
    const pending = client.want(serverNode.peerId, block.cid)
    await waitFor(() => server.getStats().streams > 0, 'the stream to open', 10_000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    client.stop()
    await assert.rejects(pending, { name: 'AbortError' })
    await assert.rejects(client.want(serverNode.peerId, block.cid), { name: 'AbortError' })
    await waitFor(() => server.getStats().streams === 0, 'the server to see the stream end', 10_000)
  })

  it('fails the wants of a stream that closes with BlockStreamClosedError, then opens a new one', async () => {
    const node2 = await node()
    nodes.push(node2)
    const holding = new HoldingBlockstore()
    const server2 = new BlockStreamServer({ libp2p: node2, blockstore: holding, logger })
    await server2.start()
    const client = newClient()
    try {
      const block = await rawBlock(1000, 31)
      await holding.store.put(block.cid, block.bytes)
      holding.held.add(block.cid.toString())
      await clientNode.dial(node2.getMultiaddrs()[0]!)
      const pending = client.want(node2.peerId, block.cid)
      await waitFor(() => holding.started > 0, 'the read to start', 10_000)
      await server2.stop()
      await assert.rejects(pending, { name: 'BlockStreamClosedError' })
      await server2.start()
      holding.held.clear()
      const got = await client.want(node2.peerId, block.cid)
      assert.ok(got.block != null && equals(got.block, block.bytes))
      assert.equal(client.getStats().streamsOpened, 2)
    } finally {
      client.stop()
      await server2.stop()
    }
  })

  it('supports() is true for a peer running the server and false for one without', async () => {
    const plain = await node()
    nodes.push(plain)
    const client = newClient()
    try {
      await clientNode.dial(plain.getMultiaddrs()[0]!)
      await waitSupports(client, serverNode)
      // identify has run with `plain` once it lists its protocols
      await waitFor(
        async () => (await clientNode.peerStore.get(plain.peerId)).protocols.length > 0,
        'identify with the plain node',
        10_000
      )
      assert.equal(await client.supports(plain.peerId), false)
      const block = await rawBlock(100, 17)
      await assert.rejects(client.want(plain.peerId, block.cid, { signal: AbortSignal.timeout(10_000) }))
      assert.equal(client.getStats().streams, 0)
      const stranger = await node()
      nodes.push(stranger)
      assert.equal(await client.supports(stranger.peerId), false)
    } finally {
      client.stop()
    }
  })

  it('answers DONT_HAVE for a block over the server limit; a client resets a reply over its own', async () => {
    const block = await rawBlock(8192, 41)
    await store.store.put(block.cid, block.bytes)
    const node2 = await node()
    nodes.push(node2)
    const small = new BlockStreamServer(
      { libp2p: node2, blockstore: store.store, logger },
      { maxBlockBytes: 4096 }
    )
    await small.start()
    const client = newClient()
    const strict = newClient({ maxBlockBytes: 4096 })
    try {
      await clientNode.dial(node2.getMultiaddrs()[0]!)
      assert.deepEqual(await client.want(node2.peerId, block.cid), { has: false })
      await assert.rejects(strict.want(serverNode.peerId, block.cid), { name: 'ProtocolViolationError' })
      assert.equal(strict.getStats().violations, 1)
    } finally {
      client.stop()
      strict.stop()
      await small.stop()
    }
  })

  it('refuses a peer its allow hook refuses', async () => {
    const node2 = await node()
    nodes.push(node2)
    const refusing = new BlockStreamServer(
      { libp2p: node2, blockstore: store.store, logger },
      { allow: (peer) => !peer.equals(clientNode.peerId) }
    )
    await refusing.start()
    const client = newClient()
    try {
      const block = await rawBlock(100, 51)
      await store.store.put(block.cid, block.bytes)
      await clientNode.dial(node2.getMultiaddrs()[0]!)
      await assert.rejects(client.want(node2.peerId, block.cid, { signal: AbortSignal.timeout(10_000) }), {
        name: 'BlockStreamClosedError'
      })
      assert.equal(refusing.getStats().streamsOpened, 0)
    } finally {
      client.stop()
      await refusing.stop()
    }
  })

  describe('a hostile server', () => {
    /** Replies the hostile handler sends to the first WANT it reads (the wanted CID's bytes given). */
    const replies: Record<string, (wanted: Uint8Array) => Promise<Uint8Array[]>> = {
      'a block for a CID never asked': async () => {
        const other = await rawBlock(100, 61)
        return [frameHeader(BLOCK, other.cid.bytes, other.bytes.byteLength), other.bytes]
      },
      'bytes that are not a CID': async () => [Uint8Array.of(5, BLOCK, 0xff, 0xff, 0xff, 0xff)],
      'a frame of an unknown type': async (wanted) => [frameHeader(0x7f, wanted)],
      'a CANCELLED for a want never cancelled': async (wanted) => [frameHeader(0x03, wanted)],
      'a length prefix past the largest block': async () => {
        const prefix = new Uint8Array(varint.encodingLength(64 * 1024 * 1024))
        varint.encodeTo(64 * 1024 * 1024, prefix, 0)
        return [prefix, new Uint8Array(100)]
      }
    }
    for (const [what, reply] of Object.entries(replies)) {
      it(`that sends ${what} fails the want with ProtocolViolationError`, async () => {
        const hostile = await node()
        nodes.push(hostile)
        await hostile.handle(BLOCK_STREAM_PROTOCOL, (stream: Stream) => {
          stream.addEventListener(
            'message',
            (evt) => {
              // the first frame is a WANT: length, type, CID
              const frame = evt.data.subarray()
              const [length, prefix] = varint.decode(frame)
              assert.equal(frame[prefix], WANT)
              void reply(frame.subarray(prefix + 1, prefix + length)).then((parts) => {
                for (const part of parts) stream.send(part)
              })
            },
            { once: true }
          )
        })
        const client = newClient()
        try {
          await clientNode.dial(hostile.getMultiaddrs()[0]!)
          const block = await rawBlock(100, 62)
          await assert.rejects(
            client.want(hostile.peerId, block.cid, { signal: AbortSignal.timeout(10_000) }),
            {
              name: 'ProtocolViolationError'
            }
          )
          assert.equal(client.getStats().violations, 1)
          assert.equal(client.getStats().streams, 0)
        } finally {
          client.stop()
          await hostile.stop()
        }
      })
    }
  })

  describe('a hostile client', () => {
    const requests: Record<string, (cid: Uint8Array) => Uint8Array[]> = {
      'bytes that are not a frame': () => [Uint8Array.of(4, WANT, 0xff, 0xff, 0xff)],
      'a second want for one CID': (cid) => [frameHeader(WANT, cid), frameHeader(WANT, cid)],
      'a want with bytes after its CID': (cid) => [frameHeader(WANT, cid, 1), Uint8Array.of(0)]
    }
    for (const [what, request] of Object.entries(requests)) {
      it(`that sends ${what} has its stream reset`, async () => {
        const before = server.getStats().violations
        const block = await rawBlock(100, 71)
        const stream = await clientNode.dialProtocol(serverNode.peerId, BLOCK_STREAM_PROTOCOL)
        const closed = new Promise<Error | undefined>((resolve) => {
          stream.addEventListener('close', (evt) => resolve(evt.error), { once: true })
        })
        const bytes = request(block.cid.bytes)
        for (const part of bytes) stream.send(part)
        const error = await closed
        assert.ok(error != null, 'the stream was reset')
        assert.equal(server.getStats().violations - before, 1)
      })
    }

    it('that opens more wants than the limit has its stream reset', async () => {
      const node2 = await node()
      nodes.push(node2)
      const holding = new HoldingBlockstore()
      const limited = new BlockStreamServer(
        { libp2p: node2, blockstore: holding, logger },
        { maxWants: 4, readConcurrency: 1 }
      )
      await limited.start()
      try {
        await clientNode.dial(node2.getMultiaddrs()[0]!)
        const stream = await clientNode.dialProtocol(node2.peerId, BLOCK_STREAM_PROTOCOL)
        const closed = new Promise<Error | undefined>((resolve) => {
          stream.addEventListener('close', (evt) => resolve(evt.error), { once: true })
        })
        for (let i = 0; i < 5; i++) {
          const b = await rawBlock(10, 80 + i)
          holding.held.add(b.cid.toString())
          stream.send(frameHeader(WANT, b.cid.bytes))
        }
        assert.ok((await closed) != null, 'the stream was reset')
        assert.equal(limited.getStats().violations, 1)
        await waitFor(() => holding.aborted === 1, 'the read in progress to be aborted', 10_000)
      } finally {
        await limited.stop()
      }
    })
  })
})
