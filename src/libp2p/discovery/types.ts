/**
 * Public types of the discovery building blocks. The parts (k-bucket view, refresh scheduler,
 * reputation, backoff, provider store, affinity, ranking, discovery cache) import them from here.
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Which source told us that a peer provides some content. Reputation and metrics are keyed on it.
 *
 * - `dht`: a kad-dht provider record (`findProviders`)
 * - `pubsub`: an announcement on the content-announce topic
 * - `bitswap`: a bitswap HAVE (or a block) from that peer
 * - `mdns`: a peer found on the local network and asked directly
 * - `connected`: a peer we were already connected to and asked directly
 * - `delegated`: an HTTP delegated router's answer (IPFS HTTP Routing v1)
 */
export type Provenance = 'dht' | 'pubsub' | 'bitswap' | 'mdns' | 'connected' | 'delegated'

/** Every {@link Provenance}, in a stable order (for metric label sets). */
export const PROVENANCES: readonly Provenance[] = [
  'dht',
  'pubsub',
  'bitswap',
  'mdns',
  'connected',
  'delegated'
]

/** A peer that can serve some content, with the addresses to dial and where we learnt it. */
export interface Provider {
  id: PeerId
  multiaddrs: Multiaddr[]
  provenance: Provenance
}

/** What we know of one delegated router (`getMetrics().delegatedRouters`). */
export interface DelegatedRouterStats {
  url: string
  /** lookups sent */
  queries: number
  /** answers with at least one valid provider record */
  successes: number
  /** answers with no record (a 404 or an empty list): the router works, it knows nothing */
  empty: number
  /** garbage or no answer in time */
  failures: number
  /** failures for want of an answer within the timeout (part of `failures`) */
  timeouts: number
  /** records dropped as invalid (no peer id, a bad multiaddr, an unknown shape) */
  invalidRecords: number
  /** lookups that did not ask it: in backoff, or busy */
  skipped: number
  /** valid provider records it returned */
  providersFound: number
  /** lookups in flight now */
  inFlight: number
  /** failures in a row (0 after a good or empty answer) */
  backoffLevel: number
  /** ms since the epoch before which it is not asked, while in backoff */
  nextAttemptAt: number | undefined
  /** (successes + 1) / (successes + failures + 2), in [0, 1]; 0.5 for a router never heard from */
  score: number
  /** why the last failure was one */
  lastError: string | undefined
}

/** A snapshot of what we know about one peer (from {@link ReputationTracker.stats}). */
export interface PeerStats {
  /** the peer, as a string */
  peerId: string
  /** successful requests, decayed toward zero with the reputation half-life */
  successes: number
  /** failed requests (a verification failure counts many times), decayed like `successes` */
  failures: number
  /** outcomes ever recorded (not decayed): how well we know the peer */
  observations: number
  /** blocks from this peer that failed verification (not decayed) */
  verificationFailures: number
  /** true while the peer is penalised for a verification failure */
  flagged: boolean
  /** latency EWMA, ms, or undefined if never measured */
  latencyEwmaMs: number | undefined
  /** 95th percentile of the recent latencies, ms */
  latencyP95Ms: number | undefined
  /** throughput EWMA, bytes per second */
  throughputEwmaBps: number | undefined
  /** total bytes this peer served us */
  bytesServed: number
  /** ms since the epoch */
  lastSuccessAt: number | undefined
  /** ms since the epoch */
  lastFailureAt: number | undefined
  /** ms since the epoch */
  lastSeenAt: number
  /** current score in [0, 1]; 0.5 for an unknown peer */
  score: number
}

/** What ranking needs from reputation ({@link ReputationTracker} satisfies it). */
export interface ReputationSource {
  /** score in [0, 1], 0.5 for an unknown peer */
  score(peer: PeerId, now?: number): number
  /** outcomes recorded for the peer (0 for an unknown peer) */
  observations(peer: PeerId): number
}

/** What ranking needs from backoff ({@link AdaptiveBackoff} satisfies it). */
export interface BackoffSource {
  isBackedOff(peer: PeerId, now?: number): boolean
  /** when the peer may be tried again, or undefined if it is not tracked */
  nextAttemptAt(peer: PeerId): number | undefined
}

/** Counters of the bucket refresh scheduler. */
export interface RefreshMetrics {
  /** refresh lookups started */
  started: number
  /** refresh lookups that finished without error */
  completed: number
  /** refresh lookups that threw or timed out */
  failed: number
  /** due refreshes skipped because the bucket had recent traffic */
  skippedRecentTraffic: number
}

/** The discovery layer's counters (`EnhancedDHTDiscovery.getMetrics()`). Bounded: no per-peer or per-CID labels. */
export interface DiscoveryMetrics {
  /** live peers per bucket index, only non-empty buckets */
  bucketFill: Record<number, number>
  peersInBuckets: number
  refreshes: number
  refreshesSkipped: number
  refreshErrors: number
  lookups: number
  /** lookups answered by the discovery cache, with no network traffic */
  discoveryCacheHits: number
  providersFound: Record<Provenance, number>
  peersInBackoff: number
  peersKnown: number
  trackedProviders: number
  successfulRequests: number
  failedRequests: number
  corruptBlocks: number
  /** each configured HTTP delegated router: its lookups, answers, failures and backoff (bounded by the config) */
  delegatedRouters: DelegatedRouterStats[]
}

/**
 * Maps keyed by peer or CID, each with its size and its bound (`stateSizes()` of discovery and
 * routing): every one must stay under its bound however many peers and CIDs pass through.
 */
export type StateSizes = Record<string, { size: number; max: number }>

/**
 * Maps of work in progress (requests, fetches, reservations), keyed by peer or CID: bounded by
 * the work running, and empty when the node is idle (`inFlightSizes()` of routing).
 */
export type InFlightSizes = Record<string, number>
