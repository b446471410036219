/**
 * A cached lookup answer forgets a provider on bad news at once (a bad block, DONT_HAVE, a
 * disconnect), and an answer with no usable provider left falls through to the network: the
 * honest holder found there serves the content.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { FaultyBlockstore } from '../../../bench/faults.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes, waitFor } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

/** one block of 8 KiB: a want-have is answered with HAVE, not with the block */
const FILE = pseudoRandomBytes(8 * 1024, 4242)

interface Scene {
  seeker: IPFSLibp2pPeer
  discovery: EnhancedDHTDiscovery
  router: ContentRoutingManager
  first: IPFSLibp2pPeer
  firstStore: FaultyBlockstore
  honest: IPFSLibp2pPeer
  cid: CID
}

describe('the discovery cache forgets bad providers at once', () => {
  const nodes: Array<{ stop(): Promise<void> } | undefined> = []
  after(async () => {
    await stopAll(nodes.reverse())
  })

  /**
   * The seeker knows only `first` when it looks the content up (so the cached answer is
   * [first]), then connects to an honest holder nobody told it about.
   */
  async function scene(): Promise<Scene> {
    const firstStore = new FaultyBlockstore()
    const first = new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore: firstStore })
    const honest = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
    const seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    nodes.push(first, honest, seeker)
    await Promise.all([first.start(), honest.start(), seeker.start()])
    const [cid] = await Promise.all([addOn(first, FILE), addOn(honest, FILE)])
    const discovery = new EnhancedDHTDiscovery(seeker)
    const router = new ContentRoutingManager(discovery, seeker)
    nodes.push(discovery, router)
    await router.start()
    await seeker.connect(first.getMultiaddrs()[0]!)
    const found = []
    for await (const p of discovery.findProviders(cid!, { signal: AbortSignal.timeout(20_000) }))
      found.push(p)
    assert.deepEqual(
      found.map((p) => p.id.toString()),
      [first.peerId.toString()],
      'the lookup found the first provider'
    )
    await seeker.connect(honest.getMultiaddrs()[0]!)
    return { seeker, discovery, router, first, firstStore, honest, cid: cid! }
  }

  it('a provider that sent a bad block: dropped from the cached answer, and the honest holder serves', async () => {
    const s = await scene()
    s.firstStore.setFault({ kind: 'corrupt' })
    const got = await s.router.retrieveContent(s.cid, { timeout: 30_000 })
    assert.deepEqual(got, FILE)
    assert.ok(s.discovery.reputation.isFlagged(s.first.peerId), 'the corrupting provider is flagged')
    const again = []
    for await (const p of s.discovery.findProviders(s.cid, { signal: AbortSignal.timeout(20_000) }))
      again.push(p.id.toString())
    assert.ok(again.includes(s.honest.peerId.toString()), 'a new lookup names the honest holder')
  })

  it('a slow provider that then sends a bad block: once every request failed, the fetch looks again and the honest holder serves', async () => {
    const s = await scene()
    // slower than the hedge timeout: the fetch pulls its next candidates (and the lookup answers
    // from the cache, where the provider is not yet flagged) before the bad block arrives
    s.firstStore.setFault({ kind: 'corrupt', delayMs: 4_000 })
    // no deadline of ours: a retrieval with one would not wait for the bad block, its later pass
    // (which skips the cache) finding the honest holder first (test/libp2p/routing/keep-looking)
    const got = await s.router.retrieveContent(s.cid)
    assert.deepEqual(got, FILE)
    assert.ok(s.discovery.reputation.isFlagged(s.first.peerId), 'the corrupting provider is flagged')
  })

  it('a provider that says DONT_HAVE: dropped from the cached answer, and the lookup asks the network', async () => {
    const s = await scene()
    // the first provider no longer holds the block
    for await (const { cid } of s.firstStore.getAll()) await s.firstStore.delete(cid)
    const got = await s.router.retrieveContent(s.cid, { timeout: 30_000 })
    assert.deepEqual(got, FILE)
  })

  it('a provider that disconnected: dropped from every cached answer at once', async () => {
    const s = await scene()
    const metricsBefore = s.discovery.getMetrics().discoveryCacheHits
    const gone = s.first.peerId
    await s.first.stop()
    await waitFor(
      () => s.seeker.host.getConnections(gone).length === 0,
      'the seeker to see the disconnect',
      20_000
    )
    const again = []
    for await (const p of s.discovery.findProviders(s.cid, { signal: AbortSignal.timeout(20_000) }))
      again.push(p.id.toString())
    assert.ok(again.includes(s.honest.peerId.toString()), `the lookup went to the network (${again})`)
    assert.equal(s.discovery.getMetrics().discoveryCacheHits, metricsBefore, 'not answered from the cache')
    const got = await s.router.retrieveContent(s.cid, { timeout: 30_000 })
    assert.deepEqual(got, FILE)
  })
})
