import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { type ApiNode, apiNode } from '../../api/helpers.ts'
import { pseudoRandomBytes, tempDir } from '../../helpers.ts'

describe('fallback to a trustless HTTP gateway', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let gatewayNode: ApiNode
  let seeker: IPFSLibp2pPeer
  let discovery: EnhancedDHTDiscovery
  let router: ContentRoutingManager
  before(async () => {
    dir = await tempDir()
    // our own daemon's gateway on 127.0.0.1: the only source; no peer is connected
    gatewayNode = await apiNode(dir.path)
    seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    await seeker.start()
    discovery = new EnhancedDHTDiscovery(seeker)
    router = new ContentRoutingManager(discovery, seeker, { gateways: [gatewayNode.url] })
    await router.start()
  })
  after(async () => {
    await router?.stop()
    await discovery?.stop()
    await seeker?.stop()
    await gatewayNode?.stop()
    await dir?.cleanup()
  })

  it('fetches verified blocks over HTTP when no peer can serve them', async () => {
    const bytes = pseudoRandomBytes(600 * 1024, 31)
    const { cid } = await gatewayNode.kit.ipfsAddBytes(bytes)
    assert.equal(seeker.host.getConnections().length, 0)
    const got = await router.retrieveContent(cid, { timeout: 30_000 })
    assert.deepEqual(got, bytes)
    const m = router.getMetrics()
    assert.equal(m.successfulRetrievals, 1)
    assert.equal(m.retrievalsFromGateway, 1)
  })
})
