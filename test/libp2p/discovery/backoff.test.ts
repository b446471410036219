import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  BACKOFF_BASE_MS,
  BACKOFF_JITTER,
  BACKOFF_MAX_MS,
  BACKOFF_RESET_AFTER_MS
} from '../../../src/constants.ts'
import { AdaptiveBackoff } from '../../../src/libp2p/discovery/backoff.ts'
import { newPeerIds } from './fixtures.ts'

const T0 = 1_700_000_000_000

describe('AdaptiveBackoff', () => {
  it('grows exponentially within the jitter bounds and caps', async () => {
    const [peer] = await newPeerIds(1)
    const backoff = new AdaptiveBackoff()
    let now = T0
    const delays: number[] = []
    for (let level = 1; level <= 15; level++) {
      const next = backoff.recordFailure(peer!, now)
      const delay = next - now
      const nominal = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (level - 1))
      assert.equal(backoff.nominalDelay(level), nominal)
      assert.ok(
        delay <= nominal && delay > nominal * (1 - BACKOFF_JITTER),
        `level ${level}: ${delay} vs ${nominal}`
      )
      assert.equal(backoff.level(peer!, now), level)
      assert.equal(backoff.isBackedOff(peer!, now), true)
      assert.equal(backoff.isBackedOff(peer!, next - 1), true)
      assert.equal(backoff.isBackedOff(peer!, next), false)
      assert.equal(backoff.nextAttemptAt(peer!), next)
      delays.push(delay)
      now = next // retry as soon as allowed, fail again
    }
    // the nominal delay doubles until the cap, which is never exceeded
    assert.equal(backoff.nominalDelay(10), BACKOFF_BASE_MS * 512)
    assert.equal(backoff.nominalDelay(11), BACKOFF_MAX_MS)
    assert.ok(delays.every((d) => d <= BACKOFF_MAX_MS))
    assert.ok(delays[14]! > BACKOFF_MAX_MS * (1 - BACKOFF_JITTER))
  })

  it('applies jitter from the injected randomness: (d × (1 − jitter), d]', async () => {
    const [peer] = await newPeerIds(1)
    const none = new AdaptiveBackoff({ baseMs: 100 }, { random: () => 0 })
    const most = new AdaptiveBackoff({ baseMs: 100, jitter: 0.5 }, { random: () => 0.999 })
    assert.equal(none.recordFailure(peer!, T0) - T0, 100)
    assert.equal(none.recordFailure(peer!, T0) - T0, 200)
    const delay = most.recordFailure(peer!, T0) - T0
    assert.ok(delay > 50 && delay < 51)
  })

  it('resets on success and after a quiet period', async () => {
    const [peer] = await newPeerIds(1)
    const backoff = new AdaptiveBackoff({}, { random: () => 0 })
    for (let i = 0; i < 5; i++) backoff.recordFailure(peer!, T0)
    assert.equal(backoff.level(peer!, T0), 5)
    backoff.recordSuccess(peer!)
    assert.equal(backoff.level(peer!, T0), 0)
    assert.equal(backoff.isBackedOff(peer!, T0), false)
    assert.equal(backoff.nextAttemptAt(peer!), undefined)
    assert.equal(backoff.recordFailure(peer!, T0) - T0, BACKOFF_BASE_MS)

    for (let i = 0; i < 4; i++) backoff.recordFailure(peer!, T0)
    const quiet = T0 + BACKOFF_RESET_AFTER_MS + 1
    assert.equal(backoff.level(peer!, quiet), 0)
    assert.equal(backoff.recordFailure(peer!, quiet) - quiet, BACKOFF_BASE_MS)
    assert.equal(backoff.prune(quiet + BACKOFF_RESET_AFTER_MS + 1), 1)
  })

  it('reports peers in backoff and per-peer levels', async () => {
    const [a, b, c] = await newPeerIds(3)
    const backoff = new AdaptiveBackoff({}, { random: () => 0 })
    backoff.recordFailure(a!, T0)
    backoff.recordFailure(b!, T0)
    backoff.recordFailure(b!, T0)
    backoff.recordFailure(c!, T0 - 10 * BACKOFF_BASE_MS) // already expired at T0
    const stats = backoff.stats(T0)
    assert.equal(stats.peersInBackoff, 2)
    assert.equal(stats.tracked, 3)
    const levels = new Map(stats.peers.map((p) => [p.peerId.toString(), p.level]))
    assert.equal(levels.get(a!.toString()), 1)
    assert.equal(levels.get(b!.toString()), 2)
    assert.equal(levels.get(c!.toString()), 1)
    assert.equal(backoff.peersInBackoff(T0 + BACKOFF_MAX_MS), 0)
  })

  it('keeps a bounded number of peers', async () => {
    const peers = await newPeerIds(5)
    const backoff = new AdaptiveBackoff({ maxPeers: 3 })
    for (const peer of peers) backoff.recordFailure(peer, T0)
    assert.equal(backoff.stats(T0).tracked, 3)
    assert.equal(backoff.nextAttemptAt(peers[0]!), undefined)
    assert.ok(backoff.nextAttemptAt(peers[4]!) !== undefined)
  })
})
