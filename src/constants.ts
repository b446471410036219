/**
 * Every default of ipfs-kit, in one place. Components document their options
 * with `@default` and read the value from here; nothing else writes a default.
 *
 * @packageDocumentation
 */

import { availableParallelism } from 'node:os'

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** The roles a node can take. They change real behaviour: see {@link ROLES}. */
export type Role = 'master' | 'worker' | 'leecher'

/** @default 'leecher' */
export const DEFAULT_ROLE: Role = 'leecher'

/** Network profile: `public` joins the IPFS network, `local` stays on 127.0.0.1. */
export type Profile = 'public' | 'local'

/** What a role changes. */
export interface RoleSettings {
  /** kad-dht server mode (answers queries, stores provider records) or client mode */
  dhtMode: 'server' | 'client'
  /** libp2p connection manager: maximum open connections */
  maxConnections: number
  /** memory cache tier bound, bytes */
  memoryCacheBytes: number
  /** disk cache tier bound, bytes */
  diskCacheBytes: number
  /** announce added and fetched content to the DHT and re-announce it periodically */
  reprovide: boolean
  /** pubsub topics the node joins on start */
  topics: readonly string[]
}

/** Topic on which nodes announce content they hold (the routing layer listens to it). */
export const CONTENT_ANNOUNCE_TOPIC = 'ipfs-kit/content-announce'

/** The role table (also in the README). */
export const ROLES: Readonly<Record<Role, Readonly<RoleSettings>>> = {
  master: {
    dhtMode: 'server',
    maxConnections: 400,
    memoryCacheBytes: 512 * MiB,
    diskCacheBytes: 16 * GiB,
    reprovide: true,
    topics: [CONTENT_ANNOUNCE_TOPIC]
  },
  worker: {
    dhtMode: 'server',
    maxConnections: 200,
    memoryCacheBytes: 256 * MiB,
    diskCacheBytes: 4 * GiB,
    reprovide: true,
    topics: [CONTENT_ANNOUNCE_TOPIC]
  },
  leecher: {
    dhtMode: 'client',
    maxConnections: 50,
    memoryCacheBytes: 64 * MiB,
    diskCacheBytes: 1 * GiB,
    reprovide: false,
    topics: []
  }
}

/**
 * Name of the repo folder when neither `init.repo` nor `IPFS_KIT_PATH` is set: the nearest
 * `.ipfs-kit` in the current folder or above it, else `~/.ipfs-kit`.
 */
export const DEFAULT_REPO_DIRNAME = '.ipfs-kit'
/** Environment variable that overrides the repo folder. */
export const REPO_PATH_ENV = 'IPFS_KIT_PATH'

/** Version of the repo layout written into `version` inside the repo. */
export const REPO_VERSION = 1

/**
 * Mode of the repo files that hold secrets (`config`, with the private key; `api.token`):
 * read and write for the owner only, whatever the umask. @default 0o600
 */
export const REPO_SECRET_FILE_MODE = 0o600

/** `code` of the process warning about a repo file other users can read (`process.on('warning')`). */
export const REPO_FILE_MODE_WARNING = 'IPFS_KIT_FILE_MODE'

/** @default 'public' for `ipfs-kit init`, as Kubo */
export const DEFAULT_PROFILE: Profile = 'public'

/* CLI (src/cli) */

/** Line the daemon prints once it is up; scripts and tests wait for it (as Kubo's). */
export const DAEMON_READY_LINE = 'Daemon is ready'

/**
 * How long `pubsub pub --connect` waits for a subscriber of its topic, and
 * `pubsub peers --connect` for a pubsub peer, before going on. @default 10 s
 */
export const CLI_PUBSUB_WAIT_MS = 10_000

/** How often the CLI looks again while it waits for pubsub peers. @default 100 ms */
export const CLI_POLL_INTERVAL_MS = 100

/** Swarm listen addresses per profile: TCP, WebSockets and QUIC. */
export const DEFAULT_LISTEN_ADDRS: Readonly<Record<Profile, readonly string[]>> = {
  public: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws', '/ip4/0.0.0.0/udp/4001/quic-v1'],
  local: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/udp/0/quic-v1']
}

/**
 * The listen address that asks the circuit relay v2 transport for a reservation on a relay it
 * discovers (any peer that speaks the relay's hop protocol). A `public` peer with the relay
 * client on listens on it from the start, reachable or not, so a peer behind NAT is reachable
 * through a relay before AutoNAT has decided anything.
 */
export const RELAY_DISCOVERY_LISTEN_ADDR = '/p2p-circuit'

/** What a circuit relay v2 server (`Swarm.RelayService`) grants the peers that reserve a slot on it. */
export interface RelayServiceLimits {
  /** reservations held at once */
  maxReservations: number
  /** how long a reservation lasts before the client must renew it, ms */
  reservationTtlMs: number
  /** how long one relayed connection may stay open, ms; 0: no limit (`Swarm.RelayService.ConnectionDurationLimit`) */
  durationLimitMs: number
  /**
   * bytes one relayed connection may carry, before the relay resets it; 0: no limit
   * (`Swarm.RelayService.ConnectionDataLimit`). With both limits 0 the relay sends no limit at
   * all, and the relayed connection is not "limited": bitswap runs on it.
   */
  dataLimitBytes: number
}

/**
 * The largest duration limit a relay enforces, ms (a timer's bound, about 24.8 days): what an
 * unlimited duration becomes when the data limit is kept (libp2p's relay server takes either both
 * limits or none).
 */
export const RELAY_MAX_DURATION_LIMIT_MS = 2 ** 31 - 1
/** The largest data limit a relay sends (protobuf uint64): an unlimited data limit next to a duration limit. */
export const RELAY_MAX_DATA_LIMIT_BYTES = 2n ** 64n - 1n

/**
 * Relay server limits per role, as Kubo's `Swarm.RelayService` (a relayed connection is
 * "limited": it is meant to carry the hole punch (DCUtR) and small exchanges, not content).
 * Only masters run the relay service by default (`Swarm.RelayService.Enabled`).
 */
export const RELAY_SERVICE_LIMITS: Readonly<Record<Role, Readonly<RelayServiceLimits>>> = {
  master: {
    maxReservations: 128,
    reservationTtlMs: 60 * 60_000,
    durationLimitMs: 2 * 60_000,
    dataLimitBytes: 1 * MiB
  },
  worker: {
    maxReservations: 32,
    reservationTtlMs: 60 * 60_000,
    durationLimitMs: 2 * 60_000,
    dataLimitBytes: 128 * KiB
  },
  leecher: {
    maxReservations: 4,
    reservationTtlMs: 30 * 60_000,
    durationLimitMs: 60_000,
    dataLimitBytes: 128 * KiB
  }
}

/** Whether a role runs the circuit relay v2 server unless the config says otherwise. */
export const DEFAULT_RELAY_SERVICE: Readonly<Record<Role, boolean>> = {
  master: true,
  worker: false,
  leecher: false
}

/** The public IPFS bootstrap peers (Kubo's list), used by the `public` profile only. */
export const PUBLIC_BOOTSTRAP_PEERS: readonly string[] = [
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
]

/**
 * HTTP delegated routers (IPFS HTTP Routing v1) asked for providers next to the DHT, per
 * profile (`Routing.DelegatedRouters`): `public` asks the public router Kubo and Helia use,
 * `local` none (and accepts only loopback URLs).
 */
export const DEFAULT_DELEGATED_ROUTERS: Readonly<Record<Profile, readonly string[]>> = {
  public: ['https://delegated-ipfs.dev'],
  local: []
}

/**
 * How long one delegated router gets to answer a provider lookup; a router that has not
 * answered by then has failed (a caller's abort before then is no failure). @default 5000
 */
export const DELEGATED_ROUTING_TIMEOUT_MS = 5_000

/** Provider records read from one delegated router's answer (the rest is not read). @default 100 */
export const DELEGATED_ROUTING_MAX_PROVIDERS = 100

/** Lookups in flight to one delegated router; a lookup that finds it busy skips it. @default 4 */
export const DELEGATED_ROUTING_MAX_IN_FLIGHT = 4

/** A delegated router's backoff after its first failure in a row (doubled per failure). @default 5000 */
export const DELEGATED_ROUTING_BACKOFF_BASE_MS = 5_000

/** The cap of a delegated router's backoff. @default 600000 (10 min) */
export const DELEGATED_ROUTING_BACKOFF_MAX_MS = 600_000

/**
 * `/routing/v1` on the daemon: how long an answer may look for providers or a peer beyond
 * what the node knows (the DHT, connected peers). @default 5000
 */
export const ROUTING_V1_LOOKUP_TIMEOUT_MS = 5_000

/** `/routing/v1`: records in one answer (the spec's limit for JSON answers). @default 100 */
export const ROUTING_V1_MAX_RECORDS = 100

/** `/routing/v1`: `max-age` of an answer with records, s (the spec's). @default 300 */
export const ROUTING_V1_MAX_AGE_S = 300

/** `/routing/v1`: `max-age` of a 404 (no record), s (the spec's). @default 15 */
export const ROUTING_V1_MAX_AGE_NOT_FOUND_S = 15

/** `/routing/v1`: `stale-while-revalidate` and `stale-if-error`, s (the spec's 48 h). @default 172800 */
export const ROUTING_V1_MAX_STALE_S = 172_800

/** The public Amino DHT protocol prefix (`/ipfs/kad/1.0.0`). */
export const PUBLIC_DHT_PREFIX = '/ipfs'

/** Default HTTP API address of the daemon. */
export const DEFAULT_API_ADDR = '/ip4/127.0.0.1/tcp/5001'

/** Kubo's default chunk size: 256 KiB fixed-size chunks. */
export const DEFAULT_CHUNK_SIZE = 256 * KiB
/** Kubo's balanced layout: at most 174 links per node. */
export const DEFAULT_MAX_CHILDREN_PER_NODE = 174
/** CID version of added content unless asked otherwise (Kubo: 0). */
export const DEFAULT_CID_VERSION = 0
/**
 * Shortest digest a CID may carry (identity aside): Kubo's `verifcid` refuses under 20 bytes.
 * A digest of a hash function we know must be its whole output (32 bytes for sha2-256).
 */
export const MIN_DIGEST_BYTES = 20
/** Longest digest a CID may carry, identity included (Kubo's and Helia's limit). */
export const MAX_DIGEST_BYTES = 128

/**
 * How long `repo verify` and `pin verify` wait for a peer to supply one missing or bad block
 * before they report it as lost and go on to the next.
 */
export const VERIFY_FETCH_TIMEOUT_MS = 20_000

/** How long a network call may take when the caller gives no signal. */
export const DEFAULT_NETWORK_TIMEOUT_MS = 60_000
/** How long a dial may take. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000
/**
 * Outbound ping streams per connection. libp2p's connection monitor pings every connection
 * every 10 s; with the ping service's default of 1, a ping still open (the DHT's own check of a
 * new peer, on a loaded node) makes the monitor's ping fail with TooManyOutboundProtocolStreams
 * and it aborts a healthy connection with everything in flight (js-libp2p #3283).
 */
export const PING_MAX_OUTBOUND_STREAMS = 4

/** Gossipsub: how long a subscribe waits for its first peer before returning. */
export const PUBSUB_ANNOUNCE_INTERVAL_MS = 1_000

/** Agent version advertised by identify. */
export const AGENT_NAME = 'ipfs-kit'

/* ------------------------------------------------------------------------------------------------
 * Cache (src/cache): a byte-bounded memory tier (ARC) in front of a byte-bounded disk tier.
 * ---------------------------------------------------------------------------------------------- */

/** Eviction policy of the memory cache tier: `arc` (scan resistant) or `lru` (baseline). */
export type CachePolicy = 'arc' | 'lru'

/** Memory cache tier policy. @default 'arc' */
export const DEFAULT_CACHE_POLICY: CachePolicy = 'arc'

/** Memory cache tier bound in bytes: the default role's `memoryCacheBytes` (64 MiB). */
export const DEFAULT_CACHE_MEMORY_BYTES: number = ROLES[DEFAULT_ROLE].memoryCacheBytes

/** Disk cache tier bound in bytes: the default role's `diskCacheBytes` (1 GiB). */
export const DEFAULT_CACHE_DISK_BYTES: number = ROLES[DEFAULT_ROLE].diskCacheBytes

/**
 * Largest block the memory tier holds (1 MiB, Kubo's soft block size limit). Larger blocks go to
 * the disk tier only.
 */
export const DEFAULT_CACHE_MEMORY_MAX_ITEM_BYTES = 1 * MiB

/** Largest block the disk tier holds (4 MiB, the largest block bitswap carries). */
export const DEFAULT_CACHE_DISK_MAX_ITEM_BYTES = 4 * MiB

/** Folder of the disk cache tier inside the repo: `<repo>/cache`. */
export const CACHE_DIRNAME = 'cache'

/**
 * Half-life of a disk item's heat: every access adds 1 to a score that halves every this many
 * milliseconds (10 minutes).
 */
export const DEFAULT_CACHE_HEAT_HALF_LIFE_MS = 10 * 60_000

/**
 * Heat at which a disk hit promotes the item to the memory tier. With 1.5, the second disk hit
 * within one half-life promotes (1 · 2^(-Δt/halfLife) + 1 ≥ 1.5 ⇔ Δt ≤ halfLife).
 */
export const DEFAULT_CACHE_PROMOTION_HEAT = 1.5

/**
 * How often the disk tier writes access metadata (heat, last access) to its LevelDB index. Puts and
 * deletes are written at once; reads only mark the entry dirty. Also flushed on `stop()`.
 */
export const DEFAULT_CACHE_INDEX_FLUSH_INTERVAL_MS = 5_000

/**
 * Disk eviction looks at this many least-recently-used items and evicts the coldest (lowest heat)
 * of them: recency and frequency at O(sample) per eviction.
 */
export const DEFAULT_CACHE_DISK_EVICTION_SAMPLE = 8

/** Disk tier writes (temp file, fsync, rename, index) that may run at the same time. */
export const DEFAULT_CACHE_DISK_WRITE_CONCURRENCY = 8

/**
 * Memory evictions waiting to be written to disk (demotion). When this many are queued, further
 * demotions are dropped (and counted) rather than holding evicted bytes in memory.
 */
export const DEFAULT_CACHE_DEMOTION_QUEUE_LIMIT = 64

/** How long a cache fetcher may run when the caller gives no signal. */
export const DEFAULT_CACHE_FETCH_TIMEOUT_MS: number = DEFAULT_NETWORK_TIMEOUT_MS

// ---------------------------------------------------------------------------
// Discovery (src/libp2p/discovery): k-bucket view, refresh, reputation,
// backoff, provider tracking, content affinity, ranking, discovery cache.
// ---------------------------------------------------------------------------

/** Kademlia `k`: live entries per k-bucket (kad-dht's `K`). @default 20 */
export const DISCOVERY_KBUCKET_SIZE = 20
/** Replacement-cache entries per k-bucket, promoted when a live entry is removed. @default 5 */
export const DISCOVERY_KBUCKET_REPLACEMENTS = 5

/** Refresh interval of the farthest bucket (index 0, half the keyspace). @default 60 minutes */
export const DISCOVERY_REFRESH_FARTHEST_INTERVAL_MS = 60 * 60_000
/** How much shorter each nearer bucket's refresh interval is than the previous one. @default 5 minutes */
export const DISCOVERY_REFRESH_INTERVAL_STEP_MS = 5 * 60_000
/** Shortest refresh interval, reached by the nearest buckets. @default 10 minutes */
export const DISCOVERY_REFRESH_MIN_INTERVAL_MS = 10 * 60_000
/** Relative jitter on every refresh interval (0.1 = ±10 %). @default 0.1 */
export const DISCOVERY_REFRESH_JITTER = 0.1
/**
 * Highest bucket index (common-prefix length) the scheduler refreshes. Finding a lookup key for
 * bucket `i` costs about 2^(i+1) SHA-256 hashes, so it is capped like kad-dht's own refresh (15).
 * @default 15
 */
export const DISCOVERY_REFRESH_MAX_INDEX = 15
/** How long one bucket-refresh lookup may run (kad-dht's `TABLE_REFRESH_QUERY_TIMEOUT`). @default 30 s */
export const DISCOVERY_REFRESH_QUERY_TIMEOUT_MS = 30_000

/** Beta-prior `alpha` of the success rate: an unknown peer scores alpha/(alpha+beta) = 0.5. @default 2 */
export const REPUTATION_PRIOR_ALPHA = 2
/** Beta-prior `beta` of the success rate. @default 2 */
export const REPUTATION_PRIOR_BETA = 2
/** Half-life with which a peer's evidence decays toward the prior (score 0.5). @default 6 hours */
export const REPUTATION_HALF_LIFE_MS = 6 * 60 * 60_000
/** Smoothing factor of the latency EWMA (weight of the newest sample). @default 0.3 */
export const REPUTATION_LATENCY_EWMA_ALPHA = 0.3
/** Smoothing factor of the throughput EWMA (weight of the newest sample). @default 0.3 */
export const REPUTATION_THROUGHPUT_EWMA_ALPHA = 0.3
/** Ring buffer of recent latencies per peer, from which p95 is computed. @default 32 */
export const REPUTATION_LATENCY_SAMPLES = 32
/** Latency that scores 0.5 on the latency axis (lower is better). @default 250 ms */
export const REPUTATION_REFERENCE_LATENCY_MS = 250
/** Throughput that scores 0.5 on the throughput axis (higher is better). @default 1 MiB/s */
export const REPUTATION_REFERENCE_THROUGHPUT_BPS = 1 * MiB
/** Weight of the success rate in a peer's score. @default 0.5 */
export const REPUTATION_SUCCESS_WEIGHT = 0.5
/** Weight of latency in a peer's score. @default 0.2 */
export const REPUTATION_LATENCY_WEIGHT = 0.2
/** Weight of throughput in a peer's score. @default 0.3 */
export const REPUTATION_THROUGHPUT_WEIGHT = 0.3
/** A block that failed verification counts as this many failures. @default 10 */
export const REPUTATION_VERIFICATION_FAILURE_WEIGHT = 10
/** How long a peer stays flagged after serving a block that failed verification. @default 24 hours */
export const REPUTATION_FLAG_DURATION_MS = 24 * 60 * 60_000
/** Highest score a flagged peer can have. @default 0.05 */
export const REPUTATION_FLAGGED_SCORE_CAP = 0.05
/** Peers whose reputation is kept; the least recently seen are evicted beyond it. @default 10 000 */
export const REPUTATION_MAX_PEERS = 10_000
/**
 * A peer not seen for this long is forgotten by `prune()` (unless it is flagged): after 28
 * half-lives its evidence has decayed to nothing. @default 7 days
 */
export const REPUTATION_MAX_IDLE_MS = 7 * 24 * 60 * 60_000
/** How often a peer writes the reputation records that changed to its datastore. @default 60 s */
export const REPUTATION_PERSIST_INTERVAL_MS = 60_000
/** Datastore key prefix of saved reputations: `/ipfs-kit/reputation/<peerId>`. */
export const REPUTATION_DATASTORE_PREFIX = '/ipfs-kit/reputation'

/** First backoff delay after one failure. @default 1 s */
export const BACKOFF_BASE_MS = 1_000
/** Growth factor of the backoff delay per consecutive failure. @default 2 */
export const BACKOFF_MULTIPLIER = 2
/** Cap of the backoff delay. @default 10 minutes */
export const BACKOFF_MAX_MS = 10 * 60_000
/** Relative jitter: a delay `d` becomes a value in (d × (1 − jitter), d]. @default 0.2 */
export const BACKOFF_JITTER = 0.2
/** A peer that has not failed for this long starts again at level 1. @default 30 minutes */
export const BACKOFF_RESET_AFTER_MS = 30 * 60_000
/** Peers whose backoff state is kept (least recently failed evicted beyond it). @default 10 000 */
export const BACKOFF_MAX_PEERS = 10_000

/** Validity of a provider record: kad-dht's `PROVIDERS_VALIDITY` (libp2p spec). @default 48 hours */
export const PROVIDER_RECORD_VALIDITY_MS = 48 * 60 * 60_000
/** Content ids whose providers are tracked (least recently updated evicted beyond it). @default 10 000 */
export const PROVIDER_STORE_MAX_CIDS = 10_000
/** Providers tracked per content id (least recently seen evicted beyond it). @default 64 */
export const PROVIDER_STORE_MAX_PROVIDERS_PER_CID = 64
/** Multiaddrs kept per provider record. @default 16 */
export const PROVIDER_MAX_MULTIADDRS = 16

/** DAGs and announcement groups tracked for content affinity. @default 5 000 */
export const AFFINITY_MAX_GROUPS = 5_000
/** A peer that served or announced nothing of a group for this long leaves it. @default 24 h */
export const AFFINITY_MAX_AGE_MS = 24 * 60 * 60_000
/** Peers kept per DAG or announcement group (lowest count evicted). @default 64 */
export const AFFINITY_MAX_PEERS_PER_GROUP = 64
/** Block → group links kept (least recently used evicted). @default 100 000 */
export const AFFINITY_MAX_LINKS = 100_000
/** CIDs of one announcement that are linked together; the rest are ignored. @default 1 024 */
export const AFFINITY_MAX_ANNOUNCEMENT_SIZE = 1_024
/** Weight of having served blocks of the same DAG. @default 1 */
export const AFFINITY_DAG_WEIGHT = 1
/** Weight of having announced (or served) content announced together with the CID. @default 0.7 */
export const AFFINITY_ANNOUNCEMENT_WEIGHT = 0.7

/** Ranking: score bonus of a provider we are already connected to. @default 0.15 */
export const RANKING_CONNECTED_BONUS = 0.15
/** Ranking: score bonus per unit of content affinity (affinity is in [0, 1]). @default 0.3 */
export const RANKING_AFFINITY_BONUS = 0.3
/** Ranking: providers returned. @default Infinity (all, ordered) */
export const RANKING_DEFAULT_COUNT = Number.POSITIVE_INFINITY
/** Ranking: a peer with fewer observations than this is "unexplored". @default 3 */
export const RANKING_EXPLORATION_MIN_OBSERVATIONS = 3
/** Ranking: the head of the ranking in which one slot is reserved for an unexplored peer. @default 4 */
export const RANKING_EXPLORATION_WINDOW = 4
/** Ranking: probability of exploring when the head has a single slot. @default 0.1 */
export const RANKING_EXPLORATION_EPSILON = 0.1

/** How long a findProviders result is reused without network traffic. @default 5 minutes */
export const DISCOVERY_CACHE_TTL_MS = 5 * 60_000
/** How long an empty findProviders result is reused. @default 30 s */
export const DISCOVERY_CACHE_NEGATIVE_TTL_MS = 30_000
/** findProviders results kept (least recently used evicted). @default 1 000 */
export const DISCOVERY_CACHE_MAX_ENTRIES = 1_000
/** Providers kept per cached findProviders result. @default 64 */
export const DISCOVERY_CACHE_MAX_PROVIDERS = 64

// ---------------------------------------------------------------------------
// Routing (src/libp2p/routing): hedged, reputation-ranked block retrieval.
// ---------------------------------------------------------------------------

/** Requests for one block that may be in flight at once (the first plus hedges). @default 3 */
export const ROUTING_MAX_IN_FLIGHT_PER_BLOCK = 3

/** Shortest hedge delay: a peer never gets less than this before the next is asked too. @default 150 */
export const ROUTING_HEDGE_MIN_DELAY_MS = 150

/**
 * Longest hedge delay, however slow a peer's history; also the silence after which a want is
 * sent again, and how long a request past its deadline holds off a fetch's next pass. @default 4000
 */
export const ROUTING_HEDGE_MAX_DELAY_MS = 4_000
/** How long the fetcher trusts what it read of a peer's protocols (identify may update them). */
export const ROUTING_PROTOCOLS_RECHECK_MS = 10_000
/**
 * Looks for more candidates a block fetch makes after its first, each once no request is left
 * within its deadline and one more failed or became overdue (`HedgedBlockFetcher.fetch`).
 */
export const ROUTING_MAX_LOOKS_AGAIN = 3
/**
 * A block fetch that keeps looking (a retrieval with a deadline) pauses this long before its
 * second pass over the providers, once every request of the first failed or is overdue (an
 * overdue request still open having waited {@link ROUTING_HEDGE_MAX_DELAY_MS}); the
 * pause doubles at every pass, up to {@link ROUTING_PASS_MAX_DELAY_MS}. @default 250
 */
export const ROUTING_PASS_MIN_DELAY_MS = 250
/** Longest pause between two passes of a block fetch that keeps looking. @default 4000 */
export const ROUTING_PASS_MAX_DELAY_MS = 4_000
/**
 * Connected peers asked (bitswap want-have) by the lookup of a later pass: the first pass asks
 * {@link DISCOVERY_CONNECTED_PROBE_LIMIT}, the best ranked, and a provider ranked low (slow, or
 * never measured) may be the only one left. @default 64
 */
export const ROUTING_PASS_PROBE_LIMIT = 64
/**
 * How long connected peers get to answer the want-have of a later pass: the first pass gives
 * them {@link DISCOVERY_CONNECTED_PROBE_TIMEOUT_MS}, each later pass twice the one before, up to
 * this (a loaded peer may answer late, and its answer is used as soon as it comes). @default 16000
 */
export const ROUTING_PASS_PROBE_MAX_TIMEOUT_MS = 16_000
/**
 * Known providers (records, the DAG's session, affinity) that are not connected, and not backed
 * off, dialled again by a later pass, at most: one that died may be back. @default 8
 */
export const ROUTING_PASS_REDIAL_MAX = 8
/** How long a later pass waits for those dials. @default 5000 */
export const ROUTING_PASS_REDIAL_TIMEOUT_MS = 5_000
/** Weight of a new sample in a peer's pace (round trip, interval between answers): `PeerPace`. */
export const ROUTING_PACE_ALPHA = 0.2
/** A hedge deadline over the expected time to the answer (libp2p's `AdaptiveTimeout` uses 1.2). */
export const ROUTING_PACE_MULTIPLIER = 1.2
/** An answer after its deadline counts this many times its latency (as `AdaptiveTimeout` does). */
export const ROUTING_PACE_FAILURE_MULTIPLIER = 2

/**
 * Wants (want-block, want-have, cancel) to one peer issued within this many ms go out in one
 * bitswap message: a DAG read asks for blocks in bursts, and one message (one stream) per block
 * cost the provider a stream negotiation each. @default 1
 */
export const ROUTING_WANT_BATCH_MS = 1

/** Per-peer adaptive timeouts kept (least recently used dropped first). @default 1024 */
export const ROUTING_PEER_TIMEOUTS_KEPT = 1024

/**
 * A block that arrives this long after we last asked a peer for it (or after the request
 * ended) still counts as asked for; a request still open always counts. @default 60000
 */
export const ROUTING_RECENT_WANT_TTL_MS = 60_000
/** CIDs whose recent wants are remembered (least recently asked forgotten). @default 65 536 */
export const ROUTING_RECENT_WANTS_MAX_CIDS = 65_536
/** Peers remembered as asked for one CID (hedges, probes, want-haves). @default 32 */
export const ROUTING_RECENT_WANTS_MAX_PEERS_PER_CID = 32
/** Peers remembered as asked for anything lately (the peers we fetch from). @default 4096 */
export const ROUTING_RECENT_WANTS_MAX_PEERS = 4_096

/**
 * Longest wait before a want-block that got no answer at all is sent again (the first resend
 * comes after the longest hedge delay, then the wait doubles up to this). Bitswap messages can
 * be lost under load. @default 16000
 */
export const ROUTING_WANT_RESEND_MAX_MS = 16_000

/** How long a provider lookup may run when the caller gives no signal. @default 30000 */
export const DISCOVERY_FIND_TIMEOUT_MS = 30_000

/** Connected peers asked (bitswap want-have) per lookup, best ranked first. @default 8 */
export const DISCOVERY_CONNECTED_PROBE_LIMIT = 8

/** How long connected peers get to answer a want-have. @default 2000 */
export const DISCOVERY_CONNECTED_PROBE_TIMEOUT_MS = 2_000

/** Largest content announcement accepted, bytes. @default 16384 */
export const ANNOUNCE_MAX_MESSAGE_BYTES = 16 * 1024
/** CIDs in one announcement, at most. @default 64 */
export const ANNOUNCE_MAX_CIDS = 64
/** Addresses in one announcement, at most. @default 16 */
export const ANNOUNCE_MAX_ADDRS = 16
/** Announcements accepted per origin peer per minute; the rest are ignored. @default 120 */
export const ANNOUNCE_RATE_LIMIT_PER_MINUTE = 120
/**
 * Message origins (and forwarding peers) the announce rate limit tracks at once; a message
 * from a new one past this is ignored like one over its limit. @default 10 000
 */
export const ANNOUNCE_RATE_LIMIT_MAX_KEYS = 10_000
/** Announced CIDs a master or worker re-announces (least recently announced dropped). @default 10 000 */
export const ANNOUNCE_MAX_REPROVIDED = 10_000
/** How often masters and workers re-announce what they announced (pubsub and DHT). @default 600000 */
export const ANNOUNCE_REPROVIDE_INTERVAL_MS = 10 * 60_000

/**
 * How long a retrieval runs on the providers it already knows (and proven connected peers)
 * before it also looks for the DAG's other providers, as bitswap sessions wait before a
 * provider search (go-bitswap's provSearchDelay is 1 s). A lookup at once would probe the
 * peers being asked for the same blocks. @default 1000
 */
export const ROUTING_SESSION_LOOKUP_DELAY_MS = 1_000
/** Blocks of one DAG fetched at once by the routing layer. @default 16 */
export const ROUTING_BLOCK_CONCURRENCY = 16
/** How long `retrieveContent` may take when no timeout is given (the seed's `result(timeout=30)`). @default 30000 */
export const ROUTING_RETRIEVE_TIMEOUT_MS = 30_000
/** Block size assumed when estimating a provider's time per block. @default 262144 */
export const ROUTING_TYPICAL_BLOCK_BYTES = 256 * 1024
/** Latency assumed for a peer never measured, ms. @default 100 */
export const ROUTING_UNKNOWN_LATENCY_MS = 100
/** A peer with fewer outcomes than this is on probation. @default 3 */
export const ROUTING_PROBATION_OBSERVATIONS = 3
/** Requests a peer on probation may have in flight before others are preferred. @default 2 */
export const ROUTING_PROBATION_IN_FLIGHT = 2
/**
 * Connected peers with a proven record (at least {@link ROUTING_PROBATION_OBSERVATIONS}
 * outcomes, a score above {@link ROUTING_PROVEN_MIN_SCORE}, not backed off) asked for a block
 * at once, before any lookup answers: a want-have probe yields providers in the order they
 * answer, and a bad peer answers a want-have as fast as a good one. @default 2
 */
export const ROUTING_PROVEN_CONNECTED_FIRST = 2
/**
 * Exploration by side requests: the probability that a block fetch, once it has its block, also
 * asks one unexplored connected peer (fewer than {@link ROUTING_PROBATION_OBSERVATIONS}
 * outcomes, not backed off) for it. Nothing waits for the answer, so it costs bandwidth and CPU,
 * not latency; a peer that serves well becomes proven and shares the load. Off by default: on
 * a CPU-bound machine with every node on loopback the side requests cost more than they won
 * (an uncommitted measurement; `npm run bench` does not measure it yet). Ranking keeps its own
 * exploration slot (RANKING_EXPLORATION_WINDOW). @default 0
 */
export const ROUTING_EXPLORE_PROBABILITY = 0
/**
 * Exploration leaves out a peer asked for the block within this long (a bitswap server does not
 * send a block to a peer again within 5 s). @default 5000
 */
export const ROUTING_EXPLORE_SKIP_ASKED_MS = 5_000
/**
 * Exploration stops while this many connected peers are proven (see
 * {@link ROUTING_PROVEN_MIN_SCORE}): enough peers to share the load and stand in for each
 * other; side requests beyond that only cost bandwidth and CPU. @default 3
 */
export const ROUTING_EXPLORE_UNTIL_PROVEN = 3
/** Side requests of exploration running at once, at most. @default 2 */
export const ROUTING_EXPLORE_MAX_CONCURRENT = 2
/** Reputation score above which a connected peer counts as proven (the prior is 0.5). @default 0.55 */
export const ROUTING_PROVEN_MIN_SCORE = 0.55
/** Requests in a row a peer leaves unanswered (abandoned for a faster peer) that count as one failure. @default 3 */
export const DISCOVERY_UNANSWERED_STREAK_FAILURE = 3
/** Peers whose unanswered streak is tracked, at most. @default 4096 */
export const DISCOVERY_UNANSWERED_PEERS_KEPT = 4096
/** An unanswered streak with no new request for this long is forgotten. @default 10 min */
export const DISCOVERY_UNANSWERED_MAX_AGE_MS = 10 * 60_000
/**
 * How often discovery drops what has aged out: expired provider records and cached lookups,
 * reset backoff, idle reputation and affinity, old unanswered streaks. @default 60 s
 */
export const DISCOVERY_PRUNE_INTERVAL_MS = 60_000

// ---------------------------------------------------------------------------
// HTTP API, gateway, metrics and dashboard (src/api).
// ---------------------------------------------------------------------------

/**
 * Default HTTP API address per profile: `public` listens on Kubo's 127.0.0.1:5001; `local`
 * (tests, several nodes on one machine) on an ephemeral loopback port, as Kubo's `test`
 * profile. The address actually bound is written to `<repo>/api` while the daemon runs.
 */
export const DEFAULT_API_ADDRS: Readonly<Record<Profile, string>> = {
  public: DEFAULT_API_ADDR,
  local: '/ip4/127.0.0.1/tcp/0'
}

/** File in the repo holding the running daemon's API multiaddr (Kubo's `$IPFS_PATH/api`). */
export const API_ADDR_FILE = 'api'

/** File in the repo holding the API bearer token (mode 0600), made on the daemon's first start. */
export const API_TOKEN_FILE = 'api.token'

/** Random bytes in a generated API token (hex-encoded: 64 characters). @default 32 */
export const API_TOKEN_BYTES = 32

/** Largest request body for `add` (the files uploaded), bytes. @default 1 GiB */
export const DEFAULT_API_MAX_BODY_BYTES = 1 * GiB

/** Largest request body for `block/put` (one block plus multipart framing), bytes. @default 4 MiB + 64 KiB */
export const API_MAX_BLOCK_BODY_BYTES = 4 * MiB + 64 * KiB

/** Largest request body for `pubsub/pub` (one message plus multipart framing), bytes. @default 1 MiB + 64 KiB */
export const API_MAX_PUBSUB_BODY_BYTES = 1 * MiB + 64 * KiB

/** Largest request body for every other endpoint (they take their arguments in the URL). @default 64 KiB */
export const API_MAX_SMALL_BODY_BYTES = 64 * KiB

/** Largest request header block, bytes (Node's `maxHeaderSize`); larger gets 431. @default 16 KiB */
export const DEFAULT_API_MAX_HEADER_BYTES = 16 * KiB

/** Most request headers read (Node's `maxHeadersCount`). @default 100 */
export const API_MAX_HEADERS_COUNT = 100

/** Time a client has to send its request headers. @default 10 s */
export const API_HEADERS_TIMEOUT_MS = 10_000

/** Time a client has to send a whole request (headers and body: a large `add`). @default 1 hour */
export const API_REQUEST_TIMEOUT_MS = 60 * 60_000

/** Providers `routing/findprovs` returns unless `num-providers` says otherwise (Kubo's default). @default 20 */
export const API_FINDPROVS_DEFAULT_COUNT = 20

/** Bucket bounds (seconds) of the retrieval latency histograms. */
export const API_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
]

/** Prefix of every Prometheus metric name. */
export const METRICS_PREFIX = 'ipfs_kit'

/** How often the dashboard's history (cache hit ratio, peers, …) is sampled. @default 1 s */
export const DASHBOARD_SAMPLE_INTERVAL_MS = 1_000

/** Samples of history kept for the dashboard's plots (5 minutes at one a second). @default 300 */
export const DASHBOARD_HISTORY_SAMPLES = 300

/** Recent retrievals kept for the dashboard and `kit/stats`. @default 100 */
export const DASHBOARD_RECENT_RETRIEVALS = 100

/** How often the dashboard page polls the daemon. @default 1 s */
export const DASHBOARD_POLL_INTERVAL_MS = 1_000

/** Peers listed by `kit/reputation` and the dashboard's reputation table, best first. @default 200 */
export const API_REPUTATION_LIMIT = 200

/** Peer-store tag on providers that served us (its value is their score × 100). */
export const DISCOVERY_PROVIDER_TAG = 'ipfs-kit-provider'
/** How long a provider tag lasts without another success. @default 600000 */
export const DISCOVERY_PROVIDER_TAG_TTL_MS = 10 * 60_000
/** A provider's tag is written to the peer store again when its value moves by this much. */
export const DISCOVERY_PROVIDER_TAG_STEP = 5

/** Blocks fetched ahead while walking a DAG to pin it. @default 8 */
export const PIN_WALK_PREFETCH = 8

// ---------------------------------------------------------------------------
// Bitswap server protection (src/libp2p/peer/bitswap-guard.ts).
// ---------------------------------------------------------------------------

/**
 * Largest bitswap message accepted or sent, bytes: 4 MiB, Helia's and boxo's limit (a block is at
 * most 2 MiB). A longer frame resets the stream and counts as a violation.
 * @default 4194304
 */
export const BITSWAP_MAX_MESSAGE_BYTES = 4 * MiB
/**
 * Inbound bitswap streams open at once per connection: Helia's own value (its docs say 32, its
 * code 1024). A bitswap sender opens one stream per message, up to 50 at once, so a low limit
 * would drop messages of a busy honest peer; floods are handled by the per-peer budget instead.
 * @default 1024
 */
export const BITSWAP_MAX_INBOUND_STREAMS = 1024
/**
 * Work one peer may ask of the bitswap server per window: 1 unit per message plus 1 per
 * want-list entry, block and block presence. A leecher pulling 1 GiB in 256 KiB blocks sends
 * about 12 000 (want-have, want-block and cancel per block). @default 20000
 */
export const BITSWAP_PEER_BUDGET = 20_000
/** The window of {@link BITSWAP_PEER_BUDGET}. @default 10000 */
export const BITSWAP_PEER_BUDGET_WINDOW_MS = 10_000
/** How long a peer that flooded or sent an oversized or malformed message is refused. @default 10 minutes */
export const BITSWAP_BAN_MS = 10 * 60_000
/** Peers refused at once, at most (the oldest ban is dropped beyond it). @default 10000 */
export const BITSWAP_MAX_BANNED_PEERS = 10_000

/** How long a publish waits for gossipsub streams to peers that just subscribed. @default 2000 */
export const PUBSUB_PUBLISH_STREAM_WAIT_MS = 2_000

/** Peers a publish remembers having waited for, at most. @default 4096 */
export const PUBSUB_WAITED_PEERS_KEPT = 4096

/**
 * Messages a `pubsub/sub` subscriber may have waiting for its HTTP response, at most. Past it
 * (or past {@link API_PUBSUB_SUB_MAX_QUEUED_BYTES}) a new message is dropped for that subscriber
 * and counted, as Kubo drops for a subscription whose buffer (32 messages) is full: a client
 * that stops reading costs the daemon a bounded amount of memory, not one message per publish.
 * @default 128
 */
export const API_PUBSUB_SUB_MAX_QUEUED_MESSAGES = 128

/**
 * Payload bytes a `pubsub/sub` subscriber may have waiting, at most (a message that finds the
 * queue empty is always taken, so one message of gossipsub's 1 MiB limit always fits). Four
 * messages of the largest size, or 128 of 32 KiB. @default 4 MiB
 */
export const API_PUBSUB_SUB_MAX_QUEUED_BYTES = 4 * MiB

/** Longest symlink target `add` takes in a multipart `application/symlink` part, bytes (Linux's `PATH_MAX`). */
export const API_MAX_SYMLINK_TARGET_BYTES = 4096

// ---------------------------------------------------------------------------
// add: hashing, writing and pinning what the importer produces

/**
 * Worker threads that hash the leaves of an add (SHA-256), beside the thread that chunks,
 * encodes and writes them. @default one fewer than the machine's cores, from 1 to 4
 */
export const ADD_HASH_WORKERS = Math.max(1, Math.min(4, availableParallelism() - 1))
/** Leaves of one file hashed in this thread before the add hands leaves to the hash workers. @default 4 */
export const ADD_WORKER_MIN_LEAVES = 4
/** Leaves of one file being hashed and written at once (the importer's `blockWriteConcurrency`). @default 32 */
export const ADD_BLOCK_WRITE_CONCURRENCY = 32
/**
 * Blocks of one add whose links are kept in memory to pin its root without reading the DAG
 * back; an add of more blocks (about 250 GiB of 256 KiB chunks) pins by walking the DAG on disk.
 * @default 1_000_000
 */
export const ADD_PIN_MAX_BLOCKS = 1_000_000
/** Pinned-block records read from the datastore at once while pinning an add. @default 64 */
export const ADD_PIN_READ_CONCURRENCY = 64

// ---------------------------------------------------------------------------
// Block stream: ipfs-kit's private block transfer between ipfs-kit peers
// (src/libp2p/routing/block-stream.ts). Bitswap stays for every other peer.

/** Protocol id of the block stream. */
export const BLOCK_STREAM_PROTOCOL = '/ipfs-kit/blocks/1.0.0'
/**
 * Largest block sent or accepted on a block stream: the largest block this node stores (the disk
 * cache's item bound, and what `block/put --allow-big-block` accepts). A server answers DONT_HAVE
 * for a larger block; a client resets a stream whose reply announces one. @default 4 MiB
 */
export const BLOCK_STREAM_MAX_BLOCK_BYTES = DEFAULT_CACHE_DISK_MAX_ITEM_BYTES
/** Longest CID carried in a block-stream frame, bytes (a sha2-512 CIDv1 is 68). @default 256 */
export const BLOCK_STREAM_MAX_CID_BYTES = 256
/**
 * Wants one block stream may have open (asked and not yet answered, cancels included), both
 * ways: a client never sends more, a server resets a stream that goes past it. @default 1024
 */
export const BLOCK_STREAM_MAX_WANTS = 1024
/** Blockstore reads a server runs at once for one stream. @default 8 */
export const BLOCK_STREAM_READ_CONCURRENCY = 8
/** Inbound block streams per connection (a client keeps one per peer). @default 4 */
export const BLOCK_STREAM_MAX_INBOUND_STREAMS = 4
/** Outbound block streams per connection. @default 4 */
export const BLOCK_STREAM_MAX_OUTBOUND_STREAMS = 4
/** How long a client waits for a block stream to open (dial and protocol negotiation). @default 10 s */
export const BLOCK_STREAM_OPEN_TIMEOUT_MS = 10_000
/** A client closes a peer's stream after this long with no want open. @default 30 s */
export const BLOCK_STREAM_IDLE_MS = 30_000
/**
 * Peers a client keeps a stream open to, at most: past it, the least recently used idle stream is
 * closed when a new one opens. @default 256
 */
export const BLOCK_STREAM_MAX_PEERS = 256

/** Datastore key of the MFS root CID (Kubo's key: the same repo layout a Kubo user knows). */
export const MFS_ROOT_KEY = '/local/filesroot'
/**
 * Layers of the trickle layout repeated at each depth, for files written through MFS (Kubo's
 * `files write` appends with go-unixfs' trickle layout). @default 4
 */
export const MFS_TRICKLE_LAYER_REPEAT = 4
/** Chunk size of the zeros filling a gap when `files write` starts past the end (Kubo's). @default 4096 */
export const MFS_SPARSE_CHUNK_BYTES = 4096
// --- config, network and operations commands (issue 15) ---
/** Peers whose stream bytes `stats bw --peer` keeps (least recently active forgotten). @default 1024 */
export const BANDWIDTH_MAX_PEERS = 1024
/** Protocols whose stream bytes `stats bw --proto` keeps. @default 256 */
export const BANDWIDTH_MAX_PROTOCOLS = 256
/** Weight of the last second in `stats bw` rates (a moving average, as go-flow-metrics'). @default 1 - e^-1 */
export const BANDWIDTH_RATE_ALPHA = 1 - Math.exp(-1)
/** `stats bw --poll`'s interval. @default 1 s */
export const STATS_BW_POLL_INTERVAL_MS = 1000
/** Multihashes of received blocks remembered to count duplicates (`bitswap stat`). @default 4096 */
export const BITSWAP_STATS_RECENT_BLOCKS = 4096
/** Pings `ping` sends without `-n` (Kubo's). @default 10 */
export const PING_DEFAULT_COUNT = 10
/** Most pings one `ping` sends. @default 1000 */
export const PING_MAX_COUNT = 1000
/** Time between pings of one `ping` (Kubo's). @default 1 s */
export const PING_INTERVAL_MS = 1000
/** How long one ping waits for its pong. @default 10 s */
export const PING_TIMEOUT_MS = 10_000
/** How long `routing findpeer` looks. @default 30 s */
export const ROUTING_FINDPEER_TIMEOUT_MS = 30_000
/** How long `routing provide` may take. @default 60 s */
export const ROUTING_PROVIDE_TIMEOUT_MS = 60_000
/** Subsystems `log level` keeps a level for. @default 256 */
export const LOG_MAX_SUBSYSTEMS = 256
/** Largest request body of `config/replace` (a config file plus multipart framing), bytes. @default 1 MiB */
export const API_MAX_CONFIG_BODY_BYTES = 1 * MiB
// ---------------------------------------------------------------------------
// Keys and IPNS names (src/kit/keys.ts, src/kit/names.ts): `key`, `name`, `resolve`,
// `routing get|put`.
// ---------------------------------------------------------------------------

/** Lifetime of an IPNS record `name publish` signs, as Kubo's `--lifetime`. @default 48 h */
export const DEFAULT_IPNS_LIFETIME_MS = 48 * 60 * 60_000
/**
 * How often the daemon checks the names it published and re-signs those whose record (or its
 * copy in the DHT) is within a day of expiring, with each name's own lifetime (Helia's
 * republisher; it also runs once at start). @default 1 h
 */
export const IPNS_REPUBLISH_INTERVAL_MS = 60 * 60_000
/**
 * How long the daemon's first rebroadcast of its own valid records (to the DHT and pubsub, as
 * Kubo's initial republish) waits at most for the bootstrap peers and a first peer in the
 * DHT's routing table. @default 30 s
 */
export const IPNS_REBROADCAST_BOOTSTRAP_WAIT_MS = 30_000
/** RSA key size `key gen --type rsa` makes without `--size` (Kubo's). @default 2048 */
export const DEFAULT_RSA_KEY_BITS = 2048
/** Smallest RSA key made or imported, bits (Kubo's minimum). @default 2048 */
export const MIN_RSA_KEY_BITS = 2048
/** Largest RSA key made, bits (libp2p's maximum). @default 8192 */
export const MAX_RSA_KEY_BITS = 8192
/** The name of the node's own key (its identity) in `key list` and `name publish --key`. */
export const SELF_KEY_NAME = 'self'
/** Largest `key/import` body: one key file (an 8192-bit RSA PEM is under 7 KiB). @default 64 KiB */
export const API_MAX_KEY_BODY_BYTES = 64 * 1024
/** Largest `routing/put` body: one IPNS record (at most 10 KiB, as the IPNS spec says), with multipart framing. @default 64 KiB */
export const API_MAX_RECORD_BODY_BYTES = 64 * 1024
/* ------------------------------------------------------------------------------------------------
 * `add` options as Kubo's (src/kit/import-options.ts): chunkers, layouts, hashes, progress.
 * ---------------------------------------------------------------------------------------------- */

/** Largest chunk any chunker may cut (Kubo's `ChunkSizeLimit`, 1 MiB): larger sizes are refused. */
export const CHUNK_SIZE_LIMIT = 1 * MiB

/** Kubo's rabin chunker without sizes (`--chunker=rabin`): an average of 256 KiB. */
export const DEFAULT_RABIN_AVG_BYTES = 256 * KiB

/** Smallest `min` of Kubo's `rabin-<min>-<avg>-<max>`: 16 bytes. */
export const RABIN_MIN_LIMIT_BYTES = 16

/** Kubo's buzhash chunker (`--chunker=buzhash`): no chunk but a file's last is smaller (128 KiB). */
export const BUZHASH_MIN_BYTES = 128 * KiB

/** Kubo's buzhash chunker: no chunk is larger (512 KiB). */
export const BUZHASH_MAX_BYTES = 512 * KiB

/** Kubo's buzhash chunker: the rolling hash covers the last this many bytes (one bit of rotation each). */
export const BUZHASH_WINDOW_BYTES = 32

/** Kubo's buzhash chunker cuts where the low 17 bits of the rolling hash are all zero (128 KiB on average past the minimum). */
export const BUZHASH_MASK = 2 ** 17 - 1

/** Kubo's trickle layout (`--trickle`): each depth repeats this many times before it grows. */
export const TRICKLE_LAYER_REPEAT = 4

/**
 * `add`'s progress objects (`{Name, Bytes}` with `progress=true`) come once per this many bytes
 * of a file, and at its end (Kubo's `progressReaderIncrement`, 256 KiB).
 */
export const ADD_PROGRESS_INCREMENT_BYTES = 256 * KiB
// --- cluster (issue 17) ---
/** Name of the cluster's OrbitDB database when a master creates one. @default 'ipfs-kit-cluster' */
export const CLUSTER_DEFAULT_NAME = 'ipfs-kit-cluster'
/** File in the repo that starts a cluster with the node (IPFS Cluster's `service.json`). @default 'cluster.json' */
export const CLUSTER_CONFIG_FILE = 'cluster.json'
/** Folder in the repo of the cluster's OrbitDB keystore, heads and index. @default 'cluster' */
export const CLUSTER_DIRNAME = 'cluster'
/** Time between a member's heartbeats. @default 2 s */
export const CLUSTER_HEARTBEAT_INTERVAL_MS = 2_000
/** A heartbeat is valid this long; past it (and a failed ping) the member is down. @default 6 s */
export const CLUSTER_HEARTBEAT_TTL_MS = 6_000
/** Time between two checks of members' heartbeats (and recovery passes). @default 1 s */
export const CLUSTER_CHECK_INTERVAL_MS = 1_000
/** How long the libp2p ping of a member whose heartbeat expired may take. @default 2 s */
export const CLUSTER_PING_TIMEOUT_MS = 2_000
/** Recovery is on unless turned off. @default true */
export const CLUSTER_RECOVERY = true
/** A member down this long loses its replicas to live members. @default 15 s */
export const CLUSTER_RECOVERY_GRACE_MS = 15_000
/** Pins (and unpins) the tracker runs at once. @default 8 */
export const CLUSTER_PIN_CONCURRENCY = 8
/** How long one cluster pin (fetching its DAG) may take. @default 10 min */
export const CLUSTER_PIN_TIMEOUT_MS = 10 * 60_000
/** Time between two comparisons of the allocations with the node's pins. @default 30 s */
export const CLUSTER_RECONCILE_INTERVAL_MS = 30_000
/** A pin in error is tried again after this long at most (sooner at first: see the next). @default 30 s */
export const CLUSTER_PIN_RETRY_MS = 30_000
/** A pin's first retry after an error; each later one waits twice as long, up to CLUSTER_PIN_RETRY_MS. @default 1 s */
export const CLUSTER_PIN_FIRST_RETRY_MS = 1_000
/** Alerts kept for `cluster alerts` and `/health/alerts` (the oldest forgotten). @default 1000 */
export const CLUSTER_MAX_ALERTS = 1_000
/** Members kept in the member table (the longest down forgotten beyond it). @default 1000 */
export const CLUSTER_MAX_MEMBERS = 1_000
/** Largest heartbeat message, bytes (a larger one is ignored). @default 16 KiB */
export const CLUSTER_MAX_HEARTBEAT_BYTES = 16 * KiB
/** Pin operations in one OrbitDB entry of a batch. @default 500 */
export const CLUSTER_BATCH_OPS = 500
/** Largest message of the cluster's status protocol, bytes. @default 8 MiB */
export const CLUSTER_RPC_MAX_MESSAGE_BYTES = 8 * MiB
/** CIDs asked for in one status request. @default 5000 */
export const CLUSTER_RPC_MAX_CIDS = 5_000
/** How long a member's status request may take. @default 10 s */
export const CLUSTER_RPC_TIMEOUT_MS = 10_000
/** The cluster's status and recover protocol. */
export const CLUSTER_PROTOCOL = '/ipfs-kit/cluster/1.0.0'
/** How long `setRole` waits for a leaving holder's replicas to be pinned elsewhere. @default 5 min */
export const CLUSTER_HANDOVER_TIMEOUT_MS = 5 * 60_000
/** Free space is compared in steps of this size by the allocator (then pins held, then reputation). @default 1 GiB */
export const CLUSTER_FREE_SPACE_STEP_BYTES = 1 * GiB
/** Tag names the balanced allocator spreads replicas over first (IPFS Cluster's `allocate_by`). @default ['group'] */
export const CLUSTER_ALLOCATE_BY: readonly string[] = ['group']
/** Largest `name` of a cluster pin, characters. @default 255 */
export const CLUSTER_MAX_NAME_LENGTH = 255
/** Largest number of `metadata` keys of a cluster pin. @default 64 */
export const CLUSTER_MAX_METADATA_KEYS = 64
/** Pins listed by one Pinning Service API `GET /pins` at most (its `limit`). @default 1000 */
export const PINNING_SERVICE_MAX_LIMIT = 1_000
/** Pins a Pinning Service API `GET /pins` lists without `limit` (the spec's default). @default 10 */
export const PINNING_SERVICE_DEFAULT_LIMIT = 10
/**
 * Path prefix of the IPFS Pinning Service API on the daemon's HTTP port (Kubo's
 * `ipfs pin remote service add NAME http://host:port/pinning KEY`). @default '/pinning'
 */
export const PINNING_SERVICE_PREFIX = '/pinning'
/** Where the Pinning Service API keeps its pin requests in the repo's datastore. */
export const PINNING_SERVICE_DATASTORE_PREFIX = '/pinning-service/requests'
/** Pin requests the Pinning Service API keeps at most (a new one beyond is refused). @default 1,000,000 */
export const PINNING_SERVICE_MAX_REQUESTS = 1_000_000
/** CIDs one `GET /pins?cid=` may filter by (the spec's `maxItems`). @default 10 */
export const PINNING_SERVICE_MAX_CID_FILTER = 10
/** `origins` of a pin request, and `delegates` of an answer, at most (the spec's `maxItems`). @default 20 */
export const PINNING_SERVICE_MAX_ADDRS = 20
/** Longest `name` of a pin request, characters (the spec's `maxLength`). @default 255 */
export const PINNING_SERVICE_MAX_NAME_LENGTH = 255
/** Longest `meta` of a pin request, keys (the spec's `maxProperties`). @default 1000 */
export const PINNING_SERVICE_MAX_META_KEYS = 1_000
/** How long the best-effort dial of a pin request's `origins` may take. @default 10 s */
export const PINNING_SERVICE_ORIGIN_DIAL_TIMEOUT_MS = 10_000
/**
 * Path prefix of the IPFS Cluster REST API subset (`@nftstorage/ipfs-cluster` takes
 * `http://host:port/cluster/` as its base URL). @default '/cluster'
 */
export const CLUSTER_REST_PREFIX = '/cluster'
/** Bytes of a CAR file `POST /cluster/add?format=car` keeps to read its header's roots back. @default 1 MiB */
export const CLUSTER_REST_MAX_CAR_HEADER_BYTES = 1 * MiB
