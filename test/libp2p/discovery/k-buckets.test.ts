import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PeerId } from '@libp2p/interface'
// kad-dht's own key functions, reached by path (its package exports do not list utils)
import { convertBuffer, convertPeerId } from '../../../node_modules/@libp2p/kad-dht/dist/src/utils.js'
import { DISCOVERY_KBUCKET_REPLACEMENTS, DISCOVERY_KBUCKET_SIZE } from '../../../src/constants.ts'
import { isErrorNamed } from '../../../src/errors.ts'
import { KBucketView, kadId, kadIdOfKey } from '../../../src/libp2p/discovery/k-buckets.ts'
import { ReputationTracker } from '../../../src/libp2p/discovery/reputation.ts'
import { leadingCommonBits, newPeerId, newPeerIds, sha256Bytes } from './fixtures.ts'

/** Peers, freshly generated, whose hand-computed bucket relative to `self` is `index`. */
async function peersInBucket(self: PeerId, index: number, count: number): Promise<PeerId[]> {
  const ours = sha256Bytes(self.toMultihash().bytes)
  const found: PeerId[] = []
  for (let tries = 0; found.length < count && tries < 10_000; tries++) {
    const peer = await newPeerId()
    if (leadingCommonBits(ours, sha256Bytes(peer.toMultihash().bytes)) === index) found.push(peer)
  }
  assert.equal(found.length, count, `could not generate ${count} peers in bucket ${index}`)
  return found
}

describe('KBucketView', () => {
  it('places real peer ids in the bucket of their hand-computed SHA-256 common prefix', async () => {
    const self = await newPeerId()
    const view = new KBucketView({ peerId: self })
    const ours = sha256Bytes(self.toMultihash().bytes)
    assert.deepEqual(view.localKey, ours)
    for (const peer of await newPeerIds(12)) {
      const theirs = sha256Bytes(peer.toMultihash().bytes)
      const expected = leadingCommonBits(ours, theirs)
      assert.equal(view.add(peer, 1000), 'added')
      assert.equal(view.bucketIndexOf(peer), expected)
      const entry = view.get(peer)
      assert.equal(entry?.bucket, expected)
      assert.deepEqual(entry?.kadId, theirs)
      assert.ok(view.bucket(expected).some((e) => e.peerId.equals(peer)))
    }
    assert.equal(view.size, 12)
    assert.equal(
      view.fill().reduce((a, b) => a + b, 0),
      12
    )
  })

  it('computes keys exactly as kad-dht does (convertPeerId, convertBuffer)', async () => {
    for (const peer of await newPeerIds(5)) {
      assert.deepEqual(kadId(peer), await convertPeerId(peer))
      const key = peer.toMultihash().bytes
      assert.deepEqual(kadIdOfKey(key), await convertBuffer(key))
    }
  })

  it('never stores our own key', async () => {
    const self = await newPeerId()
    const view = new KBucketView({ peerId: self })
    assert.equal(view.add(self), 'self')
    assert.equal(view.size, 0)
    assert.equal(view.bucketIndexOf(self), -1)
  })

  it('keeps at most k live entries per bucket, a bounded replacement cache, and promotes on removal', async () => {
    const self = await newPeerId()
    const view = new KBucketView({ peerId: self })
    const k = DISCOVERY_KBUCKET_SIZE
    const r = DISCOVERY_KBUCKET_REPLACEMENTS
    // half of all keys land in bucket 0: generate k + r + 1 of them
    const peers = await peersInBucket(self, 0, k + r + 1)
    peers.forEach((peer, i) => {
      assert.equal(view.add(peer, 1000 + i), i < k ? 'added' : 'replacement')
    })
    assert.equal(view.bucket(0).length, k)
    assert.equal(view.replacements(0).length, r)
    assert.equal(view.size, k)
    assert.equal(view.replacementCount, r)
    // the oldest replacement (peers[k]) was dropped when the cache overflowed
    assert.equal(view.get(peers[k]!), undefined)

    // a replacement seen recently is promoted first
    const [, second] = view.replacements(0)
    assert.ok(second !== undefined)
    view.touch(second.peerId, 5000)
    const promoted = view.remove(peers[0]!)
    assert.ok(typeof promoted !== 'boolean' && promoted.equals(second.peerId))
    assert.equal(view.bucket(0).length, k)
    assert.equal(view.replacements(0).length, r - 1)
    assert.ok(view.has(second.peerId))
    assert.equal(view.has(peers[0]!), false)

    // removing a replacement does not touch the live entries
    const spare = view.replacements(0)[0]
    assert.ok(spare !== undefined)
    assert.equal(view.remove(spare.peerId), true)
    assert.equal(view.bucket(0).length, k)
    assert.equal(view.remove(peers[0]!), false)
  })

  it('produces random keys with exactly the requested common-prefix length', async () => {
    const self = await newPeerId()
    const view = new KBucketView({ peerId: self })
    for (const index of [0, 1, 2, 7, 8, 9, 15, 16, 100, 200, 254, 255]) {
      for (let i = 0; i < 20; i++) {
        const key = view.randomKeyInBucket(index)
        assert.equal(key.length, 32)
        assert.equal(leadingCommonBits(view.localKey, key), index, `index ${index}`)
      }
    }
    assert.throws(
      () => view.randomKeyInBucket(256),
      (err) => isErrorNamed(err, 'InvalidParametersError')
    )
    assert.throws(
      () => view.randomKeyInBucket(-1),
      (err) => isErrorNamed(err, 'InvalidParametersError')
    )
  })

  it('finds lookup keys whose SHA-256 lands in the requested bucket, as kad-dht hashes them', async () => {
    const self = await newPeerId()
    const view = new KBucketView({ peerId: self }, { maxLookupKeyIndex: 8 })
    for (let index = 0; index <= 8; index++) {
      const key = await view.lookupKeyForBucket(index)
      assert.equal(key.length, 34)
      assert.deepEqual([...key.subarray(0, 2)], [0x12, 0x20])
      assert.equal(leadingCommonBits(view.localKey, sha256Bytes(key)), index)
    }
    await assert.rejects(view.lookupKeyForBucket(9), (err) => isErrorNamed(err, 'InvalidParametersError'))
    await assert.rejects(view.lookupKeyForBucket(8, { signal: AbortSignal.abort() }))
  })

  it('records lastSeen and bucket traffic, and resolves live stats', async () => {
    const self = await newPeerId()
    const reputation = new ReputationTracker()
    const view = new KBucketView({ peerId: self, stats: (p) => reputation.stats(p, 2000) })
    const [peer] = await newPeerIds(1)
    assert.ok(peer !== undefined)
    view.add(peer, 1000)
    const index = view.bucketIndexOf(peer)
    assert.equal(view.lastTrafficAt(index), undefined)
    assert.equal(view.get(peer)?.stats, undefined)
    assert.equal(view.touch(peer, 1500), true)
    assert.equal(view.get(peer)?.lastSeen, 1500)
    assert.equal(view.lastTrafficAt(index), 1500)
    reputation.recordSuccess(peer, { now: 1600, latencyMs: 40 })
    assert.equal(view.get(peer)?.stats?.successes, reputation.stats(peer, 2000)?.successes)
    assert.equal(view.get(peer)?.stats?.latencyEwmaMs, 40)

    // traffic with a peer not in the view still marks its bucket region
    const [stranger] = await newPeerIds(1)
    assert.ok(stranger !== undefined)
    assert.equal(view.touch(stranger, 1700), false)
    assert.equal(view.lastTrafficAt(view.bucketIndexOf(stranger)), 1700)
  })
})
