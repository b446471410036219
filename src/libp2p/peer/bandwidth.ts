/**
 * Bytes on libp2p's wire, for Kubo's `stats bw`: libp2p's own `Metrics` hook (the component
 * libp2p calls with every raw connection before its upgrade and every protocol stream after
 * negotiation) counts what goes through `send()` and what arrives as `message` events.
 *
 * @packageDocumentation
 */
import type {
  Connection,
  Counter,
  CounterGroup,
  Histogram,
  HistogramGroup,
  Libp2pEvents,
  Metric,
  MetricGroup,
  Metrics,
  MultiaddrConnection,
  StopTimer,
  Stream,
  Summary,
  SummaryGroup,
  TypedEventTarget
} from '@libp2p/interface'
import { BANDWIDTH_MAX_PEERS, BANDWIDTH_MAX_PROTOCOLS, BANDWIDTH_RATE_ALPHA } from '../../constants.ts'
import { LruMap } from '../discovery/keys.ts'

/** Totals and rates of one meter, in Kubo's `stats bw` shape. */
export interface BandwidthStats {
  /** bytes received, ever */
  TotalIn: number
  /** bytes sent, ever */
  TotalOut: number
  /** bytes per second received, a moving average over the last seconds */
  RateIn: number
  /** bytes per second sent, a moving average over the last seconds */
  RateOut: number
}

/** Most whole seconds a rate is advanced by at once (after that it is 0 anyway). */
const MAX_TICKS = 64

/** A byte count with a per-second moving average (updated as bytes come, and on read). */
class Meter {
  total = 0
  rate = 0
  #pending = 0
  #tick = Math.floor(Date.now() / 1000)

  add(n: number, now: number): void {
    this.#advance(now)
    this.total += n
    this.#pending += n
  }

  rateAt(now: number): number {
    this.#advance(now)
    return this.rate
  }

  /** Fold each whole second gone by into the rate (the first with its bytes, the rest with none). */
  #advance(now: number): void {
    const tick = Math.floor(now / 1000)
    const elapsed = Math.min(tick - this.#tick, MAX_TICKS)
    if (elapsed <= 0) return
    for (let i = 0; i < elapsed; i++) {
      const sample = i === 0 ? this.#pending : 0
      this.rate += BANDWIDTH_RATE_ALPHA * (sample - this.rate)
    }
    if (this.rate < 1e-3) this.rate = 0
    this.#pending = 0
    this.#tick = tick
  }
}

/** Bytes in and out of one thing (the whole node, a peer, a protocol). */
class Flow {
  readonly in = new Meter()
  readonly out = new Meter()

  stats(now: number): BandwidthStats {
    return {
      TotalIn: this.in.total,
      TotalOut: this.out.total,
      RateIn: this.in.rateAt(now),
      RateOut: this.out.rateAt(now)
    }
  }
}

/** Options of {@link BandwidthMetrics}. Every option is optional. */
export interface BandwidthMetricsInit {
  /** peers counted (the least recently active are forgotten) @default BANDWIDTH_MAX_PEERS */
  maxPeers?: number
  /** protocols counted (the least recently active are forgotten) @default BANDWIDTH_MAX_PROTOCOLS */
  maxProtocols?: number
}

/** The byte size of what a stream sends or receives (`Uint8Array` or `Uint8ArrayList`). */
function sizeOf(data: unknown): number {
  const n = (data as { byteLength?: unknown } | undefined)?.byteLength
  return typeof n === 'number' ? n : 0
}

/**
 * libp2p's `Metrics` component that counts bandwidth, as Kubo's `stats bw` reports it: the
 * node's totals and each peer's are the bytes of their connections on the wire (encrypted, with
 * the muxer's framing: what the transport carried), while a protocol's figures count its
 * streams' payload (as go-libp2p counts them). Rates are moving averages of bytes per second.
 * The per-peer and per-protocol tables are bounded ({@link BandwidthMetricsInit}).
 *
 * Other components' metrics (`registerMetric` and the like) are accepted and dropped: this
 * component only counts bytes.
 *
 * @example
 * ```ts
 * const bandwidth = new BandwidthMetrics()
 * const node = await createLibp2p({ metrics: (components) => bandwidth.component(components) })
 * bandwidth.total() // { TotalIn, TotalOut, RateIn, RateOut }
 * ```
 */
export class BandwidthMetrics implements Metrics {
  readonly #total = new Flow()
  readonly #peers: LruMap<string, Flow>
  readonly #protocols: LruMap<string, Flow>
  /** each raw connection's flows (the node's, and its peer's once known) */
  readonly #byConnection = new WeakMap<object, Flow[]>()

  constructor(init: BandwidthMetricsInit = {}) {
    this.#peers = new LruMap(init.maxPeers ?? BANDWIDTH_MAX_PEERS)
    this.#protocols = new LruMap(init.maxProtocols ?? BANDWIDTH_MAX_PROTOCOLS)
  }

  /** The node's totals (bytes on the wire). */
  total(now: number = Date.now()): BandwidthStats {
    return this.#total.stats(now)
  }

  /** One peer's bytes on the wire (its connections' since they opened); zeros if none were counted. */
  peer(peerId: string, now: number = Date.now()): BandwidthStats {
    return (this.#peers.peek(peerId) ?? new Flow()).stats(now)
  }

  /** One protocol's stream bytes; zeros if none were counted. */
  protocol(protocol: string, now: number = Date.now()): BandwidthStats {
    return (this.#protocols.peek(protocol) ?? new Flow()).stats(now)
  }

  /** The peers counted, most recently active last. */
  peers(): string[] {
    return [...this.#peers.keys()]
  }

  /** The protocols counted, most recently active last. */
  protocols(): string[] {
    return [...this.#protocols.keys()]
  }

  /**
   * libp2p's metrics component factory: this counter, told of every connection that opens (so
   * a connection's bytes count for its peer from then on).
   */
  component(components: { events: TypedEventTarget<Libp2pEvents> }): Metrics {
    components.events.addEventListener('connection:open', (evt) => {
      // libp2p's connection keeps the raw connection it was upgraded from
      const raw = (evt.detail as Connection & { maConn?: object }).maConn
      const flows = raw == null ? undefined : this.#byConnection.get(raw)
      flows?.push(this.#flow(this.#peers, evt.detail.remotePeer.toString()))
    })
    return this
  }

  trackMultiaddrConnection(maConn: MultiaddrConnection): void {
    const flows = [this.#total]
    this.#byConnection.set(maConn, flows)
    this.#track(maConn, flows)
  }

  trackProtocolStream(stream: Stream): void {
    if (stream.protocol == null || stream.protocol === '') return
    this.#track(stream, [this.#flow(this.#protocols, stream.protocol)])
  }

  #flow(table: LruMap<string, Flow>, key: string): Flow {
    let flow = table.get(key)
    if (flow == null) {
      flow = new Flow()
      table.set(key, flow)
    }
    return flow
  }

  /**
   * Count a stream's bytes without listening to it: a `message` listener of our own would make
   * the stream deliver (and so lose) data before its reader attaches, so `dispatchEvent` and
   * `send` are wrapped instead.
   */
  #track(stream: MultiaddrConnection | Stream, flows: Flow[]): void {
    const dispatch = stream.dispatchEvent.bind(stream)
    stream.dispatchEvent = (evt: Event): boolean => {
      if (evt.type === 'message') {
        const n = sizeOf((evt as Event & { data?: unknown }).data)
        const now = Date.now()
        for (const f of flows) f.in.add(n, now)
      }
      return dispatch(evt)
    }
    const send = stream.send.bind(stream)
    stream.send = (data) => {
      const n = sizeOf(data)
      const now = Date.now()
      for (const f of flows) f.out.add(n, now)
      return send(data)
    }
  }

  registerMetric(_name: string, options?: unknown): Metric
  registerMetric(_name: string, options?: unknown): Metric | undefined {
    return isCalculated(options) ? undefined : dropped
  }

  registerMetricGroup(_name: string, options?: unknown): MetricGroup
  registerMetricGroup(_name: string, options?: unknown): MetricGroup | undefined {
    return isCalculated(options) ? undefined : droppedGroup
  }

  registerCounter(_name: string, options?: unknown): Counter
  registerCounter(_name: string, options?: unknown): Counter | undefined {
    return isCalculated(options) ? undefined : dropped
  }

  registerCounterGroup(_name: string, options?: unknown): CounterGroup
  registerCounterGroup(_name: string, options?: unknown): CounterGroup | undefined {
    return isCalculated(options) ? undefined : droppedGroup
  }

  registerHistogram(_name: string, options?: unknown): Histogram
  registerHistogram(_name: string, options?: unknown): Histogram | undefined {
    return isCalculated(options) ? undefined : dropped
  }

  registerHistogramGroup(_name: string, options?: unknown): HistogramGroup
  registerHistogramGroup(_name: string, options?: unknown): HistogramGroup | undefined {
    return isCalculated(options) ? undefined : droppedGroup
  }

  registerSummary(_name: string, options?: unknown): Summary
  registerSummary(_name: string, options?: unknown): Summary | undefined {
    return isCalculated(options) ? undefined : dropped
  }

  registerSummaryGroup(_name: string, options?: unknown): SummaryGroup
  registerSummaryGroup(_name: string, options?: unknown): SummaryGroup | undefined {
    return isCalculated(options) ? undefined : droppedGroup
  }

  // biome-ignore lint/suspicious/noExplicitAny: libp2p's own signature (generic over any function)
  traceFunction<F extends (...args: any[]) => any>(_name: string, fn: F): F {
    return fn
  }

  createTrace(): undefined {
    return undefined
  }
}

/** A metric registered with a `calculate` function: libp2p expects nothing back. */
function isCalculated(options: unknown): boolean {
  return typeof (options as { calculate?: unknown } | undefined)?.calculate === 'function'
}

const stopTimer: StopTimer = () => {}

/** What other components' metrics record into: nothing (only bytes are counted here). */
const dropped: Metric & Counter & Histogram & Summary = {
  update: () => {},
  increment: () => {},
  decrement: () => {},
  observe: () => {},
  reset: () => {},
  timer: () => stopTimer
}

const droppedGroup: MetricGroup & CounterGroup & HistogramGroup & SummaryGroup = {
  update: () => {},
  increment: () => {},
  decrement: () => {},
  observe: () => {},
  reset: () => {},
  timer: () => stopTimer
}
