/**
 * What this node asked which peer for: the record by which a block that arrives is told apart
 * from one nobody asked for (which is also how a corrupted block shows up, since bitswap names
 * a block by the hash of its bytes).
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import {
  ROUTING_RECENT_WANT_TTL_MS,
  ROUTING_RECENT_WANTS_MAX_CIDS,
  ROUTING_RECENT_WANTS_MAX_PEERS,
  ROUTING_RECENT_WANTS_MAX_PEERS_PER_CID
} from '../../constants.ts'
import { contentKey, LruMap, peerKey } from '../discovery/keys.ts'
import type { InFlightSizes, StateSizes } from '../discovery/types.ts'
import type { BitswapWantList } from './bitswap-access.ts'

/** Options of {@link RecentWants}. */
export interface RecentWantsInit {
  /** how long a want counts as asked after it was last sent or ended @default ROUTING_RECENT_WANT_TTL_MS */
  ttlMs?: number
  /** CIDs remembered (least recently asked forgotten) @default ROUTING_RECENT_WANTS_MAX_CIDS */
  maxCids?: number
  /** peers remembered per CID @default ROUTING_RECENT_WANTS_MAX_PEERS_PER_CID */
  maxPeersPerCid?: number
  /** peers remembered as asked anything @default ROUTING_RECENT_WANTS_MAX_PEERS */
  maxPeers?: number
}

/**
 * Per CID, the peers asked for it and until when that counts (the last send, or the end of
 * the request, plus the TTL); and the requests still open, which count as asked however long
 * they run (a want re-sent after a lost message, a slow honest peer). Every map is bounded in
 * size, and expired entries go on `prune()`.
 *
 * @example
 * ```ts
 * const recent = recentWantsOf(wantList)
 * const block = await recent.track(peer, cid, () => wantList.wantSessionBlock(cid, peer))
 * recent.askedOfAnyone(cid) // true for a TTL after the request ended
 * ```
 */
export class RecentWants {
  readonly #ttlMs: number
  readonly #maxPeersPerCid: number
  /** CID → peer → ms since the epoch until which it counts as asked */
  readonly #byCid: LruMap<string, Map<string, number>>
  /** CID → peer → requests open now */
  readonly #open = new Map<string, Map<string, number>>()
  /** peer → until when we asked it anything */
  readonly #peers: LruMap<string, number>

  constructor(init: RecentWantsInit = {}) {
    this.#ttlMs = init.ttlMs ?? ROUTING_RECENT_WANT_TTL_MS
    this.#maxPeersPerCid = Math.max(1, init.maxPeersPerCid ?? ROUTING_RECENT_WANTS_MAX_PEERS_PER_CID)
    this.#byCid = new LruMap(init.maxCids ?? ROUTING_RECENT_WANTS_MAX_CIDS)
    this.#peers = new LruMap(init.maxPeers ?? ROUTING_RECENT_WANTS_MAX_PEERS)
  }

  /** How long a want counts as asked after it was last sent or ended. */
  get ttlMs(): number {
    return this.#ttlMs
  }

  /** Note that `peer` was asked for `cid` now (a want-block or want-have was sent). */
  note(peer: PeerId, cid: CID, now: number = Date.now()): void {
    const key = contentKey(cid)
    const pk = peerKey(peer)
    const until = now + this.#ttlMs
    const peers = this.#byCid.get(key) ?? new Map<string, number>()
    peers.delete(pk)
    peers.set(pk, until)
    while (peers.size > this.#maxPeersPerCid) {
      const oldest = peers.keys().next()
      if (oldest.done === true) break
      peers.delete(oldest.value)
    }
    this.#byCid.set(key, peers)
    this.#peers.set(pk, until)
  }

  /**
   * Run a request to `peer` for `cid`: asked from its start, for as long as it runs, and for
   * the TTL after it ends.
   */
  async track<T>(peer: PeerId, cid: CID, request: () => Promise<T>): Promise<T> {
    const key = contentKey(cid)
    const pk = peerKey(peer)
    const open = this.#open.get(key) ?? new Map<string, number>()
    open.set(pk, (open.get(pk) ?? 0) + 1)
    this.#open.set(key, open)
    this.note(peer, cid)
    try {
      return await request()
    } finally {
      const n = (open.get(pk) ?? 1) - 1
      if (n > 0) open.set(pk, n)
      else open.delete(pk)
      if (open.size === 0 && this.#open.get(key) === open) this.#open.delete(key)
      this.note(peer, cid)
    }
  }

  /** True if a request to `peer` for `cid` is open now. */
  isAsking(peer: PeerId, cid: CID): boolean {
    return this.#open.get(contentKey(cid))?.has(peerKey(peer)) === true
  }

  /** True if `peer` was asked for `cid` within the last `withinMs`, or is being asked now. */
  askedWithin(peer: PeerId, cid: CID, withinMs: number, now: number = Date.now()): boolean {
    const key = contentKey(cid)
    const pk = peerKey(peer)
    if (this.#open.get(key)?.has(pk) === true) return true
    const until = this.#byCid.peek(key)?.get(pk)
    return until != null && until - this.#ttlMs >= now - withinMs
  }

  /** True if any peer is being asked for `cid`, or was within the TTL. */
  askedOfAnyone(cid: CID, now: number = Date.now()): boolean {
    const key = contentKey(cid)
    if (this.#open.has(key)) return true
    for (const until of this.#byCid.peek(key)?.values() ?? []) if (until > now) return true
    return false
  }

  /** True if `peer` was asked for anything within the TTL (it is a peer we fetch from). */
  askedPeer(peer: PeerId, now: number = Date.now()): boolean {
    const until = this.#peers.peek(peerKey(peer))
    return until != null && until > now
  }

  /** Forget what has expired; returns how many CIDs were forgotten. */
  prune(now: number = Date.now()): number {
    let removed = 0
    for (const [key, peers] of this.#byCid) {
      for (const [pk, until] of peers) if (until <= now) peers.delete(pk)
      if (peers.size === 0) {
        this.#byCid.delete(key)
        removed++
      }
    }
    for (const [pk, until] of this.#peers) if (until <= now) this.#peers.delete(pk)
    return removed
  }

  /** Sizes and bounds of the maps of what was asked. */
  stateSizes(): StateSizes {
    return {
      'routing.recentWants.cids': { size: this.#byCid.size, max: this.#byCid.max },
      'routing.recentWants.peers': { size: this.#peers.size, max: this.#peers.max }
    }
  }

  /** CIDs with requests open now (bounded by the requests running; empty when idle). */
  inFlightSizes(): InFlightSizes {
    return { 'routing.recentWants.open': this.#open.size }
  }
}

/** One record per node: every fetcher and discovery probe on a want list shares it. */
const byWantList = new WeakMap<BitswapWantList, RecentWants>()

/**
 * The {@link RecentWants} of the node that owns `wantList`; `init` applies when the first caller
 * on the node makes it (routers and discovery call this without options).
 */
export function recentWantsOf(wantList: BitswapWantList, init?: RecentWantsInit): RecentWants {
  let recent = byWantList.get(wantList)
  if (recent == null) {
    recent = new RecentWants(init)
    byWantList.set(wantList, recent)
  }
  return recent
}
