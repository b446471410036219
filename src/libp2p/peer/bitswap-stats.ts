/**
 * Counters of block exchange for Kubo's `bitswap stat`: blocks and bytes received and sent over
 * bitswap (Helia's want list and network, hooked as they run) and over our block stream.
 *
 * @packageDocumentation
 */
import type { PeerId } from '@libp2p/interface'
import { base64 } from 'multiformats/bases/base64'
import type { CID } from 'multiformats/cid'
import { BITSWAP_STATS_RECENT_BLOCKS } from '../../constants.ts'
import { LruMap } from '../discovery/keys.ts'

/** The parts of Helia's `Bitswap` (`@helia/bitswap` 4) these counters read. */
export interface CountedBitswap {
  wantList: {
    addEventListener(
      type: 'block',
      listener: (evt: CustomEvent<{ cid: CID; block: Uint8Array }>) => void
    ): void
    removeEventListener(
      type: 'block',
      listener: (evt: CustomEvent<{ cid: CID; block: Uint8Array }>) => void
    ): void
    /** peers that speak bitswap with us */
    peers?: { keys(): Iterable<PeerId> }
  }
  network?: object
  /** Helia's own wants (those not cancelled) */
  getWantlist?(): Array<{ cid: CID }>
  /** what `peer` wants from us */
  getPeerWantlist?(peer: PeerId): Array<{ cid: CID }> | undefined
}

/** Blocks and bytes a block-stream server sent. */
export interface SentCounters {
  blocksSent: number
  bytesSent: number
}

/** Blocks and bytes a block-stream client received. */
export interface ReceivedCounters {
  blocksReceived: number
  bytesReceived: number
}

/** The counters of {@link BitswapStats.stat}, in Kubo's names. */
export interface BitswapCounters {
  BlocksReceived: number
  DataReceived: number
  BlocksSent: number
  DataSent: number
  DupBlksReceived: number
  DupDataReceived: number
}

type SentHook = (blocks: Map<string, { data: Uint8Array }>) => void

/**
 * Counts the blocks this node exchanges: every block in an inbound bitswap message (a block
 * whose multihash arrived already among the last {@link BITSWAP_STATS_RECENT_BLOCKS} is a
 * duplicate, as Kubo counts a block it receives twice), every block Helia's bitswap network
 * sends, and the block stream's own totals.
 *
 * @example
 * ```ts
 * const stats = new BitswapStats()
 * stats.install(bitswap, () => blockServer.getStats())
 * stats.stat() // { BlocksReceived, DataReceived, ... }
 * ```
 */
export class BitswapStats {
  readonly #counters: BitswapCounters = {
    BlocksReceived: 0,
    DataReceived: 0,
    BlocksSent: 0,
    DataSent: 0,
    DupBlksReceived: 0,
    DupDataReceived: 0
  }
  readonly #recent = new LruMap<string, true>(BITSWAP_STATS_RECENT_BLOCKS)
  #bitswap?: CountedBitswap
  #server?: () => SentCounters
  #uninstall?: () => void

  /** Start counting on a started bitswap (and a block-stream server's totals). Replaces a previous one. */
  install(bitswap: CountedBitswap, server?: () => SentCounters): void {
    this.uninstall()
    this.#bitswap = bitswap
    this.#server = server
    const onBlock = (evt: CustomEvent<{ cid: CID; block: Uint8Array }>): void => {
      const key = base64.baseEncode(evt.detail.cid.multihash.bytes)
      const size = evt.detail.block.byteLength
      this.#counters.BlocksReceived++
      this.#counters.DataReceived += size
      if (this.#recent.peek(key) != null) {
        this.#counters.DupBlksReceived++
        this.#counters.DupDataReceived += size
      }
      this.#recent.set(key, true)
    }
    bitswap.wantList.addEventListener('block', onBlock)
    // Helia's network tells its (optional) metrics of every message it sent through this method
    const network = bitswap.network as { _updateSentStats?: SentHook } | undefined
    const original = network?._updateSentStats
    if (network != null && typeof original === 'function') {
      network._updateSentStats = (blocks) => {
        for (const block of blocks.values()) {
          this.#counters.BlocksSent++
          this.#counters.DataSent += block.data?.byteLength ?? 0
        }
        original.call(network, blocks)
      }
    }
    this.#uninstall = () => {
      bitswap.wantList.removeEventListener('block', onBlock)
      if (network != null && original != null) network._updateSentStats = original
    }
  }

  /** Stop counting (the totals stay). Safe to call twice. */
  uninstall(): void {
    this.#uninstall?.()
    this.#uninstall = undefined
    this.#bitswap = undefined
  }

  /** The totals, with a block-stream client's received blocks added. */
  stat(client?: ReceivedCounters): BitswapCounters {
    const server = this.#server?.()
    const c = this.#counters
    return {
      BlocksReceived: c.BlocksReceived + (client?.blocksReceived ?? 0),
      DataReceived: c.DataReceived + (client?.bytesReceived ?? 0),
      BlocksSent: c.BlocksSent + (server?.blocksSent ?? 0),
      DataSent: c.DataSent + (server?.bytesSent ?? 0),
      DupBlksReceived: c.DupBlksReceived,
      DupDataReceived: c.DupDataReceived
    }
  }

  /** Peers that speak bitswap with us. */
  partners(): string[] {
    const peers = this.#bitswap?.wantList.peers
    return peers == null ? [] : [...peers.keys()].map((p) => p.toString())
  }

  /** The CIDs Helia's bitswap wants now; with `peer`, those `peer` wants from us. */
  wantlist(peer?: PeerId): CID[] {
    const bitswap = this.#bitswap
    if (bitswap == null) return []
    const wants = peer == null ? bitswap.getWantlist?.() : bitswap.getPeerWantlist?.(peer)
    return (wants ?? []).map((w) => w.cid)
  }
}
