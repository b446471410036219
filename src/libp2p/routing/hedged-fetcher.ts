import { AbortError, type ComponentLogger, type Logger, type PeerId } from '@libp2p/interface'
import { base64 } from 'multiformats/bases/base64'
import { equals } from 'multiformats/bytes'
import type { CID } from 'multiformats/cid'
import { blockMatches } from '../../blocks/verify.ts'
import {
  ROUTING_HEDGE_MAX_DELAY_MS,
  ROUTING_HEDGE_MIN_DELAY_MS,
  ROUTING_MAX_IN_FLIGHT_PER_BLOCK,
  ROUTING_MAX_LOOKS_AGAIN,
  ROUTING_PASS_MAX_DELAY_MS,
  ROUTING_PASS_MIN_DELAY_MS,
  ROUTING_PEER_TIMEOUTS_KEPT,
  ROUTING_PROTOCOLS_RECHECK_MS,
  ROUTING_WANT_RESEND_MAX_MS
} from '../../constants.ts'
import {
  AllProvidersFailedError,
  BlockStreamClosedError,
  BlockVerificationError,
  NotFoundError,
  TimeoutError
} from '../../errors.ts'
import type { InFlightSizes, StateSizes } from '../discovery/types.ts'
import { type BitswapWantList, type ReceivedBlock, sendCancel, type WantPresence } from './bitswap-access.ts'
import type { BlockStreamClient } from './block-stream.ts'
import { PeerPace } from './peer-pace.ts'
import { type RecentWants, recentWantsOf } from './recent-wants.ts'

/** How one request to one peer ended. */
export type RequestOutcome =
  | { kind: 'success'; latencyMs: number; bytes: number }
  /** the peer said DONT_HAVE */
  | { kind: 'dont-have'; latencyMs: number }
  /** the peer had not answered, past its hedge timeout, when another peer did (no failure) */
  | { kind: 'slow'; latencyMs: number }
  /** the peer did not answer a side request within the longest hedge delay */
  | { kind: 'timeout'; latencyMs: number }
  /** the peer could not be reached, or the stream failed */
  | { kind: 'error'; latencyMs: number; error: Error }
  /** the peer sent a block that does not match what we asked for */
  | { kind: 'corrupt'; latencyMs: number }

/** Where outcomes go: reputation and backoff. */
export interface OutcomeSink {
  recordOutcome(peer: PeerId, outcome: RequestOutcome, cid: CID): void
}

/** Options of {@link HedgedBlockFetcher}. */
/** A request sent to a peer: `hedge` is false for the first one of a block. */
export interface AttemptEvent {
  cid: CID
  peer: PeerId
  hedge: boolean
  /** a side request to learn how an unexplored peer serves (see `HedgedBlockFetcher.probe`) */
  explore?: boolean
}

export interface HedgedFetcherInit {
  /** called for every request sent (observability: logs, the dashboard, tests) */
  onAttempt?: (event: AttemptEvent) => void
  /** @default ROUTING_MAX_IN_FLIGHT_PER_BLOCK */
  maxInFlight?: number
  /** @default ROUTING_HEDGE_MIN_DELAY_MS */
  minHedgeDelayMs?: number
  /**
   * the longest hedge deadline; also how long an unanswered want waits before it is sent again,
   * and how long an open request past its deadline holds off a fetch's next pass
   * @default ROUTING_HEDGE_MAX_DELAY_MS
   */
  maxHedgeDelayMs?: number
  /** pause before a fetch that keeps looking (`nextPass`) makes its second pass @default ROUTING_PASS_MIN_DELAY_MS */
  minPassDelayMs?: number
  /** longest pause between two passes (the pause doubles from `minPassDelayMs`) @default ROUTING_PASS_MAX_DELAY_MS */
  maxPassDelayMs?: number
}

export interface HedgedFetcherComponents {
  wantList: BitswapWantList
  outcomes: OutcomeSink
  logger: ComponentLogger
  /**
   * our own block protocol (`/ipfs-kit/blocks/1.0.0`), used instead of bitswap with the peers
   * that speak it; without it, bitswap only
   */
  blockStream?: BlockStreamClient
}

/** A block fetched, with who served it. */
export interface FetchedBlock {
  cid: CID
  block: Uint8Array
  peer: PeerId
  latencyMs: number
}

interface Attempt {
  peer: PeerId
  controller: AbortController
  /** our requests waiting at that peer when this one was sent */
  ahead: number
  /** the hedge timer, until it fires or the attempt settles */
  timer?: ReturnType<typeof setTimeout>
  /** past its hedge deadline */
  overdue: boolean
  started: number
  settled: boolean
}

/** Same key as Helia's want list: the multihash in base64 (no multibase prefix). */
const mhKey = (cid: CID): string => base64.baseEncode(cid.multihash.bytes)

/**
 * Fetches one block from the best of a stream of candidate providers over the standard
 * bitswap protocol, with hedged requests:
 *
 * 1. ask the first candidate (a want-block sent to that peer alone);
 * 2. if it has not answered by its deadline ({@link PeerPace}: the peer's round trip plus the
 *    request's place in that peer's queue of ours, so waiting behind our own earlier
 *    requests is no reason to hedge), ask the next candidate too, up to `maxInFlight` at once; a DONT_HAVE, an error or a wrong block
 *    moves on to the next candidate at once;
 * 3. the first block that hashes to the CID wins; the other requests are cancelled.
 *
 * Every outcome goes to the {@link OutcomeSink}. A block that a peer sends without our
 * having asked it for one (which is also how a corrupted block shows up, since bitswap
 * derives a block's CID from its bytes) is reported as `corrupt` for that peer. Our own
 * cancellations (`stop()`, the caller's abort) record nothing, and a request that lost the
 * race records at most how long it had waited (`slow`), never a failure by itself.
 */
export class HedgedBlockFetcher {
  readonly #wantList: BitswapWantList
  readonly #outcomes: OutcomeSink
  readonly #blockStream?: BlockStreamClient
  /** per peer: whether it speaks our block protocol, and when that was read (bounded) */
  readonly #speaks = new Map<string, { yes: boolean; at: number }>()
  readonly #log: Logger
  readonly #maxInFlight: number
  readonly #minHedge: number
  readonly #maxHedge: number
  readonly #minPass: number
  readonly #maxPass: number
  readonly #onAttempt?: (event: AttemptEvent) => void
  /** per-peer pace (hedge deadlines), least recently used first */
  readonly #timeouts = new Map<string, PeerPace>()
  /** requests that passed their hedge deadline */
  #deadlinesPassed = 0
  /** passes made after a fetch's first (fetches that keep looking) */
  #passes = 0
  /**
   * what this node asked which peer for, to tell unrequested blocks; shared by every fetcher
   * and discovery probe on the same node, so one's requests are not another's "unrequested"
   * blocks
   */
  readonly #recent: RecentWants
  /** per peer: its requests not yet answered (a peer with none has no entry) */
  readonly #inFlight = new Map<string, Set<Attempt>>()
  /** side requests running (`probe`) */
  readonly #probes = new Set<AbortController>()
  /** block fetches running: each ends at once, recording nothing, when we stop */
  readonly #fetches = new Set<(reason: Error) => void>()
  #started = false

  constructor(components: HedgedFetcherComponents, init: HedgedFetcherInit = {}) {
    this.#wantList = components.wantList
    this.#recent = recentWantsOf(components.wantList)
    this.#outcomes = components.outcomes
    this.#blockStream = components.blockStream
    this.#log = components.logger.forComponent('kit:routing:fetcher')
    this.#maxInFlight = init.maxInFlight ?? ROUTING_MAX_IN_FLIGHT_PER_BLOCK
    this.#minHedge = init.minHedgeDelayMs ?? ROUTING_HEDGE_MIN_DELAY_MS
    this.#maxHedge = init.maxHedgeDelayMs ?? ROUTING_HEDGE_MAX_DELAY_MS
    this.#minPass = init.minPassDelayMs ?? ROUTING_PASS_MIN_DELAY_MS
    this.#maxPass = Math.max(this.#minPass, init.maxPassDelayMs ?? ROUTING_PASS_MAX_DELAY_MS)
    this.#onAttempt = init.onAttempt
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#wantList.addEventListener('block', this.#onBlock)
  }

  /**
   * Stop: every fetch and side request running ends with an `AbortError`, and none of their
   * requests counts against its peer (stopping is our doing, not theirs).
   */
  stop(): void {
    if (!this.#started) return
    this.#started = false
    this.#wantList.removeEventListener('block', this.#onBlock)
    const reason = new AbortError('the block fetcher stopped')
    for (const cancel of [...this.#fetches]) cancel(reason)
    this.#fetches.clear()
    for (const probe of this.#probes) probe.abort(reason)
    this.#probes.clear()
  }

  /** Sizes and bounds of the maps keyed by peer or CID, with the node's record of recent wants. */
  stateSizes(): StateSizes {
    return {
      'routing.fetcher.timeouts': { size: this.#timeouts.size, max: ROUTING_PEER_TIMEOUTS_KEPT },
      'routing.fetcher.speaks': { size: this.#speaks.size, max: ROUTING_PEER_TIMEOUTS_KEPT },
      ...this.#recent.stateSizes()
    }
  }

  /** Work in progress: peers with requests open, fetches and side requests running. */
  inFlightSizes(): InFlightSizes {
    return {
      'routing.fetcher.inFlight': this.#inFlight.size,
      'routing.fetcher.fetches': this.#fetches.size,
      'routing.fetcher.probes': this.#probes.size,
      ...this.#recent.inFlightSizes()
    }
  }

  /** Side requests (`probe`) running now. */
  get probing(): number {
    return this.#probes.size
  }

  /**
   * Ask `peer` for `cid` on the side, to learn how it serves: exploration that costs no
   * latency, since no fetch waits for it. The answer (a verified block, DONT_HAVE, a wrong
   * block, or silence until the longest hedge delay) goes to the outcome sink like any other;
   * the block itself is dropped. Resolves to the outcome, or `undefined` if stopped first.
   */
  async probe(cid: CID, peer: PeerId): Promise<RequestOutcome | undefined> {
    if (!this.#started) return undefined
    const controller = new AbortController()
    this.#probes.add(controller)
    const deadline = AbortSignal.timeout(this.#maxHedge)
    const signal = AbortSignal.any([controller.signal, deadline])
    const started = Date.now()
    this.#onAttempt?.({ cid, peer, hedge: false, explore: true })
    let outcome: RequestOutcome
    try {
      const presence = await this.#wantBlock(cid, peer, signal)
      const latencyMs = Date.now() - started
      if (!presence.has || presence.block == null) outcome = { kind: 'dont-have', latencyMs }
      else if (!(await blockMatches(cid, presence.block))) outcome = { kind: 'corrupt', latencyMs }
      else outcome = { kind: 'success', latencyMs, bytes: presence.block.byteLength }
    } catch (err) {
      if (controller.signal.aborted) return undefined
      const latencyMs = Date.now() - started
      outcome = deadline.aborted
        ? { kind: 'timeout', latencyMs }
        : { kind: 'error', latencyMs, error: err as Error }
      void sendCancel(this.#wantList, peer, cid).catch(() => {})
    } finally {
      this.#probes.delete(controller)
    }
    this.#outcomes.recordOutcome(peer, outcome, cid)
    return outcome
  }

  /** A block arrived from a peer: if we never asked that peer for it, the peer misbehaves. */
  readonly #onBlock = (evt: CustomEvent<ReceivedBlock>): void => {
    const { sender, cid } = evt.detail
    const peerKey = sender.toString()
    // a block this node is asking, or asked anyone for lately (a late or second copy), is no offence
    if (this.#recent.askedOfAnyone(cid)) return
    // Helia's own bitswap wants (a broadcast to every connected peer) are not ours to judge
    if (this.#wantList.wants?.has(mhKey(cid)) === true) return
    // not a peer we fetch from: it answers Helia's own wants
    if (!this.#recent.askedPeer(sender)) return
    // a block nobody here asked for, from a peer we fetch from: unrequested, or corrupted
    // (bitswap names a block by the hash of its bytes, so corrupt bytes arrive as a block
    // no one wanted)
    this.#log('unrequested block %c from %p: treating as corrupt', cid, sender)
    this.#outcomes.recordOutcome(sender, { kind: 'corrupt', latencyMs: 0 }, cid)
    for (const attempt of this.#inFlight.get(peerKey) ?? []) {
      attempt.controller.abort(new BlockVerificationError(`${peerKey} sent a block we did not ask for`))
    }
  }

  /**
   * Requests to `peer` not yet answered, and how many of them are past the peer's own
   * hedge timeout (the peer is slow right now).
   */
  load(peer: PeerId): { inFlight: number; overdue: number } {
    const attempts = this.#inFlight.get(peer.toString())
    let overdue = 0
    for (const a of attempts ?? []) if (a.overdue) overdue++
    return { inFlight: attempts?.size ?? 0, overdue }
  }

  /** Requests that passed their hedge deadline, since the start. */
  get deadlinesPassed(): number {
    return this.#deadlinesPassed
  }

  /** Passes made after a fetch's first by fetches that keep looking (`nextPass`), since the start. */
  get passes(): number {
    return this.#passes
  }

  #timeoutFor(peer: PeerId): PeerPace {
    const key = peer.toString()
    let t = this.#timeouts.get(key)
    if (t != null) {
      this.#timeouts.delete(key)
    } else {
      t = new PeerPace({ minMs: this.#minHedge, maxMs: this.#maxHedge })
    }
    this.#timeouts.set(key, t)
    while (this.#timeouts.size > ROUTING_PEER_TIMEOUTS_KEPT) {
      const oldest = this.#timeouts.keys().next().value
      if (oldest == null) break
      this.#timeouts.delete(oldest)
    }
    return t
  }

  /**
   * A want-block to one peer. A HAVE without the block (the peer's ledger may have merged
   * our want-block with an earlier want-have for the same CID) is not an answer: ask for
   * the block again, once. The block itself is taken whenever it comes from that peer, from
   * the first want on: it may come between the HAVE and the second want, and the peer will
   * not send it again within 5 s (a bitswap server's resend window), so a wait that started
   * after it came would wait in vain. Bitswap does not deliver reliably (a loaded peer drops
   * a stream it cannot read in time, and a server whose send failed never retries), so a
   * want with no answer at all is sent again, after a CANCEL that makes the peer forget the
   * old one: first after the longest hedge delay, then at doubling intervals. The request
   * counts as asked (see {@link RecentWants}) for as long as it runs, however late the block.
   */
  async #wantBlock(cid: CID, peer: PeerId, signal: AbortSignal): Promise<WantPresence> {
    return this.#recent.track(peer, cid, async () => this.#wantBlockUntracked(cid, peer, signal))
  }

  async #wantBlockUntracked(cid: CID, peer: PeerId, signal: AbortSignal): Promise<WantPresence> {
    const stream = this.#blockStream
    if (stream != null && (await this.#speaksBlockStream(stream, peer, signal))) {
      try {
        const answer = await stream.want(peer, cid, { signal })
        return { sender: peer, cid, has: answer.has, block: answer.block }
      } catch (err) {
        // a peer that breaks the protocol fails the request; a stream that closed (the
        // connection dropped, the peer restarted) is no proof: ask over bitswap instead
        if (signal.aborted || !(err instanceof BlockStreamClosedError)) throw err
        this.#log('block stream to %p closed (%s): asking over bitswap', peer, err.message)
        this.#speaks.set(peer.toString(), { yes: false, at: Date.now() })
      }
    }
    return this.#wantOverBitswap(cid, peer, signal)
  }

  /** Whether `peer` speaks our block protocol (identify's list, read again after a while). */
  async #speaksBlockStream(stream: BlockStreamClient, peer: PeerId, signal: AbortSignal): Promise<boolean> {
    const key = peer.toString()
    const known = this.#speaks.get(key)
    if (known != null && Date.now() - known.at < ROUTING_PROTOCOLS_RECHECK_MS) return known.yes
    const yes = await stream.supports(peer, { signal }).catch(() => false)
    this.#speaks.delete(key)
    this.#speaks.set(key, { yes, at: Date.now() })
    while (this.#speaks.size > ROUTING_PEER_TIMEOUTS_KEPT) {
      const oldest = this.#speaks.keys().next().value
      if (oldest == null) break
      this.#speaks.delete(oldest)
    }
    return yes
  }

  async #wantOverBitswap(cid: CID, peer: PeerId, signal: AbortSignal): Promise<WantPresence> {
    const done = new AbortController()
    const wantSignal = AbortSignal.any([signal, done.signal])
    let onBlock: ((evt: CustomEvent<ReceivedBlock>) => void) | undefined
    const arrived = new Promise<WantPresence>((resolve) => {
      onBlock = (evt) => {
        const { sender, cid: got, block } = evt.detail
        if (sender.equals(peer) && equals(got.multihash.bytes, cid.multihash.bytes)) {
          resolve({ sender, cid, has: true, block })
        }
      }
      this.#wantList.addEventListener('block', onBlock)
    })
    let haves = 0
    let resendAfter = this.#maxHedge
    try {
      for (;;) {
        wantSignal.throwIfAborted()
        let timer: ReturnType<typeof setTimeout> | undefined
        const silence = new Promise<undefined>((resolve) => {
          timer = setTimeout(resolve, resendAfter, undefined)
        })
        let answer: WantPresence | undefined
        try {
          answer = await Promise.race([
            this.#wantList.wantSessionBlock(cid, peer, { signal: wantSignal }),
            arrived,
            silence
          ])
        } finally {
          clearTimeout(timer)
        }
        if (answer == null) {
          this.#log('no answer from %p for %c in %d ms: asking again', peer, cid, resendAfter)
          await sendCancel(this.#wantList, peer, cid).catch(() => {})
          resendAfter = Math.min(2 * resendAfter, ROUTING_WANT_RESEND_MAX_MS)
          this.#recent.note(peer, cid)
          continue
        }
        if (!answer.has || answer.block != null || ++haves > 1) return answer
      }
    } finally {
      if (onBlock != null) this.#wantList.removeEventListener('block', onBlock)
      // drop the waits that lost the race
      done.abort()
    }
  }

  /**
   * Fetch `cid` from the candidates, best first. Candidates may arrive over time (an
   * async iterable is read only as far as needed). With `lookAgain`, once every candidate
   * was asked and no request is left within its deadline (each failed or is overdue),
   * candidates are asked for once more (again after a further failure, up to
   * ROUTING_MAX_LOOKS_AGAIN times): a lookup made while the first requests were still
   * open could not know they would fail (a hedge pulls candidates early), and one made now can
   * (discovery has dropped the peers that failed). The router's first candidates skip the
   * per-block DHT lookup while the DAG's session has a provider; this second look makes it.
   *
   * With `nextPass` and a `signal`, the fetch never fails for want of a provider: where it would
   * fail (every candidate asked, every request failed or is past its deadline, no look left), it
   * waits until no request still open is younger than `maxHedgeDelayMs` (a provider that is slow
   * but still answering is given the longest deadline first), pauses (`minPassDelayMs`, doubling
   * up to `maxPassDelayMs`) and asks `nextPass()` for candidates again, any peer asked before included (one that failed may be back), until a
   * block arrives or the signal aborts; requests still open stay open meanwhile (a late
   * block still wins). Without a signal, `nextPass` is ignored: a fetch ends in bounded time.
   */
  async fetch(
    cid: CID,
    candidates: Iterable<PeerId> | AsyncIterable<PeerId>,
    options: {
      signal?: AbortSignal
      lookAgain?: () => Iterable<PeerId> | AsyncIterable<PeerId>
      nextPass?: () => Iterable<PeerId> | AsyncIterable<PeerId>
    } = {}
  ): Promise<FetchedBlock> {
    const signal = options.signal
    signal?.throwIfAborted()
    const nextPass = signal == null ? undefined : options.nextPass
    /** passes made after the first, and the pause before the next one, while it is due */
    let passes = 0
    let passTimer: ReturnType<typeof setTimeout> | undefined
    /** until the youngest open request has waited the longest hedge delay (no pass before) */
    let holdTimer: ReturnType<typeof setTimeout> | undefined
    let iterator = toAsyncIterator(candidates)
    /** looks made after the first, and how many requests had failed or were overdue at the last */
    let looks = 0
    let badAtLastLook = 0
    /** requests of this fetch that passed their deadline (answered or not) */
    let overdueEver = 0
    const tried = new Set<string>()
    const errors: Error[] = []
    const attempts = new Set<Attempt>()
    let exhausted = false
    let pulling: Promise<PeerId | undefined> | undefined
    /**
     * peers whose request failed with an error (a connection that dropped, a stream reset): each
     * is asked once more, after every other candidate, since a connection closed under load or
     * by a restart is no proof the peer cannot serve
     */
    const again: PeerId[] = []
    const retried = new Set<string>()
    /**
     * the next look is due: no request is left within its deadline, and one more failed or
     * became overdue since the last look (a candidate source may hold its expensive part, a
     * DHT lookup, until then); at most ROUTING_MAX_LOOKS_AGAIN looks
     */
    const lookAgainDue = (): boolean => {
      if (options.lookAgain == null || looks >= ROUTING_MAX_LOOKS_AGAIN) return false
      for (const a of attempts) if (!a.settled && !a.overdue) return false
      return errors.length + overdueEver > badAtLastLook
    }
    /** no candidate left to ask, now or later */
    const spent = (): boolean => exhausted && again.length === 0 && !lookAgainDue()

    const nextCandidate = async (): Promise<PeerId | undefined> => {
      for (;;) {
        while (!exhausted) {
          const r = await iterator.next()
          if (r.done === true) {
            exhausted = true
            break
          }
          const key = r.value.toString()
          if (tried.has(key)) continue
          tried.add(key)
          return r.value
        }
        const retry = again.shift()
        if (retry != null) return retry
        if (!lookAgainDue() || options.lookAgain == null) return undefined
        // every request failed: look once more, now that the failures are known
        looks++
        badAtLastLook = errors.length + overdueEver
        void iterator.return?.()
        iterator = toAsyncIterator(options.lookAgain())
        exhausted = false
      }
    }

    if (!this.#started) throw new AbortError('the block fetcher is stopped')
    return new Promise<FetchedBlock>((resolve, reject) => {
      let done = false
      /**
       * End the fetch. The requests still open are cancelled (a CANCEL to each peer); if the
       * fetch ended because another peer answered, one that was already past its own hedge
       * timeout records how long it had waited (`slow`: a latency bound, not a failure); if it
       * ended because we cancelled it (a stop, the caller's abort), nothing is recorded.
       */
      const finish = (err: Error | undefined, result?: FetchedBlock, cancelled = false): void => {
        if (done) return
        done = true
        clearTimeout(passTimer)
        clearTimeout(holdTimer)
        this.#fetches.delete(cancel)
        signal?.removeEventListener('abort', onAbort)
        for (const a of attempts) {
          if (!a.settled) {
            settle(a)
            a.controller.abort()
            void sendCancel(this.#wantList, a.peer, cid).catch(() => {})
            if (!cancelled && a.overdue) {
              this.#outcomes.recordOutcome(a.peer, { kind: 'slow', latencyMs: Date.now() - a.started }, cid)
            }
          }
        }
        void iterator.return?.()
        if (err != null) reject(err)
        else resolve(result!)
      }
      const cancel = (reason: Error): void => {
        finish(reason, undefined, true)
      }
      const onAbort = (): void => {
        const reason = signal?.reason
        cancel(reason instanceof Error ? reason : new TimeoutError(`fetching ${cid} was cancelled`))
      }
      this.#fetches.add(cancel)
      signal?.addEventListener('abort', onAbort, { once: true })

      const maybeFinishFailed = (): void => {
        if (done || !spent() || pulling != null || passTimer != null) return
        if (nextPass != null) {
          // keep looking: once no request is left within its deadline, another pass
          for (const a of attempts) if (!a.settled && !a.overdue) return
          // but a request past its deadline is slow, not gone: the pass that looks past it waits
          // until it has had the longest hedge delay (the silence after which a want is sent
          // again and a side request times out). Its deadline may be a guess (a peer's first
          // request gets the shortest), and the fetch's own looks were made when it passed, so a
          // pass before then is one more per-block lookup while the provider is still answering.
          // Checked again whenever a request settles: once every request has failed, no wait.
          clearTimeout(holdTimer)
          holdTimer = undefined
          const now = Date.now()
          let hold = 0
          for (const a of attempts) if (!a.settled) hold = Math.max(hold, this.#maxHedge - (now - a.started))
          if (hold > 0) {
            holdTimer = setTimeout(() => {
              holdTimer = undefined
              maybeFinishFailed()
            }, hold)
            return
          }
          const pause = Math.min(this.#maxPass, this.#minPass * 2 ** passes)
          this.#log('%c: no provider answered in pass %d, looking again in %d ms', cid, passes + 1, pause)
          passTimer = setTimeout(newPass, pause)
          return
        }
        for (const a of attempts) if (!a.settled) return
        if (errors.length === 0) finish(new NotFoundError(`no provider of ${cid} was found`))
        else
          finish(
            new AllProvidersFailedError(errors, `every provider asked for ${cid} failed (${errors.length})`)
          )
      }

      /** a new pass: candidates afresh, every peer may be asked again but those still holding a request */
      const newPass = (): void => {
        passTimer = undefined
        if (done || nextPass == null) return
        passes++
        this.#passes++
        tried.clear()
        for (const a of attempts) if (!a.settled) tried.add(a.peer.toString())
        again.length = 0
        retried.clear()
        badAtLastLook = errors.length + overdueEver
        void iterator.return?.()
        iterator = toAsyncIterator(nextPass())
        exhausted = false
        launchNext()
      }

      const launchNext = (): void => {
        if (done || pulling != null || spent()) {
          maybeFinishFailed()
          return
        }
        // requests past their hedge timeout do not hold a place (their peer is slow), but
        // twice the limit is the most ever in flight for one block
        let running = 0
        let total = 0
        for (const a of attempts) {
          if (a.settled) continue
          total++
          if (!a.overdue) running++
        }
        if (running >= this.#maxInFlight || total >= 2 * this.#maxInFlight) return
        pulling = nextCandidate()
        pulling
          .then((peer) => {
            pulling = undefined
            if (done) return
            if (peer == null) {
              maybeFinishFailed()
              return
            }
            launch(peer)
          })
          .catch((err: Error) => {
            pulling = undefined
            exhausted = true
            errors.push(err)
            maybeFinishFailed()
          })
      }

      const launch = (peer: PeerId): void => {
        const pace = this.#timeoutFor(peer)
        const controller = new AbortController()
        const peerKey = peer.toString()
        let set = this.#inFlight.get(peerKey)
        if (set == null) {
          set = new Set()
          this.#inFlight.set(peerKey, set)
        }
        const ahead = set.size
        const attempt: Attempt = {
          peer,
          controller,
          ahead,
          overdue: false,
          started: Date.now(),
          settled: false
        }
        this.#onAttempt?.({ cid, peer, hedge: attempts.size > 0 })
        attempts.add(attempt)
        set.add(attempt)
        // hedge: past this peer's deadline for a request in this place of its queue, ask the
        // next candidate as well
        const onDeadline = (): void => {
          attempt.timer = undefined
          if (attempt.settled || done) return
          // the blocks the peer holds for us by now are sent with this one or before it
          const queued = (this.#inFlight.get(peerKey)?.size ?? 1) - 1
          const wait = pace.deadline(Math.max(ahead, queued)) - (Date.now() - attempt.started)
          if (wait > 0) {
            attempt.timer = setTimeout(onDeadline, wait)
            return
          }
          attempt.overdue = true
          overdueEver++
          this.#deadlinesPassed++
          launchNext()
        }
        attempt.timer = setTimeout(onDeadline, pace.deadline(ahead))
        const requestSignal = AbortSignal.any([controller.signal, ...(signal == null ? [] : [signal])])
        this.#wantBlock(cid, peer, requestSignal)
          .then(async (presence) => {
            if (attempt.settled || done) return
            const latencyMs = Date.now() - attempt.started
            settle(attempt)
            pace.answered(latencyMs, { ahead: attempt.ahead, late: attempt.overdue })
            if (!presence.has || presence.block == null) {
              this.#outcomes.recordOutcome(peer, { kind: 'dont-have', latencyMs }, cid)
              errors.push(new NotFoundError(`${peerKey} does not have ${cid}`))
              launchNext()
              return
            }
            if (!(await blockMatches(cid, presence.block))) {
              this.#outcomes.recordOutcome(peer, { kind: 'corrupt', latencyMs }, cid)
              errors.push(new BlockVerificationError(`${peerKey} sent a block that does not match ${cid}`))
              launchNext()
              return
            }
            this.#outcomes.recordOutcome(
              peer,
              { kind: 'success', latencyMs, bytes: presence.block.byteLength },
              cid
            )
            finish(undefined, { cid, block: presence.block, peer, latencyMs })
          })
          .catch((err: Error) => {
            if (attempt.settled || done) return
            const latencyMs = Date.now() - attempt.started
            settle(attempt)
            const corrupt = controller.signal.reason instanceof BlockVerificationError
            if (!corrupt) {
              this.#outcomes.recordOutcome(peer, { kind: 'error', latencyMs, error: err }, cid)
              if (!retried.has(peerKey)) {
                retried.add(peerKey)
                again.push(peer)
              }
            }
            errors.push(corrupt ? (controller.signal.reason as Error) : err)
            launchNext()
          })
        // keep the pipeline full: more candidates while we are under the limit and the
        // first request has not been answered is what hedging does after its delay, so
        // only one request goes out at first
      }

      const settle = (attempt: Attempt): void => {
        attempt.settled = true
        clearTimeout(attempt.timer)
        attempt.timer = undefined
        const key = attempt.peer.toString()
        const set = this.#inFlight.get(key)
        set?.delete(attempt)
        if (set?.size === 0) this.#inFlight.delete(key)
      }

      launchNext()
    })
  }
}

function toAsyncIterator<T>(source: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]()
  const it = source[Symbol.iterator]()
  return {
    next: async () => it.next(),
    return: async (value?: unknown) => it.return?.(value) ?? { done: true, value: undefined }
  }
}
