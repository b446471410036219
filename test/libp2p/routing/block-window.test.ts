/**
 * The block window holds as configured: a DAG read never has more blocks in flight than
 * `blockConcurrency`. Counted on the seeker's own (real, in-memory) blockstore: a block is in
 * flight from the read that found it missing until it is stored. `ipfs-unixfs-exporter`'s own
 * bound (it-parallel's ordered mode) let over 100 run with a limit of 16.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { unixfs } from '@helia/unixfs'
import type { AbortOptions } from '@libp2p/interface'
import { MemoryBlockstore } from 'blockstore-core'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import type { CID } from 'multiformats/cid'
import { FaultyBlockstore } from '../../../bench/faults.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes } from '../../helpers.ts'
import { stopAll } from '../swarm.ts'

/** A real memory blockstore that counts the blocks missing and not yet stored. */
class CountingBlockstore extends MemoryBlockstore {
  readonly missing = new Set<string>()
  peak = 0

  override async has(key: CID, options?: AbortOptions): Promise<boolean> {
    const has = await super.has(key, options)
    if (!has) {
      this.missing.add(key.toString())
      this.peak = Math.max(this.peak, this.missing.size)
    }
    return has
  }

  override async put(key: CID, val: Uint8Array, options?: AbortOptions): Promise<CID> {
    const out = await super.put(key, val, options)
    this.missing.delete(key.toString())
    return out
  }
}

describe('the block window', () => {
  const store = new FaultyBlockstore()
  let provider: IPFSLibp2pPeer
  const nodes: Array<{ stop(): Promise<void> } | undefined> = []
  let cid: CID
  let bytes: Uint8Array

  before(async () => {
    provider = new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore: store })
    await provider.start()
    // 160 leaves of 16 KiB under one root
    bytes = pseudoRandomBytes(160 * 16 * 1024, 1_313)
    cid = await unixfs(provider.helia).addBytes(bytes, {
      cidVersion: 0,
      rawLeaves: false,
      chunker: fixedSize({ chunkSize: 16 * 1024 })
    })
    // every read at the provider takes a while, so that reads pile up at the seeker
    store.setFault({ kind: 'slow', delayMs: 20 })
  })
  after(async () => {
    store.setFault({ kind: 'none' })
    await stopAll(nodes.reverse())
    await provider.stop()
  })

  for (const limit of [4, 16]) {
    it(`never has more than ${limit} blocks of a DAG in flight with blockConcurrency ${limit}`, async () => {
      const blockstore = new CountingBlockstore()
      const peer = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local', blockstore })
      const discovery = new EnhancedDHTDiscovery(peer)
      const router = new ContentRoutingManager(discovery, peer, { blockConcurrency: limit })
      nodes.push(peer, discovery, router)
      await router.start()
      await peer.connect(provider.getMultiaddrs()[0]!)
      const got = await router.retrieveContent(cid, { timeout: 120_000, preferredPeers: [provider.peerId] })
      assert.deepEqual(got, bytes)
      assert.ok(blockstore.peak >= 2, `blocks were fetched side by side (peak ${blockstore.peak})`)
      assert.ok(
        blockstore.peak <= limit,
        `${blockstore.peak} blocks were in flight with a window of ${limit}`
      )
    })
  }
})
