/**
 * Content affinity: peers that served a DAG's root or its other blocks, or announced content
 * together with a CID, are candidates for that CID's siblings.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import {
  AFFINITY_ANNOUNCEMENT_WEIGHT,
  AFFINITY_DAG_WEIGHT,
  AFFINITY_MAX_AGE_MS,
  AFFINITY_MAX_ANNOUNCEMENT_SIZE,
  AFFINITY_MAX_GROUPS,
  AFFINITY_MAX_LINKS,
  AFFINITY_MAX_PEERS_PER_GROUP
} from '../../constants.ts'
import { contentKey, LruMap, peerKey } from './keys.ts'

/** Options of {@link ContentAffinity}. */
export interface ContentAffinityInit {
  /** DAGs and announcement groups tracked. @default AFFINITY_MAX_GROUPS (5 000) */
  maxGroups?: number
  /** peers per group. @default AFFINITY_MAX_PEERS_PER_GROUP (64) */
  maxPeersPerGroup?: number
  /** CID → group links. @default AFFINITY_MAX_LINKS (100 000) */
  maxLinks?: number
  /** CIDs linked per announcement. @default AFFINITY_MAX_ANNOUNCEMENT_SIZE (1 024) */
  maxAnnouncementSize?: number
  /** weight of a shared DAG. @default AFFINITY_DAG_WEIGHT (1) */
  dagWeight?: number
  /** weight of a shared announcement group. @default AFFINITY_ANNOUNCEMENT_WEIGHT (0.7) */
  announcementWeight?: number
  /** a peer leaves a group after this long without serving or announcing in it. @default AFFINITY_MAX_AGE_MS (24 h) */
  maxAgeMs?: number
}

/** A candidate peer for some CID and its affinity to it, in [0, 1]. */
export interface AffinityCandidate {
  peerId: PeerId
  affinity: number
  /** ms since the epoch the peer last served or announced related content */
  lastSeen: number
}

interface GroupPeer {
  peerId: PeerId
  count: number
  lastSeen: number
}

interface Group {
  kind: 'dag' | 'announcement'
  peers: Map<string, GroupPeer>
}

const dagGroup = (root: string): string => `dag:${root}`

/**
 * Which peers served blocks of which DAG, and which content was announced together.
 *
 * Groups are DAGs (keyed by root) and announcement groups (the set of CIDs one announcement
 * named; the same set announced by several peers is one group). A CID belongs to the DAG of its
 * root (from {@link ContentAffinity.linkToRoot} or `recordServed(…, { root })`) and to every
 * announcement group that named it. A peer's affinity to a CID is computed only from the groups
 * of THAT CID, relative to the busiest peer of each group: `share = count / maxCount` in (0, 1],
 * combined over groups as `1 − Π(1 − weight × share)`. A peer that served a thousand blocks of
 * other DAGs therefore has no affinity to this one, and the best peer of a small DAG scores as
 * high as the best peer of a large one.
 *
 * @example
 * ```ts
 * affinity.recordServed(peer, blockCid, { root })       // after each verified block
 * affinity.recordAnnouncement(peer, announcedCids)      // on a pubsub announcement
 * affinity.candidatesFor(nextCid, { root })             // peers to ask first
 * ```
 */
export class ContentAffinity {
  readonly #groups: LruMap<string, Group>
  readonly #links: LruMap<string, Set<string>>
  readonly #maxPeersPerGroup: number
  readonly #maxAnnouncementSize: number
  readonly #dagWeight: number
  readonly #announcementWeight: number
  readonly #maxAgeMs: number

  constructor(init: ContentAffinityInit = {}) {
    this.#groups = new LruMap(init.maxGroups ?? AFFINITY_MAX_GROUPS)
    this.#links = new LruMap(init.maxLinks ?? AFFINITY_MAX_LINKS)
    this.#maxPeersPerGroup = Math.max(1, init.maxPeersPerGroup ?? AFFINITY_MAX_PEERS_PER_GROUP)
    this.#maxAnnouncementSize = Math.max(1, init.maxAnnouncementSize ?? AFFINITY_MAX_ANNOUNCEMENT_SIZE)
    this.#dagWeight = clamp01(init.dagWeight ?? AFFINITY_DAG_WEIGHT)
    this.#announcementWeight = clamp01(init.announcementWeight ?? AFFINITY_ANNOUNCEMENT_WEIGHT)
    this.#maxAgeMs = init.maxAgeMs ?? AFFINITY_MAX_AGE_MS
  }

  /** The bounds on groups and on CID → group links. */
  get bounds(): { maxGroups: number; maxLinks: number } {
    return { maxGroups: this.#groups.max, maxLinks: this.#links.max }
  }

  /**
   * Drop peers idle in a group for `maxAgeMs`, groups left empty, and links to no group that
   * still exists. Returns how many group memberships were dropped.
   */
  prune(now: number = Date.now()): number {
    let removed = 0
    for (const [groupKey, group] of this.#groups) {
      for (const [pk, entry] of group.peers) {
        if (now - entry.lastSeen >= this.#maxAgeMs) {
          group.peers.delete(pk)
          removed++
        }
      }
      if (group.peers.size === 0) this.#groups.delete(groupKey)
    }
    for (const [cidKey, groups] of this.#links) {
      for (const groupKey of groups) if (!this.#groups.has(groupKey)) groups.delete(groupKey)
      if (groups.size === 0) this.#links.delete(cidKey)
    }
    return removed
  }

  /** Groups (DAGs and announcement groups) tracked. */
  get groupCount(): number {
    return this.#groups.size
  }

  /** CIDs linked to at least one group. */
  get linkCount(): number {
    return this.#links.size
  }

  /** Record that `cid` is a block of the DAG rooted at `root` (e.g. a link found while walking it). */
  linkToRoot(cid: CID, root: CID): void {
    this.#link(contentKey(root), dagGroup(contentKey(root)))
    this.#link(contentKey(cid), dagGroup(contentKey(root)))
  }

  /**
   * Record that `peer` served the block `cid`. Its DAG is `root` if given, else the root it was
   * linked to, else `cid` itself (a root fetched first). The peer counts toward that DAG and every
   * announcement group containing `cid`.
   */
  recordServed(peer: PeerId, cid: CID, options: { root?: CID; now?: number } = {}): void {
    const now = options.now ?? Date.now()
    const key = contentKey(cid)
    if (options.root !== undefined) this.linkToRoot(cid, options.root)
    const groups = this.#links.get(key) ?? new Set<string>()
    if (![...groups].some((group) => group.startsWith('dag:'))) {
      this.#link(key, dagGroup(key))
      groups.add(dagGroup(key))
    }
    for (const groupKey of groups) {
      const kind = groupKey.startsWith('dag:') ? 'dag' : 'announcement'
      this.#bump(groupKey, kind, peer, now)
    }
  }

  /** Record that `peer` announced `cids` together: they form (or join) one announcement group. */
  recordAnnouncement(peer: PeerId, cids: Iterable<CID>, now: number = Date.now()): void {
    const keys = [...new Set([...cids].map(contentKey))].sort().slice(0, this.#maxAnnouncementSize)
    if (keys.length === 0) return
    const groupKey = `ann:${createHash('sha256').update(keys.join('\n')).digest('base64')}`
    for (const key of keys) this.#link(key, groupKey)
    this.#bump(groupKey, 'announcement', peer, now)
  }

  /**
   * Peers with affinity to `cid` (and to `root`, if given: its DAG counts as one of `cid`'s
   * groups), highest affinity first; ties go to the most recently seen.
   */
  candidatesFor(cid: CID, options: { root?: CID; limit?: number } = {}): AffinityCandidate[] {
    const key = contentKey(cid)
    const groupKeys = new Set(this.#links.peek(key) ?? [])
    if (options.root !== undefined) groupKeys.add(dagGroup(contentKey(options.root)))
    groupKeys.add(dagGroup(key))
    const complement = new Map<string, { peerId: PeerId; rest: number; lastSeen: number }>()
    for (const groupKey of groupKeys) {
      const group = this.#groups.peek(groupKey)
      if (group === undefined) continue
      const weight = group.kind === 'dag' ? this.#dagWeight : this.#announcementWeight
      let max = 0
      for (const entry of group.peers.values()) max = Math.max(max, entry.count)
      if (max <= 0) continue
      for (const [pk, entry] of group.peers) {
        const acc = complement.get(pk) ?? { peerId: entry.peerId, rest: 1, lastSeen: 0 }
        acc.rest *= 1 - weight * (entry.count / max)
        acc.lastSeen = Math.max(acc.lastSeen, entry.lastSeen)
        complement.set(pk, acc)
      }
    }
    const candidates = [...complement.values()]
      .map(({ peerId, rest, lastSeen }) => ({ peerId, affinity: 1 - rest, lastSeen }))
      .filter((candidate) => candidate.affinity > 0)
      .sort((a, b) => b.affinity - a.affinity || b.lastSeen - a.lastSeen)
    return options.limit === undefined ? candidates : candidates.slice(0, Math.max(0, options.limit))
  }

  /** {@link candidatesFor} as a map from peer id string to affinity, for `rankProviders`. */
  scoresFor(cid: CID, options: { root?: CID } = {}): Map<string, number> {
    return new Map(this.candidatesFor(cid, options).map((c) => [peerKey(c.peerId), c.affinity]))
  }

  /** Forget a peer everywhere (e.g. it served a block that failed verification). */
  forgetPeer(peer: PeerId): void {
    const pk = peerKey(peer)
    for (const group of this.#groups.values()) group.peers.delete(pk)
  }

  /** Forget everything. */
  clear(): void {
    this.#groups.clear()
    this.#links.clear()
  }

  #link(cidKey: string, groupKey: string): void {
    const groups = this.#links.get(cidKey) ?? new Set<string>()
    groups.add(groupKey)
    this.#links.set(cidKey, groups)
  }

  #bump(groupKey: string, kind: Group['kind'], peer: PeerId, now: number): void {
    let group = this.#groups.get(groupKey)
    if (group === undefined) {
      group = { kind, peers: new Map() }
      this.#groups.set(groupKey, group)
    }
    const pk = peerKey(peer)
    const entry = group.peers.get(pk) ?? { peerId: peer, count: 0, lastSeen: 0 }
    entry.count++
    entry.lastSeen = Math.max(entry.lastSeen, now)
    group.peers.set(pk, entry)
    if (group.peers.size > this.#maxPeersPerGroup) {
      let weakest: [string, GroupPeer] | undefined
      for (const item of group.peers) {
        if (item[0] !== pk && (weakest === undefined || item[1].count < weakest[1].count)) weakest = item
      }
      if (weakest !== undefined) group.peers.delete(weakest[0])
    }
  }
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value))
}
