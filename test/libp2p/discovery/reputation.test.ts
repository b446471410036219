import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import {
  REPUTATION_DATASTORE_PREFIX,
  REPUTATION_FLAG_DURATION_MS,
  REPUTATION_FLAGGED_SCORE_CAP,
  REPUTATION_HALF_LIFE_MS
} from '../../../src/constants.ts'
import { percentile, ReputationTracker } from '../../../src/libp2p/discovery/reputation.ts'
import { newPeerIds } from './fixtures.ts'

const T0 = 1_700_000_000_000

describe('ReputationTracker', () => {
  it('scores an unknown peer 0.5: neither trusted nor banned', async () => {
    const [peer] = await newPeerIds(1)
    const reputation = new ReputationTracker()
    assert.equal(reputation.score(peer!, T0), 0.5)
    assert.equal(reputation.observations(peer!), 0)
    assert.equal(reputation.stats(peer!, T0), undefined)
  })

  it('puts a peer that fails every request below others, and lets it recover after successes', async () => {
    const [failing, good, unknown] = await newPeerIds(3)
    const reputation = new ReputationTracker()
    for (let i = 0; i < 10; i++) {
      reputation.recordFailure(failing!, { now: T0 + i })
      reputation.recordSuccess(good!, { now: T0 + i, latencyMs: 80, bytes: 256 * 1024, durationMs: 100 })
    }
    const now = T0 + 10
    assert.ok(reputation.score(failing!, now) < reputation.score(unknown!, now))
    assert.ok(reputation.score(unknown!, now) < reputation.score(good!, now))
    assert.ok(reputation.score(failing!, now) < 0.35)

    for (let i = 0; i < 30; i++) reputation.recordSuccess(failing!, { now: now + i, latencyMs: 80 })
    assert.ok(reputation.score(failing!, now + 30) > 0.5, 'recovered above the prior')
    const stats = reputation.stats(failing!, now + 30)
    assert.equal(stats?.observations, 40)
    assert.equal(stats?.lastFailureAt, T0 + 9)
    assert.equal(stats?.lastSuccessAt, now + 29)
  })

  it('penalises a verification failure hard and flags the peer for the flag duration', async () => {
    const [liar, flaky] = await newPeerIds(2)
    const reputation = new ReputationTracker()
    for (let i = 0; i < 20; i++) {
      reputation.recordSuccess(liar!, { now: T0, latencyMs: 20, bytes: 1 << 20, durationMs: 100 })
    }
    reputation.recordFailure(flaky!, { now: T0 })
    reputation.recordVerificationFailure(liar!, { now: T0 })
    assert.ok(reputation.isFlagged(liar!, T0 + 1))
    assert.ok(reputation.score(liar!, T0 + 1) <= REPUTATION_FLAGGED_SCORE_CAP)
    assert.ok(reputation.score(liar!, T0 + 1) < reputation.score(flaky!, T0 + 1))
    const stats = reputation.stats(liar!, T0 + 1)
    assert.equal(stats?.flagged, true)
    assert.equal(stats?.verificationFailures, 1)
    assert.ok((stats?.failures ?? 0) >= 9.9, 'counts as many failures')

    const later = T0 + REPUTATION_FLAG_DURATION_MS
    assert.equal(reputation.isFlagged(liar!, later), false)
    assert.ok(reputation.score(liar!, later) > REPUTATION_FLAGGED_SCORE_CAP)
  })

  it('decays toward the prior with the half-life', async () => {
    const [bad, good] = await newPeerIds(2)
    const reputation = new ReputationTracker()
    for (let i = 0; i < 20; i++) {
      reputation.recordFailure(bad!, { now: T0 })
      reputation.recordSuccess(good!, { now: T0, latencyMs: 10, bytes: 4 << 20, durationMs: 100 })
    }
    let previousBad = reputation.score(bad!, T0)
    let previousGood = reputation.score(good!, T0)
    assert.ok(previousBad < 0.3 && previousGood > 0.8)
    for (let halfLives = 1; halfLives <= 12; halfLives++) {
      const now = T0 + halfLives * REPUTATION_HALF_LIFE_MS
      const scoreBad = reputation.score(bad!, now)
      const scoreGood = reputation.score(good!, now)
      assert.ok(scoreBad > previousBad && scoreBad < 0.5)
      assert.ok(scoreGood < previousGood && scoreGood > 0.5)
      previousBad = scoreBad
      previousGood = scoreGood
    }
    assert.ok(Math.abs(previousBad - 0.5) < 0.01)
    assert.ok(Math.abs(previousGood - 0.5) < 0.01)
    // one half-life halves the decayed counts
    assert.ok(Math.abs((reputation.stats(bad!, T0 + REPUTATION_HALF_LIFE_MS)?.failures ?? 0) - 10) < 1e-9)
  })

  it('weighs throughput, not only latency, and keeps latency EWMA and p95', async () => {
    const [fastLink, quickPing] = await newPeerIds(2)
    const reputation = new ReputationTracker()
    for (let i = 0; i < 10; i++) {
      // 300 ms to first byte but 10 MiB/s
      reputation.recordSuccess(fastLink!, { now: T0, latencyMs: 300, bytes: 10 << 20, durationMs: 1000 })
      // 50 ms to first byte but 100 KiB/s
      reputation.recordSuccess(quickPing!, { now: T0, latencyMs: 50, bytes: 100 << 10, durationMs: 1000 })
    }
    assert.ok(reputation.score(fastLink!, T0) > reputation.score(quickPing!, T0))
    assert.equal(reputation.stats(fastLink!, T0)?.throughputEwmaBps, 10 << 20)
    assert.equal(reputation.stats(fastLink!, T0)?.bytesServed, 10 * (10 << 20))

    const reservoir = new ReputationTracker({ latencySamples: 32 })
    for (let ms = 1; ms <= 40; ms++) reservoir.recordSuccess(fastLink!, { now: T0, latencyMs: ms })
    // the ring keeps 9..40; nearest-rank p95 of 32 samples is the 31st: 39
    assert.equal(reservoir.stats(fastLink!, T0)?.latencyP95Ms, 39)
    const ewma = reservoir.stats(fastLink!, T0)?.latencyEwmaMs ?? 0
    assert.ok(ewma > 30 && ewma < 40)
    assert.equal(percentile([], 0.95), undefined)
    // without durationMs the latency is taken as the transfer time
    const oneBlock = new ReputationTracker()
    oneBlock.recordSuccess(quickPing!, { now: T0, latencyMs: 500, bytes: 1 << 20 })
    assert.equal(oneBlock.stats(quickPing!, T0)?.throughputEwmaBps, 2 << 20)
  })

  it('keeps a bounded number of peers, evicting the least recently seen', async () => {
    const [a, b, c] = await newPeerIds(3)
    const reputation = new ReputationTracker({ maxPeers: 2 })
    reputation.recordSuccess(a!, { now: T0 })
    reputation.recordSuccess(b!, { now: T0 + 1 })
    reputation.seen(a!, T0 + 2)
    reputation.recordFailure(c!, { now: T0 + 3 })
    assert.equal(reputation.size, 2)
    assert.ok(reputation.has(a!) && reputation.has(c!) && !reputation.has(b!))
  })

  it('saves and loads through a real datastore-level, keeping scores', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipfs-kit-reputation-'))
    const datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    try {
      const peers = await newPeerIds(4)
      const [good, bad, liar, gone] = peers
      const reputation = new ReputationTracker()
      for (let i = 0; i < 5; i++) {
        reputation.recordSuccess(good!, { now: T0 + i, latencyMs: 40 + i, bytes: 1 << 20, durationMs: 200 })
        reputation.recordFailure(bad!, { now: T0 + i })
      }
      reputation.recordVerificationFailure(liar!, { now: T0 })
      reputation.seen(gone!, T0)
      assert.equal(await reputation.save(datastore), 4)
      assert.equal(await reputation.save(datastore), 0, 'nothing changed: nothing written')
      reputation.forget(gone!)
      assert.equal(await reputation.save(datastore), 0)
      assert.equal(
        await datastore.has(new Key(`${REPUTATION_DATASTORE_PREFIX}/${gone!.toString()}`)),
        false,
        'a forgotten peer is deleted from the store'
      )
      // an unreadable record under the prefix is skipped
      await datastore.put(
        new Key(`${REPUTATION_DATASTORE_PREFIX}/garbage`),
        new TextEncoder().encode('{nope')
      )

      const restored = new ReputationTracker()
      assert.equal(await restored.load(datastore), 3)
      const now = T0 + 60_000
      for (const peer of [good!, bad!, liar!]) {
        assert.equal(restored.score(peer, now), reputation.score(peer, now))
        assert.deepEqual(restored.stats(peer, now), reputation.stats(peer, now))
      }
      assert.equal(restored.isFlagged(liar!, now), true)
      assert.equal(restored.has(gone!), false)
    } finally {
      await datastore.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
  it('two trackers saving to one datastore never erase each other; each deletes only what it evicted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipfs-kit-reputation-'))
    const datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    const count = async (): Promise<number> => {
      let n = 0
      for await (const _ of datastore.queryKeys({ prefix: `${REPUTATION_DATASTORE_PREFIX}/` })) n++
      return n
    }
    try {
      const [a, b, c, d] = await newPeerIds(4)
      const first = new ReputationTracker()
      const second = new ReputationTracker({ maxPeers: 1 })
      first.recordSuccess(a!, { now: T0 })
      first.recordSuccess(b!, { now: T0 })
      await first.save(datastore)
      second.recordFailure(c!, { now: T0 })
      await second.save(datastore)
      assert.equal(await count(), 3, "the second tracker's save kept the first one's records")
      first.recordSuccess(a!, { now: T0 + 1 })
      await first.save(datastore)
      assert.equal(await count(), 3)
      // the second evicts c (its bound is 1) for d: it deletes c, and only c
      second.recordFailure(d!, { now: T0 + 2 })
      await second.save(datastore)
      const restored = new ReputationTracker()
      await restored.load(datastore)
      assert.deepEqual(
        new Set(restored.peers().map(String)),
        new Set([a, b, d].map(String)),
        'c was evicted and deleted; a and b (never held by the second tracker) are kept'
      )
      // loading past the bound keeps the most recently seen and deletes the rest on the next save
      const small = new ReputationTracker({ maxPeers: 2 })
      await small.load(datastore)
      assert.equal(small.size, 2)
      await small.save(datastore)
      assert.equal(await count(), 2, 'the datastore is trimmed to the bound')
    } finally {
      await datastore.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('prune forgets peers idle past maxIdleMs, except flagged ones', async () => {
    const [idle, flagged, recent] = await newPeerIds(3)
    const reputation = new ReputationTracker({ maxIdleMs: 1_000, flagDurationMs: 10_000 })
    reputation.recordSuccess(idle!, { now: T0 })
    reputation.recordVerificationFailure(flagged!, { now: T0 })
    reputation.recordSuccess(recent!, { now: T0 + 900 })
    assert.equal(reputation.prune(T0 + 1_000), 1)
    assert.ok(!reputation.has(idle!) && reputation.has(flagged!) && reputation.has(recent!))
  })
})
