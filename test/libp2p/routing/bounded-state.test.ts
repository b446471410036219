/**
 * Every map of the routing layer keyed by peer or CID is bounded in size and in age: 10,000
 * peer ids and 100,000 CIDs churned through discovery and routing (provider records, outcomes,
 * affinity, wants, lookups, block fetches, announcements) leave every structure under its
 * bound, no work in progress behind, and a prune a week later leaves nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import type { StateSizes } from '../../../src/libp2p/discovery/types.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { bitswapOf } from '../../../src/libp2p/routing/bitswap-access.ts'
import type { RequestOutcome } from '../../../src/libp2p/routing/hedged-fetcher.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { recentWantsOf } from '../../../src/libp2p/routing/recent-wants.ts'

const PEERS = 10_000
const CIDS = 100_000
/** a bound of its own for the re-announce set, so that the churn passes it quickly */
const MAX_REPROVIDED = 500
/** block fetches, each to a peer never seen (twice the bound on per-peer hedge timeouts) */
const FETCHES = 2_000

function assertUnderBounds(sizes: StateSizes, when: string): void {
  for (const [name, { size, max }] of Object.entries(sizes)) {
    assert.ok(Number.isFinite(max) && max > 0, `${name} has a finite bound (${max})`)
    assert.ok(size <= max, `${when}: ${name} holds ${size}, over its bound ${max}`)
  }
}

/** `n` CIDs of raw blocks no other part of the test uses. */
async function freshCids(label: string, n: number): Promise<CID[]> {
  const out: CID[] = []
  for (let i = 0; i < n; i++) {
    out.push(CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`${label} ${i}`))))
  }
  return out
}

/** Run `fn` over `items`, `concurrency` at a time. */
async function eachLimit<T>(
  items: T[],
  concurrency: number,
  fn: (item: T, i: number) => Promise<void>
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++
        await fn(items[i]!, i)
      }
    })
  )
}

describe('routing state is bounded in size and age', () => {
  let peer: IPFSLibp2pPeer
  let discovery: EnhancedDHTDiscovery
  let router: ContentRoutingManager
  const peers: PeerId[] = []
  const cids: CID[] = []

  before(async () => {
    for (let i = 0; i < PEERS; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')))
    cids.push(...(await freshCids('churn', CIDS)))
    peer = new IPFSLibp2pPeer({ role: 'master', profile: 'local' })
    discovery = new EnhancedDHTDiscovery(peer)
    router = new ContentRoutingManager(discovery, peer, { maxReprovided: MAX_REPROVIDED })
    await router.start()
  })
  after(async () => {
    await router?.stop()
    await discovery?.stop()
    await peer?.stop()
  })

  it(`churns ${PEERS} peer ids and ${CIDS} CIDs: every map stays under its bound, then ages out`, async () => {
    const recent = recentWantsOf(bitswapOf(peer.helia).bitswap.wantList)
    const kinds: RequestOutcome[] = [
      { kind: 'success', latencyMs: 20, bytes: 1024 },
      { kind: 'dont-have', latencyMs: 5 },
      { kind: 'slow', latencyMs: 300 },
      { kind: 'timeout', latencyMs: 4000 },
      { kind: 'error', latencyMs: 1, error: new Error('refused') },
      { kind: 'corrupt', latencyMs: 10 }
    ]
    // every CID: a provider record, affinity to a DAG, a want noted
    for (let i = 0; i < CIDS; i++) {
      const p = peers[i % PEERS]!
      const cid = cids[i]!
      discovery.addProvider(cid, { id: p, multiaddrs: [], provenance: i % 2 === 0 ? 'pubsub' : 'dht' })
      discovery.recordServed(p, cid, cids[i % 997])
      recent.note(p, cid)
    }
    assertUnderBounds(router.stateSizes(), 'after provider records, affinity and wants')
    // every peer: a request left unanswered, then outcomes of every kind
    for (let j = 0; j < PEERS; j++) discovery.recordOutcome(peers[j]!, kinds[2]!, cids[j]!)
    assertUnderBounds(router.stateSizes(), 'after unanswered requests')
    for (let j = 0; j < PEERS; j++) discovery.recordOutcome(peers[j]!, kinds[j % kinds.length]!, cids[j]!)
    assertUnderBounds(router.stateSizes(), 'after outcomes')

    // lookups that end in cached answers (a provider record each, then the network: nobody);
    // CIDs of their own, with no affinity (which would answer them without a lookup)
    const lookups = await freshCids('lookup', 3_000)
    await eachLimit(lookups, 16, async (cid, i) => {
      discovery.addProvider(cid, { id: peers[i]!, multiaddrs: [], provenance: 'dht' })
      for await (const _ of discovery.findProviders(cid, { signal: AbortSignal.timeout(30_000) })) {
        // drain
      }
    })
    assertUnderBounds(router.stateSizes(), 'after lookups')
    assert.ok(router.stateSizes()['discovery.cache']!.size > 0, 'lookups were cached')

    // block fetches, each from a peer never seen before (the dial fails: nothing listens), of
    // CIDs nobody is known to hold (else every known holder would be tried too)
    const fetched = await freshCids('fetch', FETCHES)
    await eachLimit(peers.slice(0, FETCHES), 32, async (p, i) => {
      await router
        .fetchBlock(fetched[i]!, { preferredPeers: [p], signal: AbortSignal.timeout(10_000) })
        .catch(() => {})
    })
    assertUnderBounds(router.stateSizes(), 'after fetches')
    assert.equal(
      router.stateSizes()['routing.fetcher.timeouts']!.size,
      router.stateSizes()['routing.fetcher.timeouts']!.max
    )

    // announcements of held content, three times the re-announce bound
    for (let i = 0; i < 3 * MAX_REPROVIDED; i++) {
      const cid = cids[90_000 + i]!
      await peer.helia.blockstore.put(cid, new TextEncoder().encode(`churn ${90_000 + i}`))
      await router.announceContent(cid)
    }
    const sizes = router.stateSizes()
    assertUnderBounds(sizes, 'after announcements')
    assert.equal(sizes['routing.announced']!.size, MAX_REPROVIDED)
    console.log(
      'state after the churn:',
      Object.entries(sizes)
        .map(([k, v]) => `${k} ${v.size}/${v.max}`)
        .join(', ')
    )

    // no work left in progress
    for (const [name, size] of Object.entries(router.inFlightSizes())) {
      assert.equal(size, 0, `${name} is empty when idle`)
    }

    // a week later, everything keyed by peer or CID has aged out
    discovery.prune(Date.now() + 8 * 24 * 60 * 60_000)
    for (const [name, { size }] of Object.entries(router.stateSizes())) {
      // the k-bucket view mirrors kad-dht's table (it is not aged but bounded); announced content
      // stays while held (it is checked at every re-announce round); the rate limit ages on its own
      if (
        name === 'discovery.buckets' ||
        name === 'routing.announced' ||
        name === 'routing.announceRateLimit'
      )
        continue
      // per-peer pace and protocol support: least recently used maps under a fixed bound
      if (name === 'routing.fetcher.timeouts' || name === 'routing.fetcher.speaks') continue
      assert.equal(size, 0, `${name} is empty a week later`)
    }
  })
})
