/**
 * `kit.cluster`: a group of ipfs-kit nodes that keeps a shared pinset with replication factors
 * (IPFS Cluster's model) on OrbitDB, notices members that die, and restores their replicas.
 *
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events'
import { statfs } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseCID } from '../cids.ts'
import {
  CLUSTER_ALLOCATE_BY,
  CLUSTER_CHECK_INTERVAL_MS,
  CLUSTER_DEFAULT_NAME,
  CLUSTER_DIRNAME,
  CLUSTER_HANDOVER_TIMEOUT_MS,
  CLUSTER_RECONCILE_INTERVAL_MS,
  CLUSTER_RECOVERY,
  CLUSTER_RECOVERY_GRACE_MS,
  CLUSTER_RPC_MAX_CIDS,
  DEFAULT_NETWORK_TIMEOUT_MS,
  type Role
} from '../constants.ts'
import {
  ClusterHandoverError,
  ClusterNotRunningError,
  ClusterPinNotFoundError,
  InvalidClusterConfigError,
  InvalidParametersError
} from '../errors.ts'
import type { IPFSKit } from '../kit/index.ts'
import type { AllocationCandidate } from './allocator.ts'
import { allocate } from './allocator.ts'
import { checkClusterInit, pinFromOptions, readClusterConfig, writeClusterConfig } from './config.ts'
import { Monitor } from './monitor.ts'
import { planRecovery } from './recovery.ts'
import { rendezvousPick } from './rendezvous.ts'
import { askMember, handleClusterRpc } from './rpc.ts'
import { ClusterState } from './state.ts'
import { type IndexChange, MEMBER_PREFIX, PIN_PREFIX, type StateOp } from './state-index.ts'
import { PinTracker } from './tracker.ts'
import type {
  ClusterAlert,
  ClusterEvents,
  ClusterInit,
  ClusterMetrics,
  ClusterPeer,
  ClusterPin,
  ClusterPinOptions,
  ClusterPinStatus,
  Heartbeat,
  PeerPinStatus
} from './types.ts'

interface Running {
  init: ClusterInit
  state: ClusterState
  tracker: PinTracker
  monitor: Monitor
  timers: NodeJS.Timeout[]
}

/**
 * The cluster layer of a kit. Not running until {@link Cluster.start} (the daemon starts it when
 * the repo has a `cluster.json`); every call before then is a {@link ClusterNotRunningError}.
 *
 * @example
 * ```ts
 * const kit = await ipfsKit({ repo, role: 'master', cluster: {} })
 * await kit.cluster.pin(cid, { replicationFactorMin: 2, replicationFactorMax: 3 })
 * kit.cluster.on('alert', (a) => console.log(`${a.peer} is down`))
 * ```
 */
export class Cluster extends EventEmitter<ClusterEvents> {
  readonly #kit: IPFSKit
  readonly #log: Logger
  #run?: Running
  #starting?: Promise<void>
  #role: Role
  #writer = false
  #draining = false
  #freeSpace = 0
  #recovering = false
  #reallocations = 0
  #selfId?: string
  readonly #granted = new Set<string>()
  readonly #memberWrites = new Set<string>()

  constructor(kit: IPFSKit, log: Logger) {
    super()
    this.#kit = kit
    this.#log = log
    this.#role = kit.role
  }

  /** Whether the cluster runs on this node. */
  get running(): boolean {
    return this.#run != null
  }

  /** This member's role in the cluster. */
  get role(): Role {
    return this.#role
  }

  /** The cluster's OrbitDB address (what other members join with). */
  get address(): string {
    return this.#running().state.address
  }

  /** Our OrbitDB identity id (what `grant` takes, or our peer id). */
  get identity(): string {
    return this.#running().state.identity
  }

  /** Whether this member may write the pinset. */
  get writer(): boolean {
    return this.#writer
  }

  #running(): Running {
    if (this.#run == null) {
      throw new ClusterNotRunningError(
        'the cluster is not running on this node: add a cluster.json to the repo (or pass `cluster` to ipfsKit) and start it again'
      )
    }
    return this.#run
  }

  /** our peer id as text (kept: encoding it is base58 work, and recovery asks per allocation) */
  get #self(): string {
    this.#selfId ??= this.#kit.peer.peerId.toString()
    return this.#selfId
  }

  /**
   * Join (or, on a master given no address, create) the cluster: open the state, start the
   * tracker, the heartbeats and recovery. Options not given come from the repo's `cluster.json`.
   */
  async start(init: ClusterInit = {}, options: AbortOptions = {}): Promise<void> {
    this.#starting ??= this.#start(init, options).catch((err: unknown) => {
      this.#starting = undefined
      throw err
    })
    return this.#starting
  }

  async #start(given: ClusterInit, options: AbortOptions): Promise<void> {
    const kit = this.#kit
    if (kit.peer.offline)
      throw new ClusterNotRunningError('the cluster needs the network: start the node online')
    const init = checkClusterInit({ ...(await readClusterConfig(kit.repo.path)), ...given })
    this.#role = init.role ?? kit.role
    if (init.address == null && this.#role !== 'master') {
      throw new InvalidClusterConfigError(
        'only a master creates a cluster: give this member the address of an existing one (address in cluster.json)'
      )
    }
    const signal = AbortSignal.any([
      kit.peer.stopSignal,
      options.signal ?? AbortSignal.timeout(DEFAULT_NETWORK_TIMEOUT_MS)
    ])
    await kit.peer.waitForBootstrap({ signal })
    const tracker = new PinTracker(kit, this.#self, this.#log, {
      concurrency: init.pinConcurrency,
      pinTimeoutMs: init.pinTimeoutMs,
      retryMs: init.pinRetryMs,
      onStatus: (cid, status) => this.emit('status', { ...status, cid })
    })
    await tracker.start()
    const state = await ClusterState.open(
      { helia: kit.helia, peerId: this.#self, log: this.#log },
      {
        directory: init.directory ?? join(kit.repo.path, CLUSTER_DIRNAME),
        address: init.address,
        name: init.name ?? CLUSTER_DEFAULT_NAME,
        onChange: (changes) => this.#onChange(changes)
      },
      { signal }
    )
    try {
      if (init.address == null) {
        init.address = state.address
        await writeClusterConfig(kit.repo.path, {
          ...(await readClusterConfig(kit.repo.path)),
          address: state.address
        })
      }
      this.#writer = await state.canWrite()
      await this.#refreshFreeSpace()
      const monitor = new Monitor(kit.peer, this.#log, {
        topic: `ipfs-kit/cluster${state.address}`,
        heartbeat: () => this.#heartbeat(),
        heartbeatIntervalMs: init.heartbeatIntervalMs,
        heartbeatTtlMs: init.heartbeatTtlMs,
        checkIntervalMs: init.checkIntervalMs,
        pingTimeoutMs: init.pingTimeoutMs,
        onAlert: (alert) => this.#onAlert(alert),
        onUp: (id) => this.#onUp(id),
        onHeartbeat: (m) => this.#onHeartbeat(m.id, m.heartbeat),
        onCheck: () => void this.#recoverPass()
      })
      this.#run = { init, state, tracker, monitor, timers: [] }
      await handleClusterRpc(
        kit.peer,
        {
          allow: (peer) => monitor.members().has(peer),
          status: (cids) => cids.map((cid) => ({ ...tracker.status(cid), cid })),
          recover: (cid) => {
            tracker.retry(cid)
            return { ...tracker.status(cid), cid }
          }
        },
        this.#log
      )
      this.#reevaluate()
      monitor.start()
      const reconcile = init.reconcileIntervalMs ?? CLUSTER_RECONCILE_INTERVAL_MS
      this.#run.timers.push(
        setInterval(() => {
          void tracker.reconcile().catch(() => undefined)
          void this.#refreshFreeSpace()
          void state
            .canWrite()
            .then((w) => {
              this.#writer = w
            })
            .catch(() => undefined)
        }, reconcile)
      )
      await this.#writeMember(this.#self, this.#heartbeat())
    } catch (err) {
      await this.stop()
      await state.close().catch(() => undefined)
      throw err
    }
  }

  /**
   * Start the cluster if the repo has a `cluster.json` and the node is online (what the daemon
   * does); true if it runs.
   */
  async startFromRepo(options: AbortOptions = {}): Promise<boolean> {
    if (this.#kit.peer.offline || (await readClusterConfig(this.#kit.repo.path)) == null) return false
    await this.start({}, options)
    return true
  }

  /** Stop heartbeats, recovery and the tracker, and close the state. Safe to call twice. */
  async stop(): Promise<void> {
    const run = this.#run
    this.#run = undefined
    this.#starting = undefined
    if (run == null) return
    for (const t of run.timers) clearInterval(t)
    run.monitor.stop()
    if (this.#kit.peer.isStarted)
      await this.#kit.peer.unhandle('/ipfs-kit/cluster/1.0.0').catch(() => undefined)
    await run.tracker.stop()
    await run.state.close()
  }

  #heartbeat(): Heartbeat {
    return {
      v: 1,
      role: this.#role,
      identity: this.#run?.state.identity ?? '',
      writer: this.#writer,
      tags: this.#run?.init.tags ?? {},
      freeSpace: this.#freeSpace,
      ttl: 0,
      seq: 0,
      addrs: this.#kit.peer.getMultiaddrs().map((a) => a.toString()),
      draining: this.#draining
    }
  }

  async #refreshFreeSpace(): Promise<void> {
    try {
      const s = await statfs(this.#kit.repo.path)
      this.#freeSpace = s.bavail * s.bsize
    } catch {
      // keep the last value
    }
  }

  /** Whether this member holds replicas (not a leecher, not leaving). */
  #holdsReplicas(): boolean {
    return this.#role !== 'leecher'
  }

  #shouldHold(pin: ClusterPin): boolean {
    if (pin.expireAt > 0 && pin.expireAt <= Date.now()) return false
    if (pin.replicationFactorMax === -1) return this.#holdsReplicas()
    return pin.allocations.includes(this.#self)
  }

  #onChange(changes: IndexChange[]): void {
    const run = this.#run
    for (const c of changes) {
      if (!c.key.startsWith(PIN_PREFIX)) continue
      const cid = c.key.slice(PIN_PREFIX.length)
      if (c.pin != null) {
        run?.tracker.set(c.pin, this.#shouldHold(c.pin))
        this.emit('pin', c.pin)
      } else if (c.removed) {
        run?.tracker.remove(cid)
        this.emit('unpin', cid)
      }
    }
  }

  /** Tell the tracker again what to hold (after a role change or at start). */
  #reevaluate(): void {
    const run = this.#running()
    for (const pin of run.state.index.pins.values()) run.tracker.set(pin, this.#shouldHold(pin))
  }

  #onAlert(alert: ClusterAlert): void {
    this.emit('alert', alert)
  }

  #onUp(id: string): void {
    this.emit('peer:up', id)
  }

  #onHeartbeat(id: string, hb: Heartbeat): void {
    const run = this.#run
    if (run == null) return
    // a trusted master is granted write access by an admin as soon as it is heard
    if (
      hb.role === 'master' &&
      !hb.writer &&
      (run.init.trustedPeers ?? []).includes(id) &&
      !this.#granted.has(hb.identity)
    ) {
      this.#granted.add(hb.identity)
      void run.state
        .canGrant()
        .then(async (admin) => (admin ? run.state.grant(hb.identity) : undefined))
        .catch((err: unknown) => {
          this.#granted.delete(hb.identity)
          this.#log('could not grant %s: %s', id, (err as Error).message)
        })
    }
    void this.#writeMember(id, hb)
  }

  /** Record a member in the state (its coordinator among the live writers does, on a change). */
  async #writeMember(id: string, hb: Heartbeat): Promise<void> {
    const run = this.#run
    if (run == null || !this.#writer || this.#memberWrites.has(id)) return
    const record = run.state.index.members.get(id)
    if (
      record != null &&
      record.role === hb.role &&
      record.identity === hb.identity &&
      JSON.stringify(record.tags) === JSON.stringify(hb.tags)
    ) {
      return
    }
    if (rendezvousPick(`${MEMBER_PREFIX}${id}`, this.#liveWriters()) !== this.#self) return
    this.#memberWrites.add(id)
    try {
      const value = {
        id,
        role: hb.role,
        identity: hb.identity,
        tags: hb.tags,
        joined: record?.joined ?? Date.now()
      }
      await run.state.write([{ op: 'PUT', key: `${MEMBER_PREFIX}${id}`, value }])
    } catch (err) {
      this.#log('could not record member %s: %s', id, (err as Error).message)
    } finally {
      this.#memberWrites.delete(id)
    }
  }

  #liveWriters(): string[] {
    const run = this.#running()
    const out = this.#writer ? [this.#self] : []
    for (const m of run.monitor.members().values())
      if (m.state === 'alive' && m.heartbeat.writer) out.push(m.id)
    return out
  }

  /** Live members that hold replicas, as the allocator weighs them. */
  #candidates(): AllocationCandidate[] {
    const run = this.#running()
    const index = run.state.index
    const reputation = (id: string): number => {
      try {
        return this.#kit.peer.reputation.score(peerIdFromString(id))
      } catch {
        return 0
      }
    }
    const out: AllocationCandidate[] = []
    if (this.#holdsReplicas() && !this.#draining) {
      out.push({
        id: this.#self,
        tags: run.init.tags ?? {},
        freeSpace: this.#freeSpace,
        allocated: index.allocatedTo(this.#self),
        reputation: 1
      })
    }
    for (const m of run.monitor.members().values()) {
      const hb = m.heartbeat
      if (m.state !== 'alive' || hb.role === 'leecher' || hb.draining) continue
      out.push({
        id: m.id,
        tags: hb.tags,
        freeSpace: hb.freeSpace,
        allocated: index.allocatedTo(m.id),
        reputation: reputation(m.id)
      })
    }
    return out
  }

  /** Whether an allocated member is lost: down past the grace period, leaving, or a leecher now. */
  #lost(peer: string, now: number, graceMs: number): boolean {
    if (peer === this.#self) return this.#draining || !this.#holdsReplicas()
    const run = this.#running()
    const m = run.monitor.members().get(peer)
    if (m == null) return now - run.monitor.startedAt > run.monitor.ttlMs + graceMs
    if (m.heartbeat.draining || m.heartbeat.role === 'leecher') return true
    return m.state === 'down' && now - (m.downSince ?? now) >= graceMs
  }

  /** One recovery pass (each check): re-allocate what this member coordinates. */
  async #recoverPass(only?: ClusterPin, graceMs?: number): Promise<number> {
    const run = this.#run
    if (run == null || !this.#writer || this.#recovering) return 0
    if (only == null && run.init.recovery === false) return 0
    if (only == null && !(run.init.recovery ?? CLUSTER_RECOVERY)) return 0
    this.#recovering = true
    try {
      const now = Date.now()
      const grace = graceMs ?? run.init.recoveryGraceMs ?? CLUSTER_RECOVERY_GRACE_MS
      const changes = planRecovery(only == null ? run.state.index.pins.values() : [only], {
        self: this.#self,
        writers: only == null ? this.#liveWriters() : [this.#self],
        candidates: this.#candidates(),
        lost: (p) => this.#lost(p, now, grace),
        allocateBy: run.init.allocateBy ?? CLUSTER_ALLOCATE_BY,
        now
      })
      const ops: StateOp[] = changes.map((c) =>
        c.kind === 'expire'
          ? { op: 'DEL', key: `${PIN_PREFIX}${c.cid}` }
          : { op: 'PUT', key: `${PIN_PREFIX}${c.pin.cid}`, value: c.pin }
      )
      await run.state.write(ops)
      const moved = changes.filter((c) => c.kind === 'reallocate').length
      this.#reallocations += moved
      if (moved > 0) this.#log('recovery: %d pin(s) re-allocated', moved)
      return moved
    } catch (err) {
      this.#log('recovery pass failed: %s', (err as Error).message)
      return 0
    } finally {
      this.#recovering = false
    }
  }

  /**
   * Pin a CID in the cluster. Its replicas go to live members by the balanced allocator; with
   * fewer members than `replicationFactorMin` it is pinned on those there are and topped up
   * later. An existing pin of the CID takes the new options.
   */
  async pin(cid: string, options: ClusterPinOptions = {}): Promise<ClusterPin> {
    const [pin] = await this.pinMany([cid], options)
    return pin as ClusterPin
  }

  /** Pin many CIDs with the same options, in as few state entries as the batch size allows. */
  async pinMany(cids: readonly string[], options: ClusterPinOptions = {}): Promise<ClusterPin[]> {
    const run = this.#running()
    const now = Date.now()
    const candidates = this.#candidates()
    const byId = new Map(candidates.map((c) => [c.id, c]))
    const ops: StateOp[] = []
    const pins: ClusterPin[] = []
    for (const given of cids) {
      const cid = parseCID(given).toString()
      const base = pinFromOptions(cid, options, this.#self, now)
      const before = run.state.index.pins.get(cid)
      let allocations: string[] = []
      if (base.replicationFactorMax !== -1) {
        const live = (before?.allocations ?? [])
          .filter((p) => byId.has(p))
          .slice(0, base.replicationFactorMax)
        const existing = live.map((id) => byId.get(id) as AllocationCandidate)
        const added = allocate(candidates, {
          key: cid,
          count: base.replicationFactorMax - live.length,
          existing,
          userAllocations: options.userAllocations,
          allocateBy: run.init.allocateBy ?? CLUSTER_ALLOCATE_BY
        })
        for (const id of added) {
          const c = byId.get(id)
          if (c != null) c.allocated++
        }
        allocations = [...live, ...added]
      }
      const pin: ClusterPin = { ...base, timestamp: before?.timestamp ?? now, allocations }
      pins.push(pin)
      ops.push({ op: 'PUT', key: `${PIN_PREFIX}${cid}`, value: pin })
    }
    await run.state.write(ops, options)
    return pins
  }

  /** Remove a CID from the pinset (every member that holds it for the cluster unpins it). */
  async unpin(cid: string, options: AbortOptions = {}): Promise<ClusterPin> {
    const run = this.#running()
    const key = parseCID(cid).toString()
    const pin = run.state.index.pins.get(key)
    if (pin == null) throw new ClusterPinNotFoundError(`${key} is not pinned in the cluster`)
    await run.state.write([{ op: 'DEL', key: `${PIN_PREFIX}${key}` }], options)
    return pin
  }

  /** A pin of the pinset (undefined if the cluster does not pin it). */
  get(cid: string): ClusterPin | undefined {
    return this.#running().state.index.pins.get(parseCID(cid).toString())
  }

  /** Every pin of the pinset. */
  ls(): ClusterPin[] {
    return [...this.#running().state.index.pins.values()]
  }

  /** This member's status of a CID (`remote` if it does not hold it). */
  localStatus(cid: string): PeerPinStatus {
    return this.#running().tracker.status(parseCID(cid).toString())
  }

  /**
   * A pin's status on every member (asked over the cluster's protocol; a member that does not
   * answer is in `error`), or on this member only with `local`.
   */
  async status(cid: string, options: AbortOptions & { local?: boolean } = {}): Promise<ClusterPinStatus> {
    const key = parseCID(cid).toString()
    const pin = this.#running().state.index.pins.get(key)
    if (pin == null) throw new ClusterPinNotFoundError(`${key} is not pinned in the cluster`)
    const [status] = await this.statusAll({ ...options, pins: [pin] })
    return status as ClusterPinStatus
  }

  /** The status of every pin (or of `pins`), each member asked once for all its CIDs. */
  async statusAll(
    options: AbortOptions & { local?: boolean; pins?: ClusterPin[] } = {}
  ): Promise<ClusterPinStatus[]> {
    const run = this.#running()
    const pins = options.pins ?? this.ls()
    const members = [...run.monitor.members().values()]
    const answers = new Map<string, Map<string, PeerPinStatus>>()
    if (options.local !== true) {
      await Promise.all(
        members.map(async (m) => {
          const cids = pins.filter((p) => this.#holderOf(p, m.id, m.heartbeat.role)).map((p) => p.cid)
          const got = new Map<string, PeerPinStatus>()
          answers.set(m.id, got)
          if (cids.length === 0) return
          const now = Date.now()
          if (m.state === 'down') {
            for (const c of cids)
              got.set(c, {
                peer: m.id,
                status: 'error',
                timestamp: now,
                pins: 0,
                error: 'the member is down'
              })
            return
          }
          for (let i = 0; i < cids.length; i += CLUSTER_RPC_MAX_CIDS) {
            const slice = cids.slice(i, i + CLUSTER_RPC_MAX_CIDS)
            try {
              for (const s of await askMember(this.#kit.peer, m.id, { op: 'status', cids: slice }, options)) {
                got.set(s.cid, {
                  peer: s.peer,
                  status: s.status,
                  timestamp: s.timestamp,
                  pins: s.pins,
                  ...(s.error == null ? {} : { error: s.error })
                })
              }
            } catch (err) {
              for (const c of slice)
                got.set(c, {
                  peer: m.id,
                  status: 'error',
                  timestamp: now,
                  pins: 0,
                  error: `no answer: ${(err as Error).message}`
                })
            }
          }
        })
      )
    }
    // an allocated member that has not seen its allocation yet says remote: it is queued
    const queuedIfHolder = (pin: ClusterPin, s: PeerPinStatus, role: Role): PeerPinStatus =>
      s.status === 'remote' && this.#holderOf(pin, s.peer, role) ? { ...s, status: 'queued' } : s
    return pins.map((pin) => {
      const peerMap: Record<string, PeerPinStatus> = {
        [this.#self]: queuedIfHolder(pin, run.tracker.status(pin.cid), this.#role)
      }
      if (options.local !== true) {
        for (const m of members) {
          const s = answers.get(m.id)?.get(pin.cid) ?? { peer: m.id, status: 'remote', timestamp: 0, pins: 0 }
          peerMap[m.id] = queuedIfHolder(pin, s, m.heartbeat.role)
        }
      }
      return { cid: pin.cid, name: pin.name, peerMap, summary: summarize(pin, peerMap) }
    })
  }

  #holderOf(pin: ClusterPin, peer: string, role: Role): boolean {
    return pin.replicationFactorMax === -1 ? role !== 'leecher' : pin.allocations.includes(peer)
  }

  /**
   * Recover a pin: re-allocate its replicas lost to members that are down (no grace period),
   * and have every holder in error try again now. Returns its status afterwards.
   */
  async recover(cid: string, options: AbortOptions = {}): Promise<ClusterPinStatus> {
    const run = this.#running()
    const key = parseCID(cid).toString()
    const pin = run.state.index.pins.get(key)
    if (pin == null) throw new ClusterPinNotFoundError(`${key} is not pinned in the cluster`)
    if (this.#writer) await this.#recoverPass(pin, 0)
    const now = run.state.index.pins.get(key) ?? pin
    run.tracker.retry(key)
    await Promise.all(
      [...run.monitor.members().values()]
        .filter((m) => m.state === 'alive' && this.#holderOf(now, m.id, m.heartbeat.role))
        .map((m) =>
          askMember(this.#kit.peer, m.id, { op: 'recover', cid: key }, options).catch(() => undefined)
        )
    )
    return this.status(key, options)
  }

  /** Every member: us first, then the others by peer id. */
  peers(): ClusterPeer[] {
    const run = this.#running()
    const index = run.state.index
    const now = Date.now()
    const self: ClusterPeer = {
      id: this.#self,
      role: this.#role,
      state: 'alive',
      writer: this.#writer,
      tags: run.init.tags ?? {},
      freeSpace: this.#freeSpace,
      allocated: index.allocatedTo(this.#self),
      addresses: this.#kit.peer.getMultiaddrs().map((a) => a.toString()),
      lastSeen: now,
      expiresAt: now + run.monitor.ttlMs,
      self: true,
      identity: run.state.identity
    }
    const others = [...run.monitor.members().values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map(
        (m): ClusterPeer => ({
          id: m.id,
          role: m.heartbeat.role,
          state: m.state,
          writer: m.heartbeat.writer,
          tags: m.heartbeat.tags,
          freeSpace: m.heartbeat.freeSpace,
          allocated: index.allocatedTo(m.id),
          addresses: m.heartbeat.addrs,
          lastSeen: m.lastSeen,
          expiresAt: m.lastSeen + m.heartbeat.ttl,
          self: false,
          identity: m.heartbeat.identity
        })
      )
    return [self, ...others]
  }

  /** Alerts raised by this member, oldest first. */
  alerts(): ClusterAlert[] {
    return [...this.#running().monitor.alerts()]
  }

  /**
   * Give a member write access to the pinset (we must be the cluster's admin): by peer id (of a
   * member heard) or OrbitDB identity id.
   */
  async grant(member: string, options: AbortOptions = {}): Promise<void> {
    const run = this.#running()
    options.signal?.throwIfAborted()
    const identity = run.monitor.members().get(member)?.heartbeat.identity ?? member
    if (identity === '' || /^12D3|^Qm/.test(identity)) {
      throw new InvalidParametersError(`${member} is not a member heard in this cluster, nor an identity id`)
    }
    await run.state.grant(identity)
  }

  /**
   * Change this member's role at run time. A member that holds replicas and becomes a leecher
   * hands them over first: it stops taking new ones, waits until the pinset allocates them
   * elsewhere and the new holders have pinned them, and only then unpins.
   * @throws {ClusterHandoverError} when no member takes them before the deadline (the role stays)
   */
  async setRole(role: Role, options: AbortOptions & { timeoutMs?: number } = {}): Promise<void> {
    const run = this.#running()
    if (role !== 'master' && role !== 'worker' && role !== 'leecher') {
      throw new InvalidParametersError(`role must be master, worker or leecher, not "${String(role)}"`)
    }
    if (role === this.#role) return
    if (role === 'leecher' && this.#holdsReplicas()) await this.#handOver(run, options)
    this.#role = role
    this.#draining = false
    run.tracker.holdUnpins = false
    this.#reevaluate()
    await writeClusterConfig(this.#kit.repo.path, { ...(await readClusterConfig(this.#kit.repo.path)), role })
    void run.monitor.beat()
    this.emit('role', role)
  }

  async #handOver(run: Running, options: AbortOptions & { timeoutMs?: number }): Promise<void> {
    const signal = AbortSignal.any([
      this.#kit.peer.stopSignal,
      AbortSignal.timeout(options.timeoutMs ?? CLUSTER_HANDOVER_TIMEOUT_MS),
      ...(options.signal == null ? [] : [options.signal])
    ])
    const held = this.ls().filter((p) => this.#shouldHold(p))
    if (held.length > 0 && this.#candidates().filter((c) => c.id !== this.#self).length === 0) {
      throw new ClusterHandoverError(
        `no other member can take the ${held.length} replica(s) this member holds: start a worker first`
      )
    }
    this.#draining = true
    run.tracker.holdUnpins = true
    void run.monitor.beat()
    const tick = run.init.checkIntervalMs ?? CLUSTER_CHECK_INTERVAL_MS
    try {
      for (;;) {
        signal.throwIfAborted()
        const pending = held.filter((p) => run.state.index.pins.get(p.cid)?.allocations.includes(this.#self))
        if (pending.length === 0) {
          const statuses = await this.statusAll({
            pins: held.map((p) => run.state.index.pins.get(p.cid) ?? p),
            signal
          })
          const done = statuses.every((s) => {
            const others = Object.values(s.peerMap).filter((v) => v.peer !== this.#self)
            return others.some((v) => v.status === 'pinned')
          })
          if (done) return
        }
        await new Promise((resolve) => setTimeout(resolve, tick))
      }
    } catch (err) {
      this.#draining = false
      run.tracker.holdUnpins = false
      void run.monitor.beat()
      throw new ClusterHandoverError(
        `the replicas were not handed over in time (${(err as Error).message}): the role stays ${this.#role}`,
        { cause: err }
      )
    }
  }

  /** Counters (also on `/metrics`). */
  getMetrics(): ClusterMetrics {
    const run = this.#run
    const members = run == null ? [] : [...run.monitor.members().values()]
    return {
      pins: run?.state.index.pins.size ?? 0,
      membersAlive: run == null ? 0 : 1 + members.filter((m) => m.state === 'alive').length,
      membersDown: members.filter((m) => m.state === 'down').length,
      alerts: run?.monitor.alertCount ?? 0,
      pinsDone: run?.tracker.counters.pinsDone ?? 0,
      repins: run?.tracker.counters.repins ?? 0,
      pinErrors: run?.tracker.counters.pinErrors ?? 0,
      reallocations: this.#reallocations,
      entriesApplied: run?.state.index.entriesApplied ?? 0,
      entriesWritten: run?.state.entriesWritten ?? 0
    }
  }

  /** Wait until the tracker has nothing queued or running. */
  async idle(): Promise<void> {
    await this.#running().tracker.idle()
  }
}

/** A pin's status as a whole, in the Pinning Service API's terms. */
function summarize(pin: ClusterPin, peerMap: Record<string, PeerPinStatus>): ClusterPinStatus['summary'] {
  const holders = Object.values(peerMap).filter((s) => s.status !== 'remote')
  if (holders.length === 0) return 'queued'
  const pinned = holders.filter((s) => s.status === 'pinned').length
  const wanted =
    pin.replicationFactorMin === -1
      ? holders.length
      : Math.min(pin.replicationFactorMin, pin.allocations.length)
  if (pinned >= Math.max(1, wanted)) return 'pinned'
  if (holders.every((s) => s.status === 'error')) return 'failed'
  if (holders.some((s) => s.status === 'pinning' || s.status === 'pinned')) return 'pinning'
  return 'queued'
}
