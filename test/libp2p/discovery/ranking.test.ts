import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import { AdaptiveBackoff } from '../../../src/libp2p/discovery/backoff.ts'
import { rankProviders, rankProvidersDetailed } from '../../../src/libp2p/discovery/ranking.ts'
import { ReputationTracker } from '../../../src/libp2p/discovery/reputation.ts'
import type { Provider } from '../../../src/libp2p/discovery/types.ts'
import { newPeerIds } from './fixtures.ts'

const T0 = 1_700_000_000_000

const provider = (id: PeerId): Provider => ({ id, multiaddrs: [], provenance: 'dht' })
const ids = (providers: Provider[]): string[] => providers.map((p) => p.id.toString())

/** Reputation where each peer has `n` successes with the given throughput (bytes per second). */
function reputationOf(peers: Array<[PeerId, number, number]>): ReputationTracker {
  const reputation = new ReputationTracker()
  for (const [peer, n, bps] of peers) {
    for (let i = 0; i < n; i++) {
      reputation.recordSuccess(peer, { now: T0, latencyMs: 100, bytes: bps, durationMs: 1000 })
    }
  }
  return reputation
}

describe('rankProviders', () => {
  it('orders by reputation (throughput included) and puts backed-off peers last', async () => {
    const [slow, fast, medium, flaky] = await newPeerIds(4)
    const reputation = reputationOf([
      [slow!, 5, 50_000],
      [fast!, 5, 20_000_000],
      [medium!, 5, 1_000_000],
      [flaky!, 5, 50_000_000]
    ])
    const backoff = new AdaptiveBackoff()
    backoff.recordFailure(flaky!, T0)
    const ranked = rankProvidersDetailed([slow!, fast!, medium!, flaky!].map(provider), {
      reputation,
      backoff,
      now: T0
    })
    assert.deepEqual(
      ranked.map((r) => r.provider.id.toString()),
      [fast!, medium!, slow!, flaky!].map(String)
    )
    assert.equal(ranked[3]?.tier, 'backed-off')
    assert.equal(ranked[3]?.nextAttemptAt, backoff.nextAttemptAt(flaky!))
    // once the backoff is over it competes again, and its throughput wins
    const later = rankProviders([slow!, fast!, medium!, flaky!].map(provider), {
      reputation,
      backoff,
      now: T0 + 60_000
    })
    assert.equal(later[0]?.id.toString(), flaky!.toString())
  })

  it('puts preferred peers first, in the given order, unless backed off', async () => {
    const [a, b, c, d] = await newPeerIds(4)
    const reputation = reputationOf([
      [a!, 5, 10_000_000],
      [b!, 5, 10_000_000]
    ])
    const backoff = new AdaptiveBackoff()
    backoff.recordFailure(d!, T0)
    const ranked = rankProvidersDetailed([a!, b!, c!, d!].map(provider), {
      reputation,
      backoff,
      preferredPeers: [d!, c!.toString(), b!],
      exploration: false,
      now: T0
    })
    assert.deepEqual(
      ranked.map((r) => [r.provider.id.toString(), r.tier]),
      [
        [c!.toString(), 'preferred'],
        [b!.toString(), 'preferred'],
        [a!.toString(), 'ranked'],
        [d!.toString(), 'backed-off']
      ]
    )
  })

  it('adds connected and affinity bonuses', async () => {
    const [a, b, c] = await newPeerIds(3)
    const order = rankProviders([a!, b!, c!].map(provider), {
      connected: new Set([b!.toString()]),
      affinity: new Map([[c!.toString(), 1]]),
      now: T0
    })
    assert.deepEqual(ids(order), [c!, b!, a!].map(String))
    const byPredicate = rankProviders([a!, b!].map(provider), { connected: (p) => p.equals(b!), now: T0 })
    assert.deepEqual(ids(byPredicate), [b!, a!].map(String))
  })

  it('gives an unexplored peer a slot in the head of the ranking', async () => {
    const peers = await newPeerIds(7)
    const known = peers.slice(0, 6)
    const newcomer = peers[6]!
    const reputation = reputationOf(known.map((p) => [p, 10, 5_000_000]))
    const candidates = [...known, newcomer].map(provider)
    assert.ok(reputation.score(newcomer, T0) < reputation.score(known[0]!, T0))

    // no exploration: the newcomer (score 0.5) is last
    const plain = rankProviders(candidates, { reputation, exploration: false, now: T0 })
    assert.equal(plain.at(-1)?.id.toString(), newcomer.toString())

    // count 3: the last of the 3 slots is reserved for it
    const three = rankProvidersDetailed(candidates, { reputation, count: 3, now: T0 })
    assert.equal(three.length, 3)
    assert.equal(three[2]?.provider.id.toString(), newcomer.toString())
    assert.equal(three[2]?.tier, 'exploration')

    // a single slot: explored with probability epsilon
    const explored = rankProviders(candidates, { reputation, count: 1, random: () => 0.01, now: T0 })
    assert.equal(explored[0]?.id.toString(), newcomer.toString())
    const exploited = rankProviders(candidates, { reputation, count: 1, random: () => 0.5, now: T0 })
    assert.equal(exploited[0]?.id.toString(), known[0]!.toString())

    // once it has enough observations it is ranked on merit
    for (let i = 0; i < 3; i++) reputation.recordFailure(newcomer, { now: T0 })
    const merit = rankProviders(candidates, { reputation, count: 3, now: T0 })
    assert.ok(!ids(merit).includes(newcomer.toString()))

    // a backed-off newcomer is never explored
    const [other] = await newPeerIds(1)
    const backoff = new AdaptiveBackoff()
    backoff.recordFailure(other!, T0)
    const skipped = rankProviders([...known, other!].map(provider), {
      reputation,
      backoff,
      count: 3,
      now: T0
    })
    assert.ok(!ids(skipped).includes(other!.toString()))
  })

  it('de-duplicates candidates and keeps arrival order without any source', async () => {
    const [a, b, c] = await newPeerIds(3)
    const order = rankProviders([a!, b!, a!, c!].map(provider), { now: T0 })
    assert.deepEqual(ids(order), [a!, b!, c!].map(String))
    assert.deepEqual(rankProviders([], {}), [])
  })
})
