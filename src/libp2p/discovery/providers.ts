/**
 * Provider tracking: who provides which content, learnt from where, until when.
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import {
  PROVIDER_MAX_MULTIADDRS,
  PROVIDER_RECORD_VALIDITY_MS,
  PROVIDER_STORE_MAX_CIDS,
  PROVIDER_STORE_MAX_PROVIDERS_PER_CID
} from '../../constants.ts'
import { contentKey, LruMap, peerKey } from './keys.ts'
import type { Provenance, Provider } from './types.ts'

/** A provider of one CID, with where and when we learnt it. */
export interface ProviderRecord extends Provider {
  /** the source that first told us (also `provenance`) and every other source since */
  sources: Provenance[]
  /** ms since the epoch */
  firstSeen: number
  /** ms since the epoch */
  lastSeen: number
  /** ms since the epoch after which the record is ignored and pruned */
  expiresAt: number
}

/** Options of {@link ProviderStore}. */
export interface ProviderStoreInit {
  /** validity of a record from its last sighting. @default PROVIDER_RECORD_VALIDITY_MS (48 h, kad-dht's) */
  validityMs?: number
  /** CIDs tracked (least recently updated evicted). @default PROVIDER_STORE_MAX_CIDS (10 000) */
  maxCids?: number
  /** providers per CID (least recently seen evicted). @default PROVIDER_STORE_MAX_PROVIDERS_PER_CID (64) */
  maxProvidersPerCid?: number
  /** multiaddrs kept per record (newest kept). @default PROVIDER_MAX_MULTIADDRS (16) */
  maxMultiaddrs?: number
}

/** Options of {@link ProviderStore.add}. */
export interface AddProviderOptions {
  /** ms since the epoch. Defaults to `Date.now()` */
  now?: number
  /** validity of this sighting, if shorter or longer than the store's (e.g. a pubsub hint) */
  validityMs?: number
}

/**
 * Providers per CID, keyed by the CID's multihash (as the DHT keys provider records). Records
 * expire `validityMs` after their last sighting; reads skip expired records and `prune()` drops
 * them. Memory is bounded by `maxCids × maxProvidersPerCid` records.
 *
 * @example
 * ```ts
 * for await (const event of dht.findProviders(cid)) {
 *   if (event.name === 'PROVIDER') for (const p of event.providers) {
 *     store.add(cid, { id: p.id, multiaddrs: p.multiaddrs, provenance: 'dht' })
 *   }
 * }
 * store.get(cid) // non-expired providers, most recently seen first
 * ```
 */
export class ProviderStore {
  readonly #byCid: LruMap<string, Map<string, ProviderRecord>>
  readonly #validityMs: number
  readonly #maxPerCid: number
  readonly #maxMultiaddrs: number
  #records = 0

  constructor(init: ProviderStoreInit = {}) {
    this.#validityMs = init.validityMs ?? PROVIDER_RECORD_VALIDITY_MS
    this.#maxPerCid = Math.max(1, init.maxProvidersPerCid ?? PROVIDER_STORE_MAX_PROVIDERS_PER_CID)
    this.#maxMultiaddrs = Math.max(0, init.maxMultiaddrs ?? PROVIDER_MAX_MULTIADDRS)
    this.#byCid = new LruMap(init.maxCids ?? PROVIDER_STORE_MAX_CIDS, (_key, providers) => {
      this.#records -= providers.size
    })
  }

  /** Provider records held (including expired ones not yet pruned). */
  get size(): number {
    return this.#records
  }

  /** The bounds: CIDs tracked, and records in all (CIDs × providers per CID). */
  get bounds(): { maxCids: number; maxRecords: number } {
    return { maxCids: this.#byCid.max, maxRecords: this.#byCid.max * this.#maxPerCid }
  }

  /** CIDs with at least one record. */
  get cidCount(): number {
    return this.#byCid.size
  }

  /**
   * Record that `provider` provides `cid`. A known provider gets its sighting time and expiry
   * extended, its new multiaddrs merged and its new provenance added to `sources`.
   */
  add(cid: CID, provider: Provider, options: AddProviderOptions = {}): ProviderRecord {
    const now = options.now ?? Date.now()
    const expiresAt = now + (options.validityMs ?? this.#validityMs)
    const key = contentKey(cid)
    let providers = this.#byCid.get(key)
    if (providers === undefined) {
      providers = new Map()
      this.#byCid.set(key, providers)
    }
    const pk = peerKey(provider.id)
    const existing = providers.get(pk)
    if (existing !== undefined) {
      providers.delete(pk)
      existing.lastSeen = Math.max(existing.lastSeen, now)
      existing.expiresAt = Math.max(existing.expiresAt, expiresAt)
      existing.multiaddrs = this.#mergeAddrs(existing.multiaddrs, provider.multiaddrs)
      if (!existing.sources.includes(provider.provenance)) existing.sources.push(provider.provenance)
      providers.set(pk, existing)
      return existing
    }
    const record: ProviderRecord = {
      id: provider.id,
      multiaddrs: this.#mergeAddrs([], provider.multiaddrs),
      provenance: provider.provenance,
      sources: [provider.provenance],
      firstSeen: now,
      lastSeen: now,
      expiresAt
    }
    providers.set(pk, record)
    this.#records++
    while (providers.size > this.#maxPerCid) {
      const oldest = providers.keys().next()
      if (oldest.done === true) break
      providers.delete(oldest.value)
      this.#records--
    }
    return record
  }

  /** Non-expired providers of `cid`, most recently seen first, optionally of one provenance. */
  get(cid: CID, options: { now?: number; provenance?: Provenance } = {}): ProviderRecord[] {
    const now = options.now ?? Date.now()
    const providers = this.#byCid.peek(contentKey(cid))
    if (providers === undefined) return []
    const out: ProviderRecord[] = []
    for (const record of providers.values()) {
      if (record.expiresAt <= now) continue
      if (options.provenance !== undefined && !record.sources.includes(options.provenance)) continue
      out.push(record)
    }
    return out.reverse()
  }

  /** True if `peer` has a non-expired record for `cid`. */
  has(cid: CID, peer: PeerId, now: number = Date.now()): boolean {
    const record = this.#byCid.peek(contentKey(cid))?.get(peerKey(peer))
    return record !== undefined && record.expiresAt > now
  }

  /** Forget one record. */
  remove(cid: CID, peer: PeerId): boolean {
    const key = contentKey(cid)
    const providers = this.#byCid.peek(key)
    if (providers?.delete(peerKey(peer)) !== true) return false
    this.#records--
    if (providers.size === 0) this.#byCid.delete(key)
    return true
  }

  /** Forget every record of a peer (e.g. it served a block that failed verification). */
  removePeer(peer: PeerId): number {
    const pk = peerKey(peer)
    let removed = 0
    for (const [key, providers] of this.#byCid) {
      if (providers.delete(pk)) {
        removed++
        if (providers.size === 0) this.#byCid.delete(key)
      }
    }
    this.#records -= removed
    return removed
  }

  /** Drop expired records; returns how many. */
  prune(now: number = Date.now()): number {
    let removed = 0
    for (const [key, providers] of this.#byCid) {
      for (const [pk, record] of providers) {
        if (record.expiresAt <= now) {
          providers.delete(pk)
          removed++
        }
      }
      if (providers.size === 0) this.#byCid.delete(key)
    }
    this.#records -= removed
    return removed
  }

  /** Forget everything. */
  clear(): void {
    this.#byCid.clear()
    this.#records = 0
  }

  #mergeAddrs(current: Multiaddr[], added: readonly Multiaddr[]): Multiaddr[] {
    const byString = new Map<string, Multiaddr>()
    for (const addr of [...current, ...added]) {
      const s = addr.toString()
      byString.delete(s)
      byString.set(s, addr)
    }
    const all = [...byString.values()]
    return this.#maxMultiaddrs === 0 ? [] : all.slice(-this.#maxMultiaddrs)
  }
}
