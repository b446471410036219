import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import { KBucketView } from '../../../src/libp2p/discovery/k-buckets.ts'
import {
  BucketRefreshScheduler,
  type RefreshSchedulerInit,
  refreshIntervalFor
} from '../../../src/libp2p/discovery/refresh.ts'
import { flush, leadingCommonBits, newPeerId, sha256Bytes } from './fixtures.ts'

const MINUTE = 60_000
const TOP = 8
const INIT: RefreshSchedulerInit = {
  farthestIntervalMs: 30 * MINUTE,
  intervalStepMs: 3 * MINUTE,
  minIntervalMs: 2 * MINUTE,
  maxIndex: TOP,
  queryTimeoutMs: MINUTE
}

/** A view over real peers with every bucket from 0 to TOP occupied (random ids: fill until so). */
async function populatedView(): Promise<{ view: KBucketView; peers: PeerId[] }> {
  const view = new KBucketView({ peerId: await newPeerId() })
  const peers: PeerId[] = []
  const allOccupied = (): boolean => {
    for (let i = 0; i <= TOP; i++) if (view.bucket(i).length === 0) return false
    return true
  }
  for (let i = 0; i < 20_000 && !allOccupied(); i++) {
    const peer = await newPeerId()
    if (view.add(peer, 0) === 'added') peers.push(peer)
  }
  assert.ok(allOccupied(), 'every bucket 0..TOP has a peer')
  return { view, peers }
}

/** Advance the mocked clock by `ms` in one-second steps, letting async refreshes run. */
async function advance(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    mock.timers.tick(1000)
    await flush()
  }
}

describe('BucketRefreshScheduler', () => {
  let fixture: { view: KBucketView; peers: PeerId[] }

  beforeEach(async () => {
    fixture = await populatedView()
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 })
  })

  afterEach(() => {
    mock.timers.reset()
  })

  it('nominal intervals shorten with nearness down to the minimum', () => {
    assert.equal(refreshIntervalFor(0, INIT), 30 * MINUTE)
    assert.equal(refreshIntervalFor(1, INIT), 27 * MINUTE)
    assert.equal(refreshIntervalFor(9, INIT), 3 * MINUTE)
    assert.equal(refreshIntervalFor(20, INIT), 2 * MINUTE)
    for (let i = 1; i < 40; i++) assert.ok(refreshIntervalFor(i) <= refreshIntervalFor(i - 1))
  })

  it('refreshes nearer buckets more often than farther ones over an hour, with jitter', async () => {
    const calls = new Array<number>(TOP + 1).fill(0)
    const scheduler = new BucketRefreshScheduler(
      {
        buckets: fixture.view,
        refreshBucket: async (index, key, { signal }) => {
          assert.equal(signal.aborted, false)
          // the key handed over really lands in that bucket once kad-dht hashes it
          assert.equal(leadingCommonBits(fixture.view.localKey, sha256Bytes(key)), index)
          calls[index] = (calls[index] ?? 0) + 1
        }
      },
      { ...INIT, jitter: 0.1 }
    )
    scheduler.start()
    await advance(60 * MINUTE)
    await scheduler.stop()
    // with ±10 % jitter: bucket 0 (30 min) 1–2 times, bucket 4 (18 min) 3 times, bucket 8 (6 min) ~10 times
    assert.ok(calls[0]! < calls[4]!, `calls ${calls}`)
    assert.ok(calls[4]! < calls[8]!, `calls ${calls}`)
    assert.ok(calls[8]! >= 9, `calls ${calls}`)
    const metrics = scheduler.metrics()
    assert.equal(
      metrics.started,
      calls.reduce((a, b) => a + b, 0)
    )
    assert.equal(metrics.completed, metrics.started)
  })

  it('without jitter refreshes each bucket exactly once per interval, and start() is idempotent', async () => {
    const calls = new Array<number>(TOP + 1).fill(0)
    const scheduler = new BucketRefreshScheduler(
      {
        buckets: fixture.view,
        refreshBucket: async (index) => {
          calls[index] = (calls[index] ?? 0) + 1
        }
      },
      { ...INIT, jitter: 0 }
    )
    scheduler.start()
    scheduler.start()
    await advance(60 * MINUTE)
    await scheduler.stop()
    await scheduler.stop()
    const expected = calls.map((_, i) => Math.floor((60 * MINUTE) / refreshIntervalFor(i, INIT)))
    assert.deepEqual(calls, expected)
    for (let i = 1; i <= TOP; i++) assert.ok(calls[i]! >= calls[i - 1]!)
  })

  it('skips a bucket that had traffic within its interval', async () => {
    const calls = new Array<number>(TOP + 1).fill(0)
    const busy = fixture.view.bucketIndexOf(fixture.peers.find((p) => fixture.view.bucketIndexOf(p) === 3)!)
    assert.equal(busy, 3)
    const busyPeer = fixture.view.bucket(3)[0]!.peerId
    const scheduler = new BucketRefreshScheduler(
      {
        buckets: fixture.view,
        refreshBucket: async (index) => {
          calls[index] = (calls[index] ?? 0) + 1
        }
      },
      { ...INIT, jitter: 0 }
    )
    scheduler.start()
    for (let minute = 0; minute < 60; minute++) {
      fixture.view.touch(busyPeer) // a lookup response from a peer in bucket 3, every minute
      await advance(MINUTE)
    }
    await scheduler.stop()
    assert.equal(calls[3], 0, `calls ${calls}`)
    assert.ok(calls[2]! > 0 && calls[4]! > 0)
    assert.ok(scheduler.metrics().skippedRecentTraffic > 0)
  })

  it('stop() clears every timer and aborts a running refresh', async () => {
    let calls = 0
    let abortedBy: unknown
    const scheduler = new BucketRefreshScheduler(
      {
        buckets: fixture.view,
        refreshBucket: async (_index, _key, { signal }) => {
          calls++
          // a slow lookup that only ends when aborted
          await new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => {
              abortedBy = signal.reason
              resolve()
            })
          })
        }
      },
      { ...INIT, jitter: 0 }
    )
    scheduler.start()
    await advance(6 * MINUTE) // bucket 8 is due at 6 min
    assert.equal(calls, 1)
    await scheduler.stop()
    assert.ok(abortedBy !== undefined)
    assert.equal(scheduler.isStarted(), false)
    await advance(60 * MINUTE)
    assert.equal(calls, 1)
    assert.equal(scheduler.metrics().failed, 1)
  })

  it('times a hung refresh out after queryTimeoutMs and moves on', async () => {
    const started: number[] = []
    const scheduler = new BucketRefreshScheduler(
      {
        buckets: fixture.view,
        refreshBucket: async (index, _key, { signal }) => {
          started.push(index)
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))
        }
      },
      { ...INIT, jitter: 0 }
    )
    scheduler.start()
    await advance(20 * MINUTE)
    await scheduler.stop()
    // each refresh hangs for the 1-minute timeout, yet refreshes keep happening
    assert.ok(started.length >= 5, `started ${started}`)
    assert.ok(scheduler.metrics().failed >= 4)
  })
})
