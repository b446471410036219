/**
 * Byte-aware ARC, the Adaptive Replacement Cache of Megiddo & Modha (FAST 2003), with every count
 * replaced by a byte size.
 *
 * - T1 holds resident entries seen once recently, T2 entries seen at least twice.
 * - B1 and B2 are ghost lists: keys (and sizes) recently evicted from T1 and T2, without values.
 * - `p` is the adaptive target size of T1, in bytes. A miss that hits B1 means T1 was too small and
 *   grows `p`; a miss that hits B2 shrinks it.
 *
 * A one-pass scan only ever enters T1 and evicts from T1, so the hot set in T2 survives it; an LRU
 * would flush it. Invariants (checked by the tests): `t1 + t2 ≤ c`, `t1 + b1 ≤ c`,
 * `t1 + t2 + b1 + b2 ≤ 2c`, `0 ≤ p ≤ c`. Each list is a `Map` in LRU → MRU insertion order, so
 * every operation is O(1) per entry moved.
 *
 * @packageDocumentation
 */

import type { ArcState, BytePolicy, Evicted } from './index.ts'

interface Resident<V> {
  value: V
  size: number
}

/**
 * Byte-bounded ARC map.
 *
 * @example
 * ```ts
 * const arc = new ArcCache<string, Uint8Array>(64 * 1024 * 1024)
 * const evicted = arc.set(key, bytes, bytes.byteLength)
 * arc.get(key) // moves key to T2
 * ```
 */
export class ArcCache<K, V> implements BytePolicy<K, V> {
  /** The byte bound of resident entries. */
  readonly capacity: number
  private readonly t1 = new Map<K, Resident<V>>()
  private readonly t2 = new Map<K, Resident<V>>()
  private readonly b1 = new Map<K, number>()
  private readonly b2 = new Map<K, number>()
  private t1Bytes = 0
  private t2Bytes = 0
  private b1Bytes = 0
  private b2Bytes = 0
  private p = 0

  /** @param capacity byte bound of resident entries, > 0 */
  constructor(capacity: number) {
    if (!(capacity > 0)) {
      throw new RangeError(`ARC capacity must be a positive number of bytes, got ${capacity}`)
    }
    this.capacity = capacity
  }

  /** Resident bytes (T1 + T2). */
  get bytes(): number {
    return this.t1Bytes + this.t2Bytes
  }

  /** Resident entries. */
  get count(): number {
    return this.t1.size + this.t2.size
  }

  /** The value of a resident key; moves it to the MRU end of T2. */
  get(key: K): V | undefined {
    const recent = this.t1.get(key)
    if (recent != null) {
      this.t1.delete(key)
      this.t1Bytes -= recent.size
      this.t2.set(key, recent)
      this.t2Bytes += recent.size
      return recent.value
    }
    const frequent = this.t2.get(key)
    if (frequent != null) {
      this.t2.delete(key)
      this.t2.set(key, frequent)
      return frequent.value
    }
    return undefined
  }

  /** The value of a resident key, without counting an access. */
  peek(key: K): V | undefined {
    return (this.t1.get(key) ?? this.t2.get(key))?.value
  }

  /** Whether `key` is resident (ghosts are not). */
  has(key: K): boolean {
    return this.t1.has(key) || this.t2.has(key)
  }

  /**
   * Insert `key`. A resident key or a ghost hit goes to T2 (a ghost hit first adapts `p`); a new key
   * goes to T1. Returns the resident entries evicted (now ghosts) to make room.
   */
  set(key: K, value: V, size: number): Array<Evicted<K, V>> {
    const evicted: Array<Evicted<K, V>> = []
    if (size > this.capacity) {
      this.delete(key)
      return evicted
    }
    if (this.removeResident(key)) {
      this.makeRoom(size, false, evicted)
      this.pushT2(key, value, size)
      this.trimGhosts()
      return evicted
    }
    const inB1 = this.b1.get(key)
    if (inB1 != null) {
      const delta = ratio(this.b2Bytes, this.b1Bytes) * size
      this.p = Math.min(this.capacity, this.p + delta)
      this.b1.delete(key)
      this.b1Bytes -= inB1
      this.makeRoom(size, false, evicted)
      this.pushT2(key, value, size)
      this.trimGhosts()
      return evicted
    }
    const inB2 = this.b2.get(key)
    if (inB2 != null) {
      const delta = ratio(this.b1Bytes, this.b2Bytes) * size
      this.p = Math.max(0, this.p - delta)
      this.b2.delete(key)
      this.b2Bytes -= inB2
      this.makeRoom(size, true, evicted)
      this.pushT2(key, value, size)
      this.trimGhosts()
      return evicted
    }
    this.makeRoom(size, false, evicted)
    this.t1.set(key, { value, size })
    this.t1Bytes += size
    this.trimGhosts()
    return evicted
  }

  /** Remove `key` from every list, ghosts included; true if it was resident. */
  delete(key: K): boolean {
    const ghost1 = this.b1.get(key)
    if (ghost1 != null) {
      this.b1.delete(key)
      this.b1Bytes -= ghost1
    }
    const ghost2 = this.b2.get(key)
    if (ghost2 != null) {
      this.b2.delete(key)
      this.b2Bytes -= ghost2
    }
    return this.removeResident(key)
  }

  /** Remove everything and reset `p`. */
  clear(): void {
    this.t1.clear()
    this.t2.clear()
    this.b1.clear()
    this.b2.clear()
    this.t1Bytes = this.t2Bytes = this.b1Bytes = this.b2Bytes = this.p = 0
  }

  /** The sizes of the four lists and the target `p`, in bytes. */
  state(): ArcState {
    return {
      p: this.p,
      t1Bytes: this.t1Bytes,
      t2Bytes: this.t2Bytes,
      b1Bytes: this.b1Bytes,
      b2Bytes: this.b2Bytes
    }
  }

  private removeResident(key: K): boolean {
    const recent = this.t1.get(key)
    if (recent != null) {
      this.t1.delete(key)
      this.t1Bytes -= recent.size
      return true
    }
    const frequent = this.t2.get(key)
    if (frequent != null) {
      this.t2.delete(key)
      this.t2Bytes -= frequent.size
      return true
    }
    return false
  }

  private pushT2(key: K, value: V, size: number): void {
    this.t2.set(key, { value, size })
    this.t2Bytes += size
  }

  /** ARC's REPLACE, repeated until `size` more bytes fit. */
  private makeRoom(size: number, hitB2: boolean, evicted: Array<Evicted<K, V>>): void {
    while (this.t1Bytes + this.t2Bytes + size > this.capacity && this.count > 0) {
      const fromT1 =
        this.t1.size > 0 &&
        (this.t2.size === 0 || this.t1Bytes > this.p || (hitB2 && this.t1Bytes === this.p))
      if (fromT1) {
        const [key, entry] = first(this.t1)
        this.t1.delete(key)
        this.t1Bytes -= entry.size
        this.b1.set(key, entry.size)
        this.b1Bytes += entry.size
        evicted.push({ key, value: entry.value, size: entry.size })
      } else {
        const [key, entry] = first(this.t2)
        this.t2.delete(key)
        this.t2Bytes -= entry.size
        this.b2.set(key, entry.size)
        this.b2Bytes += entry.size
        evicted.push({ key, value: entry.value, size: entry.size })
      }
    }
  }

  /** Keep the ghost lists within ARC's bounds: `t1 + b1 ≤ c` and all four lists `≤ 2c`. */
  private trimGhosts(): void {
    while (this.t1Bytes + this.b1Bytes > this.capacity && this.b1.size > 0) {
      const [key, size] = first(this.b1)
      this.b1.delete(key)
      this.b1Bytes -= size
    }
    while (this.bytes + this.b1Bytes + this.b2Bytes > 2 * this.capacity && this.b2.size > 0) {
      const [key, size] = first(this.b2)
      this.b2.delete(key)
      this.b2Bytes -= size
    }
  }
}

/** ARC's step factor `max(1, a / b)`, safe for empty (zero-byte) ghost lists. */
function ratio(a: number, b: number): number {
  return b > 0 ? Math.max(1, a / b) : 1
}

/** The least recently used entry of a non-empty list. */
function first<K, V>(map: Map<K, V>): [K, V] {
  const next = map.entries().next()
  if (next.done === true) {
    throw new Error('ARC list unexpectedly empty')
  }
  return next.value
}
