/**
 * Types of the cluster layer, shared by its files (and by the API and the CLI): IPFS Cluster's
 * pin model, tracker statuses, members, alerts, options and events.
 *
 * @packageDocumentation
 */
import type { AbortOptions } from '@libp2p/interface'
import type { Role } from '../constants.ts'

/**
 * A pin of the cluster's pinset, as IPFS Cluster models it. A replication factor of -1 means
 * every member that holds replicas (masters and workers; never leechers).
 */
export interface ClusterPin {
  /** the CID, as given */
  cid: string
  /** a name for people (IPFS Cluster's `name`) */
  name: string
  /** fewest members that should hold it; under it the pin is re-allocated (-1: everywhere) */
  replicationFactorMin: number
  /** most members that hold it (-1: everywhere) */
  replicationFactorMax: number
  /** peer ids of the members that hold it (empty when the factor is -1: every member) */
  allocations: string[]
  /** ms since the epoch after which the cluster unpins it (0: never) */
  expireAt: number
  /** free-form text pairs (IPFS Cluster's `metadata`, the Pinning Service API's `meta`) */
  metadata: Record<string, string>
  /** recursive (the whole DAG) or direct (the root block) */
  mode: 'recursive' | 'direct'
  /** ms since the epoch when it was first pinned */
  timestamp: number
  /** peer id of the member that wrote it last */
  updatedBy: string
  /** times a recovery or a top-up changed its allocations */
  reallocated: number
}

/** Options of a cluster pin. Every option is optional. */
export interface ClusterPinOptions extends AbortOptions {
  /** @default '' */
  name?: string
  /** @default -1 (everywhere) */
  replicationFactorMin?: number
  /** @default -1 (everywhere) */
  replicationFactorMax?: number
  /** a Date, or ms since the epoch, after which the pin is removed @default never */
  expireAt?: Date | number
  /** @default {} */
  metadata?: Record<string, string>
  /** @default 'recursive' */
  mode?: 'recursive' | 'direct'
  /** members to allocate to first (IPFS Cluster's `user-allocations`) @default [] */
  userAllocations?: string[]
}

/** IPFS Cluster's tracker statuses (the ones a member's pin can be in). */
export type TrackerStatus = 'queued' | 'pinning' | 'pinned' | 'error' | 'remote' | 'unexpectedly_unpinned'

/** The statuses of {@link TrackerStatus}, in order. */
export const TRACKER_STATUSES: readonly TrackerStatus[] = [
  'queued',
  'pinning',
  'pinned',
  'error',
  'remote',
  'unexpectedly_unpinned'
]

/** One member's status of one pin. */
export interface PeerPinStatus {
  /** the member's peer id */
  peer: string
  status: TrackerStatus
  /** ms since the epoch of the last change */
  timestamp: number
  /** why it is in `error` */
  error?: string
  /** times this member pinned the CID since it started (a repin counts once more) */
  pins: number
}

/** A pin's status on every member that should hold it (and `remote` on the others). */
export interface ClusterPinStatus {
  cid: string
  name: string
  /** by peer id */
  peerMap: Record<string, PeerPinStatus>
  /** the pin as a whole, in the Pinning Service API's terms */
  summary: 'queued' | 'pinning' | 'pinned' | 'failed'
}

/** A member as this node sees it. */
export interface ClusterPeer {
  /** peer id */
  id: string
  role: Role
  /** alive (a valid heartbeat, or a ping answered), or down (alerted) */
  state: 'alive' | 'down'
  /** whether it may write the cluster's state */
  writer: boolean
  tags: Record<string, string>
  /** free bytes in its repo's file system, as its last heartbeat said */
  freeSpace: number
  /** pins allocated to it in the pinset */
  allocated: number
  /** its listen addresses */
  addresses: string[]
  /** ms since the epoch of its last heartbeat (0: never heard) */
  lastSeen: number
  /** ms since the epoch when its last heartbeat stops being valid (its TTL after `lastSeen`) */
  expiresAt: number
  /** whether this is us */
  self: boolean
  /** its OrbitDB identity id */
  identity: string
}

/** An alert: a member's heartbeat expired and it did not answer a ping. */
export interface ClusterAlert {
  /** the member's peer id */
  peer: string
  /** what expired (IPFS Cluster's metric name) */
  name: 'heartbeat'
  /** ms since the epoch when its last heartbeat expired */
  expiredAt: number
  /** ms since the epoch when this node raised the alert */
  detectedAt: number
  /** the member's role when last heard */
  role: Role
}

/** What a member sends in each heartbeat (a gossipsub message signed by its peer key). */
export interface Heartbeat {
  v: 1
  role: Role
  /** OrbitDB identity id */
  identity: string
  writer: boolean
  tags: Record<string, string>
  freeSpace: number
  /** how long this heartbeat is valid, ms */
  ttl: number
  seq: number
  addrs: string[]
  /** leaving: its replicas are being handed over */
  draining: boolean
}

/** Options of the cluster ({@link import('./cluster.ts').Cluster.start}). Every option is optional. */
export interface ClusterInit {
  /**
   * OrbitDB address of the cluster's state to join (`/orbitdb/…`). Without it a master creates
   * a new cluster (named `name`); a worker or leecher must be given one.
   */
  address?: string
  /** name of a new cluster's database @default CLUSTER_DEFAULT_NAME */
  name?: string
  /** the member's role in the cluster @default the kit's role */
  role?: Role
  /** tags the allocator spreads replicas over (e.g. `{ group: 'rack-1' }`) @default {} */
  tags?: Record<string, string>
  /** tag names the allocator balances over first @default CLUSTER_ALLOCATE_BY */
  allocateBy?: string[]
  /**
   * peer ids whose master identity this node (an admin) grants write access to as soon as their
   * heartbeat is heard (IPFS Cluster's `trusted_peers`) @default []
   */
  trustedPeers?: string[]
  /** @default CLUSTER_HEARTBEAT_INTERVAL_MS */
  heartbeatIntervalMs?: number
  /** @default CLUSTER_HEARTBEAT_TTL_MS */
  heartbeatTtlMs?: number
  /** @default CLUSTER_CHECK_INTERVAL_MS */
  checkIntervalMs?: number
  /** @default CLUSTER_PING_TIMEOUT_MS */
  pingTimeoutMs?: number
  /** re-allocate the replicas of members that are down @default CLUSTER_RECOVERY */
  recovery?: boolean
  /** @default CLUSTER_RECOVERY_GRACE_MS */
  recoveryGraceMs?: number
  /** @default CLUSTER_PIN_CONCURRENCY */
  pinConcurrency?: number
  /** @default CLUSTER_PIN_TIMEOUT_MS */
  pinTimeoutMs?: number
  /** @default CLUSTER_PIN_RETRY_MS */
  pinRetryMs?: number
  /** @default CLUSTER_RECONCILE_INTERVAL_MS */
  reconcileIntervalMs?: number
  /** folder of the OrbitDB keystore, heads and index @default `<repo>/cluster` */
  directory?: string
}

/** Events of the cluster (`kit.cluster.on(...)`). */
export interface ClusterEvents {
  /** a member is down: its heartbeat expired and it did not answer a ping */
  alert: [ClusterAlert]
  /** a member that was down (or new) is heard again */
  'peer:up': [string]
  /** a pin was added or changed in the pinset */
  pin: [ClusterPin]
  /** a pin left the pinset */
  unpin: [string]
  /** this member's status of a pin changed */
  status: [PeerPinStatus & { cid: string }]
  /** this member's role changed */
  role: [Role]
}

/** Counters of the cluster (`getMetrics()`, `/metrics`). */
export interface ClusterMetrics {
  pins: number
  membersAlive: number
  membersDown: number
  alerts: number
  /** pins this member made for the cluster since it started */
  pinsDone: number
  /** of which repins: pins of a CID allocated here by a recovery */
  repins: number
  /** pins that failed here */
  pinErrors: number
  /** pins re-allocated by this member (a recovery or a top-up) */
  reallocations: number
  /** OrbitDB entries applied to the index */
  entriesApplied: number
  /** OrbitDB entries this member added to the log (many writes go in one) */
  entriesWritten: number
}
