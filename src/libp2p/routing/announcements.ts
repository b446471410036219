import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger, PeerId } from '@libp2p/interface'
import { RateLimiter } from '@libp2p/utils'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { parseCID } from '../../cids.ts'
import {
  ANNOUNCE_MAX_ADDRS,
  ANNOUNCE_MAX_CIDS,
  ANNOUNCE_MAX_MESSAGE_BYTES,
  ANNOUNCE_RATE_LIMIT_MAX_KEYS,
  ANNOUNCE_RATE_LIMIT_PER_MINUTE,
  CONTENT_ANNOUNCE_TOPIC
} from '../../constants.ts'
import type { EnhancedDHTDiscovery } from '../discovery/enhanced-dht-discovery.ts'
import type { IPFSLibp2pPeer } from '../peer/index.ts'

/** What goes on the content-announce topic: JSON, version 1. */
export interface ContentAnnouncement {
  v: 1
  /** the content announced (a root first, then any announced with it) */
  cids: string[]
  /** bytes of the first CID's content, if known */
  size?: number
  /** free-form, small */
  metadata?: Record<string, string | number | boolean>
  /** where the announcer listens */
  addrs: string[]
  /** ms since the epoch */
  ts: number
}

/** A parsed, checked announcement. */
export interface ValidAnnouncement {
  from: PeerId
  cids: CID[]
  size?: number
  metadata?: ContentAnnouncement['metadata']
  addrs: Multiaddr[]
}

/** Counters of the announcement listener. */
export interface AnnouncementMetrics {
  published: number
  received: number
  rejectedMalformed: number
  rejectedRateLimited: number
}

/** Parse an announcement from its bytes, or return a reason it is refused. */
export function parseAnnouncement(from: PeerId, data: Uint8Array): ValidAnnouncement | string {
  if (data.byteLength > ANNOUNCE_MAX_MESSAGE_BYTES) return 'too large'
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data))
  } catch {
    return 'not JSON'
  }
  if (typeof raw !== 'object' || raw == null) return 'not an object'
  const a = raw as Partial<ContentAnnouncement>
  if (a.v !== 1) return 'unknown version'
  if (!Array.isArray(a.cids) || a.cids.length === 0 || a.cids.length > ANNOUNCE_MAX_CIDS) return 'bad cids'
  if (!Array.isArray(a.addrs) || a.addrs.length > ANNOUNCE_MAX_ADDRS) return 'bad addrs'
  if (a.size != null && (!Number.isSafeInteger(a.size) || a.size < 0)) return 'bad size'
  const cids: CID[] = []
  for (const c of a.cids) {
    if (typeof c !== 'string') return 'bad cid'
    try {
      cids.push(parseCID(c))
    } catch {
      return 'bad cid'
    }
  }
  const addrs: Multiaddr[] = []
  for (const s of a.addrs) {
    if (typeof s !== 'string') return 'bad addr'
    try {
      const ma = multiaddr(s)
      const p2p = ma.getComponents().find((c) => c.name === 'p2p')?.value
      // an address may name only the announcer itself
      if (p2p != null && p2p !== from.toString()) return 'addr of another peer'
      addrs.push(ma)
    } catch {
      return 'bad addr'
    }
  }
  let metadata: ContentAnnouncement['metadata']
  if (a.metadata != null) {
    if (typeof a.metadata !== 'object' || Array.isArray(a.metadata)) return 'bad metadata'
    metadata = {}
    for (const [k, v] of Object.entries(a.metadata)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return 'bad metadata'
      metadata[k] = v
    }
  }
  return { from, cids, size: a.size, metadata, addrs }
}

type PubSubService = IPFSLibp2pPeer['host']['services']['pubsub']

/**
 * The announce topic's validator, one per node (gossipsub holds one validator per topic): it
 * rate limits and checks messages for every channel on the node, and stays until the last
 * channel stops.
 */
class TopicGuard {
  readonly channels = new Set<AnnouncementChannel>()
  readonly #peer: IPFSLibp2pPeer
  readonly #limiter = new RateLimiter({ points: ANNOUNCE_RATE_LIMIT_PER_MINUTE, duration: 60 })
  readonly #log: Logger
  rejectedMalformed = 0
  rejectedRateLimited = 0

  constructor(peer: IPFSLibp2pPeer, log: Logger) {
    this.#peer = peer
    this.#log = log
  }

  /** Rate-limit keys held (each expires a minute after its first message). */
  get limiterKeys(): number {
    return this.#limiter.memoryStorage.storage.size
  }

  readonly validate = (peer: PeerId, message: Message): TopicValidatorResult => {
    if (message.type !== 'signed') {
      this.rejectedMalformed++
      return TopicValidatorResult.Reject
    }
    if (
      !this.#consume(message.from.toString()) ||
      (!peer.equals(message.from) && !this.#consume(`via:${peer}`))
    ) {
      // limit per origin of the message and per forwarding peer
      this.rejectedRateLimited++
      return TopicValidatorResult.Ignore
    }
    const parsed = parseAnnouncement(message.from, message.data)
    if (typeof parsed === 'string') {
      this.rejectedMalformed++
      this.#log('rejected announcement from %p: %s', message.from, parsed)
      // the message is signed: its origin wrote it. One failure in the peer's reputation,
      // and every discovery on the node stops relying on what the author told it
      this.#peer.reputation.recordFailure(message.from)
      for (const channel of this.channels) channel.distrust(message.from)
      return TopicValidatorResult.Reject
    }
    return TopicValidatorResult.Accept
  }

  /** Take one point for `key`; false when over its limit, or when too many keys are held already. */
  #consume(key: string): boolean {
    if (this.#limiter.get(key) == null && this.limiterKeys >= ANNOUNCE_RATE_LIMIT_MAX_KEYS) return false
    try {
      this.#limiter.consume(key)
      return true
    } catch {
      return false
    }
  }
}

const guards = new WeakMap<PubSubService, TopicGuard>()

/**
 * Publishes and receives content announcements on `ipfs-kit/content-announce`. Each
 * valid announcement becomes provider records (provenance `pubsub`) and an affinity
 * group. Malformed or flooding messages are rejected in gossipsub's validator, which
 * also lowers the sender's gossipsub score; they never reach provider tracking, and a
 * malformed one costs its author reputation. Several channels on one node (one per router)
 * share the topic's validator and rate limit.
 */
export class AnnouncementChannel {
  readonly #peer: IPFSLibp2pPeer
  readonly #discovery: EnhancedDHTDiscovery
  readonly #log: Logger
  #guard?: TopicGuard
  readonly #metrics = { published: 0, received: 0 }
  #started = false

  constructor(peer: IPFSLibp2pPeer, discovery: EnhancedDHTDiscovery, log: Logger) {
    this.#peer = peer
    this.#discovery = discovery
    this.#log = log
  }

  /** Counters; the rejections are the node's (its channels share one validator). */
  get metrics(): AnnouncementMetrics {
    return {
      ...this.#metrics,
      rejectedMalformed: this.#guard?.rejectedMalformed ?? 0,
      rejectedRateLimited: this.#guard?.rejectedRateLimited ?? 0
    }
  }

  /** Rate-limit keys the node's validator holds, and their bound. */
  get limiterKeys(): { size: number; max: number } {
    return { size: this.#guard?.limiterKeys ?? 0, max: ANNOUNCE_RATE_LIMIT_MAX_KEYS }
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    const pubsub = this.#peer.host.services.pubsub
    let guard = guards.get(pubsub)
    if (guard == null) {
      guard = new TopicGuard(this.#peer, this.#log)
      guards.set(pubsub, guard)
      pubsub.topicValidators.set(CONTENT_ANNOUNCE_TOPIC, guard.validate)
    }
    guard.channels.add(this)
    this.#guard = guard
    pubsub.addEventListener('message', this.#onMessage)
    pubsub.subscribe(CONTENT_ANNOUNCE_TOPIC)
  }

  /** Stop listening; the node's validator goes with the last channel. */
  stop(): void {
    if (!this.#started) return
    this.#started = false
    const guard = this.#guard
    guard?.channels.delete(this)
    if (!this.#peer.isStarted) return
    const pubsub = this.#peer.host.services.pubsub
    if (guard != null && guard.channels.size === 0 && guards.get(pubsub) === guard) {
      guards.delete(pubsub)
      if (pubsub.topicValidators.get(CONTENT_ANNOUNCE_TOPIC) === guard.validate)
        pubsub.topicValidators.delete(CONTENT_ANNOUNCE_TOPIC)
    }
    pubsub.removeEventListener('message', this.#onMessage)
  }

  /** The author of a malformed announcement: this channel's discovery stops relying on it. */
  distrust(peer: PeerId): void {
    this.#discovery.distrust(peer)
  }

  readonly #onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (message.topic !== CONTENT_ANNOUNCE_TOPIC || message.type !== 'signed') return
    // gossipsub hands our own messages back to us (emitSelf, for local subscribers): we are no provider of ours
    if (message.from.equals(this.#peer.peerId)) return
    const parsed = parseAnnouncement(message.from, message.data)
    if (typeof parsed === 'string') return
    this.#metrics.received++
    for (const cid of parsed.cids) {
      this.#discovery.addProvider(cid, { id: parsed.from, multiaddrs: parsed.addrs, provenance: 'pubsub' })
    }
    if (parsed.cids.length > 1) this.#discovery.affinity.recordAnnouncement(parsed.from, parsed.cids)
  }

  /** Announce that we hold `cids` (the first is the main one). */
  async publish(
    cids: CID[],
    options: { size?: number; metadata?: ContentAnnouncement['metadata'] } = {}
  ): Promise<void> {
    const announcement: ContentAnnouncement = {
      v: 1,
      cids: cids.map((c) => c.toString()),
      size: options.size,
      metadata: options.metadata,
      addrs: this.#peer.getMultiaddrs().map((ma) => ma.toString()),
      ts: Date.now()
    }
    const bytes = new TextEncoder().encode(JSON.stringify(announcement))
    await this.#peer.publish(CONTENT_ANNOUNCE_TOPIC, bytes)
    this.#metrics.published++
  }
}
