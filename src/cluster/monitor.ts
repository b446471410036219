/**
 * Failure detection: every member publishes a heartbeat (its role, free space, tags, addresses,
 * signed by its peer key through gossipsub) with a TTL. A member whose last heartbeat expired is
 * pinged over libp2p; if the ping fails too, it is down and an alert is raised (once, until it
 * is heard again). Members that are down are dialled again now and then, and every member dials
 * the others it hears of, so the cluster stays one mesh after a partition.
 *
 * @packageDocumentation
 */
import type { Logger, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  CLUSTER_CHECK_INTERVAL_MS,
  CLUSTER_HEARTBEAT_INTERVAL_MS,
  CLUSTER_HEARTBEAT_TTL_MS,
  CLUSTER_MAX_ALERTS,
  CLUSTER_MAX_HEARTBEAT_BYTES,
  CLUSTER_MAX_MEMBERS,
  CLUSTER_PING_TIMEOUT_MS
} from '../constants.ts'
import type { IPFSLibp2pPeer } from '../libp2p/peer/index.ts'
import type { ClusterAlert, Heartbeat } from './types.ts'

/** A member as the monitor knows it. */
export interface MemberState {
  id: string
  heartbeat: Heartbeat
  /** ms since the epoch of its last heartbeat */
  lastSeen: number
  state: 'alive' | 'down'
  /** ms since the epoch when it was found down */
  downSince?: number
  /** a ping is running */
  pinging: boolean
  /** ms since the epoch of the last dial we tried */
  lastDial: number
}

/** Options of {@link Monitor}. */
export interface MonitorInit {
  topic: string
  /** the heartbeat to send now */
  heartbeat: () => Heartbeat
  /** @default CLUSTER_HEARTBEAT_INTERVAL_MS */
  heartbeatIntervalMs?: number
  /** @default CLUSTER_HEARTBEAT_TTL_MS */
  heartbeatTtlMs?: number
  /** @default CLUSTER_CHECK_INTERVAL_MS */
  checkIntervalMs?: number
  /** @default CLUSTER_PING_TIMEOUT_MS */
  pingTimeoutMs?: number
  onAlert: (alert: ClusterAlert) => void
  /** a member is heard for the first time, or again after being down */
  onUp: (id: string) => void
  /** a heartbeat arrived (after the table is updated) */
  onHeartbeat?: (member: MemberState) => void
  /** after each check of the members */
  onCheck?: () => void
}

const ROLES: ReadonlySet<string> = new Set(['master', 'worker', 'leecher'])

/** The heartbeat in a message, checked field by field (undefined if it is not one). */
export function parseHeartbeat(data: Uint8Array): Heartbeat | undefined {
  if (data.byteLength > CLUSTER_MAX_HEARTBEAT_BYTES) return undefined
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(data))
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v == null) return undefined
  const h = v as Record<string, unknown>
  const tags = h.tags as Record<string, unknown> | undefined
  if (
    h.v !== 1 ||
    typeof h.role !== 'string' ||
    !ROLES.has(h.role) ||
    typeof h.identity !== 'string' ||
    typeof h.writer !== 'boolean' ||
    typeof tags !== 'object' ||
    tags == null ||
    !Object.values(tags).every((t) => typeof t === 'string') ||
    typeof h.freeSpace !== 'number' ||
    !Number.isFinite(h.freeSpace) ||
    typeof h.ttl !== 'number' ||
    !(h.ttl > 0) ||
    typeof h.seq !== 'number' ||
    !Array.isArray(h.addrs) ||
    !h.addrs.every((a) => typeof a === 'string') ||
    typeof h.draining !== 'boolean'
  ) {
    return undefined
  }
  return h as unknown as Heartbeat
}

/** Heartbeats out, heartbeats in, and the members' liveness. */
export class Monitor {
  readonly #peer: IPFSLibp2pPeer
  readonly #self: string
  readonly #log: Logger
  readonly #init: MonitorInit
  readonly #intervalMs: number
  readonly #ttlMs: number
  readonly #checkMs: number
  readonly #pingMs: number
  readonly #members = new Map<string, MemberState>()
  readonly #alerts: ClusterAlert[] = []
  readonly #stop = new AbortController()
  #alertCount = 0
  #seq = 0
  #beatTimer?: NodeJS.Timeout
  #checkTimer?: NodeJS.Timeout
  #started = false
  /** ms since the epoch when the monitor started (a member never heard counts as down from then) */
  startedAt = 0

  constructor(peer: IPFSLibp2pPeer, log: Logger, init: MonitorInit) {
    this.#peer = peer
    this.#self = peer.peerId.toString()
    this.#log = log
    this.#init = init
    this.#intervalMs = init.heartbeatIntervalMs ?? CLUSTER_HEARTBEAT_INTERVAL_MS
    this.#ttlMs = init.heartbeatTtlMs ?? CLUSTER_HEARTBEAT_TTL_MS
    this.#checkMs = init.checkIntervalMs ?? CLUSTER_CHECK_INTERVAL_MS
    this.#pingMs = init.pingTimeoutMs ?? CLUSTER_PING_TIMEOUT_MS
  }

  /** How long a heartbeat we send is valid. */
  get ttlMs(): number {
    return this.#ttlMs
  }

  /** Subscribe, send the first heartbeat, start the timers. Safe to call twice. */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.startedAt = Date.now()
    const pubsub = this.#peer.host.services.pubsub
    pubsub.addEventListener('message', this.#onMessage)
    pubsub.subscribe(this.#init.topic)
    this.#beatTimer = setInterval(() => void this.beat(), this.#intervalMs)
    this.#checkTimer = setInterval(() => this.check(), this.#checkMs)
    void this.beat()
  }

  /** Stop the timers and listening. Safe to call twice. */
  stop(): void {
    if (!this.#started) return
    this.#started = false
    this.#stop.abort()
    clearInterval(this.#beatTimer)
    clearInterval(this.#checkTimer)
    if (this.#peer.isStarted) {
      const pubsub = this.#peer.host.services.pubsub
      pubsub.removeEventListener('message', this.#onMessage)
      pubsub.unsubscribe(this.#init.topic)
    }
  }

  /** Send a heartbeat now. */
  async beat(): Promise<void> {
    if (!this.#started) return
    const hb = { ...this.#init.heartbeat(), seq: ++this.#seq, ttl: this.#ttlMs }
    try {
      await this.#peer.publish(this.#init.topic, new TextEncoder().encode(JSON.stringify(hb)), {
        signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#intervalMs)])
      })
    } catch (err) {
      // no subscriber yet (a lone member), or stopping
      this.#log.trace('heartbeat not sent: %s', (err as Error).message)
    }
  }

  /** Every member heard of (not us). */
  members(): ReadonlyMap<string, MemberState> {
    return this.#members
  }

  /** Whether `id` is alive (us included). */
  isAlive(id: string): boolean {
    return id === this.#self || this.#members.get(id)?.state === 'alive'
  }

  /** Alerts raised, oldest first (at most CLUSTER_MAX_ALERTS). */
  alerts(): readonly ClusterAlert[] {
    return this.#alerts
  }

  /** Alerts raised since the start. */
  get alertCount(): number {
    return this.#alertCount
  }

  readonly #onMessage = (
    evt: CustomEvent<{ topic: string; type: string; from?: PeerId; data: Uint8Array }>
  ) => {
    const msg = evt.detail
    if (msg.topic !== this.#init.topic || msg.type !== 'signed' || msg.from == null) return
    const from = msg.from.toString()
    if (from === this.#self) return
    const hb = parseHeartbeat(msg.data)
    if (hb == null) {
      this.#log('ignoring a malformed heartbeat from %s', from)
      return
    }
    this.#heard(from, hb)
  }

  #heard(id: string, hb: Heartbeat): void {
    const now = Date.now()
    let m = this.#members.get(id)
    const wasUp = m?.state === 'alive'
    if (m == null) {
      if (this.#members.size >= CLUSTER_MAX_MEMBERS) this.#forgetOne()
      m = { id, heartbeat: hb, lastSeen: now, state: 'alive', pinging: false, lastDial: 0 }
      this.#members.set(id, m)
      this.#learnAddrs(id, hb.addrs)
    } else {
      if (hb.addrs.join() !== m.heartbeat.addrs.join()) this.#learnAddrs(id, hb.addrs)
      m.heartbeat = hb
      m.lastSeen = now
      m.state = 'alive'
      m.downSince = undefined
    }
    if (!wasUp) this.#init.onUp(id)
    this.#init.onHeartbeat?.(m)
  }

  #learnAddrs(id: string, addrs: string[]): void {
    try {
      const multiaddrs = addrs.slice(0, 16).map((a) => multiaddr(a))
      void this.#peer.host.peerStore.merge(peerIdFromString(id), { multiaddrs }).catch(() => undefined)
    } catch {
      // a bad address: the member is still reached through gossipsub's connections
    }
  }

  /** The longest-down member goes (the table is bounded). */
  #forgetOne(): void {
    let oldest: MemberState | undefined
    for (const m of this.#members.values()) {
      if (m.state === 'down' && (oldest == null || (m.downSince ?? 0) < (oldest.downSince ?? 0))) oldest = m
    }
    if (oldest != null) this.#members.delete(oldest.id)
  }

  /** Look at every member: expired heartbeats are pinged, the unreachable alerted, the down redialled. */
  check(now = Date.now()): void {
    if (!this.#started) return
    for (const m of this.#members.values()) {
      const expiresAt = m.lastSeen + m.heartbeat.ttl
      if (m.state === 'alive' && now > expiresAt && !m.pinging) void this.#probe(m, expiresAt)
      else if (now - m.lastDial >= this.#ttlMs && !this.#connected(m.id)) void this.#dial(m)
    }
    this.#init.onCheck?.()
  }

  #connected(id: string): boolean {
    try {
      return this.#peer.host.getConnections(peerIdFromString(id)).length > 0
    } catch {
      return false
    }
  }

  async #dial(m: MemberState): Promise<void> {
    m.lastDial = Date.now()
    try {
      await this.#peer.host.dial(peerIdFromString(m.id), {
        signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#ttlMs)])
      })
    } catch {
      // still unreachable
    }
  }

  async #probe(m: MemberState, expiredAt: number): Promise<void> {
    m.pinging = true
    let answered = false
    try {
      await this.#peer.host.services.ping.ping(peerIdFromString(m.id), {
        signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#pingMs)])
      })
      answered = true
    } catch {
      answered = false
    } finally {
      m.pinging = false
    }
    if (!this.#started || answered || m.state !== 'alive' || m.lastSeen + m.heartbeat.ttl >= Date.now())
      return
    m.state = 'down'
    m.downSince = Date.now()
    const alert: ClusterAlert = {
      peer: m.id,
      name: 'heartbeat',
      expiredAt,
      detectedAt: m.downSince,
      role: m.heartbeat.role
    }
    this.#alertCount++
    this.#alerts.push(alert)
    if (this.#alerts.length > CLUSTER_MAX_ALERTS) this.#alerts.shift()
    this.#log('member %s is down: heartbeat expired, no answer to a ping', m.id)
    this.#init.onAlert(alert)
  }
}
