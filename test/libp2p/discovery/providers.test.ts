import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  DISCOVERY_CACHE_NEGATIVE_TTL_MS,
  DISCOVERY_CACHE_TTL_MS,
  PROVIDER_RECORD_VALIDITY_MS
} from '../../../src/constants.ts'
import { DiscoveryCache } from '../../../src/libp2p/discovery/discovery-cache.ts'
import { ProviderStore } from '../../../src/libp2p/discovery/providers.ts'
import type { Provider } from '../../../src/libp2p/discovery/types.ts'
import { cidOf, newPeerIds } from './fixtures.ts'

const T0 = 1_700_000_000_000
const HOUR = 60 * 60_000

describe('ProviderStore', () => {
  it('uses kad-dht provider record validity (48 h) and expires records', async () => {
    assert.equal(PROVIDER_RECORD_VALIDITY_MS, 48 * HOUR)
    const [a, b] = await newPeerIds(2)
    const cid = await cidOf('expiry')
    const store = new ProviderStore()
    store.add(cid, { id: a!, multiaddrs: [], provenance: 'dht' }, { now: T0 })
    store.add(cid, { id: b!, multiaddrs: [], provenance: 'pubsub' }, { now: T0 + HOUR })
    assert.equal(store.get(cid, { now: T0 + 48 * HOUR - 1 }).length, 2)
    const later = store.get(cid, { now: T0 + 48 * HOUR })
    assert.deepEqual(
      later.map((r) => r.id.toString()),
      [b!.toString()]
    )
    assert.equal(store.has(cid, a!, T0 + 48 * HOUR), false)
    assert.equal(store.size, 2, 'expired records stay until pruned')
    assert.equal(store.prune(T0 + 48 * HOUR), 1)
    assert.equal(store.size, 1)
    assert.equal(store.prune(T0 + 49 * HOUR), 1)
    assert.equal(store.cidCount, 0)
  })

  it('keeps provenance, merges sources and multiaddrs, and extends expiry on a new sighting', async () => {
    const [peer] = await newPeerIds(1)
    const cid = await cidOf('provenance')
    const store = new ProviderStore()
    const addr1 = multiaddr('/ip4/127.0.0.1/tcp/4001')
    const addr2 = multiaddr('/ip4/127.0.0.1/tcp/4002/ws')
    store.add(cid, { id: peer!, multiaddrs: [addr1], provenance: 'dht' }, { now: T0 })
    const record = store.add(
      cid,
      { id: peer!, multiaddrs: [addr1, addr2], provenance: 'bitswap' },
      { now: T0 + HOUR }
    )
    assert.equal(record.provenance, 'dht')
    assert.deepEqual(record.sources, ['dht', 'bitswap'])
    assert.deepEqual(
      record.multiaddrs.map((m) => m.toString()),
      [addr1.toString(), addr2.toString()]
    )
    assert.equal(record.firstSeen, T0)
    assert.equal(record.lastSeen, T0 + HOUR)
    assert.equal(record.expiresAt, T0 + HOUR + PROVIDER_RECORD_VALIDITY_MS)
    assert.equal(store.size, 1)
    assert.equal(store.get(cid, { now: T0, provenance: 'bitswap' }).length, 1)
    assert.equal(store.get(cid, { now: T0, provenance: 'mdns' }).length, 0)
    // a short-lived hint
    const [other] = await newPeerIds(1)
    store.add(cid, { id: other!, multiaddrs: [], provenance: 'connected' }, { now: T0, validityMs: 1000 })
    assert.equal(store.get(cid, { now: T0 + 1000 }).length, 1)
  })

  it('keys by multihash, so CIDv0 and CIDv1 of the same block share providers', async () => {
    const [peer] = await newPeerIds(1)
    const digest = await sha256.digest(new TextEncoder().encode('same block'))
    const v0 = CID.createV0(digest)
    const v1 = CID.createV1(raw.code, digest)
    const v1pb = CID.createV1(dagPb.code, digest)
    const store = new ProviderStore()
    store.add(v0, { id: peer!, multiaddrs: [], provenance: 'dht' }, { now: T0 })
    assert.equal(store.get(v1pb, { now: T0 }).length, 1)
    assert.equal(store.get(v1, { now: T0 }).length, 1)
  })

  it('bounds memory: providers per CID and CIDs', async () => {
    const peers = await newPeerIds(5)
    const store = new ProviderStore({ maxProvidersPerCid: 3, maxCids: 2 })
    const cid = await cidOf('bounded')
    peers.forEach((id, i) => {
      store.add(cid, { id, multiaddrs: [], provenance: 'dht' }, { now: T0 + i })
    })
    const kept = store.get(cid, { now: T0 + 10 }).map((r) => r.id.toString())
    assert.deepEqual(kept, [peers[4]!, peers[3]!, peers[2]!].map(String), 'most recently seen first')
    assert.equal(store.size, 3)
    store.add(await cidOf('x'), { id: peers[0]!, multiaddrs: [], provenance: 'dht' }, { now: T0 })
    store.add(await cidOf('y'), { id: peers[0]!, multiaddrs: [], provenance: 'dht' }, { now: T0 })
    assert.equal(store.cidCount, 2)
    assert.equal(store.get(cid, { now: T0 }).length, 0, 'least recently updated CID evicted')
    assert.equal(store.size, 2)
    assert.equal(store.removePeer(peers[0]!), 2)
    assert.equal(store.size, 0)
  })
})

describe('DiscoveryCache', () => {
  it('answers a repeated lookup within the TTL, then misses', async () => {
    const [a, b] = await newPeerIds(2)
    const cid = await cidOf('cached')
    const cache = new DiscoveryCache()
    const found: Provider[] = [
      { id: a!, multiaddrs: [], provenance: 'dht' },
      { id: b!, multiaddrs: [], provenance: 'dht' },
      { id: a!, multiaddrs: [], provenance: 'pubsub' }
    ]
    assert.equal(cache.get(cid, T0), undefined)
    cache.set(cid, found, { now: T0 })
    const hit = cache.get(cid, T0 + DISCOVERY_CACHE_TTL_MS - 1)
    assert.deepEqual(
      hit?.map((p) => p.id.toString()),
      [a!.toString(), b!.toString()]
    )
    assert.equal(cache.get(cid, T0 + DISCOVERY_CACHE_TTL_MS), undefined)
    assert.deepEqual(cache.stats(), { hits: 1, misses: 2, size: 0 })
  })

  it('caches an empty result for the shorter negative TTL and stays bounded', async () => {
    const cache = new DiscoveryCache({ maxEntries: 2 })
    const none = await cidOf('none')
    cache.set(none, [], { now: T0 })
    assert.deepEqual(cache.get(none, T0 + DISCOVERY_CACHE_NEGATIVE_TTL_MS - 1), [])
    assert.equal(cache.get(none, T0 + DISCOVERY_CACHE_NEGATIVE_TTL_MS), undefined)
    for (const text of ['a', 'b', 'c']) cache.set(await cidOf(text), [], { now: T0 })
    assert.equal(cache.size, 2)
    assert.equal(cache.get(await cidOf('a'), T0), undefined)
    assert.equal(cache.prune(T0 + DISCOVERY_CACHE_NEGATIVE_TTL_MS), 2)
  })
})

describe('DiscoveryCache forgets bad providers at once', () => {
  it('removePeer drops a peer from every cached answer; an answer left empty is forgotten', async () => {
    const [a, b] = await newPeerIds(2)
    const cache = new DiscoveryCache()
    const [x, y, z] = [await cidOf('x'), await cidOf('y'), await cidOf('z')]
    const pa = { id: a!, multiaddrs: [], provenance: 'dht' as const }
    const pb = { id: b!, multiaddrs: [], provenance: 'bitswap' as const }
    cache.set(x, [pa, pb], { now: T0 })
    cache.set(y, [pa], { now: T0 })
    cache.set(z, [pb], { now: T0 })
    assert.equal(cache.removePeer(a!), 2)
    assert.deepEqual(
      cache.get(x, T0)?.map((p) => p.id.toString()),
      [b!.toString()]
    )
    assert.equal(cache.get(y, T0), undefined, 'an answer with no provider left is a miss, not "none found"')
    assert.equal(cache.get(z, T0)?.length, 1)
    assert.equal(cache.removePeer(a!), 0)
  })

  it('removeProvider drops a peer from one answer only', async () => {
    const [a, b] = await newPeerIds(2)
    const cache = new DiscoveryCache()
    const [x, y] = [await cidOf('x'), await cidOf('y')]
    cache.set(
      x,
      [
        { id: a!, multiaddrs: [], provenance: 'dht' },
        { id: b!, multiaddrs: [], provenance: 'dht' }
      ],
      {
        now: T0
      }
    )
    cache.set(y, [{ id: a!, multiaddrs: [], provenance: 'dht' }], { now: T0 })
    assert.equal(cache.removeProvider(x, a!), true)
    assert.equal(cache.removeProvider(x, a!), false)
    assert.equal(cache.get(x, T0)?.length, 1)
    assert.equal(cache.get(y, T0)?.length, 1, 'the other answer keeps it')
  })
})
