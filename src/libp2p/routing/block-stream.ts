/**
 * The block stream: ipfs-kit's private block transfer (`/ipfs-kit/blocks/1.0.0`), spoken only
 * between ipfs-kit peers (bitswap stays for everyone else). One long-lived stream per peer carries
 * many wants at once, and blocks come back as soon as they are read, with no want-list, no
 * presences and no message per block.
 *
 * Wire format: every frame is `uvarint(length) | type (1 byte) | body`, and a CID is in its binary
 * form (self-delimiting, CIDv0 or CIDv1).
 *
 * | direction | type | body | meaning |
 * |---|---|---|---|
 * | client → server | `0x01` WANT | cid | send me this block |
 * | client → server | `0x02` CANCEL | cid | I no longer need it |
 * | server → client | `0x01` BLOCK | cid, then the block's bytes | here it is |
 * | server → client | `0x02` DONT_HAVE | cid | I do not have it |
 * | server → client | `0x03` CANCELLED | cid | your CANCEL came before I answered: no answer |
 *
 * Every WANT gets exactly one answer (BLOCK, DONT_HAVE, or CANCELLED after a CANCEL), so a client
 * knows which answers it may still get, and an answer for anything else is a protocol violation.
 * A WANT for a CID already open on the stream, or past {@link BLOCK_STREAM_MAX_WANTS} open, makes
 * the server reset the stream. Blocks are not verified here: callers hash every block.
 *
 * @packageDocumentation
 */

import {
  AbortError,
  type ComponentLogger,
  type Libp2p,
  type Logger,
  type PeerId,
  type Stream
} from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import {
  BLOCK_STREAM_IDLE_MS,
  BLOCK_STREAM_MAX_BLOCK_BYTES,
  BLOCK_STREAM_MAX_INBOUND_STREAMS,
  BLOCK_STREAM_MAX_OUTBOUND_STREAMS,
  BLOCK_STREAM_MAX_PEERS,
  BLOCK_STREAM_MAX_WANTS,
  BLOCK_STREAM_OPEN_TIMEOUT_MS,
  BLOCK_STREAM_PROTOCOL,
  BLOCK_STREAM_READ_CONCURRENCY
} from '../../constants.ts'
import { ProtocolViolationError } from '../../errors.ts'
import { BlockStreamChannel } from './block-stream-channel.ts'
import { BlockStreamSession } from './block-stream-session.ts'
import type {
  BlockStreamAnswer,
  BlockStreamStore,
  ClientCounters,
  ServerCounters,
  Waiter
} from './block-stream-wire.ts'

export type { BlockStreamAnswer, BlockStreamStore } from './block-stream-wire.ts'

/** Options of {@link BlockStreamServer}. Every option is optional. */
export interface BlockStreamServerInit {
  /** @default BLOCK_STREAM_PROTOCOL */
  protocol?: string
  /** wants one stream may have open @default BLOCK_STREAM_MAX_WANTS */
  maxWants?: number
  /** blockstore reads at once per stream @default BLOCK_STREAM_READ_CONCURRENCY */
  readConcurrency?: number
  /** larger blocks are answered DONT_HAVE @default BLOCK_STREAM_MAX_BLOCK_BYTES */
  maxBlockBytes?: number
  /** @default BLOCK_STREAM_MAX_INBOUND_STREAMS */
  maxInboundStreams?: number
  /** @default BLOCK_STREAM_MAX_OUTBOUND_STREAMS */
  maxOutboundStreams?: number
  /** peers this returns false for are refused (their stream is reset at once) */
  allow?: (peer: PeerId) => boolean
}

/** Dependencies of {@link BlockStreamServer}. */
export interface BlockStreamServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  blockstore: BlockStreamStore
  logger: ComponentLogger
}

/** Counters of a {@link BlockStreamServer}. */
export interface BlockStreamServerStats extends ServerCounters {
  /** streams open now */
  streams: number
}

/**
 * Serves blocks from a blockstore on the block stream. Each stream's wants are read from the
 * blockstore a few at a time ({@link BlockStreamServerInit.readConcurrency}) and answered as soon
 * as read, in one write per turn of the event loop; a stream whose peer reads slowly stops the
 * reads until it drains.
 *
 * @example
 * ```ts
 * const server = new BlockStreamServer({ libp2p, blockstore, logger: defaultLogger() })
 * await server.start()
 * ```
 */
export class BlockStreamServer {
  readonly #libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  readonly #blockstore: BlockStreamStore
  readonly #log: Logger
  readonly #protocol: string
  readonly #maxWants: number
  readonly #readConcurrency: number
  readonly #maxBlockBytes: number
  readonly #maxInbound: number
  readonly #maxOutbound: number
  readonly #allow?: (peer: PeerId) => boolean
  readonly #sessions = new Set<BlockStreamSession>()
  readonly #stats: ServerCounters = {
    streamsOpened: 0,
    blocksSent: 0,
    bytesSent: 0,
    dontHaves: 0,
    cancelled: 0,
    violations: 0
  }
  #started = false

  constructor(components: BlockStreamServerComponents, init: BlockStreamServerInit = {}) {
    this.#libp2p = components.libp2p
    this.#blockstore = components.blockstore
    this.#log = components.logger.forComponent('kit:routing:block-stream:server')
    this.#protocol = init.protocol ?? BLOCK_STREAM_PROTOCOL
    this.#maxWants = init.maxWants ?? BLOCK_STREAM_MAX_WANTS
    this.#readConcurrency = init.readConcurrency ?? BLOCK_STREAM_READ_CONCURRENCY
    this.#maxBlockBytes = init.maxBlockBytes ?? BLOCK_STREAM_MAX_BLOCK_BYTES
    this.#maxInbound = init.maxInboundStreams ?? BLOCK_STREAM_MAX_INBOUND_STREAMS
    this.#maxOutbound = init.maxOutboundStreams ?? BLOCK_STREAM_MAX_OUTBOUND_STREAMS
    this.#allow = init.allow
  }

  /** Register the protocol handler. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#libp2p.handle(
      this.#protocol,
      (stream, connection) => this.#onStream(stream, connection.remotePeer),
      {
        maxInboundStreams: this.#maxInbound,
        maxOutboundStreams: this.#maxOutbound
      }
    )
  }

  /** Unregister the handler and reset every stream open (their reads are aborted). */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#libp2p.unhandle(this.#protocol)
    for (const session of [...this.#sessions])
      session.abort(new AbortError('the block-stream server stopped'))
    this.#sessions.clear()
  }

  getStats(): BlockStreamServerStats {
    return { streams: this.#sessions.size, ...this.#stats }
  }

  #onStream(stream: Stream, peer: PeerId): void {
    if (!this.#started) {
      stream.abort(new AbortError('the block-stream server is stopped'))
      return
    }
    if (this.#allow != null && !this.#allow(peer)) {
      this.#log('refusing a block stream from %p', peer)
      stream.abort(new ProtocolViolationError(`${peer} is refused by this block-stream server`))
      return
    }
    this.#stats.streamsOpened++
    const session = new BlockStreamSession(stream, {
      blockstore: this.#blockstore,
      maxWants: this.#maxWants,
      readConcurrency: this.#readConcurrency,
      maxBlockBytes: this.#maxBlockBytes,
      stats: this.#stats,
      log: this.#log,
      onClose: () => this.#sessions.delete(session)
    })
    this.#sessions.add(session)
  }
}

/** Options of {@link BlockStreamClient}. Every option is optional. */
export interface BlockStreamClientInit {
  /** @default BLOCK_STREAM_PROTOCOL */
  protocol?: string
  /** wants open on one stream, at most (more wait their turn) @default BLOCK_STREAM_MAX_WANTS */
  maxWants?: number
  /** a reply announcing a larger block resets the stream @default BLOCK_STREAM_MAX_BLOCK_BYTES */
  maxBlockBytes?: number
  /** @default BLOCK_STREAM_OPEN_TIMEOUT_MS */
  openTimeoutMs?: number
  /** a stream with no want open is closed after this long @default BLOCK_STREAM_IDLE_MS */
  idleMs?: number
  /** peers with a stream open, at most (idle streams are closed first) @default BLOCK_STREAM_MAX_PEERS */
  maxPeers?: number
}

/** Dependencies of {@link BlockStreamClient}. */
export interface BlockStreamClientComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'peerStore'>
  logger: ComponentLogger
}

/** Counters of a {@link BlockStreamClient}. */
export interface BlockStreamClientStats extends ClientCounters {
  /** peers with a stream open (or opening) now */
  streams: number
  /** wants not yet answered, over every peer */
  wantsPending: number
}

/**
 * Fetches blocks from ipfs-kit peers over the block stream: one long-lived stream per peer,
 * opened on the first want and again after a failure. Wants made in the same turn of the event
 * loop go out in one write; answers are matched by multihash. A caller's abort sends a CANCEL.
 * Blocks are not verified here (the caller hashes every block).
 *
 * @example
 * ```ts
 * const client = new BlockStreamClient({ libp2p, logger: defaultLogger() })
 * client.start()
 * if (await client.supports(peer)) {
 *   const { has, block } = await client.want(peer, cid, { signal })
 * }
 * ```
 */
export class BlockStreamClient {
  readonly #libp2p: Pick<Libp2p, 'dialProtocol' | 'peerStore'>
  readonly #log: Logger
  readonly #protocol: string
  readonly #maxWants: number
  readonly #maxBlockBytes: number
  readonly #openTimeoutMs: number
  readonly #idleMs: number
  readonly #maxPeers: number
  /** per peer, least recently used first */
  readonly #channels = new Map<string, BlockStreamChannel>()
  readonly #counters: ClientCounters = {
    streamsOpened: 0,
    blocksReceived: 0,
    bytesReceived: 0,
    violations: 0
  }
  #shutdown = new AbortController()
  #started = false

  constructor(components: BlockStreamClientComponents, init: BlockStreamClientInit = {}) {
    this.#libp2p = components.libp2p
    this.#log = components.logger.forComponent('kit:routing:block-stream:client')
    this.#protocol = init.protocol ?? BLOCK_STREAM_PROTOCOL
    this.#maxWants = init.maxWants ?? BLOCK_STREAM_MAX_WANTS
    this.#maxBlockBytes = init.maxBlockBytes ?? BLOCK_STREAM_MAX_BLOCK_BYTES
    this.#openTimeoutMs = init.openTimeoutMs ?? BLOCK_STREAM_OPEN_TIMEOUT_MS
    this.#idleMs = init.idleMs ?? BLOCK_STREAM_IDLE_MS
    this.#maxPeers = init.maxPeers ?? BLOCK_STREAM_MAX_PEERS
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#shutdown = new AbortController()
  }

  /** Close every stream; every want not yet answered fails with an `AbortError`. */
  stop(): void {
    if (!this.#started) return
    this.#started = false
    const reason = new AbortError('the block-stream client stopped')
    this.#shutdown.abort(reason)
    for (const channel of [...this.#channels.values()]) channel.fail(reason)
    this.#channels.clear()
  }

  getStats(): BlockStreamClientStats {
    let wantsPending = 0
    for (const channel of this.#channels.values()) wantsPending += channel.pending
    return { streams: this.#channels.size, wantsPending, ...this.#counters }
  }

  /**
   * Whether `peer` speaks the block stream: a stream to it is open, or the protocols it
   * announced (learnt by identify, kept in the peer store) include it.
   */
  async supports(peer: PeerId, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (this.#channels.get(peer.toString())?.usable === true) return true
    try {
      const known = await this.#libp2p.peerStore.get(peer, options)
      return known.protocols.includes(this.#protocol)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') return false
      throw err
    }
  }

  /**
   * Ask `peer` for `cid`. Resolves to the block's bytes (unverified), or to `{ has: false }` if
   * the peer does not have it.
   *
   * @throws the signal's reason (an `AbortError` by default) when `signal` aborts: a CANCEL goes to
   *   the peer if the WANT went out
   * @throws AbortError when the client stops
   * @throws BlockStreamClosedError when the stream fails or closes before the answer
   * @throws ProtocolViolationError when the peer breaks the protocol (its stream is reset)
   */
  async want(peer: PeerId, cid: CID, options: { signal?: AbortSignal } = {}): Promise<BlockStreamAnswer> {
    if (!this.#started) throw new AbortError('the block-stream client is stopped')
    const { signal } = options
    signal?.throwIfAborted()
    const channel = this.#channel(peer)
    return new Promise<BlockStreamAnswer>((resolve, reject) => {
      const onAbort = (): void => {
        channel.withdraw(entry, waiter)
        const reason: unknown = signal?.reason
        reject(reason instanceof Error ? reason : new AbortError(`the want for ${cid} was aborted`))
      }
      const waiter: Waiter = {
        resolve: (answer) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(answer)
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort)
          reject(err)
        }
      }
      const entry = channel.add(cid, waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #channel(peer: PeerId): BlockStreamChannel {
    const key = peer.toString()
    let channel = this.#channels.get(key)
    if (channel != null && !channel.closed) {
      this.#channels.delete(key)
      this.#channels.set(key, channel)
      return channel
    }
    // past the bound, close the least recently used idle streams
    for (const [k, other] of this.#channels) {
      if (this.#channels.size < this.#maxPeers) break
      if (other.pending === 0) {
        other.close()
        this.#channels.delete(k)
      }
    }
    channel = new BlockStreamChannel(peer, {
      open: async () => this.#open(peer),
      maxWants: this.#maxWants,
      maxBlockBytes: this.#maxBlockBytes,
      idleMs: this.#idleMs,
      counters: this.#counters,
      log: this.#log,
      onClose: (c) => {
        if (this.#channels.get(key) === c) this.#channels.delete(key)
      }
    })
    this.#channels.set(key, channel)
    return channel
  }

  async #open(peer: PeerId): Promise<Stream> {
    const signal = AbortSignal.any([this.#shutdown.signal, AbortSignal.timeout(this.#openTimeoutMs)])
    const stream = await this.#libp2p.dialProtocol(peer, this.#protocol, { signal })
    this.#counters.streamsOpened++
    return stream
  }
}
