/**
 * The pin tracker: makes this node's pins follow the cluster's allocations, through the kit's
 * own pinning (the GC lock, the strict walker, fetching from peers), with a bounded number of
 * pins at once (p-queue). One operation per CID at a time: a change that arrives while one runs
 * is looked at again when it ends. The CIDs the tracker pinned are recorded in the repo, so a
 * pin the user made is never removed by the cluster, and a restart knows what it holds.
 *
 * @packageDocumentation
 */
import type { Logger } from '@libp2p/interface'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import PQueue from 'p-queue'
import {
  CLUSTER_PIN_CONCURRENCY,
  CLUSTER_PIN_FIRST_RETRY_MS,
  CLUSTER_PIN_RETRY_MS,
  CLUSTER_PIN_TIMEOUT_MS
} from '../constants.ts'
import type { IPFSKit } from '../kit/index.ts'
import type { ClusterPin, PeerPinStatus, TrackerStatus } from './types.ts'

const OWNED_PREFIX = '/ipfs-kit/cluster/owned/'

/** What the tracker uses of the kit. */
export type TrackerKit = Pick<IPFSKit, 'ipfsPinAdd' | 'ipfsPinRm' | 'helia' | 'repo'>

/** Options of {@link PinTracker}. Every option is optional. */
export interface PinTrackerInit {
  /** @default CLUSTER_PIN_CONCURRENCY */
  concurrency?: number
  /** @default CLUSTER_PIN_TIMEOUT_MS */
  pinTimeoutMs?: number
  /** @default CLUSTER_PIN_RETRY_MS */
  retryMs?: number
  /** told of every status change */
  onStatus?: (cid: string, status: PeerPinStatus) => void
}

interface Wanted {
  mode: 'recursive' | 'direct'
  /** allocated here by a recovery or a top-up */
  repin: boolean
}

interface LocalState {
  status: TrackerStatus
  timestamp: number
  error?: string
  pins: number
  /** failed tries in a row */
  failures?: number
}

/** Counters of the tracker. */
export interface TrackerCounters {
  pinsDone: number
  repins: number
  pinErrors: number
  unpinsDone: number
}

/** Pins and unpins this node's share of the pinset. */
export class PinTracker {
  readonly #kit: TrackerKit
  readonly #peer: string
  readonly #log: Logger
  readonly #queue: PQueue
  readonly #pinTimeoutMs: number
  readonly #retryMs: number
  readonly #onStatus?: (cid: string, status: PeerPinStatus) => void
  /** what this node should hold, by CID */
  readonly #wanted = new Map<string, Wanted>()
  /** local status of the CIDs wanted here (and those being unpinned) */
  readonly #states = new Map<string, LocalState>()
  /** CIDs the tracker pinned (the user's own pins are not among them) */
  readonly #owned = new Set<string>()
  readonly #inFlight = new Set<string>()
  readonly #dirty = new Set<string>()
  /** retries waiting, by CID (only CIDs in error: removed when they fire, at stop, or when unwanted) */
  readonly #retries = new Map<string, NodeJS.Timeout>()
  readonly #stop = new AbortController()
  readonly counters: TrackerCounters = { pinsDone: 0, repins: 0, pinErrors: 0, unpinsDone: 0 }
  /** while true, CIDs no longer wanted are kept (a leaving member hands them over first) */
  holdUnpins = false

  constructor(kit: TrackerKit, peer: string, log: Logger, init: PinTrackerInit = {}) {
    this.#kit = kit
    this.#peer = peer
    this.#log = log
    this.#queue = new PQueue({ concurrency: init.concurrency ?? CLUSTER_PIN_CONCURRENCY })
    this.#pinTimeoutMs = init.pinTimeoutMs ?? CLUSTER_PIN_TIMEOUT_MS
    this.#retryMs = init.retryMs ?? CLUSTER_PIN_RETRY_MS
    this.#onStatus = init.onStatus
  }

  /** Load the CIDs pinned by the cluster before (from the repo). */
  async start(): Promise<void> {
    for await (const key of this.#kit.repo.datastore.queryKeys({ prefix: OWNED_PREFIX })) {
      this.#owned.add(key.toString().slice(OWNED_PREFIX.length))
    }
  }

  /** Stop: queued work is dropped, running pins are aborted. Safe to call twice. */
  async stop(): Promise<void> {
    this.#stop.abort()
    for (const t of this.#retries.values()) clearTimeout(t)
    this.#retries.clear()
    this.#queue.clear()
    await this.#queue.onIdle()
  }

  /** Pins waiting or running. */
  get pending(): number {
    return this.#queue.size + this.#queue.pending
  }

  /** Wait until no pin or unpin is waiting or running. */
  async idle(): Promise<void> {
    await this.#queue.onIdle()
  }

  /** CIDs the cluster pinned here. */
  owned(): ReadonlySet<string> {
    return this.#owned
  }

  /** Whether this node should hold `cid`. */
  wants(cid: string): boolean {
    return this.#wanted.has(cid)
  }

  /** Set whether this node should hold `pin` (from the allocations). */
  set(pin: ClusterPin, hold: boolean): void {
    if (hold) {
      const before = this.#wanted.get(pin.cid)
      this.#wanted.set(pin.cid, { mode: pin.mode, repin: before?.repin ?? pin.reallocated > 0 })
    } else this.#wanted.delete(pin.cid)
    this.#schedule(pin.cid)
  }

  /** The pin left the pinset. */
  remove(cid: string): void {
    clearTimeout(this.#retries.get(cid))
    this.#retries.delete(cid)
    this.#wanted.delete(cid)
    this.#schedule(cid)
  }

  /** This node's status of `cid`. */
  status(cid: string): PeerPinStatus {
    const s = this.#states.get(cid)
    if (s == null || !this.#wanted.has(cid)) {
      return { peer: this.#peer, status: 'remote', timestamp: s?.timestamp ?? 0, pins: s?.pins ?? 0 }
    }
    return {
      peer: this.#peer,
      status: s.status,
      timestamp: s.timestamp,
      pins: s.pins,
      ...(s.error == null ? {} : { error: s.error })
    }
  }

  /** Try a CID in error (or unexpectedly unpinned) again now. */
  retry(cid: string): void {
    const s = this.#states.get(cid)
    if (s != null && (s.status === 'error' || s.status === 'unexpectedly_unpinned')) {
      this.#setState(cid, { ...s, status: 'queued', error: undefined })
    }
    this.#schedule(cid)
  }

  /**
   * Compare what should be held with the node's pins: a CID pinned here and gone from the node
   * (a `pin rm` behind the cluster's back) is `unexpectedly_unpinned` and pinned again; one in
   * error long enough is tried again; CIDs no longer wanted are unpinned.
   */
  async reconcile(now = Date.now()): Promise<void> {
    for (const [cid, s] of this.#states) {
      if (this.#stop.signal.aborted) return
      if (this.#inFlight.has(cid)) continue
      if (!this.#wanted.has(cid)) {
        this.#schedule(cid)
        continue
      }
      if (s.status === 'error' && now - s.timestamp >= this.#retryMs) this.retry(cid)
      else if (s.status === 'pinned' && !(await this.#isPinned(cid))) {
        this.#setState(cid, { ...s, status: 'unexpectedly_unpinned', timestamp: now })
        this.retry(cid)
      }
    }
    for (const cid of this.#owned) if (!this.#wanted.has(cid) && !this.#inFlight.has(cid)) this.#schedule(cid)
  }

  async #isPinned(cid: string): Promise<boolean> {
    try {
      return await this.#kit.helia.pins.isPinned(CID.parse(cid).toV1())
    } catch {
      return false
    }
  }

  #setState(cid: string, state: LocalState): void {
    this.#states.set(cid, state)
    this.#onStatus?.(cid, this.status(cid))
  }

  #schedule(cid: string): void {
    if (this.#stop.signal.aborted) return
    if (this.#inFlight.has(cid)) {
      this.#dirty.add(cid)
      return
    }
    const wanted = this.#wanted.get(cid)
    const state = this.#states.get(cid)
    if (wanted != null) {
      if (state != null && (state.status === 'pinned' || state.status === 'error')) return
      if (state?.status === 'unexpectedly_unpinned') {
        // pinned again below
      }
      this.#run(cid, () => this.#pin(cid, wanted))
      return
    }
    if (this.holdUnpins) return
    if (this.#owned.has(cid)) {
      this.#run(cid, () => this.#unpin(cid))
      return
    }
    this.#states.delete(cid)
  }

  #run(cid: string, op: () => Promise<void>): void {
    this.#inFlight.add(cid)
    const state = this.#states.get(cid)
    if (this.#wanted.has(cid))
      this.#setState(cid, {
        pins: state?.pins ?? 0,
        status: 'queued',
        timestamp: Date.now(),
        failures: state?.failures
      })
    void this.#queue
      .add(op)
      .catch((err: unknown) => this.#log('tracker: %s failed: %s', cid, (err as Error).message))
      .finally(() => {
        this.#inFlight.delete(cid)
        if (this.#dirty.delete(cid)) this.#schedule(cid)
      })
  }

  async #pin(cid: string, wanted: Wanted): Promise<void> {
    if (!this.#wanted.has(cid) || this.#stop.signal.aborted) return
    const before = this.#states.get(cid)
    const pins = before?.pins ?? 0
    this.#setState(cid, { pins, status: 'pinning', timestamp: Date.now(), failures: before?.failures })
    try {
      const parsed = CID.parse(cid)
      if (!this.#owned.has(cid) && (await this.#isPinned(cid))) {
        // the user's own pin: held, never ours to remove
        this.#setState(cid, { pins, status: 'pinned', timestamp: Date.now() })
        return
      }
      const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#pinTimeoutMs)])
      await this.#kit.ipfsPinAdd(parsed, { recursive: wanted.mode === 'recursive', signal })
      this.#owned.add(cid)
      await this.#kit.repo.datastore.put(new Key(`${OWNED_PREFIX}${cid}`), new Uint8Array())
      this.counters.pinsDone++
      if (wanted.repin) this.counters.repins++
      this.#setState(cid, { pins: pins + 1, status: 'pinned', timestamp: Date.now() })
    } catch (err) {
      if (this.#stop.signal.aborted) return
      this.counters.pinErrors++
      const message = (err as Error).message
      const failures = (before?.failures ?? 0) + 1
      this.#log('pin %s failed: %s', cid, message)
      this.#setState(cid, { pins, status: 'error', timestamp: Date.now(), error: message, failures })
      this.#retryLater(cid, failures)
    }
  }

  /**
   * Try a CID in error again soon: 1 s after the first failure, twice as long after each next,
   * up to the retry interval (a block a member has but could not send in time is pinned in
   * seconds, not at the next reconcile).
   */
  #retryLater(cid: string, failures: number): void {
    clearTimeout(this.#retries.get(cid))
    const delay = Math.min(this.#retryMs, CLUSTER_PIN_FIRST_RETRY_MS * 2 ** Math.min(failures - 1, 20))
    const timer = setTimeout(() => {
      this.#retries.delete(cid)
      if (this.#wanted.has(cid)) this.retry(cid)
    }, delay)
    timer.unref()
    this.#retries.set(cid, timer)
  }

  async #unpin(cid: string): Promise<void> {
    if (this.#wanted.has(cid) || this.holdUnpins) return
    try {
      await this.#kit.ipfsPinRm(CID.parse(cid))
    } catch (err) {
      if ((err as Error).name !== 'NotFoundError') {
        this.#log('unpin %s failed: %s', cid, (err as Error).message)
        return
      }
    }
    this.#owned.delete(cid)
    await this.#kit.repo.datastore.delete(new Key(`${OWNED_PREFIX}${cid}`))
    this.counters.unpinsDone++
    this.#states.delete(cid)
  }
}
