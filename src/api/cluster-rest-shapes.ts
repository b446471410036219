/**
 * IPFS Cluster's REST API objects (snake_case, as `ipfs-cluster/api/types.go` marshals them)
 * made from `kit.cluster`'s: `ID`, `Pin`, `GlobalPinInfo` with its `PinInfoShort` peer map,
 * `Alert`. What the cluster has no counterpart for gets Go's zero value (`""`, `0`, `null`,
 * `0001-01-01T00:00:00Z`), as a cluster peer would send it.
 *
 * @packageDocumentation
 */
import type {
  ClusterAlert,
  ClusterPeer,
  ClusterPin,
  ClusterPinStatus,
  PeerPinStatus
} from '../cluster/types.ts'
import { CLUSTER_PROTOCOL } from '../constants.ts'
import { VERSION } from '../version.ts'

/** Go's zero `time.Time`, what IPFS Cluster sends for "never". */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z'

/** IPFS Cluster's `PinType` of a plain pin (`DataType`). */
export const PIN_TYPE_DATA = 2

/** ms since the epoch as RFC 3339, 0 as Go's zero time. */
export function restTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : GO_ZERO_TIME
}

/** IPFS Cluster's tracker status names (`api.TrackerStatus`). */
export type RestTrackerStatus =
  | 'cluster_error'
  | 'pin_error'
  | 'unpin_error'
  | 'pinned'
  | 'pinning'
  | 'unpinning'
  | 'unpinned'
  | 'remote'
  | 'pin_queued'
  | 'unpin_queued'
  | 'sharded'
  | 'unexpectedly_unpinned'

/** Every {@link RestTrackerStatus} (a `filter` of `GET /pins` names some of them). */
export const REST_TRACKER_STATUSES: readonly RestTrackerStatus[] = [
  'cluster_error',
  'pin_error',
  'unpin_error',
  'pinned',
  'pinning',
  'unpinning',
  'unpinned',
  'remote',
  'pin_queued',
  'unpin_queued',
  'sharded',
  'unexpectedly_unpinned'
]

/**
 * A member's status in IPFS Cluster's names. A member that is down or did not answer (the
 * cluster's status says so in its `error`) is `cluster_error`, as IPFS Cluster reports a peer
 * it cannot reach; any other error is `pin_error`.
 */
export function restTrackerStatus(s: PeerPinStatus): RestTrackerStatus {
  switch (s.status) {
    case 'queued':
      return 'pin_queued'
    case 'error':
      return /^(the member is down|no answer)/.test(s.error ?? '') ? 'cluster_error' : 'pin_error'
    default:
      return s.status
  }
}

/** IPFS Cluster's `Pin`. */
export interface RestPin {
  cid: string
  type: number
  allocations: string[]
  max_depth: number
  reference: null
  shard_size: number
  replication_factor_min: number
  replication_factor_max: number
  name: string
  mode: 'recursive' | 'direct'
  user_allocations: null
  expire_at: string
  metadata: Record<string, string>
  origins: string[]
  timestamp: string
}

export function restPin(pin: ClusterPin): RestPin {
  return {
    cid: pin.cid,
    type: PIN_TYPE_DATA,
    allocations: pin.allocations,
    max_depth: pin.mode === 'recursive' ? -1 : 0,
    reference: null,
    shard_size: 0,
    replication_factor_min: pin.replicationFactorMin,
    replication_factor_max: pin.replicationFactorMax,
    name: pin.name,
    mode: pin.mode,
    user_allocations: null,
    expire_at: restTime(pin.expireAt),
    metadata: pin.metadata,
    origins: [],
    timestamp: restTime(pin.timestamp)
  }
}

/** IPFS Cluster's `PinInfoShort` (one member's entry of a `peer_map`). */
export interface RestPinInfo {
  peername: string
  ipfs_peer_id: string
  ipfs_peer_addresses: string[]
  status: RestTrackerStatus
  timestamp: string
  error: string
  attempt_count: number
  priority_pin: boolean
}

/** IPFS Cluster's `GlobalPinInfo`. */
export interface RestGlobalPinInfo {
  cid: string
  name: string
  allocations: string[]
  origins: string[]
  created: string
  metadata: Record<string, string>
  peer_map: Record<string, RestPinInfo>
}

function pinInfo(
  id: string,
  status: RestTrackerStatus,
  ms: number,
  error: string,
  peers: ReadonlyMap<string, ClusterPeer>
): RestPinInfo {
  return {
    peername: id,
    ipfs_peer_id: id,
    ipfs_peer_addresses: peers.get(id)?.addresses ?? [],
    status,
    timestamp: restTime(ms),
    error,
    attempt_count: 0,
    priority_pin: false
  }
}

/** A pin's status on every member, as IPFS Cluster's `GlobalPinInfo`. */
export function restGlobalPinInfo(
  status: ClusterPinStatus,
  pin: ClusterPin | undefined,
  peers: ReadonlyMap<string, ClusterPeer>
): RestGlobalPinInfo {
  const peerMap: Record<string, RestPinInfo> = {}
  for (const [id, s] of Object.entries(status.peerMap)) {
    peerMap[id] = pinInfo(id, restTrackerStatus(s), s.timestamp, s.error ?? '', peers)
  }
  return {
    cid: status.cid,
    name: status.name,
    allocations: pin?.allocations ?? [],
    origins: [],
    created: restTime(pin?.timestamp ?? 0),
    metadata: pin?.metadata ?? {},
    peer_map: peerMap
  }
}

/** The status of a CID the cluster does not pin: `unpinned` on every live member (as IPFS Cluster). */
export function restUnpinned(cid: string, peers: ReadonlyMap<string, ClusterPeer>): RestGlobalPinInfo {
  const now = Date.now()
  const peerMap: Record<string, RestPinInfo> = {}
  for (const p of peers.values()) {
    if (p.state === 'alive') peerMap[p.id] = pinInfo(p.id, 'unpinned', now, '', peers)
  }
  return {
    cid,
    name: '',
    allocations: [],
    origins: [],
    created: GO_ZERO_TIME,
    metadata: {},
    peer_map: peerMap
  }
}

/** IPFS Cluster's `ID` of a member (its IPFS daemon is the same node: same id and addresses). */
export interface RestId {
  id: string
  addresses: string[]
  cluster_peers: string[]
  cluster_peers_addresses: string[]
  version: string
  commit: string
  rpc_protocol_version: string
  error: string
  ipfs: { id: string; addresses: string[]; error: string }
  peername: string
}

export function restId(p: ClusterPeer, all: readonly ClusterPeer[]): RestId {
  return {
    id: p.id,
    addresses: p.addresses,
    cluster_peers: all.map((m) => m.id),
    cluster_peers_addresses: all.filter((m) => m.id !== p.id).flatMap((m) => m.addresses),
    version: VERSION,
    commit: '',
    rpc_protocol_version: CLUSTER_PROTOCOL,
    error: p.state === 'down' ? `${p.id} is down: its heartbeat expired and it did not answer a ping` : '',
    ipfs: { id: p.id, addresses: p.addresses, error: '' },
    peername: p.id
  }
}

/** IPFS Cluster's `Metric`; its times in ns since the epoch, as Go's `int64`. */
export interface RestMetric {
  name: string
  peer: string
  value: string
  expire: number
  valid: boolean
  weight: number
  partitionable: boolean
  received_at: number
}

/** IPFS Cluster's `Alert`: a {@link RestMetric} with `triggered_at`. */
export interface RestAlert extends RestMetric {
  triggered_at: string
}

export function restAlert(a: ClusterAlert): RestAlert {
  return {
    name: a.name,
    peer: a.peer,
    value: '',
    expire: a.expiredAt * 1e6,
    valid: false,
    weight: 0,
    partitionable: false,
    received_at: a.detectedAt * 1e6,
    triggered_at: restTime(a.detectedAt)
  }
}

/**
 * The metric names the members' heartbeats carry, as IPFS Cluster names them: `freespace`
 * (the disk informer's), `ping` (liveness) and `tag:<name>` for every tag a member has.
 */
export function restMetricNames(peers: readonly ClusterPeer[]): string[] {
  const tags = new Set(peers.flatMap((p) => Object.keys(p.tags)))
  return ['freespace', 'ping', ...[...tags].sort().map((t) => `tag:${t}`)]
}

/**
 * The latest value of one metric from every member that has it (IPFS Cluster's
 * `GET /monitor/metrics/{name}`): valid while the member's last heartbeat has not expired.
 * An unknown name has no values.
 */
export function restMetrics(name: string, peers: readonly ClusterPeer[], now = Date.now()): RestMetric[] {
  const tag = name.startsWith('tag:') ? name.slice('tag:'.length) : undefined
  const out: RestMetric[] = []
  for (const p of peers) {
    if (p.lastSeen === 0) continue
    let value: string
    let weight = 0
    if (name === 'freespace') {
      value = String(p.freeSpace)
      weight = p.freeSpace
    } else if (name === 'ping') value = ''
    else if (tag != null && Object.hasOwn(p.tags, tag)) value = p.tags[tag] as string
    else continue
    out.push({
      name,
      peer: p.id,
      value,
      expire: p.expiresAt * 1e6,
      valid: p.state === 'alive' && p.expiresAt > now,
      weight,
      partitionable: tag != null,
      received_at: p.lastSeen * 1e6
    })
  }
  return out
}
