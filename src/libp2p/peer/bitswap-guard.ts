/**
 * Protection of the bitswap server against hostile peers, at the one place every inbound
 * bitswap message passes: Helia's bitswap network.
 *
 * @packageDocumentation
 */

import type { Connection, Libp2p, Logger, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import { TypedEventEmitter } from '@libp2p/interface'
import {
  BITSWAP_BAN_MS,
  BITSWAP_MAX_BANNED_PEERS,
  BITSWAP_MAX_INBOUND_STREAMS,
  BITSWAP_PEER_BUDGET,
  BITSWAP_PEER_BUDGET_WINDOW_MS
} from '../../constants.ts'
import { ProtocolViolationError } from '../../errors.ts'
import type { BitswapNetwork, InboundBitswapMessage } from '../routing/bitswap-access.ts'

/** How a peer broke the bitswap rules. */
export type BitswapViolation =
  /** more want-list entries, blocks and presences than its budget allows */
  | 'flood'
  /** a message longer than the largest bitswap accepts */
  | 'oversized'
  /** bytes that do not decode as a bitswap message */
  | 'malformed'

/** Detail of a `violation` event. */
export interface BitswapViolationEvent {
  peer: PeerId
  kind: BitswapViolation
  /** what the peer did, for logs */
  detail: string
}

/** Options of {@link BitswapGuard}. Every option is optional. */
export interface BitswapGuardInit {
  /**
   * work units (1 per message, plus 1 per want-list entry, block and block presence) one peer
   * may send per window @default BITSWAP_PEER_BUDGET
   */
  budget?: number
  /** @default BITSWAP_PEER_BUDGET_WINDOW_MS */
  windowMs?: number
  /** how long a peer that broke the rules is refused, both ways @default BITSWAP_BAN_MS */
  banMs?: number
  /** inbound bitswap streams per connection @default BITSWAP_MAX_INBOUND_STREAMS */
  maxInboundStreams?: number
}

/** Counters of {@link BitswapGuard}. */
export interface BitswapGuardStats {
  floods: number
  oversized: number
  malformed: number
  /** peers refused right now */
  peersBanned: number
}

interface Window {
  start: number
  units: number
}

/** Errors with which Helia's bitswap network resets a stream whose peer sent bad bytes. */
const OVERSIZED_ERRORS = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError'])
/** protobuf decoding failures (protons-runtime throws plain errors with these messages) */
const MALFORMED_MESSAGE = /index out of range|invalid wire type|invalid varint/i

/**
 * Keeps one hostile peer from taking the bitswap server down for everyone:
 *
 * - every inbound message is charged to its peer (1 unit, plus 1 per want-list entry, block
 *   and block presence); a peer over its budget in a window is flooding;
 * - a stream that Helia resets because the peer sent a frame over the size limit, or bytes
 *   that do not decode, is a violation too;
 * - on a violation every connection to the peer is aborted at once (which also drops the
 *   messages it has queued), the peer is refused both ways for `banMs` (the connection
 *   gater asks {@link isBanned}), and a `violation` event tells reputation about it.
 *
 * Helia itself keeps at most 1024 wants per peer and drops frames over 4 MiB, but decodes and
 * sorts every message it gets: a peer writing 4 MiB want-lists as fast as it can starves the
 * node (see `test/reliability/bitswap-attacks.test.ts`). Installed by {@link IPFSLibp2pPeer}
 * on start; it wraps Helia's bitswap stream handler (libp2p's stream middleware would be the
 * place, but in libp2p 3.3 it adds the handler to the middleware list on every inbound stream,
 * js-libp2p#3534).
 */
export class BitswapGuard extends TypedEventEmitter<{ violation: CustomEvent<BitswapViolationEvent> }> {
  readonly #budget: number
  readonly #windowMs: number
  readonly #banMs: number
  readonly maxInboundStreams: number
  readonly #windows = new Map<string, Window>()
  /** peer → refused until (ms since the epoch), oldest first */
  readonly #banned = new Map<string, number>()
  readonly #stats = { floods: 0, oversized: 0, malformed: 0 }
  #libp2p?: Libp2p
  #network?: BitswapNetwork
  #log?: Logger

  constructor(init: BitswapGuardInit = {}) {
    super()
    this.#budget = init.budget ?? BITSWAP_PEER_BUDGET
    this.#windowMs = init.windowMs ?? BITSWAP_PEER_BUDGET_WINDOW_MS
    this.#banMs = init.banMs ?? BITSWAP_BAN_MS
    this.maxInboundStreams = init.maxInboundStreams ?? BITSWAP_MAX_INBOUND_STREAMS
  }

  /** True while `peer` is refused (the connection gater's question). */
  isBanned(peer: PeerId | string, now: number = Date.now()): boolean {
    const key = peer.toString()
    const until = this.#banned.get(key)
    if (until == null) return false
    if (until > now) return true
    this.#banned.delete(key)
    return false
  }

  getStats(now: number = Date.now()): BitswapGuardStats {
    let peersBanned = 0
    for (const until of this.#banned.values()) if (until > now) peersBanned++
    return { ...this.#stats, peersBanned }
  }

  /**
   * Watch the bitswap network of a started node: its messages, and the streams its handler
   * resets. Replaces the protocol handler with one that delegates to Helia's.
   */
  async install(libp2p: Libp2p, network: BitswapNetwork, log: Logger): Promise<void> {
    if (this.#network != null) return
    this.#libp2p = libp2p
    this.#network = network
    this.#log = log
    network.addEventListener('bitswap:message', this.#onMessage)
    const handler: StreamHandler = (stream: Stream, connection: Connection) => {
      if (this.isBanned(connection.remotePeer)) {
        stream.abort(
          new ProtocolViolationError(`${connection.remotePeer} is refused for breaking bitswap's rules`)
        )
        return
      }
      stream.addEventListener('close', (evt) => this.#onStreamClose(evt.error, connection), { once: true })
      network._onStream(stream, connection)
    }
    await libp2p.handle(network.protocols, handler, {
      force: true,
      maxInboundStreams: this.maxInboundStreams,
      maxOutboundStreams: network.maxOutboundStreams,
      runOnLimitedConnection: false
    })
  }

  /** Stop watching (the node is stopping). Bans are kept. */
  uninstall(): void {
    this.#network?.removeEventListener('bitswap:message', this.#onMessage)
    this.#network = undefined
    this.#libp2p = undefined
    this.#windows.clear()
  }

  readonly #onMessage = (evt: CustomEvent<InboundBitswapMessage>): void => {
    const { peer, message } = evt.detail
    const units =
      1 +
      (message.wantlist?.entries?.length ?? 0) +
      (message.blocks?.length ?? 0) +
      (message.blockPresences?.length ?? 0)
    const key = peer.toString()
    const now = Date.now()
    let window = this.#windows.get(key)
    if (window == null || now - window.start >= this.#windowMs) {
      window = { start: now, units: 0 }
      this.#windows.delete(key)
      this.#windows.set(key, window)
      this.#forgetOldWindows(now)
    }
    window.units += units
    if (window.units > this.#budget) {
      this.#windows.delete(key)
      this.#violation(
        peer,
        'flood',
        `${window.units} bitswap work units within ${this.#windowMs} ms (budget ${this.#budget})`
      )
    }
  }

  #onStreamClose(error: Error | undefined, connection: Connection): void {
    if (error == null) return
    if (OVERSIZED_ERRORS.has(error.name)) {
      this.#violation(connection.remotePeer, 'oversized', error.message)
    } else if (error instanceof RangeError || MALFORMED_MESSAGE.test(error.message)) {
      this.#violation(connection.remotePeer, 'malformed', error.message)
    }
  }

  #forgetOldWindows(now: number): void {
    if (this.#windows.size <= 1024) return
    for (const [key, w] of this.#windows) {
      if (now - w.start < this.#windowMs) break
      this.#windows.delete(key)
    }
  }

  #violation(peer: PeerId, kind: BitswapViolation, detail: string): void {
    const key = peer.toString()
    const now = Date.now()
    const already = this.isBanned(peer, now)
    if (!already) {
      if (kind === 'flood') this.#stats.floods++
      else if (kind === 'oversized') this.#stats.oversized++
      else this.#stats.malformed++
      this.#banned.delete(key)
      this.#banned.set(key, now + this.#banMs)
      while (this.#banned.size > BITSWAP_MAX_BANNED_PEERS) {
        const oldest = this.#banned.keys().next().value
        if (oldest == null) break
        this.#banned.delete(oldest)
      }
      this.#log?.(
        '%p broke bitswap rules (%s: %s): disconnected and refused for %d ms',
        peer,
        kind,
        detail,
        this.#banMs
      )
    }
    const error = new ProtocolViolationError(`${key} broke bitswap's rules (${kind}): ${detail}`)
    for (const connection of this.#libp2p?.getConnections(peer) ?? []) connection.abort(error)
    if (!already) this.safeDispatchEvent('violation', { detail: { peer, kind, detail } })
  }
}
