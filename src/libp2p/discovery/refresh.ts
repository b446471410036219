/**
 * Refresh of the k-buckets by distance: nearer buckets (higher index) are refreshed more often
 * than distant ones, a bucket that had traffic within its interval is not refreshed, and each
 * refresh is a lookup the caller runs (usually kad-dht's `getClosestPeers`).
 *
 * @packageDocumentation
 */

import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import {
  DISCOVERY_REFRESH_FARTHEST_INTERVAL_MS,
  DISCOVERY_REFRESH_INTERVAL_STEP_MS,
  DISCOVERY_REFRESH_JITTER,
  DISCOVERY_REFRESH_MAX_INDEX,
  DISCOVERY_REFRESH_MIN_INTERVAL_MS,
  DISCOVERY_REFRESH_QUERY_TIMEOUT_MS
} from '../../constants.ts'
import { TimeoutError } from '../../errors.ts'
import { kitLogger } from '../../logger.ts'
import type { RefreshMetrics } from './types.ts'

/**
 * Runs one refresh lookup for bucket `index`. `key` is a lookup key whose SHA-256 lies in that
 * bucket (see `KBucketView.lookupKeyForBucket`): pass it to kad-dht's `getClosestPeers(key)`.
 * Must honour `signal` (aborted on `stop()` and after the query timeout).
 */
export type RefreshBucketFn = (
  index: number,
  key: Uint8Array,
  options: { signal: AbortSignal }
) => Promise<void>

/** What the scheduler needs from the bucket view ({@link KBucketView} satisfies it). */
export interface RefreshTarget {
  /** highest bucket index with a live entry, -1 if none */
  highestOccupiedIndex(): number
  /** when the bucket last had traffic, ms since the epoch */
  lastTrafficAt(index: number): number | undefined
  /** a key to look up that lands in bucket `index` */
  lookupKeyForBucket(index: number, options?: { signal?: AbortSignal }): Promise<Uint8Array>
}

/** Options of {@link BucketRefreshScheduler}. */
export interface RefreshSchedulerInit {
  /** interval of bucket 0 (the farthest). @default DISCOVERY_REFRESH_FARTHEST_INTERVAL_MS (60 min) */
  farthestIntervalMs?: number
  /** how much shorter each nearer bucket's interval is. @default DISCOVERY_REFRESH_INTERVAL_STEP_MS (5 min) */
  intervalStepMs?: number
  /** shortest interval. @default DISCOVERY_REFRESH_MIN_INTERVAL_MS (10 min) */
  minIntervalMs?: number
  /** relative jitter on each interval, 0..1. @default DISCOVERY_REFRESH_JITTER (0.1) */
  jitter?: number
  /** highest bucket index refreshed. @default DISCOVERY_REFRESH_MAX_INDEX (15) */
  maxIndex?: number
  /** timeout of one refresh lookup. @default DISCOVERY_REFRESH_QUERY_TIMEOUT_MS (30 s) */
  queryTimeoutMs?: number
}

/** Dependencies of {@link BucketRefreshScheduler}. */
export interface RefreshSchedulerComponents {
  buckets: RefreshTarget
  refreshBucket: RefreshBucketFn
  logger?: ComponentLogger
  /** source of randomness for jitter, [0, 1). Defaults to `Math.random`. */
  random?: () => number
}

/**
 * The nominal (unjittered) refresh interval of bucket `index`:
 * `max(minIntervalMs, farthestIntervalMs - index * intervalStepMs)`.
 */
export function refreshIntervalFor(index: number, init: RefreshSchedulerInit = {}): number {
  const farthest = init.farthestIntervalMs ?? DISCOVERY_REFRESH_FARTHEST_INTERVAL_MS
  const step = init.intervalStepMs ?? DISCOVERY_REFRESH_INTERVAL_STEP_MS
  const min = init.minIntervalMs ?? DISCOVERY_REFRESH_MIN_INTERVAL_MS
  return Math.max(min, farthest - index * step)
}

/**
 * Schedules bucket refreshes. Buckets 0..min(highest occupied, maxIndex) are tracked (the empty
 * ones in between are the ones a refresh can fill, as in kad-dht). Each has a due time of
 * "last refresh (or traffic) + jittered interval". One timer fires at the earliest due time (at
 * the latest every `minIntervalMs`, to pick up newly occupied buckets); due buckets without
 * recent traffic are queued and refreshed one at a time.
 *
 * @example
 * ```ts
 * const scheduler = new BucketRefreshScheduler({
 *   buckets: view,
 *   refreshBucket: async (index, key, { signal }) => {
 *     for await (const evt of dht.getClosestPeers(key, { signal })) { ... }
 *   }
 * })
 * await scheduler.start()
 * ```
 */
export class BucketRefreshScheduler implements Startable {
  readonly #buckets: RefreshTarget
  readonly #refreshBucket: RefreshBucketFn
  readonly #log: Logger
  readonly #random: () => number
  readonly #init: Required<RefreshSchedulerInit>
  readonly #dueAt = new Map<number, number>()
  readonly #queue: number[] = []
  readonly #queued = new Set<number>()
  readonly #metrics: RefreshMetrics = { started: 0, completed: 0, failed: 0, skippedRecentTraffic: 0 }
  #timer: ReturnType<typeof setTimeout> | undefined
  #controller: AbortController | undefined
  #draining: Promise<void> | undefined

  constructor(components: RefreshSchedulerComponents, init: RefreshSchedulerInit = {}) {
    this.#buckets = components.buckets
    this.#refreshBucket = components.refreshBucket
    this.#log = (components.logger ?? kitLogger()).forComponent('kit:discovery:refresh')
    this.#random = components.random ?? Math.random
    this.#init = {
      farthestIntervalMs: init.farthestIntervalMs ?? DISCOVERY_REFRESH_FARTHEST_INTERVAL_MS,
      intervalStepMs: init.intervalStepMs ?? DISCOVERY_REFRESH_INTERVAL_STEP_MS,
      minIntervalMs: init.minIntervalMs ?? DISCOVERY_REFRESH_MIN_INTERVAL_MS,
      jitter: Math.min(1, Math.max(0, init.jitter ?? DISCOVERY_REFRESH_JITTER)),
      maxIndex: init.maxIndex ?? DISCOVERY_REFRESH_MAX_INDEX,
      queryTimeoutMs: init.queryTimeoutMs ?? DISCOVERY_REFRESH_QUERY_TIMEOUT_MS
    }
  }

  /** Start scheduling. A second call does nothing. */
  start(): void {
    if (this.#controller !== undefined) return
    this.#controller = new AbortController()
    this.#tick()
  }

  /**
   * Stop: clear the timer, abort the running refresh and wait for it to settle (at most the query
   * timeout if `refreshBucket` ignores its signal). A second call does nothing.
   */
  async stop(): Promise<void> {
    if (this.#controller === undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#controller.abort()
    this.#controller = undefined
    this.#queue.length = 0
    this.#queued.clear()
    this.#dueAt.clear()
    await this.#draining
  }

  /** True between `start()` and `stop()`. */
  isStarted(): boolean {
    return this.#controller !== undefined
  }

  /** The nominal refresh interval of bucket `index`, with this scheduler's options. */
  intervalFor(index: number): number {
    return refreshIntervalFor(index, this.#init)
  }

  /** When bucket `index` is next due, ms since the epoch (undefined if not tracked yet). */
  nextRefreshAt(index: number): number | undefined {
    return this.#dueAt.get(index)
  }

  /** Refresh counters (a copy). */
  metrics(): RefreshMetrics {
    return { ...this.#metrics }
  }

  #jittered(index: number): number {
    const interval = this.intervalFor(index)
    return interval * (1 + this.#init.jitter * (2 * this.#random() - 1))
  }

  #tick(): void {
    this.#timer = undefined
    if (this.#controller === undefined) return
    const now = Date.now()
    const top = Math.min(Math.max(0, this.#buckets.highestOccupiedIndex()), this.#init.maxIndex)
    let next = now + this.#init.minIntervalMs
    for (let index = 0; index <= top; index++) {
      let due = this.#dueAt.get(index)
      if (due === undefined) {
        due = now + this.#jittered(index)
      } else if (due <= now) {
        const traffic = this.#buckets.lastTrafficAt(index)
        if (traffic !== undefined && now - traffic < this.intervalFor(index)) {
          this.#metrics.skippedRecentTraffic++
          due = traffic + this.#jittered(index)
        } else {
          if (!this.#queued.has(index)) {
            this.#queued.add(index)
            this.#queue.push(index)
          }
          due = now + this.#jittered(index)
        }
        due = Math.max(due, now + 1)
      }
      this.#dueAt.set(index, due)
      next = Math.min(next, due)
    }
    this.#drain()
    this.#timer = setTimeout(() => this.#tick(), Math.max(1, next - now))
    this.#timer.unref?.()
  }

  #drain(): void {
    if (this.#draining !== undefined || this.#queue.length === 0) return
    this.#draining = (async () => {
      for (let index = this.#queue.shift(); index !== undefined; index = this.#queue.shift()) {
        const controller = this.#controller
        if (controller === undefined) break
        await this.#refresh(index, controller.signal)
        this.#queued.delete(index)
      }
    })().finally(() => {
      this.#draining = undefined
    })
  }

  async #refresh(index: number, stopSignal: AbortSignal): Promise<void> {
    const timeout = new AbortController()
    const timer = setTimeout(() => {
      timeout.abort(new TimeoutError(`refresh of bucket ${index} took over ${this.#init.queryTimeoutMs} ms`))
    }, this.#init.queryTimeoutMs)
    const signal = AbortSignal.any([stopSignal, timeout.signal])
    this.#metrics.started++
    try {
      const key = await this.#buckets.lookupKeyForBucket(index, { signal })
      this.#log('refreshing bucket %d', index)
      await this.#refreshBucket(index, key, { signal })
      signal.throwIfAborted()
      this.#metrics.completed++
    } catch (err) {
      this.#metrics.failed++
      if (!stopSignal.aborted) this.#log.error('refresh of bucket %d failed - %e', index, err)
    } finally {
      clearTimeout(timer)
    }
  }
}
