/**
 * Our own cancellations are never a peer's fault: stopping the router or the integration, or a
 * caller's abort, while requests are in flight records no failure, no backoff, and nothing of
 * the kind is saved to the repo.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import type { CID } from 'multiformats/cid'
import { FaultyBlockstore } from '../../../bench/faults.ts'
import { ipfsKit } from '../../../src/kit/index.ts'
import { registerLibp2pWithIpfsKit } from '../../../src/kit/integration.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { ReputationTracker } from '../../../src/libp2p/discovery/reputation.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import type { AttemptEvent } from '../../../src/libp2p/routing/hedged-fetcher.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes, tempDir, waitFor } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

/** Long enough for every request to be past its hedge timeout (150 ms for a peer never measured). */
const PAST_HEDGE_MS = 1_000

function assertUntouched(reputation: ReputationTracker, peer: PeerId, what: string): void {
  const stats = reputation.stats(peer)
  assert.equal(stats?.failures ?? 0, 0, `${what}: no failure recorded`)
  assert.equal(stats?.observations ?? 0, 0, `${what}: no outcome recorded`)
}

describe('our own cancellations are never a peer fault', () => {
  const store = new FaultyBlockstore()
  let provider: IPFSLibp2pPeer
  const cids: CID[] = []
  const nodes: Array<{ stop(): Promise<void> } | undefined> = []
  let dir: Awaited<ReturnType<typeof tempDir>>

  before(async () => {
    dir = await tempDir()
    provider = new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore: store })
    await provider.start()
    for (let i = 0; i < 8; i++) cids.push(await addOn(provider, pseudoRandomBytes(4096, 900 + i)))
    // the provider accepts wants and never answers: every request stays in flight
    store.setFault({ kind: 'silent' })
  })
  after(async () => {
    store.setFault({ kind: 'none' })
    await stopAll(nodes.reverse())
    await provider?.stop()
    await dir?.cleanup()
  })

  async function seeker(): Promise<{
    peer: IPFSLibp2pPeer
    datastore: MemoryDatastore
    discovery: EnhancedDHTDiscovery
    router: ContentRoutingManager
    attempts: AttemptEvent[]
  }> {
    const datastore = new MemoryDatastore()
    const peer = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local', datastore })
    const attempts: AttemptEvent[] = []
    const discovery = new EnhancedDHTDiscovery(peer)
    const router = new ContentRoutingManager(discovery, peer, { onAttempt: (e) => attempts.push(e) })
    nodes.push(peer, discovery, router)
    await router.start()
    await peer.connect(provider.getMultiaddrs()[0]!)
    return { peer, datastore, discovery, router, attempts }
  }

  it('router.stop() with a request in flight: the fetch ends with an AbortError, the peer is untouched, nothing bad is saved', async () => {
    const s = await seeker()
    const fetching = s.router.fetchBlock(cids[0]!, { preferredPeers: [provider.peerId] })
    await waitFor(() => s.attempts.some((a) => a.peer.equals(provider.peerId)), 'the request to go out')
    await new Promise((resolve) => setTimeout(resolve, PAST_HEDGE_MS))
    await s.router.stop()
    await assert.rejects(fetching, { name: 'AbortError' })
    assertUntouched(s.discovery.reputation, provider.peerId, 'after stop')
    assert.equal(s.discovery.backoff.level(provider.peerId), 0, 'not backed off')
    await s.discovery.stop()
    await s.peer.stop()
    const saved = new ReputationTracker()
    await saved.load(s.datastore)
    assertUntouched(saved, provider.peerId, 'the saved reputation')
  })

  it("a caller's abort, again and again: no failure, no backoff, no unanswered streak", async () => {
    const s = await seeker()
    for (const cid of cids.slice(1, 5)) {
      const controller = new AbortController()
      const fetching = s.router.fetchBlock(cid, {
        preferredPeers: [provider.peerId],
        signal: controller.signal
      })
      await waitFor(
        () => s.attempts.some((a) => a.peer.equals(provider.peerId) && a.cid.equals(cid)),
        'the request to go out'
      )
      await new Promise((resolve) => setTimeout(resolve, PAST_HEDGE_MS))
      controller.abort(new Error('the caller gave up'))
      await assert.rejects(fetching, /the caller gave up/)
    }
    assertUntouched(s.discovery.reputation, provider.peerId, 'after four aborts')
    assert.equal(s.discovery.backoff.level(provider.peerId), 0, 'not backed off')
  })

  it('LibP2PIntegration.stop() during a cache miss: the peer is untouched in the repo after a restart', async () => {
    const repo = join(dir.path, 'repo')
    const kit = await ipfsKit({ repo, profile: 'local', role: 'leecher' })
    let stopped = false
    try {
      const integration = await registerLibp2pWithIpfsKit(kit, kit.peer)
      await kit.peer.connect(provider.getMultiaddrs()[0]!)
      // (told of the provider, as an announcement would: a want-have probe would go unanswered)
      integration.discovery.addProvider(cids[6]!, { id: provider.peerId, multiaddrs: [], provenance: 'dht' })
      const miss = integration.handleCacheMiss(cids[6]!, { signal: AbortSignal.timeout(60_000) })
      miss.catch(() => {})
      await waitFor(
        () => (integration.router.inFlightSizes()['routing.fetcher.inFlight'] ?? 0) > 0,
        'the request to go out'
      )
      await new Promise((resolve) => setTimeout(resolve, PAST_HEDGE_MS))
      await integration.stop()
      await assert.rejects(miss)
      assertUntouched(kit.peer.reputation, provider.peerId, 'after the integration stopped')
      await kit.stop()
      stopped = true
    } finally {
      if (!stopped) await kit.stop()
    }
    const again = await ipfsKit({ repo })
    try {
      assertUntouched(again.peer.reputation, provider.peerId, 'after a restart')
    } finally {
      await again.stop()
    }
  })
})
