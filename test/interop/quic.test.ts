/**
 * QUIC interop: a plain Helia node, built here from Helia's and libp2p's own packages with
 * QUIC as its only transport (none of our code), fetches a file from an ipfs-kit node on
 * 127.0.0.1; every connection between them is a QUIC one.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { quic } from '@chainsafe/libp2p-quic'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { createHeliaLight, type Helia } from 'helia'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, pseudoRandomBytes, tempDir } from '../helpers.ts'

async function concat(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

const isQuic = (addr: { toString(): string }): boolean => /\/udp\/\d+\/quic-v1(\/|$)/.test(addr.toString())

describe('interop over QUIC with a plain Helia node', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let kit: IPFSKit
  let helia: Helia & { libp2p: Libp2p }
  before(async () => {
    dir = await tempDir()
    kit = await localKit('worker', dir.path)
    helia = withBitswap(
      withLibp2pLight(createHeliaLight(), {
        addresses: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] },
        transports: [quic()],
        services: { identify: identify() }
      })
    )
    await helia.start()
  })
  after(async () => {
    await helia?.stop()
    await kit?.stop()
    await dir?.cleanup()
  })

  it('our node listens on QUIC (local profile: 127.0.0.1)', () => {
    const quicAddrs = kit.peer.getMultiaddrs().filter(isQuic)
    assert.ok(quicAddrs.length > 0, 'a quic-v1 address')
    assert.ok(quicAddrs.every((ma) => ma.toString().startsWith('/ip4/127.0.0.1/udp/')))
  })

  it('Helia dials our QUIC address and fetches a file our node added, over QUIC only', async () => {
    const bytes = pseudoRandomBytes(1024 * 1024 + 5, 16)
    const { cid } = await kit.ipfsAddBytes(bytes)
    const addr = kit.peer.getMultiaddrs().find(isQuic)
    assert.ok(addr != null)
    const conn = await helia.libp2p.dial(addr, { signal: AbortSignal.timeout(10_000) })
    assert.ok(isQuic(conn.remoteAddr), `connected on ${conn.remoteAddr.toString()}`)
    const got = await concat(unixfs(helia).cat(cid, { signal: AbortSignal.timeout(30_000) }))
    assert.deepEqual(got, bytes)
    // every connection either way is QUIC: the blocks came over it
    const theirs = helia.libp2p.getConnections(kit.peer.peerId)
    const ours = kit.peer.host.getConnections(helia.libp2p.peerId)
    assert.ok(theirs.length > 0 && ours.length > 0)
    for (const c of [...theirs, ...ours]) assert.ok(isQuic(c.remoteAddr), c.remoteAddr.toString())
  })
})
