/**
 * Wants to one peer are batched: a DAG read sends the provider far fewer bitswap messages than
 * it wants blocks (it sent one message per block, and more with the cancels). Counted on the
 * provider's side of the wire: the messages its bitswap network decodes from the seeker.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { unixfs } from '@helia/unixfs'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import type { CID } from 'multiformats/cid'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { bitswapOf } from '../../../src/libp2p/routing/bitswap-access.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes } from '../../helpers.ts'
import { stopAll } from '../swarm.ts'

const LEAVES = 160

describe('wants to one peer share messages', () => {
  let provider: IPFSLibp2pPeer
  const nodes: Array<{ stop(): Promise<void> } | undefined> = []
  let cid: CID
  let bytes: Uint8Array

  before(async () => {
    provider = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
    await provider.start()
    bytes = pseudoRandomBytes(LEAVES * 16 * 1024, 1_414)
    cid = await unixfs(provider.helia).addBytes(bytes, {
      cidVersion: 0,
      rawLeaves: false,
      chunker: fixedSize({ chunkSize: 16 * 1024 })
    })
  })
  after(async () => {
    await stopAll(nodes.reverse())
    await provider.stop()
  })

  it(`a ${LEAVES}-block DAG read sends the provider fewer than one want message per 2 blocks`, async (t) => {
    const peer = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    const discovery = new EnhancedDHTDiscovery(peer)
    const router = new ContentRoutingManager(discovery, peer)
    nodes.push(peer, discovery, router)
    await router.start()
    await peer.connect(provider.getMultiaddrs()[0]!)
    let messages = 0
    let entries = 0
    bitswapOf(provider.helia).bitswap.network!.addEventListener('bitswap:message', (evt) => {
      if (!evt.detail.peer.equals(peer.peerId)) return
      const n = evt.detail.message.wantlist?.entries?.length ?? 0
      if (n === 0) return
      messages++
      entries += n
    })
    const got = await router.retrieveContent(cid, { timeout: 120_000, preferredPeers: [provider.peerId] })
    assert.deepEqual(got, bytes)
    assert.ok(entries >= LEAVES, `every block was asked for (${entries} want-list entries)`)
    t.diagnostic(`${messages} want messages, ${entries} entries`)
    assert.ok(messages <= LEAVES / 2, `${messages} want messages for ${LEAVES + 1} blocks`)
  })
})
