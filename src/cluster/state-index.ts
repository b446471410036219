/**
 * The local index of the cluster's state: the pinset and the member records, kept from the
 * OrbitDB log's entries as they are applied (never by scanning the log for a lookup). Each key
 * keeps the value of its last write by OrbitDB's own order (Lamport time, then writer id, then
 * place in a batch), so every member that applied the same entries, in any order, holds the
 * same index.
 *
 * @packageDocumentation
 */
import type { Role } from '../constants.ts'
import type { ClusterPin } from './types.ts'

/** Key prefix of a pin in the state. */
export const PIN_PREFIX = 'pin/'
/** Key prefix of a member record in the state. */
export const MEMBER_PREFIX = 'member/'

/** A member as the state records it (written by a master when it joins or changes role). */
export interface MemberRecord {
  id: string
  role: Role
  identity: string
  tags: Record<string, string>
  /** ms since the epoch when it was first recorded */
  joined: number
}

/** One write of the state: a key set to a value, or deleted. */
export interface StateOp {
  op: 'PUT' | 'DEL'
  key: string
  value?: unknown
}

/** The payload of an OrbitDB entry: one write, or a batch of them (our own `BATCH` op). */
export type StatePayload = StateOp | { op: 'BATCH'; key: null; value: StateOp[] }

/** What the index needs of an OrbitDB log entry. */
export interface IndexEntry {
  hash: string
  payload: unknown
  clock: { id: string; time: number }
}

/** A change the index made: the key's value now (undefined: removed). */
export interface IndexChange {
  key: string
  pin?: ClusterPin
  member?: MemberRecord
  removed: boolean
  /** the pin's value before, if it was a pin */
  before?: ClusterPin
}

interface Stamp {
  time: number
  id: string
  seq: number
}

const ROLES: ReadonlySet<string> = new Set(['master', 'worker', 'leecher'])

function newer(a: Stamp, b: Stamp): boolean {
  if (a.time !== b.time) return a.time > b.time
  if (a.id !== b.id) return a.id > b.id
  return a.seq > b.seq
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v != null && !Array.isArray(v)

function stringRecord(v: unknown): Record<string, string> | undefined {
  if (!isRecord(v)) return undefined
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') return undefined
    out[k] = x
  }
  return out
}

/** A pin read from the log, checked field by field (undefined if it is not one). */
export function toPin(value: unknown): ClusterPin | undefined {
  if (!isRecord(value)) return undefined
  const v = value
  const metadata = stringRecord(v.metadata ?? {})
  if (
    typeof v.cid !== 'string' ||
    typeof v.name !== 'string' ||
    !Number.isSafeInteger(v.replicationFactorMin) ||
    !Number.isSafeInteger(v.replicationFactorMax) ||
    !Array.isArray(v.allocations) ||
    !v.allocations.every((a) => typeof a === 'string') ||
    typeof v.expireAt !== 'number' ||
    metadata == null ||
    (v.mode !== 'recursive' && v.mode !== 'direct') ||
    typeof v.timestamp !== 'number' ||
    typeof v.updatedBy !== 'string'
  ) {
    return undefined
  }
  return {
    cid: v.cid,
    name: v.name,
    replicationFactorMin: v.replicationFactorMin as number,
    replicationFactorMax: v.replicationFactorMax as number,
    allocations: [...(v.allocations as string[])],
    expireAt: v.expireAt,
    metadata,
    mode: v.mode,
    timestamp: v.timestamp,
    updatedBy: v.updatedBy,
    reallocated: typeof v.reallocated === 'number' ? v.reallocated : 0
  }
}

function toMember(value: unknown): MemberRecord | undefined {
  if (!isRecord(value)) return undefined
  const tags = stringRecord(value.tags ?? {})
  if (
    typeof value.id !== 'string' ||
    typeof value.role !== 'string' ||
    !ROLES.has(value.role) ||
    typeof value.identity !== 'string' ||
    tags == null ||
    typeof value.joined !== 'number'
  ) {
    return undefined
  }
  return { id: value.id, role: value.role as Role, identity: value.identity, tags, joined: value.joined }
}

/** The ops of an entry's payload ([] for a payload that is not ours). */
export function opsOf(payload: unknown): StateOp[] {
  if (!isRecord(payload)) return []
  if (payload.op === 'BATCH' && Array.isArray(payload.value)) {
    return payload.value.filter(
      (o): o is StateOp => isRecord(o) && (o.op === 'PUT' || o.op === 'DEL') && typeof o.key === 'string'
    )
  }
  if ((payload.op === 'PUT' || payload.op === 'DEL') && typeof payload.key === 'string') {
    return [payload as unknown as StateOp]
  }
  return []
}

/**
 * The pinset and member records, with the number of pins allocated to each member.
 *
 * @example
 * ```ts
 * const index = new StateIndex()
 * index.apply(entry) // the changes it made
 * index.pins.get(cid)
 * ```
 */
export class StateIndex {
  readonly pins = new Map<string, ClusterPin>()
  readonly members = new Map<string, MemberRecord>()
  /** the stamp of the write that holds each key (deletions too, so an older write stays lost) */
  readonly #stamps = new Map<string, Stamp>()
  readonly #allocated = new Map<string, number>()
  #applied = 0

  /** Entries applied. */
  get entriesApplied(): number {
    return this.#applied
  }

  /** Pins allocated to a member (pins for everyone not counted). */
  allocatedTo(peer: string): number {
    return this.#allocated.get(peer) ?? 0
  }

  /** Apply one log entry; the changes it made to the index. */
  apply(entry: IndexEntry): IndexChange[] {
    this.#applied++
    const changes: IndexChange[] = []
    const ops = opsOf(entry.payload)
    for (const [seq, op] of ops.entries()) {
      const stamp: Stamp = { time: entry.clock.time, id: entry.clock.id, seq }
      const held = this.#stamps.get(op.key)
      if (held != null && !newer(stamp, held)) continue
      const change = this.#set(op)
      if (change == null) continue
      this.#stamps.set(op.key, stamp)
      changes.push(change)
    }
    return changes
  }

  #set(op: StateOp): IndexChange | undefined {
    if (op.key.startsWith(PIN_PREFIX)) {
      const cid = op.key.slice(PIN_PREFIX.length)
      const before = this.pins.get(cid)
      if (op.op === 'DEL') {
        if (before != null) this.#count(before, -1)
        this.pins.delete(cid)
        return { key: op.key, removed: true, before }
      }
      const pin = toPin(op.value)
      if (pin == null || pin.cid !== cid) return undefined
      if (before != null) this.#count(before, -1)
      this.pins.set(cid, pin)
      this.#count(pin, 1)
      return { key: op.key, pin, removed: false, before }
    }
    if (op.key.startsWith(MEMBER_PREFIX)) {
      const id = op.key.slice(MEMBER_PREFIX.length)
      if (op.op === 'DEL') {
        this.members.delete(id)
        return { key: op.key, removed: true }
      }
      const member = toMember(op.value)
      if (member == null || member.id !== id) return undefined
      this.members.set(id, member)
      return { key: op.key, member, removed: false }
    }
    return undefined
  }

  #count(pin: ClusterPin, by: number): void {
    for (const peer of pin.allocations) {
      const n = (this.#allocated.get(peer) ?? 0) + by
      if (n <= 0) this.#allocated.delete(peer)
      else this.#allocated.set(peer, n)
    }
  }
}
