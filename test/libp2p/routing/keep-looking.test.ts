/**
 * A retrieval with a deadline keeps looking for providers until it passes (as `ipfs cat
 * --timeout` does): its only provider dies, the retrieval starts, the provider comes back as the
 * same peer at the same address, and the retrieval returns the file. One without a deadline
 * still fails in bounded time, with an error that names what failed.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { MemoryBlockstore } from 'blockstore-core'
import type { CID } from 'multiformats/cid'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes, waitFor } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

/** A TCP port free on 127.0.0.1 now (the provider comes back on it). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address == null || typeof address === 'string') throw new Error('no port')
  return address.port
}

describe('a retrieval with a deadline keeps looking until it passes', () => {
  // the provider's blocks outlive its process, as a repo on disk would
  const store = new MemoryBlockstore()
  const file = pseudoRandomBytes(600 * 1024, 77)
  let key: PrivateKey
  let port: number
  let provider: IPFSLibp2pPeer | undefined
  let seeker: IPFSLibp2pPeer
  let discovery: EnhancedDHTDiscovery
  let router: ContentRoutingManager
  let cid: CID

  /** The provider: the same key, port and blocks every time. */
  async function startProvider(): Promise<IPFSLibp2pPeer> {
    const peer = new IPFSLibp2pPeer({
      role: 'worker',
      profile: 'local',
      blockstore: store,
      privateKey: key,
      listenAddrs: [`/ip4/127.0.0.1/tcp/${port}`]
    })
    await peer.start()
    return peer
  }

  /** Forget the file's blocks on the seeker (what was learnt about the provider stays). */
  async function forget(): Promise<void> {
    const held: CID[] = []
    for await (const { cid: c } of seeker.helia.blockstore.getAll()) held.push(c)
    for (const c of held) await seeker.helia.blockstore.delete(c)
  }

  before(async () => {
    key = await generateKeyPair('Ed25519')
    port = await freePort()
    provider = await startProvider()
    cid = await addOn(provider, file)
    seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    await seeker.start()
    discovery = new EnhancedDHTDiscovery(seeker)
    router = new ContentRoutingManager(discovery, seeker)
    await router.start()
    await seeker.connect(provider.getMultiaddrs()[0]!)
    // the seeker learns who holds the file (the blocks served: affinity, reputation)
    assert.deepEqual(
      await router.retrieveContent(cid, { timeout: 20_000, preferredPeers: [provider.peerId] }),
      file
    )
  })
  after(async () => {
    await router?.stop()
    await discovery?.stop()
    await stopAll([seeker, provider])
  })

  it('the only provider dies, the retrieval starts, the provider comes back: the file arrives before the deadline', async () => {
    await forget()
    await provider!.stop()
    provider = undefined
    await waitFor(() => seeker.host.getConnections().length === 0, 'the connection to close')
    const passesBefore = router.getMetrics().blockFetchPasses
    let settled = false
    const retrieval = router.retrieveContent(cid, { timeout: 30_000 }).finally(() => {
      settled = true
    })
    retrieval.catch(() => {})
    // every provider known has failed: the retrieval looks again rather than fail
    await waitFor(
      () => settled || router.getMetrics().blockFetchPasses >= passesBefore + 2,
      'a second pass over the providers',
      20_000
    )
    assert.equal(settled, false, 'the retrieval is still looking while its provider is down')
    provider = await startProvider()
    assert.deepEqual(await retrieval, file)
    // nothing of the retrieval is left running
    await waitFor(
      () => Object.values(router.inFlightSizes()).every((n) => n === 0),
      'the routing layer to be idle'
    )
  })

  it('with no provider back, it fails when its deadline passes, with a TimeoutError', async () => {
    await forget()
    await provider!.stop()
    provider = undefined
    await waitFor(() => seeker.host.getConnections().length === 0, 'the connection to close')
    const passesBefore = router.getMetrics().blockFetchPasses
    await assert.rejects(router.retrieveContent(cid, { timeout: 2_000 }), (err: Error) => {
      assert.equal(err.name, 'TimeoutError')
      assert.match(err.message, new RegExp(`retrieving ${cid}`))
      return true
    })
    assert.ok(router.getMetrics().blockFetchPasses > passesBefore, 'it looked again before the deadline')
    await waitFor(
      () => Object.values(router.inFlightSizes()).every((n) => n === 0),
      'the routing layer to be idle'
    )
  })

  it('without a deadline, it fails once every provider it knows has failed, naming the content', async () => {
    assert.equal(provider, undefined, 'the provider is still down')
    const passesBefore = router.getMetrics().blockFetchPasses
    await assert.rejects(router.retrieveContent(cid), (err: Error) => {
      assert.ok(
        ['AllProvidersFailedError', 'NotFoundError'].includes(err.name),
        `${err.name}: ${err.message}`
      )
      assert.match(err.message, new RegExp(cid.toString()))
      return true
    })
    assert.equal(router.getMetrics().blockFetchPasses, passesBefore, 'no second pass')
  })
})
