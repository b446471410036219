/**
 * Byte-aware LRU: the baseline the ARC memory tier is measured against (tests and `bench/cache.ts`),
 * and a policy choice of the memory tier (`policy: 'lru'`).
 *
 * @packageDocumentation
 */

import type { BytePolicy, Evicted } from './index.ts'

interface Resident<V> {
  value: V
  size: number
}

/**
 * Byte-bounded LRU map: a `Map` in LRU → MRU insertion order; a hit moves the key to the MRU end,
 * an insertion evicts from the LRU end until it fits.
 */
export class LruCache<K, V> implements BytePolicy<K, V> {
  /** The byte bound. */
  readonly capacity: number
  private readonly entries = new Map<K, Resident<V>>()
  private residentBytes = 0

  /** @param capacity byte bound, > 0 */
  constructor(capacity: number) {
    if (!(capacity > 0)) {
      throw new RangeError(`LRU capacity must be a positive number of bytes, got ${capacity}`)
    }
    this.capacity = capacity
  }

  /** Resident bytes. */
  get bytes(): number {
    return this.residentBytes
  }

  /** Resident entries. */
  get count(): number {
    return this.entries.size
  }

  /** The value; moves the key to the MRU end. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key)
    if (entry == null) {
      return undefined
    }
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry.value
  }

  /** The value, without counting an access. */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value
  }

  /** Whether `key` is resident. */
  has(key: K): boolean {
    return this.entries.has(key)
  }

  /** Insert at the MRU end; returns the entries evicted from the LRU end to make room. */
  set(key: K, value: V, size: number): Array<Evicted<K, V>> {
    const evicted: Array<Evicted<K, V>> = []
    this.delete(key)
    if (size > this.capacity) {
      return evicted
    }
    while (this.residentBytes + size > this.capacity) {
      const next = this.entries.entries().next()
      if (next.done === true) {
        break
      }
      const [oldKey, old] = next.value
      this.entries.delete(oldKey)
      this.residentBytes -= old.size
      evicted.push({ key: oldKey, value: old.value, size: old.size })
    }
    this.entries.set(key, { value, size })
    this.residentBytes += size
    return evicted
  }

  /** Remove `key`; true if it was resident. */
  delete(key: K): boolean {
    const entry = this.entries.get(key)
    if (entry == null) {
      return false
    }
    this.entries.delete(key)
    this.residentBytes -= entry.size
    return true
  }

  /** Remove everything. */
  clear(): void {
    this.entries.clear()
    this.residentBytes = 0
  }
}
