/**
 * An honest block that arrives long after the first ask (a want re-sent after a lost message,
 * a slow provider) is a block we asked for, not an unrequested (corrupt) one: a request counts
 * as asked for as long as it runs. The record's time-to-live is shortened here to 1 s so that a
 * 3 s answer is "late"; with the default of 60 s the same holds for answers after a minute.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { FaultyBlockstore } from '../../../bench/faults.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { bitswapOf } from '../../../src/libp2p/routing/bitswap-access.ts'
import type { AttemptEvent } from '../../../src/libp2p/routing/hedged-fetcher.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { recentWantsOf } from '../../../src/libp2p/routing/recent-wants.ts'
import { pseudoRandomBytes } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

const TTL_MS = 1_000
const ANSWER_AFTER_MS = 3 * TTL_MS

describe('a late honest block is not taken for a corrupt one', () => {
  const store = new FaultyBlockstore()
  let provider: IPFSLibp2pPeer
  let seeker: IPFSLibp2pPeer
  let discovery: EnhancedDHTDiscovery
  let router: ContentRoutingManager
  let cid: CID
  const bytes = pseudoRandomBytes(16 * 1024, 5150)
  const attempts: AttemptEvent[] = []

  before(async () => {
    provider = new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore: store })
    seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    await Promise.all([provider.start(), seeker.start()])
    cid = await addOn(provider, bytes)
    store.setFault({ kind: 'slow', delayMs: ANSWER_AFTER_MS })
    recentWantsOf(bitswapOf(seeker.helia).bitswap.wantList, { ttlMs: TTL_MS })
    discovery = new EnhancedDHTDiscovery(seeker)
    // the want is re-sent after 400 ms without an answer, then at doubling intervals
    router = new ContentRoutingManager(discovery, seeker, {
      minHedgeDelayMs: 100,
      maxHedgeDelayMs: 400,
      onAttempt: (e) => attempts.push(e)
    })
    await router.start()
    await seeker.connect(provider.getMultiaddrs()[0]!)
  })
  after(async () => {
    await stopAll([router, discovery, seeker, provider])
  })

  it(`a block answered ${ANSWER_AFTER_MS} ms after the first ask, with a TTL of ${TTL_MS} ms: served, and the provider is not flagged`, async () => {
    const started = Date.now()
    const got = await router.retrieveContent(cid, { timeout: 60_000, preferredPeers: [provider.peerId] })
    assert.deepEqual(got, bytes)
    assert.ok(Date.now() - started >= ANSWER_AFTER_MS, 'the answer came after the TTL had run out')
    assert.equal(discovery.getMetrics().corruptBlocks, 0, 'no block was taken for corrupt')
    assert.equal(discovery.reputation.isFlagged(provider.peerId), false, 'the provider is not flagged')
    assert.ok(discovery.reputation.stats(provider.peerId)!.successes > 0, 'its answer counted as a success')
  })
})
