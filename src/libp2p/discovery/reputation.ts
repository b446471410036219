/**
 * Per-peer reputation: success rate with a Beta prior, latency (EWMA and p95), throughput (EWMA),
 * bytes served, verification failures; a score in [0, 1] that decays toward the prior with time;
 * persistence to a datastore.
 *
 * @packageDocumentation
 */

import type { AbortOptions, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Datastore, Key } from 'interface-datastore'
import {
  REPUTATION_DATASTORE_PREFIX,
  REPUTATION_FLAG_DURATION_MS,
  REPUTATION_FLAGGED_SCORE_CAP,
  REPUTATION_HALF_LIFE_MS,
  REPUTATION_LATENCY_EWMA_ALPHA,
  REPUTATION_LATENCY_SAMPLES,
  REPUTATION_LATENCY_WEIGHT,
  REPUTATION_MAX_IDLE_MS,
  REPUTATION_MAX_PEERS,
  REPUTATION_PRIOR_ALPHA,
  REPUTATION_PRIOR_BETA,
  REPUTATION_REFERENCE_LATENCY_MS,
  REPUTATION_REFERENCE_THROUGHPUT_BPS,
  REPUTATION_SUCCESS_WEIGHT,
  REPUTATION_THROUGHPUT_EWMA_ALPHA,
  REPUTATION_THROUGHPUT_WEIGHT,
  REPUTATION_VERIFICATION_FAILURE_WEIGHT
} from '../../constants.ts'
import { LruMap, peerKey } from './keys.ts'
import { decodeRecord, encodeRecord, type PeerRecord } from './reputation-record.ts'
import type { PeerStats, ReputationSource } from './types.ts'

export type { PeerRecord } from './reputation-record.ts'

/** Options of {@link ReputationTracker}. */
export interface ReputationInit {
  /** Beta-prior alpha. @default REPUTATION_PRIOR_ALPHA (2) */
  priorAlpha?: number
  /** Beta-prior beta. @default REPUTATION_PRIOR_BETA (2) */
  priorBeta?: number
  /** half-life of the decay toward the prior. @default REPUTATION_HALF_LIFE_MS (6 h) */
  halfLifeMs?: number
  /** latency EWMA factor. @default REPUTATION_LATENCY_EWMA_ALPHA (0.3) */
  latencyAlpha?: number
  /** throughput EWMA factor. @default REPUTATION_THROUGHPUT_EWMA_ALPHA (0.3) */
  throughputAlpha?: number
  /** latencies kept for p95. @default REPUTATION_LATENCY_SAMPLES (32) */
  latencySamples?: number
  /** latency scoring 0.5. @default REPUTATION_REFERENCE_LATENCY_MS (250 ms) */
  referenceLatencyMs?: number
  /** throughput scoring 0.5. @default REPUTATION_REFERENCE_THROUGHPUT_BPS (1 MiB/s) */
  referenceThroughputBps?: number
  /** weight of the success rate. @default REPUTATION_SUCCESS_WEIGHT (0.5) */
  successWeight?: number
  /** weight of latency. @default REPUTATION_LATENCY_WEIGHT (0.2) */
  latencyWeight?: number
  /** weight of throughput. @default REPUTATION_THROUGHPUT_WEIGHT (0.3) */
  throughputWeight?: number
  /** failures one verification failure counts as. @default REPUTATION_VERIFICATION_FAILURE_WEIGHT (10) */
  verificationFailureWeight?: number
  /** how long a verification failure flags a peer. @default REPUTATION_FLAG_DURATION_MS (24 h) */
  flagDurationMs?: number
  /** highest score of a flagged peer. @default REPUTATION_FLAGGED_SCORE_CAP (0.05) */
  flaggedScoreCap?: number
  /** peers kept (least recently seen evicted). @default REPUTATION_MAX_PEERS (10 000) */
  maxPeers?: number
  /** a peer not seen for this long is dropped by `prune()` unless flagged. @default REPUTATION_MAX_IDLE_MS (7 days) */
  maxIdleMs?: number
  /** datastore key prefix. @default REPUTATION_DATASTORE_PREFIX ('/ipfs-kit/reputation') */
  datastorePrefix?: string
}

/** A successful request and what it measured. */
export interface SuccessObservation {
  /** time to first byte (or to the whole block for small blocks), ms */
  latencyMs?: number
  /** bytes received */
  bytes?: number
  /**
   * time the transfer of `bytes` took, ms (throughput = bytes / duration). Defaults to
   * `latencyMs`: for a one-block request the latency is the time the whole block took.
   */
  durationMs?: number
  /** ms since the epoch. Defaults to `Date.now()` */
  now?: number
}

/**
 * Reputation of every peer we talked to. Satisfies {@link ReputationSource} for ranking.
 *
 * The score combines (weights are options):
 * - the success rate `(s + alpha) / (s + f + alpha + beta)` (Beta posterior mean, 0.5 unknown),
 * - latency `L0 / (L0 + latencyEwma)` (0.5 at the reference latency `L0`),
 * - throughput `tp / (tp + T0)` (0.5 at the reference throughput `T0`),
 *
 * where unmeasured axes count 0.5, and all evidence decays toward the prior with the half-life:
 * counts are multiplied by `2^(-age / halfLife)`, the latency and throughput axes move toward 0.5
 * by the same factor. A verification failure adds `verificationFailureWeight` failures and flags
 * the peer, capping its score, for `flagDurationMs`.
 */
export class ReputationTracker implements ReputationSource {
  readonly #peers: LruMap<string, PeerRecord>
  readonly #opts: Required<ReputationInit>
  readonly #weightSum: number
  /** peers whose record changed since the last `save()` (a subset of `#peers`) */
  readonly #dirty = new Set<string>()
  /**
   * peers this tracker evicted or forgot since the last `save()`: the only saved records it
   * deletes (another tracker writing to the same datastore keeps its own). At most `maxPeers`;
   * past that the oldest are left in the datastore, and `load()` trims the excess later.
   */
  readonly #removed = new Set<string>()

  constructor(init: ReputationInit = {}) {
    this.#opts = {
      priorAlpha: init.priorAlpha ?? REPUTATION_PRIOR_ALPHA,
      priorBeta: init.priorBeta ?? REPUTATION_PRIOR_BETA,
      halfLifeMs: init.halfLifeMs ?? REPUTATION_HALF_LIFE_MS,
      latencyAlpha: init.latencyAlpha ?? REPUTATION_LATENCY_EWMA_ALPHA,
      throughputAlpha: init.throughputAlpha ?? REPUTATION_THROUGHPUT_EWMA_ALPHA,
      latencySamples: Math.max(1, init.latencySamples ?? REPUTATION_LATENCY_SAMPLES),
      referenceLatencyMs: init.referenceLatencyMs ?? REPUTATION_REFERENCE_LATENCY_MS,
      referenceThroughputBps: init.referenceThroughputBps ?? REPUTATION_REFERENCE_THROUGHPUT_BPS,
      successWeight: init.successWeight ?? REPUTATION_SUCCESS_WEIGHT,
      latencyWeight: init.latencyWeight ?? REPUTATION_LATENCY_WEIGHT,
      throughputWeight: init.throughputWeight ?? REPUTATION_THROUGHPUT_WEIGHT,
      verificationFailureWeight: init.verificationFailureWeight ?? REPUTATION_VERIFICATION_FAILURE_WEIGHT,
      flagDurationMs: init.flagDurationMs ?? REPUTATION_FLAG_DURATION_MS,
      flaggedScoreCap: init.flaggedScoreCap ?? REPUTATION_FLAGGED_SCORE_CAP,
      maxPeers: init.maxPeers ?? REPUTATION_MAX_PEERS,
      maxIdleMs: init.maxIdleMs ?? REPUTATION_MAX_IDLE_MS,
      datastorePrefix: (init.datastorePrefix ?? REPUTATION_DATASTORE_PREFIX).replace(/\/+$/, '')
    }
    this.#weightSum = this.#opts.successWeight + this.#opts.latencyWeight + this.#opts.throughputWeight
    this.#peers = new LruMap(this.#opts.maxPeers, (key) => this.#noteRemoved(key))
  }

  /** The bound on peers kept. */
  get maxPeers(): number {
    return this.#opts.maxPeers
  }

  /** Peers tracked. */
  get size(): number {
    return this.#peers.size
  }

  /** Record a successful request. */
  recordSuccess(peer: PeerId, observation: SuccessObservation = {}): void {
    const now = observation.now ?? Date.now()
    const record = this.#touch(peer, now)
    record.successes += 1
    record.observations++
    record.lastSuccessAt = now
    const { latencyMs, bytes } = observation
    const durationMs = observation.durationMs ?? latencyMs
    if (latencyMs !== undefined && Number.isFinite(latencyMs) && latencyMs >= 0) {
      record.latencyEwmaMs = ewma(record.latencyEwmaMs, latencyMs, this.#opts.latencyAlpha)
      record.latencySamples.push(latencyMs)
      while (record.latencySamples.length > this.#opts.latencySamples) record.latencySamples.shift()
      record.latencyAt = now
    }
    if (bytes !== undefined && Number.isFinite(bytes) && bytes > 0) {
      record.bytesServed += bytes
      if (durationMs !== undefined && Number.isFinite(durationMs) && durationMs > 0) {
        const bps = (bytes * 1000) / durationMs
        record.throughputEwmaBps = ewma(record.throughputEwmaBps, bps, this.#opts.throughputAlpha)
        record.throughputAt = now
      }
    }
  }

  /**
   * Record a failed request (timeout, refused, not found where it said it had the content).
   * `waitedMs`, for a request that got no answer, is a lower bound on the peer's latency:
   * it raises the latency estimate when it is above it, so a peer that never answers does
   * not look fast for want of samples.
   */
  recordFailure(peer: PeerId, options: { now?: number; waitedMs?: number } = {}): void {
    const now = options.now ?? Date.now()
    const record = this.#touch(peer, now)
    record.failures += 1
    record.observations++
    record.lastFailureAt = now
    const waited = options.waitedMs
    if (waited !== undefined && Number.isFinite(waited) && waited > (record.latencyEwmaMs ?? 0)) {
      record.latencyEwmaMs = ewma(record.latencyEwmaMs, waited, this.#opts.latencyAlpha)
      record.latencyAt = now
    }
  }

  /**
   * Record that a request to the peer went unanswered for `waitedMs` before another
   * peer answered it: no failure, but a lower bound on the peer's latency.
   */
  recordSlow(peer: PeerId, waitedMs: number, options: { now?: number } = {}): void {
    const now = options.now ?? Date.now()
    const record = this.#touch(peer, now)
    if (Number.isFinite(waitedMs) && waitedMs > (record.latencyEwmaMs ?? 0)) {
      record.latencyEwmaMs = ewma(record.latencyEwmaMs, waitedMs, this.#opts.latencyAlpha)
      record.latencySamples.push(waitedMs)
      while (record.latencySamples.length > this.#opts.latencySamples) record.latencySamples.shift()
      record.latencyAt = now
    }
  }

  /** Record that the peer served a block that failed verification: a hard penalty and a flag. */
  recordVerificationFailure(peer: PeerId, options: { now?: number } = {}): void {
    const now = options.now ?? Date.now()
    const record = this.#touch(peer, now)
    record.failures += this.#opts.verificationFailureWeight
    record.observations++
    record.verificationFailures++
    record.lastFailureAt = now
    record.flaggedUntil = now + this.#opts.flagDurationMs
  }

  /** Note that the peer is around (keeps it from eviction) without recording an outcome. */
  seen(peer: PeerId, now: number = Date.now()): void {
    this.#touch(peer, now)
  }

  /** Score in [0, 1]; 0.5 for an unknown peer. */
  score(peer: PeerId, now: number = Date.now()): number {
    const record = this.#peers.peek(peerKey(peer))
    return record === undefined ? this.#priorMean() : this.#score(record, now)
  }

  /** Outcomes recorded for the peer, 0 if unknown. */
  observations(peer: PeerId): number {
    return this.#peers.peek(peerKey(peer))?.observations ?? 0
  }

  /** True if the peer is tracked. */
  has(peer: PeerId): boolean {
    return this.#peers.has(peerKey(peer))
  }

  /** True if the peer is flagged for a verification failure at `now`. */
  isFlagged(peer: PeerId, now: number = Date.now()): boolean {
    const until = this.#peers.peek(peerKey(peer))?.flaggedUntil
    return until !== undefined && now < until
  }

  /** A snapshot of the peer's stats at `now`, or undefined if unknown. */
  stats(peer: PeerId | string, now: number = Date.now()): PeerStats | undefined {
    const record = this.#peers.peek(peerKey(peer))
    if (record === undefined) return undefined
    const decay = this.#decay(record.decayedAt, now)
    return {
      peerId: record.peerId.toString(),
      successes: record.successes * decay,
      failures: record.failures * decay,
      observations: record.observations,
      verificationFailures: record.verificationFailures,
      flagged: record.flaggedUntil !== undefined && now < record.flaggedUntil,
      latencyEwmaMs: record.latencyEwmaMs,
      latencyP95Ms: percentile(record.latencySamples, 0.95),
      throughputEwmaBps: record.throughputEwmaBps,
      bytesServed: record.bytesServed,
      lastSuccessAt: record.lastSuccessAt,
      lastFailureAt: record.lastFailureAt,
      lastSeenAt: record.lastSeenAt,
      score: this.#score(record, now)
    }
  }

  /** Every tracked peer, least recently seen first. */
  peers(): PeerId[] {
    return [...this.#peers.values()].map((record) => record.peerId)
  }

  /** Forget a peer (its saved record is deleted by the next `save()`). */
  forget(peer: PeerId): boolean {
    const key = peerKey(peer)
    if (!this.#peers.delete(key)) return false
    this.#noteRemoved(key)
    return true
  }

  /**
   * Forget peers not seen for `maxIdleMs` (their evidence has decayed to the prior), except
   * flagged ones. Returns how many.
   */
  prune(now: number = Date.now()): number {
    let removed = 0
    for (const [key, record] of this.#peers) {
      if (now - record.lastSeenAt < this.#opts.maxIdleMs) continue
      if (record.flaggedUntil !== undefined && now < record.flaggedUntil) continue
      this.#peers.delete(key)
      this.#noteRemoved(key)
      removed++
    }
    return removed
  }

  /** Records changed since the last `save()`. */
  get unsaved(): number {
    return this.#dirty.size + this.#removed.size
  }

  /** Count every tracked peer as changed (their records go to the next datastore saved to). */
  markAllUnsaved(): void {
    for (const key of this.#peers.keys()) this.#dirty.add(key)
  }

  /**
   * Write the records that changed since the last save to `datastore` under
   * `<prefix>/<peerId>` as JSON, and delete the saved records of peers this tracker evicted or
   * forgot. Records it never held are left alone, so several trackers may save to one
   * datastore. Returns the number of records written.
   */
  async save(datastore: Datastore, options: AbortOptions = {}): Promise<number> {
    options.signal?.throwIfAborted()
    const batch = datastore.batch()
    const written = [...this.#dirty]
    const removed = [...this.#removed]
    for (const key of written) {
      const record = this.#peers.peek(key)
      if (record !== undefined) batch.put(this.#key(key), encodeRecord(record))
    }
    for (const key of removed) if (!this.#peers.has(key)) batch.delete(this.#key(key))
    if (written.length === 0 && removed.length === 0) return 0
    // changes made while the batch commits stay unsaved
    for (const key of written) this.#dirty.delete(key)
    for (const key of removed) this.#removed.delete(key)
    try {
      await batch.commit(options)
    } catch (err) {
      for (const key of written) if (this.#peers.has(key)) this.#dirty.add(key)
      for (const key of removed) this.#noteRemoved(key)
      throw err
    }
    return written.length
  }

  /**
   * Read saved peers from `datastore`. A peer already tracked keeps its in-memory record (it is
   * newer). Unreadable records are skipped. The bound applies: the most recently seen are kept,
   * and the saved records of the others are deleted by the next `save()`. Returns the number of
   * peers loaded.
   */
  async load(datastore: Datastore, options: AbortOptions = {}): Promise<number> {
    const records: PeerRecord[] = []
    for await (const { key, value } of datastore.query(
      { prefix: `${this.#opts.datastorePrefix}/` },
      options
    )) {
      const record = decodeRecord(value, (id) => peerIdFromString(id))
      if (record === undefined || key.toString() !== this.#key(record.peerId.toString()).toString()) continue
      if (!this.#peers.has(record.peerId.toString())) records.push(record)
    }
    records.sort((a, b) => a.lastSeenAt - b.lastSeenAt)
    // loaded peers are older than the ones in memory: insert them at the least-recent end
    const current = [...this.#peers.entries()]
    this.#peers.clear()
    for (const record of records) this.#peers.set(record.peerId.toString(), record)
    for (const [key, record] of current) this.#peers.set(key, record)
    return records.filter((record) => this.#peers.has(record.peerId.toString())).length
  }

  #noteRemoved(key: string): void {
    this.#dirty.delete(key)
    this.#removed.delete(key)
    this.#removed.add(key)
    if (this.#removed.size > this.#opts.maxPeers) {
      const oldest = this.#removed.values().next().value
      if (oldest !== undefined) this.#removed.delete(oldest)
    }
  }

  #key(peer: string): Key {
    return new Key(`${this.#opts.datastorePrefix}/${peer}`)
  }

  #priorMean(): number {
    return this.#opts.priorAlpha / (this.#opts.priorAlpha + this.#opts.priorBeta)
  }

  #decay(since: number, now: number): number {
    const age = Math.max(0, now - since)
    return this.#opts.halfLifeMs > 0 ? 2 ** (-age / this.#opts.halfLifeMs) : 0
  }

  #touch(peer: PeerId, now: number): PeerRecord {
    const key = peerKey(peer)
    let record = this.#peers.get(key)
    if (record === undefined) {
      record = {
        peerId: peer,
        successes: 0,
        failures: 0,
        decayedAt: now,
        observations: 0,
        verificationFailures: 0,
        flaggedUntil: undefined,
        latencyEwmaMs: undefined,
        latencySamples: [],
        latencyAt: undefined,
        throughputEwmaBps: undefined,
        throughputAt: undefined,
        bytesServed: 0,
        lastSuccessAt: undefined,
        lastFailureAt: undefined,
        lastSeenAt: now
      }
      this.#removed.delete(key)
      this.#peers.set(key, record)
    }
    // bring the counts to `now` so new evidence is added at full weight
    const decay = this.#decay(record.decayedAt, now)
    record.successes *= decay
    record.failures *= decay
    record.decayedAt = Math.max(record.decayedAt, now)
    record.lastSeenAt = Math.max(record.lastSeenAt, now)
    this.#dirty.add(key)
    return record
  }

  #score(record: PeerRecord, now: number): number {
    const { priorAlpha, priorBeta, referenceLatencyMs, referenceThroughputBps } = this.#opts
    const decay = this.#decay(record.decayedAt, now)
    const s = record.successes * decay
    const f = record.failures * decay
    const successRate = (s + priorAlpha) / (s + f + priorAlpha + priorBeta)
    const latency = toward(
      record.latencyEwmaMs === undefined
        ? 0.5
        : referenceLatencyMs / (referenceLatencyMs + record.latencyEwmaMs),
      record.latencyAt === undefined ? 0 : this.#decay(record.latencyAt, now)
    )
    const throughput = toward(
      record.throughputEwmaBps === undefined
        ? 0.5
        : record.throughputEwmaBps / (record.throughputEwmaBps + referenceThroughputBps),
      record.throughputAt === undefined ? 0 : this.#decay(record.throughputAt, now)
    )
    const combined =
      this.#weightSum > 0
        ? (this.#opts.successWeight * successRate +
            this.#opts.latencyWeight * latency +
            this.#opts.throughputWeight * throughput) /
          this.#weightSum
        : successRate
    const flagged = record.flaggedUntil !== undefined && now < record.flaggedUntil
    const score = flagged ? Math.min(this.#opts.flaggedScoreCap, combined) : combined
    return Math.min(1, Math.max(0, score))
  }
}

function ewma(previous: number | undefined, sample: number, alpha: number): number {
  return previous === undefined ? sample : alpha * sample + (1 - alpha) * previous
}

/** Move `value` toward the neutral 0.5, keeping the fraction `weight` of its distance. */
function toward(value: number, weight: number): number {
  return 0.5 + (value - 0.5) * weight
}

/** Nearest-rank percentile of `samples` (undefined if empty). */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)))
  return sorted[rank - 1]
}
