/**
 * Map keys shared by the discovery parts, and a small bounded LRU map.
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'
import { base64 } from 'multiformats/bases/base64'
import type { CID } from 'multiformats/cid'

/** A peer's map key: its string form (`12D3Koo…`, `Qm…`). */
export function peerKey(peer: PeerId | string): string {
  return typeof peer === 'string' ? peer : peer.toString()
}

/**
 * A content id's map key: its multihash, as the DHT keys provider records. A CIDv0 and a CIDv1
 * (or a `raw` and a `dag-pb` CID) with the same multihash share providers.
 */
export function contentKey(cid: CID): string {
  return base64.baseEncode(cid.multihash.bytes)
}

/**
 * A `Map` that keeps at most `max` entries, evicting the least recently used: `get` and `set`
 * move an entry to the most recent end. Iteration runs from least to most recently used.
 */
export class LruMap<K, V> extends Map<K, V> {
  readonly max: number
  readonly #onEvict: ((key: K, value: V) => void) | undefined

  constructor(max: number, onEvict?: (key: K, value: V) => void) {
    super()
    this.max = Math.max(1, Math.floor(max))
    this.#onEvict = onEvict
  }

  override get(key: K): V | undefined {
    const value = super.get(key)
    if (value !== undefined) {
      super.delete(key)
      super.set(key, value)
    }
    return value
  }

  /** Read without changing recency. */
  peek(key: K): V | undefined {
    return super.get(key)
  }

  override set(key: K, value: V): this {
    super.delete(key)
    super.set(key, value)
    while (this.size > this.max) {
      const oldest = this.keys().next()
      if (oldest.done === true) break
      const evicted = super.get(oldest.value)
      super.delete(oldest.value)
      if (evicted !== undefined) this.#onEvict?.(oldest.value, evicted)
    }
    return this
  }
}
