import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import type { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { pseudoRandomBytes } from '../../helpers.ts'
import { addOn, startSwarm, stopAll, waitForRoutingTables } from '../swarm.ts'

describe('EnhancedDHTDiscovery in a 20-node loopback swarm', () => {
  let peers: IPFSLibp2pPeer[] = []
  let discovery: EnhancedDHTDiscovery | undefined
  before(async () => {
    peers = await startSwarm(20)
    await waitForRoutingTables(peers, 3)
  })
  after(async () => {
    await discovery?.stop()
    await stopAll(peers)
  })

  it('finds, through the DHT, a provider it is not connected to', async () => {
    const provider = peers[0]!
    const seeker = peers[19]!
    const cid = await addOn(provider, pseudoRandomBytes(10_000, 99))
    await provider.helia.routing.provide(cid, { signal: AbortSignal.timeout(30_000) })
    // DHT traffic may have connected them: hang up, so the provider can only be found through the DHT
    await seeker.host.hangUp(provider.peerId)
    assert.equal(
      seeker.host.getConnections(provider.peerId).length,
      0,
      'the seeker must not be connected to the provider'
    )

    discovery = new EnhancedDHTDiscovery(seeker)
    await discovery.start()
    const found = []
    for await (const p of discovery.findProviders(cid, { count: 1, signal: AbortSignal.timeout(30_000) }))
      found.push(p)
    assert.equal(found.length, 1)
    assert.equal(found[0]!.id.toString(), provider.peerId.toString())
    assert.equal(found[0]!.provenance, 'dht')
    assert.ok(found[0]!.multiaddrs.length > 0, 'the provider record carries addresses')

    const metrics = discovery.getMetrics()
    assert.equal(metrics.lookups, 1)
    assert.equal(metrics.providersFound.dht, 1)
    assert.ok(metrics.peersInBuckets >= 1, 'the k-bucket view mirrors the routing table')

    // a repeated lookup is answered without the network
    const again = []
    for await (const p of discovery.findProviders(cid, { count: 1 })) again.push(p)
    assert.equal(again[0]!.id.toString(), provider.peerId.toString())
    assert.equal(discovery.getMetrics().providersFound.dht, 1)
  })
})
