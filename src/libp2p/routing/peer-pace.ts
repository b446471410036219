import {
  ROUTING_PACE_ALPHA,
  ROUTING_PACE_FAILURE_MULTIPLIER,
  ROUTING_PACE_MULTIPLIER
} from '../../constants.ts'

/**
 * When to hedge a request to one peer: its round trip with nothing of ours queued before it, plus
 * its place in that peer's queue.
 *
 * A bitswap server answers one peer's wants one after the other, so with many blocks of a DAG in
 * flight most of a block's latency is waiting behind our own earlier requests, not slowness. A
 * deadline learned from whole latencies (libp2p's `AdaptiveTimeout`) fires for nearly every block
 * of a deep queue, and each hedge costs a request elsewhere (or a lookup). This keeps two moving
 * averages per peer:
 *
 * - `rtt`: latency of requests sent when none of ours was waiting at that peer;
 * - `interval`: its time per block while busy with ours (the gaps between its answers while a
 *   request was waiting the whole gap, over the answers: a server that sends many blocks in one
 *   message still averages to its real pace).
 *
 * and gives a request sent behind `ahead` others the deadline
 * `multiplier × (rtt + ahead × interval)`, within `[minMs, maxMs]`. The fetcher checks the
 * deadline again when it passes, with the requests of ours the peer holds by then (a server
 * sends the blocks it read together in one message, so a request waits for the ones sent with
 * it as well as for those before it). A request that passed its
 * deadline and was answered late counts its latency `failureMultiplier` times (as
 * `AdaptiveTimeout` does), so a peer that really slowed down gets longer deadlines.
 *
 * @example
 * ```ts
 * const pace = new PeerPace({ minMs: 150, maxMs: 4_000 })
 * const deadline = pace.deadline(ahead)
 * // … the answer came after `latency` ms
 * pace.answered(latency, { ahead, late: latency > deadline })
 * ```
 */
export class PeerPace {
  readonly #minMs: number
  readonly #maxMs: number
  readonly #alpha: number
  readonly #multiplier: number
  readonly #failureMultiplier: number
  #rtt?: number
  /** decayed sums: time the peer spent busy with ours, and its answers meanwhile */
  #busyMs = 0
  #answers = 0
  #lastAnswer?: number

  constructor(init: PeerPaceInit) {
    this.#minMs = init.minMs
    this.#maxMs = init.maxMs
    this.#alpha = init.alpha ?? ROUTING_PACE_ALPHA
    this.#multiplier = init.multiplier ?? ROUTING_PACE_MULTIPLIER
    this.#failureMultiplier = init.failureMultiplier ?? ROUTING_PACE_FAILURE_MULTIPLIER
  }

  /** The deadline, in ms, of a request sent now behind `ahead` of ours at this peer. */
  deadline(ahead: number): number {
    const rtt = this.#rtt ?? 0
    const each = this.interval ?? rtt
    const ms = this.#multiplier * (rtt + Math.max(0, ahead) * each)
    return Math.min(this.#maxMs, Math.max(this.#minMs, Math.round(ms)))
  }

  /**
   * The peer's time per block while busy with ours: busy time over answers, both decayed, so
   * that a server sending many blocks in one message (gaps of 0 ms, then one long gap) still
   * averages to its real pace.
   */
  get interval(): number | undefined {
    return this.#answers === 0 ? undefined : this.#busyMs / this.#answers
  }

  /**
   * An answer came `latencyMs` after the request; `ahead` is how many of ours were waiting at
   * the peer when it was sent, `late` whether it came after its deadline.
   */
  answered(latencyMs: number, options: { ahead: number; late: boolean; now?: number }): void {
    const now = options.now ?? Date.now()
    const gap = this.#lastAnswer == null ? undefined : now - this.#lastAnswer
    this.#lastAnswer = now
    if (options.ahead === 0) {
      this.#rtt = this.#mix(this.#rtt, options.late ? latencyMs * this.#failureMultiplier : latencyMs)
    }
    if (gap != null && latencyMs >= gap) {
      // it waited the whole gap: the peer was busy with ours all along
      this.#busyMs = this.#busyMs * (1 - this.#alpha / 4) + gap
      this.#answers = this.#answers * (1 - this.#alpha / 4) + 1
    }
  }

  /** What was learned: `rtt` and `interval` in ms, undefined until measured. */
  get estimates(): { rtt?: number; interval?: number } {
    return { rtt: this.#rtt, interval: this.interval }
  }

  #mix(avg: number | undefined, sample: number): number {
    return avg == null ? sample : avg + this.#alpha * (sample - avg)
  }
}

/** Options of {@link PeerPace}. */
export interface PeerPaceInit {
  /** the shortest deadline */
  minMs: number
  /** the longest deadline */
  maxMs: number
  /** weight of a new sample @default ROUTING_PACE_ALPHA */
  alpha?: number
  /** deadline over the expected time @default ROUTING_PACE_MULTIPLIER */
  multiplier?: number
  /** a late answer counts this many times its latency @default ROUTING_PACE_FAILURE_MULTIPLIER */
  failureMultiplier?: number
}
