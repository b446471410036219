/**
 * Announcements: every CID announced must be held, and several routers on one peer share the
 * announce topic's validator and rate limit until the last of them stops.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { CONTENT_ANNOUNCE_TOPIC } from '../../../src/constants.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes, waitFor } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

describe('announcements', () => {
  let announcer: IPFSLibp2pPeer
  let listener: IPFSLibp2pPeer
  const nodes: Array<{ stop(): Promise<void> } | undefined> = []

  before(async () => {
    announcer = new IPFSLibp2pPeer({ role: 'master', profile: 'local' })
    listener = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
    await Promise.all([announcer.start(), listener.start()])
    await listener.connect(announcer.getMultiaddrs()[0]!)
  })
  after(async () => {
    await stopAll(nodes.reverse())
    await stopAll([listener, announcer])
  })

  it('refuses to announce a CID it does not hold, among `also` too, and publishes nothing', async () => {
    const discovery = new EnhancedDHTDiscovery(announcer)
    const router = new ContentRoutingManager(discovery, announcer)
    const heard = new EnhancedDHTDiscovery(listener)
    const listening = new ContentRoutingManager(heard, listener)
    nodes.push(discovery, router, heard, listening)
    await Promise.all([router.start(), listening.start()])
    await waitFor(
      () => announcer.host.services.pubsub.getSubscribers(CONTENT_ANNOUNCE_TOPIC).length > 0,
      'the listener on the announce topic'
    )
    const held = await addOn(announcer, pseudoRandomBytes(2048, 1))
    const alsoHeld = await addOn(announcer, pseudoRandomBytes(2048, 2))
    const notHeld = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('not held')))

    await assert.rejects(router.announceContent(held, { also: [alsoHeld, notHeld] }), (err: Error) => {
      assert.equal(err.name, 'NotFoundError')
      assert.ok(
        err.message.includes(notHeld.toString()),
        `the message names the CID not held: ${err.message}`
      )
      return true
    })
    assert.equal(router.getMetrics().announcements.published, 0, 'nothing was published')
    assert.equal(router.stateSizes()['routing.announced']!.size, 0, 'nothing is re-announced')

    // held, all of it: announced, and heard as provider records
    await router.announceContent(held, { also: [alsoHeld] })
    await waitFor(
      () => heard.providers.has(held, announcer.peerId) && heard.providers.has(alsoHeld, announcer.peerId),
      'the announcement on the listener'
    )
    assert.equal(heard.providers.has(notHeld, announcer.peerId), false)
    await stopAll([listening, heard, router, discovery])
  })

  it('two routers on one peer share the topic validator: the first to stop leaves it to the second', async () => {
    const topicValidators = listener.host.services.pubsub.topicValidators
    const first = new ContentRoutingManager(new EnhancedDHTDiscovery(listener), listener)
    const secondDiscovery = new EnhancedDHTDiscovery(listener)
    const second = new ContentRoutingManager(secondDiscovery, listener)
    nodes.push(first.discovery, first, secondDiscovery, second)
    await Promise.all([first.start(), second.start()])
    await first.stop()
    await first.discovery.stop()
    assert.ok(topicValidators.has(CONTENT_ANNOUNCE_TOPIC), 'the validator stays while the second router runs')

    // a malformed announcement from the announcer (a plain publish: no validator of ours there)
    await waitFor(
      () =>
        announcer.host.services.pubsub
          .getSubscribers(CONTENT_ANNOUNCE_TOPIC)
          .some((p) => p.equals(listener.peerId)),
      'the listener subscribed'
    )
    const before = second.getMetrics().announcements.rejectedMalformed
    const scoreBefore = secondDiscovery.reputation.score(announcer.peerId)
    await announcer.host.services.pubsub.publish(
      CONTENT_ANNOUNCE_TOPIC,
      new TextEncoder().encode('{"v":1,"cids":"nope"}')
    )
    await waitFor(
      () => second.getMetrics().announcements.rejectedMalformed > before,
      'the second router to reject the malformed announcement'
    )
    assert.ok(secondDiscovery.reputation.score(announcer.peerId) < scoreBefore, 'its author loses reputation')

    await second.stop()
    await secondDiscovery.stop()
    assert.equal(topicValidators.has(CONTENT_ANNOUNCE_TOPIC), false, 'the last router to stop removes it')
  })
})
