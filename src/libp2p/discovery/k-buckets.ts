/**
 * A Kademlia k-bucket VIEW of the DHT routing table.
 *
 * kad-dht's own routing table (`routingTable.kb`, which emits `peer:add` / `peer:remove`) is the
 * source of truth for WHO is in the DHT table: it pings, evicts and answers FIND_NODE from it.
 * This view mirrors it, fed by those events, and adds what kad-dht does not keep: a reference to
 * each peer's stats (reputation), per-bucket traffic times and the per-distance refresh schedule
 * ({@link BucketRefreshScheduler}). It never dials and never decides membership on its own.
 *
 * Keys follow the Kademlia spec as libp2p kad-dht implements it: `convertPeerId` in
 * `@libp2p/kad-dht/dist/src/utils.js` is `sha256(peerId.toMultihash().bytes).digest`, the bare
 * 32-byte SHA-256 digest of the peer id's multihash bytes. {@link kadId} computes exactly that.
 * A peer's bucket index is the common-prefix length (in bits) of our key and its key:
 * 0 = the farthest half of the keyspace, 255 = the nearest. Our own key is never stored.
 *
 * kad-dht's table is a trie whose deepest bucket holds every peer with a long common prefix; this
 * view has one bucket per common-prefix length, so a peer kad-dht keeps may land in a full bucket
 * here and wait in its replacement cache.
 *
 * @packageDocumentation
 */

import { createHash, randomFillSync } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import {
  DISCOVERY_KBUCKET_REPLACEMENTS,
  DISCOVERY_KBUCKET_SIZE,
  DISCOVERY_REFRESH_MAX_INDEX
} from '../../constants.ts'
import { InvalidParametersError } from '../../errors.ts'
import { peerKey } from './keys.ts'
import type { PeerStats } from './types.ts'

/** Bits in a kad id (SHA-256). There are as many buckets. */
export const KEY_BITS = 256
const KEY_BYTES = KEY_BITS / 8
/** Multihash prefix of a SHA-256 digest (code 0x12, length 32). */
const SHA256_MULTIHASH_PREFIX = [0x12, 0x20] as const
/** Lookup-key candidates tried between two yields to the event loop. */
const LOOKUP_KEY_BATCH = 4096

/** SHA-256 of `bytes`, as a plain Uint8Array. */
function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

/**
 * A peer's Kademlia key, as kad-dht computes it (`convertPeerId`):
 * the SHA-256 digest of `peerId.toMultihash().bytes`.
 */
export function kadId(peerId: PeerId): Uint8Array {
  return sha256(peerId.toMultihash().bytes)
}

/** The kad id of a lookup key, as kad-dht computes it (`convertBuffer`): SHA-256 of the key bytes. */
export function kadIdOfKey(key: Uint8Array): Uint8Array {
  return sha256(key)
}

/** Number of leading bits `a` and `b` share (`min(a.length, b.length) * 8` when one is a prefix). */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = (a[i] ?? 0) ^ (b[i] ?? 0)
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return n * 8
}

function checkIndex(index: number, max = KEY_BITS - 1): void {
  if (!Number.isInteger(index) || index < 0 || index > max) {
    throw new InvalidParametersError(`bucket index must be an integer from 0 to ${max}, got ${index}`)
  }
}

/**
 * A random 32-byte key whose common-prefix length with `localKey` is exactly `index`: the first
 * `index` bits copied from `localKey`, the next bit flipped, the rest random.
 */
export function randomKeyWithPrefix(localKey: Uint8Array, index: number): Uint8Array {
  checkIndex(index)
  const key = randomFillSync(new Uint8Array(KEY_BYTES))
  const byte = index >> 3
  const bit = index & 7
  key.set(localKey.subarray(0, byte), 0)
  const local = localKey[byte] ?? 0
  const keep = (0xff00 >> bit) & 0xff // the top `bit` bits
  const flip = 0x80 >> bit
  key[byte] = (local & keep) | (~local & flip) | ((key[byte] ?? 0) & ~(keep | flip) & 0xff)
  return key
}

/**
 * A key to pass to kad-dht's `getClosestPeers(key)` to refresh bucket `index`: kad-dht hashes the
 * key (`convertBuffer`), so we search for a random SHA-256-multihash-shaped key (a valid peer id
 * multihash, as kad-dht's own refresh uses) whose hash has common-prefix length exactly `index`
 * with `localKey`. It costs about 2^(index + 1) hashes, so `index` is capped by `maxIndex`;
 * the search yields to the event loop every few thousand tries and honours `signal`.
 */
export async function lookupKeyWithPrefix(
  localKey: Uint8Array,
  index: number,
  options: { signal?: AbortSignal; maxIndex?: number } = {}
): Promise<Uint8Array> {
  checkIndex(index, options.maxIndex ?? DISCOVERY_REFRESH_MAX_INDEX)
  const candidate = new Uint8Array(2 + KEY_BYTES)
  candidate.set(SHA256_MULTIHASH_PREFIX, 0)
  const digest = candidate.subarray(2)
  for (;;) {
    options.signal?.throwIfAborted()
    for (let i = 0; i < LOOKUP_KEY_BATCH; i++) {
      randomFillSync(digest)
      if (commonPrefixLength(sha256(candidate), localKey) === index) return candidate
    }
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/** One peer in the view. `stats` is resolved when read, so it never goes stale. */
export interface BucketEntry {
  readonly peerId: PeerId
  /** the peer's kad id (see {@link kadId}) */
  readonly kadId: Uint8Array
  /** bucket index = common-prefix length with our kad id */
  readonly bucket: number
  /** ms since the epoch */
  readonly addedAt: number
  /** ms since the epoch: last add, touch or traffic involving this peer */
  readonly lastSeen: number
  /** the peer's stats from the injected resolver (usually reputation), if any */
  readonly stats: PeerStats | undefined
}

/** Options of {@link KBucketView}. */
export interface KBucketViewInit {
  /** live entries per bucket. @default DISCOVERY_KBUCKET_SIZE (20) */
  k?: number
  /** replacement-cache entries per bucket. @default DISCOVERY_KBUCKET_REPLACEMENTS (5) */
  replacementCacheSize?: number
  /** highest bucket index {@link KBucketView.lookupKeyForBucket} accepts. @default DISCOVERY_REFRESH_MAX_INDEX (15) */
  maxLookupKeyIndex?: number
}

/** Dependencies of {@link KBucketView}. */
export interface KBucketViewComponents {
  /** our own peer id */
  peerId: PeerId
  /** resolves a peer's stats (e.g. `(p) => reputation.stats(p)`) */
  stats?: StatsResolver
}

/** Resolves a peer's stats for {@link BucketEntry.stats}. */
export type StatsResolver = (peer: PeerId) => PeerStats | undefined

/** What {@link KBucketView.add} did with a peer. */
export type AddResult = 'added' | 'updated' | 'replacement' | 'self'

class Entry implements BucketEntry {
  readonly peerId: PeerId
  readonly kadId: Uint8Array
  readonly bucket: number
  readonly addedAt: number
  lastSeen: number
  readonly #resolve: StatsResolver | undefined

  constructor(
    peerId: PeerId,
    id: Uint8Array,
    bucket: number,
    now: number,
    resolve: StatsResolver | undefined
  ) {
    this.peerId = peerId
    this.kadId = id
    this.bucket = bucket
    this.addedAt = now
    this.lastSeen = now
    this.#resolve = resolve
  }

  get stats(): PeerStats | undefined {
    return this.#resolve?.(this.peerId)
  }
}

interface Bucket {
  /** live entries, least recently seen first */
  live: Map<string, Entry>
  /** replacement cache, least recently seen first */
  replacements: Map<string, Entry>
}

/**
 * The k-bucket view. Feed it kad-dht's routing-table events and request outcomes:
 *
 * @example
 * ```ts
 * const view = new KBucketView({ peerId: libp2p.peerId, stats: (p) => reputation.stats(p) })
 * dht.routingTable.addEventListener('peer:add', (evt) => view.add(evt.detail))
 * dht.routingTable.addEventListener('peer:remove', (evt) => view.remove(evt.detail))
 * // on every query response from a peer:
 * view.touch(peer)
 * ```
 */
export class KBucketView {
  /** our kad id */
  readonly localKey: Uint8Array
  readonly k: number
  readonly replacementCacheSize: number
  readonly #localPeer: string
  readonly #maxLookupKeyIndex: number
  readonly #resolve: StatsResolver | undefined
  readonly #buckets = new Map<number, Bucket>()
  readonly #index = new Map<string, number>()
  readonly #traffic = new Map<number, number>()
  #size = 0

  constructor(components: KBucketViewComponents, init: KBucketViewInit = {}) {
    this.localKey = kadId(components.peerId)
    this.#localPeer = peerKey(components.peerId)
    this.#resolve = components.stats
    this.k = Math.max(1, init.k ?? DISCOVERY_KBUCKET_SIZE)
    this.replacementCacheSize = Math.max(0, init.replacementCacheSize ?? DISCOVERY_KBUCKET_REPLACEMENTS)
    this.#maxLookupKeyIndex = init.maxLookupKeyIndex ?? DISCOVERY_REFRESH_MAX_INDEX
  }

  /** The bucket index of a peer (its common-prefix length with us), or -1 for ourselves. */
  bucketIndexOf(peer: PeerId): number {
    if (peerKey(peer) === this.#localPeer) return -1
    return Math.min(commonPrefixLength(this.localKey, kadId(peer)), KEY_BITS - 1)
  }

  /**
   * Mirror a `peer:add`: a live entry if its bucket has room, else the replacement cache (the
   * least recently seen replacement is dropped when that is full). A known peer is touched.
   */
  add(peer: PeerId, now: number = Date.now()): AddResult {
    const key = peerKey(peer)
    if (key === this.#localPeer) return 'self'
    const known = this.#index.get(key)
    if (known !== undefined) {
      this.touch(peer, now)
      return 'updated'
    }
    const id = kadId(peer)
    const index = Math.min(commonPrefixLength(this.localKey, id), KEY_BITS - 1)
    const bucket = this.#bucket(index)
    const entry = new Entry(peer, id, index, now, this.#resolve)
    this.#index.set(key, index)
    if (bucket.live.size < this.k) {
      bucket.live.set(key, entry)
      this.#size++
      return 'added'
    }
    bucket.replacements.set(key, entry)
    while (bucket.replacements.size > this.replacementCacheSize) {
      const oldest = bucket.replacements.keys().next()
      if (oldest.done === true) break
      bucket.replacements.delete(oldest.value)
      this.#index.delete(oldest.value)
    }
    return 'replacement'
  }

  /**
   * Mirror a `peer:remove`. Removing a live entry promotes the most recently seen peer of that
   * bucket's replacement cache. Returns the promoted peer, `true` if removed with nothing to
   * promote, `false` if the peer was unknown.
   */
  remove(peer: PeerId): PeerId | boolean {
    const key = peerKey(peer)
    const index = this.#index.get(key)
    if (index === undefined) return false
    this.#index.delete(key)
    const bucket = this.#buckets.get(index)
    if (bucket === undefined) return true
    if (bucket.replacements.delete(key)) return true
    if (!bucket.live.delete(key)) return true
    this.#size--
    const newest = [...bucket.replacements.values()].pop()
    if (newest === undefined) return true
    const newestKey = peerKey(newest.peerId)
    bucket.replacements.delete(newestKey)
    bucket.live.set(newestKey, newest)
    this.#size++
    return newest.peerId
  }

  /**
   * Record traffic involving `peer` (a lookup response, a request it answered): updates its
   * `lastSeen` if it is in the view and marks its bucket as having traffic, so the scheduler
   * skips refreshing it. Returns true if the peer is in the view (live or replacement).
   */
  touch(peer: PeerId, now: number = Date.now()): boolean {
    const key = peerKey(peer)
    if (key === this.#localPeer) return false
    const index = this.#index.get(key)
    if (index === undefined) {
      this.#markTraffic(this.bucketIndexOf(peer), now)
      return false
    }
    this.#markTraffic(index, now)
    const bucket = this.#buckets.get(index)
    for (const map of bucket === undefined ? [] : [bucket.live, bucket.replacements]) {
      const entry = map.get(key)
      if (entry !== undefined) {
        entry.lastSeen = Math.max(entry.lastSeen, now)
        map.delete(key)
        map.set(key, entry)
      }
    }
    return true
  }

  /** Record traffic for the bucket a kad id (e.g. a lookup target's) falls in. */
  recordKeyTraffic(key: Uint8Array, now: number = Date.now()): void {
    this.#markTraffic(Math.min(commonPrefixLength(this.localKey, key), KEY_BITS - 1), now)
  }

  /** When the bucket last had traffic, ms since the epoch, or undefined. */
  lastTrafficAt(index: number): number | undefined {
    return this.#traffic.get(index)
  }

  /** True if the peer is a live entry. */
  has(peer: PeerId): boolean {
    const index = this.#index.get(peerKey(peer))
    return index !== undefined && this.#buckets.get(index)?.live.has(peerKey(peer)) === true
  }

  /** The entry of a live or replacement peer. */
  get(peer: PeerId): BucketEntry | undefined {
    const key = peerKey(peer)
    const index = this.#index.get(key)
    if (index === undefined) return undefined
    const bucket = this.#buckets.get(index)
    return bucket?.live.get(key) ?? bucket?.replacements.get(key)
  }

  /** Live entries of one bucket, least recently seen first. */
  bucket(index: number): BucketEntry[] {
    checkIndex(index)
    return [...(this.#buckets.get(index)?.live.values() ?? [])]
  }

  /** Replacement-cache entries of one bucket, least recently seen first. */
  replacements(index: number): BucketEntry[] {
    checkIndex(index)
    return [...(this.#buckets.get(index)?.replacements.values() ?? [])]
  }

  /** Every live entry, farthest bucket first. */
  *entries(): Generator<BucketEntry> {
    for (const index of [...this.#buckets.keys()].sort((a, b) => a - b)) {
      yield* this.#buckets.get(index)?.live.values() ?? []
    }
  }

  /** Live entries in the view. */
  get size(): number {
    return this.#size
  }

  /** Entries waiting in replacement caches. */
  get replacementCount(): number {
    return this.#index.size - this.#size
  }

  /** Live entries per bucket index (an array of length 256). */
  fill(): number[] {
    const fill = new Array<number>(KEY_BITS).fill(0)
    for (const [index, bucket] of this.#buckets) fill[index] = bucket.live.size
    return fill
  }

  /** The highest bucket index with a live entry, or -1 if the view is empty. */
  highestOccupiedIndex(): number {
    let highest = -1
    for (const [index, bucket] of this.#buckets) {
      if (bucket.live.size > 0 && index > highest) highest = index
    }
    return highest
  }

  /** A random 32-byte kad id with common-prefix length exactly `index` with ours. */
  randomKeyInBucket(index: number): Uint8Array {
    return randomKeyWithPrefix(this.localKey, index)
  }

  /**
   * A lookup key for refreshing bucket `index` through kad-dht (see {@link lookupKeyWithPrefix}):
   * pass it to `getClosestPeers(key)`; its SHA-256 lands in that bucket.
   */
  lookupKeyForBucket(index: number, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return lookupKeyWithPrefix(this.localKey, index, { ...options, maxIndex: this.#maxLookupKeyIndex })
  }

  /** Forget every entry and traffic time. */
  clear(): void {
    this.#buckets.clear()
    this.#index.clear()
    this.#traffic.clear()
    this.#size = 0
  }

  #markTraffic(index: number, now: number): void {
    if (index < 0) return
    this.#traffic.set(index, Math.max(this.#traffic.get(index) ?? 0, now))
  }

  #bucket(index: number): Bucket {
    let bucket = this.#buckets.get(index)
    if (bucket === undefined) {
      bucket = { live: new Map(), replacements: new Map() }
      this.#buckets.set(index, bucket)
    }
    return bucket
  }
}
