import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { TieredCache } from '../cache/index.ts'
import { API_LATENCY_BUCKETS_SECONDS, METRICS_PREFIX } from '../constants.ts'
import type { IPFSKit } from '../kit/index.ts'
import type { RetrievalRecord } from './index.ts'

const P = METRICS_PREFIX
const TIERS = ['memory', 'disk', 'all'] as const
const ROUTING_SOURCES = ['cache', 'dht', 'pubsub', 'bitswap', 'connected', 'gateway'] as const

/**
 * The daemon's Prometheus metrics, in a registry of their own. Label sets are bounded:
 * endpoint kinds, cache tiers, bucket indexes (at most 256), routing sources, outcomes
 * and status codes; never a peer id or a CID (per-peer detail is in `kit/reputation`).
 */
export class ApiMetrics {
  readonly registry = new Registry()
  readonly #retrievals: Counter<'kind' | 'outcome'>
  readonly #retrievalBytes: Counter<'kind'>
  readonly #retrievalSeconds: Histogram<'kind'>
  readonly #requests: Counter<'route' | 'code'>
  readonly #requestSeconds: Histogram<'route'>
  readonly #pubsubDropped: Counter<'limit'>
  readonly #pubsubQueuedMessages: Gauge
  readonly #pubsubQueuedBytes: Gauge

  constructor(kit: IPFSKit, cache: () => TieredCache | undefined) {
    const registers = [this.registry]
    this.#retrievals = new Counter({
      name: `${P}_retrievals_total`,
      help: 'Content retrievals served by the API and the gateway, by endpoint and outcome',
      labelNames: ['kind', 'outcome'],
      registers
    })
    this.#retrievalBytes = new Counter({
      name: `${P}_retrieval_bytes_total`,
      help: 'Bytes sent by content retrievals, by endpoint',
      labelNames: ['kind'],
      registers
    })
    this.#retrievalSeconds = new Histogram({
      name: `${P}_retrieval_duration_seconds`,
      help: 'Time from request to last byte of successful retrievals, by endpoint',
      labelNames: ['kind'],
      buckets: [...API_LATENCY_BUCKETS_SECONDS],
      registers
    })
    this.#requests = new Counter({
      name: `${P}_http_requests_total`,
      help: 'HTTP requests, by route (command name, gateway, metrics, dashboard) and status code',
      labelNames: ['route', 'code'],
      registers
    })
    this.#requestSeconds = new Histogram({
      name: `${P}_http_request_duration_seconds`,
      help: 'Time to answer HTTP requests (to the end of the response), by route',
      labelNames: ['route'],
      buckets: [...API_LATENCY_BUCKETS_SECONDS],
      registers
    })
    this.#pubsubDropped = new Counter({
      name: `${P}_pubsub_dropped_messages_total`,
      help: 'Pubsub messages not delivered to a pubsub/sub subscriber whose queue was full (it reads too slowly), by the limit reached',
      labelNames: ['limit'],
      registers
    })
    this.#pubsubQueuedMessages = new Gauge({
      name: `${P}_pubsub_queued_messages`,
      help: 'Pubsub messages waiting to be written to pubsub/sub subscribers, all subscribers together',
      registers
    })
    this.#pubsubQueuedBytes = new Gauge({
      name: `${P}_pubsub_queued_bytes`,
      help: 'Payload bytes of the pubsub messages waiting for pubsub/sub subscribers, all subscribers together',
      registers
    })
    const tierStats = (tier: (typeof TIERS)[number]) => {
      const s = cache()?.getStats()
      if (s == null) return undefined
      return tier === 'all' ? s : tier === 'memory' ? s.memory : s.disk
    }
    new Gauge({
      name: `${P}_cache_hit_ratio`,
      help: 'Hit ratio of the tiered cache, by tier (0 before the first lookup)',
      labelNames: ['tier'],
      registers,
      collect(this: Gauge<'tier'>) {
        for (const tier of TIERS) {
          const s = tierStats(tier)
          if (s != null) this.set({ tier }, s.hitRatio)
        }
      }
    })
    for (const [what, key] of [
      ['hits', 'hits'],
      ['misses', 'misses']
    ] as const) {
      new Counter({
        name: `${P}_cache_${what}_total`,
        help: `Lookups of the tiered cache that ${what === 'hits' ? 'found' : 'missed'} the block, by tier`,
        labelNames: ['tier'],
        registers,
        collect(this: Counter<'tier'>) {
          this.reset()
          for (const tier of TIERS) {
            const s = tierStats(tier)
            if (s != null) this.inc({ tier }, s[key])
          }
        }
      })
    }
    new Gauge({
      name: `${P}_cache_bytes`,
      help: 'Bytes held by the tiered cache, by tier',
      labelNames: ['tier'],
      registers,
      collect(this: Gauge<'tier'>) {
        for (const tier of TIERS) {
          const s = tierStats(tier)
          if (s != null) this.set({ tier }, s.bytes)
        }
      }
    })
    const discovery = () => {
      const d = kit.libp2pIntegration?.discovery
      return d?.isStarted === true ? d.getMetrics() : undefined
    }
    new Gauge({
      name: `${P}_dht_bucket_peers`,
      help: 'Peers in each k-bucket (label: bucket index, the common prefix length; empty buckets omitted)',
      labelNames: ['bucket'],
      registers,
      collect(this: Gauge<'bucket'>) {
        this.reset()
        for (const [bucket, n] of Object.entries(discovery()?.bucketFill ?? {})) this.set({ bucket }, n)
      }
    })
    new Gauge({
      name: `${P}_peers_in_backoff`,
      help: 'Peers in backoff after failed requests',
      registers,
      collect(this: Gauge) {
        this.set(discovery()?.peersInBackoff ?? 0)
      }
    })
    new Gauge({
      name: `${P}_peers_known`,
      help: 'Peers with a reputation record',
      registers,
      collect(this: Gauge) {
        this.set(discovery()?.peersKnown ?? 0)
      }
    })
    new Gauge({
      name: `${P}_connected_peers`,
      help: 'Open libp2p connections',
      registers,
      collect(this: Gauge) {
        this.set(kit.peer.isStarted && !kit.peer.offline ? kit.peer.host.getConnections().length : 0)
      }
    })
    const stateGauges = [
      ['entries', 'Entries of each map the routing layer keys by peer or CID (label: map; see stateSizes())'],
      ['bound', 'The bound on each map the routing layer keys by peer or CID (label: map)']
    ] as const
    for (const [kind, help] of stateGauges) {
      new Gauge({
        name: `${P}_routing_state_${kind}`,
        help,
        labelNames: ['map'],
        registers,
        collect(this: Gauge<'map'>) {
          this.reset()
          const integration = kit.libp2pIntegration
          if (integration?.discovery.isStarted !== true) return
          for (const [map, { size, max }] of Object.entries(integration.router.stateSizes())) {
            this.set({ map }, kind === 'entries' ? size : max)
          }
        }
      })
    }
    const routing = () => kit.libp2pIntegration?.router.getMetrics()
    new Counter({
      name: `${P}_routing_block_fetches_total`,
      help: 'Blocks the routing layer fetched from peers, by outcome',
      labelNames: ['outcome'],
      registers,
      collect(this: Counter<'outcome'>) {
        this.reset()
        const m = routing()
        if (m == null) return
        this.inc({ outcome: 'success' }, m.successfulRetrievals)
        this.inc({ outcome: 'failure' }, m.failedRetrievals)
      }
    })
    new Counter({
      name: `${P}_routing_retrievals_by_source_total`,
      help: 'Successful routing-layer retrievals, by where the provider was found',
      labelNames: ['source'],
      registers,
      collect(this: Counter<'source'>) {
        this.reset()
        const m = routing()
        if (m == null) return
        const bySource: Record<(typeof ROUTING_SOURCES)[number], number> = {
          cache: m.retrievalsFromCache,
          dht: m.retrievalsFromDht,
          pubsub: m.retrievalsFromPubsub,
          bitswap: m.retrievalsFromBitswap,
          connected: m.retrievalsFromConnected,
          gateway: m.retrievalsFromGateway
        }
        for (const source of ROUTING_SOURCES) this.inc({ source }, bySource[source])
      }
    })
    new Gauge({
      name: `${P}_routing_average_retrieval_seconds`,
      help: 'Mean time of successful routing-layer block fetches',
      registers,
      collect(this: Gauge) {
        this.set((routing()?.averageRetrievalTime ?? 0) / 1000)
      }
    })
    new Counter({
      name: `${P}_cache_misses_handled_total`,
      help: 'Cache misses the libp2p integration served from peers, by outcome',
      labelNames: ['outcome'],
      registers,
      collect(this: Counter<'outcome'>) {
        this.reset()
        const s = kit.libp2pIntegration?.getStats()
        if (s == null) return
        this.inc({ outcome: 'success' }, s.cacheMissesHandled)
        this.inc({ outcome: 'failure' }, s.cacheMissesFailed)
      }
    })
    // the cluster (issue 17): members by state, alerts raised, pins in the pinset
    const cluster = () => (kit.cluster.running ? kit.cluster.getMetrics() : undefined)
    new Gauge({
      name: `${P}_cluster_members`,
      help: 'Cluster members as this node sees them (itself included), by state: alive, or down (alerted)',
      labelNames: ['state'],
      registers,
      collect(this: Gauge<'state'>) {
        const m = cluster()
        this.set({ state: 'alive' }, m?.membersAlive ?? 0)
        this.set({ state: 'down' }, m?.membersDown ?? 0)
      }
    })
    new Counter({
      name: `${P}_cluster_alerts_total`,
      help: 'Alerts raised by this member: a member whose heartbeat expired did not answer a ping',
      registers,
      collect(this: Counter) {
        this.reset()
        this.inc(cluster()?.alerts ?? 0)
      }
    })
    new Gauge({
      name: `${P}_cluster_pins`,
      help: "Pins in the cluster's pinset",
      registers,
      collect(this: Gauge) {
        this.set(cluster()?.pins ?? 0)
      }
    })
    new Counter({
      name: `${P}_cluster_pins_done_total`,
      help: 'Pins this member made for the cluster, by kind: first (allocated at pin time) or repin (allocated by a recovery or a top-up)',
      labelNames: ['kind'],
      registers,
      collect(this: Counter<'kind'>) {
        this.reset()
        const m = cluster()
        this.inc({ kind: 'first' }, (m?.pinsDone ?? 0) - (m?.repins ?? 0))
        this.inc({ kind: 'repin' }, m?.repins ?? 0)
      }
    })
    new Counter({
      name: `${P}_cluster_state_entries_total`,
      help: "Entries of the cluster state's OrbitDB log, by op: applied to this member's index, or written by it",
      labelNames: ['op'],
      registers,
      collect(this: Counter<'op'>) {
        this.reset()
        const m = cluster()
        this.inc({ op: 'applied' }, m?.entriesApplied ?? 0)
        this.inc({ op: 'written' }, m?.entriesWritten ?? 0)
      }
    })
  }

  /** Count a finished retrieval. */
  retrieval(record: RetrievalRecord): void {
    this.#retrievals.inc({ kind: record.kind, outcome: record.outcome })
    this.#retrievalBytes.inc({ kind: record.kind }, record.bytes)
    if (record.outcome === 'success')
      this.#retrievalSeconds.observe({ kind: record.kind }, record.durationMs / 1000)
  }

  /** Count a finished HTTP request; `route` must come from a bounded set. */
  request(route: string, status: number, seconds: number): void {
    this.#requests.inc({ route, code: String(status) })
    this.#requestSeconds.observe({ route }, seconds)
  }

  /** A pubsub/sub subscriber's queue grew (positive) or shrank (negative) by so many messages and bytes. */
  pubsubQueued(messages: number, bytes: number): void {
    this.#pubsubQueuedMessages.inc(messages)
    this.#pubsubQueuedBytes.inc(bytes)
  }

  /** Count a message dropped for a pubsub/sub subscriber, by the queue limit it hit. */
  pubsubDropped(limit: 'messages' | 'bytes'): void {
    this.#pubsubDropped.inc({ limit })
  }

  /** The text exposition format. */
  async text(): Promise<string> {
    return this.registry.metrics()
  }

  /** Content type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType
  }
}
