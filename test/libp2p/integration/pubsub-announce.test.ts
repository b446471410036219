import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CONTENT_ANNOUNCE_TOPIC } from '../../../src/constants.ts'
import type { IPFSKit } from '../../../src/kit/index.ts'
import { registerLibp2pWithIpfsKit } from '../../../src/kit/integration.ts'
import { localKit, pseudoRandomBytes, tempDir, waitFor } from '../../helpers.ts'

describe('a leecher cache miss served by a worker that announced the content over pubsub', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let worker: IPFSKit
  let master: IPFSKit
  let leecher: IPFSKit
  before(async () => {
    dir = await tempDir()
    worker = await localKit('worker', dir.path)
    master = await localKit('master', dir.path)
    leecher = await localKit('leecher', dir.path)
    for (const kit of [worker, master, leecher]) await registerLibp2pWithIpfsKit(kit, kit.peer)
    // worker – master – leecher: the leecher hears the worker only through gossip
    const masterAddr = master.peer.getMultiaddrs()[0]!.toString()
    await worker.ipfsSwarmConnect(masterAddr)
    await leecher.ipfsSwarmConnect(masterAddr)
    await waitFor(
      async () =>
        (await master.ipfsPubsubPeers(CONTENT_ANNOUNCE_TOPIC)).length === 2 &&
        (await worker.ipfsPubsubPeers(CONTENT_ANNOUNCE_TOPIC)).length >= 1 &&
        (await leecher.ipfsPubsubPeers(CONTENT_ANNOUNCE_TOPIC)).length >= 1,
      'the announce topic mesh'
    )
  })
  after(async () => {
    await leecher?.stop()
    await master?.stop()
    await worker?.stop()
    await dir?.cleanup()
  })

  it('serves the miss from the announcer, then hits the cache', async () => {
    const bytes = pseudoRandomBytes(700 * 1024, 77)
    const { cid } = await worker.ipfsAddBytes(bytes)
    await worker.libp2pIntegration!.announceContent(cid, { size: bytes.byteLength })

    const integration = leecher.libp2pIntegration!
    await waitFor(
      () =>
        integration.discovery.providers
          .get(cid)
          .some((r) => r.id.equals(worker.peer.peerId) && r.provenance === 'pubsub'),
      'the announcement on the leecher'
    )
    // the leecher may have met the worker through the DHT meanwhile (a routing table refresh
    // through the master): hang up, so that the fetch dials the addresses the announcement named
    await leecher.peer.host.hangUp(worker.peer.peerId)
    assert.equal(
      leecher.peer.host.getConnections(worker.peer.peerId).length,
      0,
      'the leecher is not connected to the worker'
    )

    const fs = leecher.getFilesystem({ useLibp2p: true })
    const first = await fs.cat(cid, { signal: AbortSignal.timeout(30_000) })
    assert.deepEqual(first, bytes)
    const afterMiss = integration.getStats()
    assert.ok(afterMiss.cacheMisses >= 1 && afterMiss.cacheMissesHandled === afterMiss.cacheMisses)
    assert.equal(afterMiss.successRate, 1)
    assert.ok(
      afterMiss.discoveryMetrics.retrievalsFromPubsub >= 1,
      'the root came from the peer the announcement named'
    )
    assert.ok(afterMiss.discoveryMetrics.announcements.received >= 1)
    assert.ok(fs.getStats().blocksFromLibp2p >= 1)

    const second = await fs.cat(cid)
    assert.deepEqual(second, bytes)
    const afterHit = integration.getStats()
    assert.equal(afterHit.cacheMisses, afterMiss.cacheMisses, 'no new miss')
    const reads = fs.getStats()
    assert.ok(reads.blocksFromMemory + reads.blocksFromDisk >= 1, 'the second read came from the cache')
    const cache = await leecher.getCache()
    assert.ok(cache.getStats().hits >= 1)
  })
})
