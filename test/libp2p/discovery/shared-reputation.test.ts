/**
 * One reputation store per peer, shared by every discovery on it, persisted whenever the peer
 * has a datastore or a repo: two discoveries no longer erase each other's saved records, and
 * the seed's Advanced Usage (a standalone peer registered with a kit) keeps what it learnt.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { ipfsKit } from '../../../src/kit/index.ts'
import { registerLibp2pWithIpfsKit } from '../../../src/kit/integration.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { tempDir } from '../../helpers.ts'
import { newPeerIds } from './fixtures.ts'

describe('one reputation store per peer', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let strangers: PeerId[]
  let cid: CID
  const nodes: Array<{ stop(): Promise<void> }> = []
  before(async () => {
    dir = await tempDir()
    strangers = await newPeerIds(2)
    cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('shared')))
  })
  after(async () => {
    for (const n of nodes) await n.stop()
    await dir?.cleanup()
  })

  it('two discoveries on one peer share it, and neither erases the saved records of the other', async () => {
    const [a, b] = strangers
    const datastore = new MemoryDatastore()
    const peer = new IPFSLibp2pPeer({ profile: 'local', datastore })
    const first = new EnhancedDHTDiscovery(peer)
    const second = new EnhancedDHTDiscovery(peer)
    nodes.push(first, second, peer)
    await first.start()
    await second.start()
    assert.equal(first.reputation, second.reputation, 'the same store')
    first.recordOutcome(a!, { kind: 'success', latencyMs: 30, bytes: 4096 }, cid)
    assert.equal(second.reputation.stats(a!)?.observations, 1, 'what one learns, the other knows')
    await first.stop()
    second.recordOutcome(b!, { kind: 'error', latencyMs: 5, error: new Error('refused') }, cid)
    await second.stop()
    await peer.stop()

    const again = new IPFSLibp2pPeer({ profile: 'local', datastore })
    nodes.push(again)
    await again.start()
    try {
      assert.ok(again.reputation.has(a!), "the first discovery's record survived the second's save")
      assert.ok(again.reputation.has(b!), "the second discovery's record was saved")
      assert.equal(again.reputation.stats(b!)?.observations, 1)
    } finally {
      await again.stop()
    }
  })

  it("a standalone peer registered with a kit (the seed's Advanced Usage) keeps its reputation in the kit's repo", async () => {
    const [a] = strangers
    const repo = join(dir.path, 'repo')
    const kit = await ipfsKit({ repo, profile: 'local', role: 'worker' })
    try {
      const peer = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
      const integration = await registerLibp2pWithIpfsKit(kit, peer)
      for (let i = 0; i < 4; i++) {
        integration.discovery.recordOutcome(a!, { kind: 'success', latencyMs: 25, bytes: 100_000 }, cid)
      }
      integration.discovery.recordOutcome(a!, { kind: 'corrupt', latencyMs: 5 }, cid)
      await integration.stop()
      await peer.stop()
    } finally {
      await kit.stop()
    }

    const again = await ipfsKit({ repo })
    try {
      const peer = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
      const integration = await registerLibp2pWithIpfsKit(again, peer)
      const stats = integration.discovery.getPeerStats(a!)
      assert.ok(stats != null, 'the peer is known after the restart')
      assert.equal(stats.observations, 5)
      assert.equal(stats.verificationFailures, 1)
      assert.equal(stats.flagged, true, 'still flagged for the bad block')
      await integration.stop()
      await peer.stop()
    } finally {
      await again.stop()
    }
  })
})
