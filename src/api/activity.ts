import type { TieredCache } from '../cache/index.ts'
import {
  DASHBOARD_HISTORY_SAMPLES,
  DASHBOARD_RECENT_RETRIEVALS,
  DASHBOARD_SAMPLE_INTERVAL_MS
} from '../constants.ts'
import type { IPFSFileSystem } from '../fs/index.ts'
import type { IPFSKit } from '../kit/index.ts'
import type { HistorySample, RetrievalKind, RetrievalRecord } from './index.ts'

/** A retrieval in progress: count its bytes, then finish it once. */
export interface RetrievalTracker {
  addBytes(n: number): void
  /** the filesystem the read went through, for where its blocks came from */
  readThrough(fs: IPFSFileSystem): void
  /** end it: a success without `err` */
  finish(err?: unknown): void
}

/** Options of {@link ActivityLog}. */
export interface ActivityLogInit {
  /** @default DASHBOARD_SAMPLE_INTERVAL_MS */
  sampleIntervalMs?: number
  /** @default DASHBOARD_HISTORY_SAMPLES */
  historySamples?: number
  /** @default DASHBOARD_RECENT_RETRIEVALS */
  recentRetrievals?: number
  /** called with every finished retrieval (metrics) */
  onRetrieval?: (record: RetrievalRecord) => void
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]
}

/**
 * What the daemon served, for the dashboard and `kit/stats`: recent retrievals, a
 * history sampled every second (cache hit ratio per tier, peers, retrieval latency),
 * and byte totals for `stats/bw`.
 */
export class ActivityLog {
  readonly #kit: IPFSKit
  readonly #init: ActivityLogInit
  readonly #recent: RetrievalRecord[] = []
  readonly #history: HistorySample[] = []
  #sinceSample: number[] = []
  #timer?: ReturnType<typeof setInterval>
  #cache?: TieredCache
  /** bytes sent by retrievals, ever */
  bytesOut = 0
  #lastRates = { at: Date.now(), bytesIn: 0, bytesOut: 0, rateIn: 0, rateOut: 0 }

  constructor(kit: IPFSKit, init: ActivityLogInit = {}) {
    this.#kit = kit
    this.#init = init
  }

  /** Start sampling. Safe to call twice. */
  async start(): Promise<void> {
    if (this.#timer != null) return
    this.#cache = await this.#kit.getCache()
    this.sample()
    this.#timer = setInterval(
      () => this.sample(),
      this.#init.sampleIntervalMs ?? DASHBOARD_SAMPLE_INTERVAL_MS
    )
    this.#timer.unref?.()
  }

  /** Stop sampling. Safe to call twice. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Bytes of blocks received from peers by the routing layer, ever (0 without an integration). */
  bytesIn(): number {
    return this.#kit.libp2pIntegration?.router.getMetrics().totalBytesRetrieved ?? 0
  }

  /** Totals and the rates over the last sample interval, bytes per second (for `stats/bw`). */
  bandwidth(): { totalIn: number; totalOut: number; rateIn: number; rateOut: number } {
    return {
      totalIn: this.bytesIn(),
      totalOut: this.bytesOut,
      rateIn: this.#lastRates.rateIn,
      rateOut: this.#lastRates.rateOut
    }
  }

  /** Take one history sample now (the timer does it every interval). */
  sample(): void {
    const now = Date.now()
    const cache = this.#cache?.getStats()
    const integration = this.#kit.libp2pIntegration
    const discovery =
      integration?.discovery.isStarted === true ? integration.discovery.getMetrics() : undefined
    const peer = this.#kit.peer
    const durations = this.#sinceSample
    this.#sinceSample = []
    const p50 = median(durations)
    const sample: HistorySample = {
      at: now,
      cacheHitRatio: cache?.hitRatio ?? 0,
      memoryHitRatio: cache?.memory.hitRatio ?? 0,
      diskHitRatio: cache?.disk?.hitRatio ?? 0,
      peers: peer.isStarted && !peer.offline ? peer.host.getConnections().length : 0,
      peersInBuckets: discovery?.peersInBuckets ?? 0,
      peersInBackoff: discovery?.peersInBackoff ?? 0,
      retrievals: durations.length,
      ...(p50 == null ? {} : { retrievalP50Ms: p50 })
    }
    this.#history.push(sample)
    const keep = this.#init.historySamples ?? DASHBOARD_HISTORY_SAMPLES
    if (this.#history.length > keep) this.#history.splice(0, this.#history.length - keep)
    const seconds = Math.max((now - this.#lastRates.at) / 1000, 0.001)
    const bytesIn = this.bytesIn()
    this.#lastRates = {
      at: now,
      bytesIn,
      bytesOut: this.bytesOut,
      rateIn: (bytesIn - this.#lastRates.bytesIn) / seconds,
      rateOut: (this.bytesOut - this.#lastRates.bytesOut) / seconds
    }
  }

  /** The history, oldest first. */
  history(): HistorySample[] {
    return [...this.#history]
  }

  /** Recent retrievals, newest first. */
  recent(): RetrievalRecord[] {
    return [...this.#recent].reverse()
  }

  /** Start recording one retrieval. */
  begin(kind: RetrievalKind, path: string): RetrievalTracker {
    const at = Date.now()
    let bytes = 0
    let fs: IPFSFileSystem | undefined
    let done = false
    return {
      addBytes: (n) => {
        bytes += n
        this.bytesOut += n
      },
      readThrough: (f) => {
        fs = f
      },
      finish: (err) => {
        if (done) return
        done = true
        const stats = fs?.getStats()
        const record: RetrievalRecord = {
          at,
          kind,
          path,
          bytes,
          durationMs: Date.now() - at,
          outcome: err == null ? 'success' : 'error',
          ...(stats == null
            ? {}
            : {
                blocks: {
                  memory: stats.blocksFromMemory,
                  disk: stats.blocksFromDisk,
                  local: stats.blocksFromBlockstore,
                  peers: stats.blocksFromLibp2p + stats.blocksFromNetwork
                }
              }),
          ...(err == null ? {} : { error: err instanceof Error ? err.message : String(err) })
        }
        this.#recent.push(record)
        const keep = this.#init.recentRetrievals ?? DASHBOARD_RECENT_RETRIEVALS
        if (this.#recent.length > keep) this.#recent.splice(0, this.#recent.length - keep)
        if (record.outcome === 'success') this.#sinceSample.push(record.durationMs)
        this.#init.onRetrieval?.(record)
      }
    }
  }
}
