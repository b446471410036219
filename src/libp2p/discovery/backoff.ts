/**
 * Adaptive per-peer backoff: exponential with jitter and a cap, reset on success.
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'
import {
  BACKOFF_BASE_MS,
  BACKOFF_JITTER,
  BACKOFF_MAX_MS,
  BACKOFF_MAX_PEERS,
  BACKOFF_MULTIPLIER,
  BACKOFF_RESET_AFTER_MS
} from '../../constants.ts'
import { LruMap, peerKey } from './keys.ts'
import type { BackoffSource } from './types.ts'

/** Options of {@link AdaptiveBackoff}. */
export interface BackoffInit {
  /** delay after the first failure. @default BACKOFF_BASE_MS (1 s) */
  baseMs?: number
  /** growth per consecutive failure. @default BACKOFF_MULTIPLIER (2) */
  multiplier?: number
  /** delay cap. @default BACKOFF_MAX_MS (10 min) */
  maxMs?: number
  /** relative jitter, 0..1: a delay `d` becomes a value in (d × (1 − jitter), d]. @default BACKOFF_JITTER (0.2) */
  jitter?: number
  /** quiet time after which a peer starts again at level 1. @default BACKOFF_RESET_AFTER_MS (30 min) */
  resetAfterMs?: number
  /** peers tracked (least recently failed evicted). @default BACKOFF_MAX_PEERS (10 000) */
  maxPeers?: number
}

/** Dependencies of {@link AdaptiveBackoff}. */
export interface BackoffComponents {
  /** source of randomness for jitter, [0, 1). Defaults to `Math.random`. */
  random?: () => number
}

/** One peer's backoff state. */
export interface PeerBackoff {
  peerId: PeerId
  /** consecutive failures */
  level: number
  /** ms since the epoch before which the peer should not be tried */
  nextAttemptAt: number
  /** ms since the epoch */
  lastFailureAt: number
}

/** Backoff statistics. */
export interface BackoffStats {
  /** peers whose `nextAttemptAt` is in the future */
  peersInBackoff: number
  /** peers with backoff state (in backoff or not yet reset) */
  tracked: number
  /** every tracked peer's state */
  peers: PeerBackoff[]
}

/**
 * Per-peer backoff. After the n-th consecutive failure a peer is not tried for
 * `min(maxMs, baseMs × multiplier^(n−1))`, shortened by up to `jitter` of it at random (so peers
 * that failed together do not all come back at once, and the cap is never exceeded). A success
 * resets the peer; so does `resetAfterMs` without a failure. Satisfies {@link BackoffSource}.
 */
export class AdaptiveBackoff implements BackoffSource {
  readonly #peers: LruMap<string, PeerBackoff>
  readonly #random: () => number
  readonly #baseMs: number
  readonly #multiplier: number
  readonly #maxMs: number
  readonly #jitter: number
  readonly #resetAfterMs: number

  constructor(init: BackoffInit = {}, components: BackoffComponents = {}) {
    this.#baseMs = Math.max(0, init.baseMs ?? BACKOFF_BASE_MS)
    this.#multiplier = Math.max(1, init.multiplier ?? BACKOFF_MULTIPLIER)
    this.#maxMs = Math.max(this.#baseMs, init.maxMs ?? BACKOFF_MAX_MS)
    this.#jitter = Math.min(1, Math.max(0, init.jitter ?? BACKOFF_JITTER))
    this.#resetAfterMs = init.resetAfterMs ?? BACKOFF_RESET_AFTER_MS
    this.#peers = new LruMap(init.maxPeers ?? BACKOFF_MAX_PEERS)
    this.#random = components.random ?? Math.random
  }

  /** The delay before jitter after `level` consecutive failures: `min(maxMs, baseMs × multiplier^(level−1))`. */
  nominalDelay(level: number): number {
    if (level <= 0) return 0
    return Math.min(this.#maxMs, this.#baseMs * this.#multiplier ** (level - 1))
  }

  /** Record a failure; returns when the peer may be tried again. */
  recordFailure(peer: PeerId, now: number = Date.now()): number {
    const key = peerKey(peer)
    const previous = this.#peers.get(key)
    const level =
      previous === undefined || now - previous.lastFailureAt > this.#resetAfterMs ? 1 : previous.level + 1
    const nominal = this.nominalDelay(level)
    const delay = nominal * (1 - this.#jitter * this.#random())
    const state: PeerBackoff = { peerId: peer, level, nextAttemptAt: now + delay, lastFailureAt: now }
    this.#peers.set(key, state)
    return state.nextAttemptAt
  }

  /** Record a success: the peer leaves backoff and starts again at level 0. */
  recordSuccess(peer: PeerId): void {
    this.#peers.delete(peerKey(peer))
  }

  /** True if the peer should not be tried at `now`. */
  isBackedOff(peer: PeerId, now: number = Date.now()): boolean {
    const state = this.#peers.peek(peerKey(peer))
    return state !== undefined && now < state.nextAttemptAt
  }

  /** When the peer may be tried again, or undefined if it has no backoff state. */
  nextAttemptAt(peer: PeerId): number | undefined {
    return this.#peers.peek(peerKey(peer))?.nextAttemptAt
  }

  /** Consecutive failures of the peer (0 if none, or reset). */
  level(peer: PeerId, now: number = Date.now()): number {
    const state = this.#peers.peek(peerKey(peer))
    if (state === undefined || now - state.lastFailureAt > this.#resetAfterMs) return 0
    return state.level
  }

  /** Forget peers whose backoff has reset (no failure for `resetAfterMs`). Returns how many. */
  prune(now: number = Date.now()): number {
    let removed = 0
    for (const [key, state] of this.#peers) {
      if (now - state.lastFailureAt > this.#resetAfterMs && now >= state.nextAttemptAt) {
        this.#peers.delete(key)
        removed++
      }
    }
    return removed
  }

  /** Peers with backoff state. */
  get size(): number {
    return this.#peers.size
  }

  /** The bound on peers with backoff state. */
  get maxPeers(): number {
    return this.#peers.max
  }

  /** Peers in backoff at `now`. */
  peersInBackoff(now: number = Date.now()): number {
    let count = 0
    for (const state of this.#peers.values()) if (now < state.nextAttemptAt) count++
    return count
  }

  /** Counts and per-peer levels (copies). */
  stats(now: number = Date.now()): BackoffStats {
    const peers = [...this.#peers.values()].map((state) => ({ ...state }))
    return { peersInBackoff: this.peersInBackoff(now), tracked: peers.length, peers }
  }
}
