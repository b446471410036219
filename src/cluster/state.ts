/**
 * The cluster's replicated state on OrbitDB: one KeyValue database (pins under `pin/<cid>`,
 * member records under `member/<peer id>`) whose writes OrbitDB's access controller allows to
 * masters (its admins) and to the members they grant. Many writes go in one entry (our `BATCH`
 * op), so a large pinset is a short log. The {@link StateIndex} is fed from OrbitDB's `update`
 * events: each new entry, and the entries below it not applied yet, are applied once; opening
 * applies the log on disk the same way, from its heads down.
 *
 * @packageDocumentation
 */
import { join } from 'node:path'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { type BytesInput, collectBytes } from '../blocks/bytes.ts'
import { CLUSTER_BATCH_OPS } from '../constants.ts'
import { ClusterAccessDeniedError, ClusterNotRunningError, InvalidClusterConfigError } from '../errors.ts'
import { type IndexChange, type IndexEntry, StateIndex, type StateOp } from './state-index.ts'

/** What we use of an OrbitDB log entry. */
interface OrbitEntry extends IndexEntry {
  next: string[]
  identity: string
}

/** What we use of an OrbitDB KeyValue database. */
interface OrbitDatabase {
  address: string
  events: {
    on(event: 'update', fn: (entry: OrbitEntry) => void): void
    on(event: 'join' | 'leave', fn: (peerId: unknown) => void): void
    on(event: 'error', fn: (err: Error) => void): void
    off(event: string, fn: (...args: never[]) => void): void
  }
  log: { heads(): Promise<OrbitEntry[]>; get(hash: string): Promise<OrbitEntry | undefined> }
  addOperation(op: unknown): Promise<string>
  access: {
    type: string
    grant?(capability: string, key: string): Promise<void>
    capabilities?(): Promise<Record<string, Set<string>>>
    events?: { on(event: 'update', fn: () => void): void }
  }
  close(): Promise<void>
}

interface OrbitDB {
  identity: { id: string }
  open(address: string, options?: Record<string, unknown>): Promise<OrbitDatabase>
  stop(): Promise<void>
}

interface OrbitModule {
  createOrbitDB(init: { ipfs: unknown; id: string; directory: string }): Promise<OrbitDB>
  OrbitDBAccessController(init: { write: string[] }): unknown
  isValidAddress(address: string): boolean
}

/** What OrbitDB uses of Helia. */
interface OrbitHelia {
  libp2p: unknown
  blockstore: { get(cid: CID, options?: AbortOptions): AsyncIterable<Uint8Array> | unknown }
  pins: {
    isPinned(cid: CID, options?: AbortOptions): Promise<boolean>
    add(cid: CID, options?: Record<string, unknown>): AsyncIterable<CID>
  }
}

/**
 * A walker that visits the root block only, without decoding it: OrbitDB's blocks (entries,
 * identities, manifests) link to nothing by CID, and the node's Helia may lack their codec.
 */
const rootOnlyWalker = (components: { blockstore: OrbitHelia['blockstore'] }) => ({
  async *walk(root: CID, options: AbortOptions = {}) {
    const bytes = await collectBytes(components.blockstore.get(root, options) as BytesInput)
    yield { block: { cid: root, bytes, links: () => [][Symbol.iterator]() }, depth: 0, path: [root] }
  }
})

/** Helia as OrbitDB sees it: its pins of OrbitDB's own blocks are of the root block only. */
function orbitIpfs(helia: OrbitHelia): OrbitHelia {
  return {
    libp2p: helia.libp2p,
    blockstore: helia.blockstore,
    pins: {
      isPinned: (cid, options) => helia.pins.isPinned(cid, options),
      add: (cid, options) => helia.pins.add(cid, { ...options, depth: 0, walker: rootOnlyWalker })
    }
  }
}

/** A write waiting to go into an entry. */
interface QueuedWrite {
  ops: StateOp[]
  signal?: AbortSignal
  resolve: () => void
  reject: (err: unknown) => void
}

/** Dependencies of {@link ClusterState}. */
export interface ClusterStateComponents {
  /** the Helia node OrbitDB stores its entries in and syncs over (libp2p's gossipsub as `pubsub`) */
  helia: unknown
  /** our peer id, the OrbitDB identity's key name */
  peerId: string
  log: Logger
}

/** Options of {@link ClusterState.open}. */
export interface ClusterStateInit {
  /** folder of the keystore, heads and index */
  directory: string
  /** join the database at this address; without it, create one named `name` (we are its admin) */
  address?: string
  name: string
  /** called with the index's changes after each applied entry and the entries below it */
  onChange: (changes: IndexChange[]) => void
}

/** The cluster's state: an OrbitDB database and the index fed by its updates. */
export class ClusterState {
  readonly index = new StateIndex()
  readonly #orbit: OrbitDB
  readonly #db: OrbitDatabase
  readonly #log: Logger
  readonly #onChange: (changes: IndexChange[]) => void
  /** hashes of the entries applied (the walk down from a new entry stops at them) */
  readonly #seen = new Set<string>()
  #applying: Promise<void> = Promise.resolve()
  #writers?: Set<string>
  #closed = false
  /** writes waiting for the entry being added */
  readonly #queued: QueuedWrite[] = []
  #flushing = false
  #entriesWritten = 0

  private constructor(orbit: OrbitDB, db: OrbitDatabase, init: ClusterStateInit, log: Logger) {
    this.#orbit = orbit
    this.#db = db
    this.#log = log
    this.#onChange = init.onChange
  }

  /** Open (or create) the state and apply the log held on disk. */
  static async open(
    components: ClusterStateComponents,
    init: ClusterStateInit,
    options: AbortOptions = {}
  ): Promise<ClusterState> {
    const orbitModule = (await import('@orbitdb/core')) as OrbitModule
    if (init.address != null && !orbitModule.isValidAddress(init.address)) {
      throw new InvalidClusterConfigError(
        `"${init.address}" is not an OrbitDB address (/orbitdb/<cid>): use the address a master's \`cluster id\` shows`
      )
    }
    const orbit = await orbitModule.createOrbitDB({
      ipfs: orbitIpfs(components.helia as OrbitHelia),
      id: components.peerId,
      directory: join(init.directory, 'orbitdb')
    })
    let db: OrbitDatabase
    try {
      db = await (init.address == null
        ? orbit.open(init.name, {
            type: 'keyvalue',
            AccessController: orbitModule.OrbitDBAccessController({ write: [orbit.identity.id] })
          })
        : orbit.open(init.address, { signal: options.signal }))
    } catch (err) {
      await orbit.stop().catch(() => undefined)
      throw err
    }
    const state = new ClusterState(orbit, db, init, components.log)
    await state.#start()
    return state
  }

  async #start(): Promise<void> {
    this.#db.events.on('update', this.#onUpdate)
    this.#db.events.on('error', this.#onError)
    this.#db.access.events?.on('update', () => {
      this.#writers = undefined
    })
    const heads = await this.#db.log.heads()
    for (const head of heads) this.#enqueue(head)
    await this.#applying
  }

  readonly #onUpdate = (entry: OrbitEntry): void => {
    this.#enqueue(entry)
  }

  readonly #onError = (err: Error): void => {
    this.#log('state sync: %s', err.message)
  }

  #enqueue(entry: OrbitEntry): void {
    this.#applying = this.#applying
      .then(() => this.#walk(entry))
      .catch((err: unknown) =>
        this.#log.error('could not apply entry %s: %s', entry.hash, (err as Error).message)
      )
  }

  /** Apply `top` and every entry below it not applied yet. */
  async #walk(top: OrbitEntry): Promise<void> {
    const changes: IndexChange[] = []
    const stack: OrbitEntry[] = [top]
    while (stack.length > 0 && !this.#closed) {
      const entry = stack.pop() as OrbitEntry
      if (this.#seen.has(entry.hash)) continue
      this.#seen.add(entry.hash)
      changes.push(...this.index.apply(entry))
      for (const hash of entry.next) {
        if (this.#seen.has(hash)) continue
        const below = await this.#db.log.get(hash)
        if (below != null) stack.push(below)
      }
    }
    if (changes.length > 0) this.#onChange(changes)
  }

  /** Wait until every entry received so far is in the index. */
  async settled(): Promise<void> {
    let last: Promise<void>
    do {
      last = this.#applying
      await last
    } while (last !== this.#applying)
  }

  /** The database's address (`/orbitdb/…`): what other members join. */
  get address(): string {
    return this.#db.address
  }

  /** Our OrbitDB identity id (what a write grant names). */
  get identity(): string {
    return this.#orbit.identity.id
  }

  /** Identity ids allowed to write (admins included; `*` for anyone). */
  async writers(): Promise<Set<string>> {
    if (this.#writers != null) return this.#writers
    const caps = (await this.#db.access.capabilities?.()) ?? {}
    const out = new Set<string>([...(caps.write ?? []), ...(caps.admin ?? [])])
    this.#writers = out
    return out
  }

  /** Whether we may write. */
  async canWrite(): Promise<boolean> {
    const writers = await this.writers()
    return writers.has(this.identity) || writers.has('*')
  }

  /** Whether we may grant (we are an admin of the access controller). */
  async canGrant(): Promise<boolean> {
    const caps = (await this.#db.access.capabilities?.()) ?? {}
    return caps.admin?.has(this.identity) === true
  }

  /**
   * Write ops. Writes made while an entry is being added wait and go together in the next one
   * (up to {@link CLUSTER_BATCH_OPS} ops an entry, in the order they were made), so many
   * concurrent pins cost a few entries, not one each: OrbitDB adds one entry at a time, and each
   * is signed, stored, pinned and published. The index has the ops when this returns.
   */
  async write(ops: StateOp[], options: AbortOptions = {}): Promise<void> {
    if (ops.length === 0) return
    options.signal?.throwIfAborted()
    if (!(await this.canWrite())) {
      throw new ClusterAccessDeniedError(
        'this member may not write the cluster state: pin through a master, or have a master grant it (cluster grant)'
      )
    }
    if (this.#closed) throw new ClusterNotRunningError('the cluster state is closed')
    // dag-cbor has no undefined: a JSON round trip drops absent fields
    const value = JSON.parse(JSON.stringify(ops)) as StateOp[]
    const done = new Promise<void>((resolve, reject) => {
      this.#queued.push({ ops: value, signal: options.signal, resolve, reject })
    })
    void this.#flush()
    await done
  }

  /** Add the queued writes as entries, one batch at a time, until none is left. */
  async #flush(): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#queued.length > 0) {
        const batch = this.#takeBatch()
        if (batch.writes.length === 0) continue
        try {
          for (let i = 0; i < batch.ops.length; i += CLUSTER_BATCH_OPS) {
            if (this.#closed) throw new ClusterNotRunningError('the cluster state is closed')
            const slice = batch.ops.slice(i, i + CLUSTER_BATCH_OPS)
            await this.#db.addOperation(
              slice.length === 1 ? slice[0] : { op: 'BATCH', key: null, value: slice }
            )
            this.#entriesWritten++
          }
          await this.settled()
          for (const w of batch.writes) w.resolve()
        } catch (err) {
          for (const w of batch.writes) w.reject(err)
        }
      }
    } finally {
      this.#flushing = false
    }
  }

  /**
   * The next writes to add: the first queued, and those after it while they fit in one entry
   * (a write larger than an entry goes alone, over several). Writes aborted while queued leave.
   */
  #takeBatch(): { writes: QueuedWrite[]; ops: StateOp[] } {
    const writes: QueuedWrite[] = []
    const ops: StateOp[] = []
    while (this.#queued.length > 0) {
      const next = this.#queued[0] as QueuedWrite
      if (next.signal?.aborted === true) {
        this.#queued.shift()
        next.reject(next.signal.reason)
        continue
      }
      if (writes.length > 0 && ops.length + next.ops.length > CLUSTER_BATCH_OPS) break
      this.#queued.shift()
      writes.push(next)
      for (const op of next.ops) ops.push(op)
    }
    return { writes, ops }
  }

  /** Entries this member added to the log since it opened the state. */
  get entriesWritten(): number {
    return this.#entriesWritten
  }

  /** Grant write access to an identity id (we must be an admin). */
  async grant(identity: string): Promise<void> {
    if (this.#db.access.grant == null || !(await this.canGrant())) {
      throw new ClusterAccessDeniedError('only an admin master of the cluster can grant write access')
    }
    await this.#db.access.grant('write', identity)
    this.#writers = undefined
  }

  /** Close the database and OrbitDB (the entries stay in the repo). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const w of this.#queued.splice(0))
      w.reject(new ClusterNotRunningError('the cluster state is closed'))
    this.#db.events.off('update', this.#onUpdate)
    this.#db.events.off('error', this.#onError)
    await this.#applying.catch(() => undefined)
    await this.#orbit.stop()
  }
}
