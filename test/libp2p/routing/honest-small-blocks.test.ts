import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

// a bitswap server answers a want-have for a block under 1 KiB with the block itself
describe('honest providers of small blocks', () => {
  let providers: IPFSLibp2pPeer[] = []
  let seeker: IPFSLibp2pPeer
  let discovery: EnhancedDHTDiscovery
  let router: ContentRoutingManager
  const files: Array<{ cid: CID; bytes: Uint8Array }> = []

  before(async () => {
    providers = [0, 1, 2].map(() => new IPFSLibp2pPeer({ role: 'worker', profile: 'local' }))
    await Promise.all(providers.map((p) => p.start()))
    for (let i = 0; i < 15; i++) {
      const bytes = pseudoRandomBytes(300 + i, 500 + i)
      const [cid] = await Promise.all(providers.map((p) => addOn(p, bytes)))
      files.push({ cid: cid!, bytes })
    }
    seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    await seeker.start()
    for (const p of providers) await seeker.connect(p.getMultiaddrs()[0]!)
    discovery = new EnhancedDHTDiscovery(seeker)
    router = new ContentRoutingManager(discovery, seeker)
    await router.start()
  })
  after(async () => {
    await router?.stop()
    await discovery?.stop()
    await stopAll([seeker, ...providers])
  })

  it('are never taken for corrupt: blocks answering a want-have were asked for', async () => {
    for (const { cid, bytes } of files) {
      assert.deepEqual(await router.retrieveContent(cid, { timeout: 20_000 }), bytes)
    }
    // let late answers to the probes arrive
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(discovery.getMetrics().corruptBlocks, 0)
    for (const p of providers) {
      const stats = discovery.getPeerStats(p.peerId)
      assert.equal(stats?.verificationFailures ?? 0, 0, `provider ${p.peerId} flagged`)
      assert.equal(stats?.flagged ?? false, false)
    }
  })
})
