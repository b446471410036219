/**
 * Interop: a plain Helia node, built here from Helia's and libp2p's own packages
 * (none of ours), trades blocks with an ipfs-kit node over the standard protocols.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createHeliaLight, type Helia } from 'helia'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, pseudoRandomBytes, tempDir } from '../helpers.ts'

async function concat(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

describe('interop with a plain Helia node', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let kit: IPFSKit
  let helia: Helia & { libp2p: Libp2p }
  before(async () => {
    dir = await tempDir()
    kit = await localKit('worker', dir.path)
    helia = withBitswap(
      withLibp2pLight(createHeliaLight(), {
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify() }
      })
    )
    await helia.start()
    await helia.libp2p.dial(kit.peer.getMultiaddrs()[0]!)
  })
  after(async () => {
    await helia?.stop()
    await kit?.stop()
    await dir?.cleanup()
  })

  it('Helia fetches a file our node added', async () => {
    const bytes = pseudoRandomBytes(2 * 1024 * 1024 + 9, 3)
    const { cid } = await kit.ipfsAddBytes(bytes)
    const got = await concat(unixfs(helia).cat(cid, { signal: AbortSignal.timeout(30_000) }))
    assert.deepEqual(got, bytes)
  })

  it('our node fetches a file Helia added', async () => {
    const bytes = pseudoRandomBytes(1024 * 1024 + 77, 4)
    const cid = await unixfs(helia).addBytes(bytes)
    assert.equal(await kit.helia.blockstore.has(cid), false)
    const got = await kit.ipfsCat(cid, { signal: AbortSignal.timeout(30_000) })
    assert.deepEqual(got, bytes)
  })
})
