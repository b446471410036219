/**
 * HTTP delegated routing (IPFS HTTP Routing v1) as one more provider source of discovery:
 * each configured router is asked through `@helia/delegated-routing-v1-http-api-client`, and
 * each router has a reputation of its own, as a peer has: an answer with providers is a
 * success, garbage (an unparseable body, a wrong content type or status, records that are not
 * valid peer records) or no answer within the timeout is a failure, and failures in a row put
 * the router into a bounded exponential backoff, during which it is not asked at all.
 *
 * @packageDocumentation
 */

import {
  type DelegatedRoutingV1HttpApiClient,
  delegatedRoutingV1HttpApiClient,
  type PeerRecord
} from '@helia/delegated-routing-v1-http-api-client'
import type { ComponentLogger, Logger, PeerId } from '@libp2p/interface'
import { peerIdFromCID } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { pushable } from 'it-pushable'
import type { CID } from 'multiformats/cid'
import {
  DELEGATED_ROUTING_BACKOFF_BASE_MS,
  DELEGATED_ROUTING_BACKOFF_MAX_MS,
  DELEGATED_ROUTING_MAX_IN_FLIGHT,
  DELEGATED_ROUTING_MAX_PROVIDERS,
  DELEGATED_ROUTING_TIMEOUT_MS
} from '../../constants.ts'
import type { DelegatedRouterStats, Provider } from './types.ts'

/** Options of {@link DelegatedRouters}. Every option is optional. */
export interface DelegatedRoutersInit {
  /** how long one router gets to answer one lookup @default DELEGATED_ROUTING_TIMEOUT_MS */
  timeoutMs?: number
  /** provider records read from one answer @default DELEGATED_ROUTING_MAX_PROVIDERS */
  maxProviders?: number
  /** lookups in flight to one router (a lookup that finds it busy skips it) @default DELEGATED_ROUTING_MAX_IN_FLIGHT */
  maxInFlight?: number
  /** backoff after the first failure in a row, doubled per failure @default DELEGATED_ROUTING_BACKOFF_BASE_MS */
  backoffBaseMs?: number
  /** the backoff's cap @default DELEGATED_ROUTING_BACKOFF_MAX_MS */
  backoffMaxMs?: number
}

/** Dependencies of {@link DelegatedRouters}. */
export interface DelegatedRoutersComponents {
  logger: ComponentLogger
  /** our own peer id: a router's record of us is not a provider to dial */
  self?: PeerId
  /** the clock, ms since the epoch @default Date.now */
  now?: () => number
}

interface Router {
  url: string
  client: DelegatedRoutingV1HttpApiClient
  stats: DelegatedRouterStats
}

/**
 * The client reports a record it had to drop (no peer id, a multiaddr that does not parse)
 * only on its logger's error channel: this logger counts those reports for its router, and
 * passes every message on to ours.
 */
function countingLogger(base: ComponentLogger, onError: () => void): ComponentLogger {
  const wrap = (log: Logger): Logger =>
    Object.assign((formatter: unknown, ...args: unknown[]) => log(formatter, ...args), {
      error: (formatter: unknown, ...args: unknown[]) => {
        onError()
        log.error(formatter, ...args)
      },
      trace: (formatter: unknown, ...args: unknown[]) => log.trace(formatter, ...args),
      enabled: log.enabled,
      newScope: (name: string) => wrap(log.newScope(name))
    })
  return { forComponent: (name: string) => wrap(base.forComponent(name)) }
}

/**
 * The configured delegated routers, each with its client and its own reputation and backoff.
 * Bounded: one entry per configured router, and at most `maxInFlight` lookups in flight to each.
 *
 * @example
 * ```ts
 * const routers = new DelegatedRouters(['https://delegated-ipfs.dev'], { logger })
 * await routers.start()
 * for await (const p of routers.findProviders(cid, { signal })) console.log(p.id, p.multiaddrs)
 * console.log(routers.stats())
 * await routers.stop()
 * ```
 */
export class DelegatedRouters {
  readonly #routers: Router[]
  readonly #timeoutMs: number
  readonly #maxProviders: number
  readonly #maxInFlight: number
  readonly #backoffBaseMs: number
  readonly #backoffMaxMs: number
  readonly #self?: PeerId
  readonly #log: Logger
  readonly #now: () => number
  #started = false
  #idle?: PromiseWithResolvers<void>

  constructor(
    urls: readonly string[],
    components: DelegatedRoutersComponents,
    init: DelegatedRoutersInit = {}
  ) {
    this.#timeoutMs = init.timeoutMs ?? DELEGATED_ROUTING_TIMEOUT_MS
    this.#maxProviders = Math.max(1, init.maxProviders ?? DELEGATED_ROUTING_MAX_PROVIDERS)
    this.#maxInFlight = Math.max(1, init.maxInFlight ?? DELEGATED_ROUTING_MAX_IN_FLIGHT)
    this.#backoffBaseMs = Math.max(0, init.backoffBaseMs ?? DELEGATED_ROUTING_BACKOFF_BASE_MS)
    this.#backoffMaxMs = Math.max(this.#backoffBaseMs, init.backoffMaxMs ?? DELEGATED_ROUTING_BACKOFF_MAX_MS)
    this.#self = components.self
    this.#now = components.now ?? Date.now
    this.#log = components.logger.forComponent('kit:discovery:delegated')
    this.#routers = [...new Set(urls)].map((url) => {
      const stats: DelegatedRouterStats = {
        url,
        queries: 0,
        successes: 0,
        empty: 0,
        failures: 0,
        timeouts: 0,
        invalidRecords: 0,
        skipped: 0,
        providersFound: 0,
        inFlight: 0,
        backoffLevel: 0,
        nextAttemptAt: undefined,
        score: 0.5,
        lastError: undefined
      }
      const client = delegatedRoutingV1HttpApiClient({
        url,
        // our own timeout fires first, so that it is told from the router's errors
        timeout: 2 * this.#timeoutMs,
        concurrentRequests: this.#maxInFlight,
        // no response cache: every lookup is the router's answer of now
        cacheTTL: 0
      })({
        logger: countingLogger(components.logger, () => {
          stats.invalidRecords++
        })
      })
      return { url, client, stats }
    })
  }

  /** The configured router URLs. */
  get urls(): string[] {
    return this.#routers.map((r) => r.url)
  }

  /** Lookups in flight, to every router together. */
  get inFlight(): number {
    return this.#routers.reduce((n, r) => n + r.stats.inFlight, 0)
  }

  /** Start the clients. Safe to call twice. */
  async start(): Promise<void> {
    if (this.#started) return
    await Promise.all(this.#routers.map(async (r) => r.client.start()))
    this.#started = true
  }

  /** Stop the clients: lookups in flight end (with no failure recorded). Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await Promise.all(this.#routers.map(async (r) => r.client.stop()))
  }

  /** A copy of every router's stats, in the configured order. */
  stats(now: number = this.#now()): DelegatedRouterStats[] {
    return this.#routers.map((r) => ({
      ...r.stats,
      nextAttemptAt:
        r.stats.nextAttemptAt != null && r.stats.nextAttemptAt > now ? r.stats.nextAttemptAt : undefined
    }))
  }

  /** Resolves once no lookup is in flight to any router (at once if none is). */
  async idle(): Promise<void> {
    if (this.inFlight === 0) return
    this.#idle ??= Promise.withResolvers<void>()
    return this.#idle.promise
  }

  /**
   * Ask every router that is neither in backoff nor busy for providers of `cid`, all at once,
   * and yield each valid provider as it arrives. The lookups run until they end, time out or
   * `signal` aborts, whether or not the caller still listens (`listening`): each outcome is
   * recorded, and each provider is also given to `onProvider` (so it is kept however early the
   * caller stopped listening). An abort of `signal` is ours, and never a router's failure.
   */
  async *findProviders(
    cid: CID,
    options: { signal?: AbortSignal; listening?: AbortSignal; onProvider?: (p: Provider) => void } = {}
  ): AsyncGenerator<Provider> {
    yield* this.lookup(cid, options)
  }

  /**
   * {@link findProviders}, its lookups sent at once (not on the first read): a caller that has
   * other work to wait for first (the DHT's bootstrap) lets the routers answer meanwhile.
   */
  lookup(
    cid: CID,
    options: { signal?: AbortSignal; listening?: AbortSignal; onProvider?: (p: Provider) => void } = {}
  ): AsyncIterable<Provider> {
    const answers = pushable<Provider>({ objectMode: true })
    if (!this.#started) {
      answers.end()
      return answers
    }
    const now = this.#now()
    const asked: Router[] = []
    for (const r of this.#routers) {
      const backedOff = r.stats.nextAttemptAt != null && now < r.stats.nextAttemptAt
      if (backedOff || r.stats.inFlight >= this.#maxInFlight) r.stats.skipped++
      else asked.push(r)
    }
    if (asked.length === 0) {
      answers.end()
      return answers
    }
    const signal = options.signal ?? new AbortController().signal
    let remaining = asked.length
    for (const r of asked) {
      void this.#query(r, cid, signal, (p) => {
        options.onProvider?.(p)
        if (options.listening?.aborted !== true) answers.push(p)
      }).finally(() => {
        if (--remaining === 0) answers.end()
      })
    }
    return answers
  }

  async #query(r: Router, cid: CID, signal: AbortSignal, found: (p: Provider) => void): Promise<void> {
    const stats = r.stats
    stats.queries++
    stats.inFlight++
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    const querySignal = AbortSignal.any([signal, timeout])
    const invalidBefore = stats.invalidRecords
    let valid = 0
    let outcome:
      | { kind: 'success' | 'empty' | 'cancelled' }
      | { kind: 'failure'; why: string; timeout?: boolean }
    try {
      for await (const record of r.client.getProviders(cid, { signal: querySignal })) {
        const provider = this.#toProvider(record)
        if (provider == null) {
          stats.invalidRecords++
          continue
        }
        if (this.#self?.equals(provider.id) === true) continue
        valid++
        stats.providersFound++
        found(provider)
        if (valid >= this.#maxProviders) break
      }
      if (timeout.aborted) outcome = { kind: 'failure', why: 'no answer in time', timeout: true }
      else if (signal.aborted) outcome = { kind: 'cancelled' }
      else if (stats.invalidRecords > invalidBefore)
        outcome = { kind: 'failure', why: 'invalid provider records' }
      else outcome = { kind: valid > 0 ? 'success' : 'empty' }
    } catch (err) {
      if (timeout.aborted) outcome = { kind: 'failure', why: 'no answer in time', timeout: true }
      // an abort is always ours: this lookup's caller, or another lookup of the same CID whose
      // request the client shares with this one (it sends one request per URL at a time)
      else if (signal.aborted || !this.#started || (err as Error).name === 'AbortError')
        outcome = { kind: 'cancelled' }
      else outcome = { kind: 'failure', why: (err as Error).message }
    } finally {
      stats.inFlight--
    }
    this.#record(r, outcome)
    if (this.inFlight === 0 && this.#idle != null) {
      this.#idle.resolve()
      this.#idle = undefined
    }
  }

  #record(
    r: Router,
    outcome: { kind: 'success' | 'empty' | 'cancelled' } | { kind: 'failure'; why: string; timeout?: boolean }
  ): void {
    const stats = r.stats
    switch (outcome.kind) {
      case 'cancelled':
        return
      case 'success':
      case 'empty':
        if (outcome.kind === 'success') stats.successes++
        else stats.empty++
        stats.backoffLevel = 0
        stats.nextAttemptAt = undefined
        break
      case 'failure': {
        stats.failures++
        if (outcome.timeout === true) stats.timeouts++
        stats.lastError = outcome.why
        stats.backoffLevel++
        const delay = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** (stats.backoffLevel - 1))
        stats.nextAttemptAt = this.#now() + delay
        this.#log('%s failed (%s): not asked for %d ms', r.url, outcome.why, delay)
        break
      }
    }
    stats.score = (stats.successes + 1) / (stats.successes + stats.failures + 2)
  }

  /** A peer record as a provider, or undefined if its peer id or an address is not valid. */
  #toProvider(record: PeerRecord): Provider | undefined {
    try {
      const id = peerIdFromCID(record.ID)
      const multiaddrs = record.Addrs.map((a) => multiaddr(a.toString()))
      return { id, multiaddrs, provenance: 'delegated' }
    } catch {
      return undefined
    }
  }
}
