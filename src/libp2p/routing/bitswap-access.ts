import type { Helia } from '@helia/interface'
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'
import { base64 } from 'multiformats/bases/base64'
import type { CID } from 'multiformats/cid'
import { InvalidParametersError } from '../../errors.ts'

/**
 * What we use of Helia's bitswap beyond its public `BlockBroker` face: the want list
 * that can send a want-block to ONE peer (`wantSessionBlock`, the call Helia's own
 * bitswap sessions use) and that emits every block received with its sender.
 *
 * `@helia/bitswap` exports only `withBitswap`; its broker instance sits in
 * `helia.blockBrokers` under the name `bitswap` with a public `bitswap` field.
 * These shapes mirror `@helia/bitswap` 4 (`dist/src/want-list.d.ts`); the check in
 * {@link bitswapOf} fails loudly if a release changes them.
 */
export interface WantPresence {
  sender: PeerId
  cid: CID
  has: boolean
  block?: Uint8Array
}

export interface ReceivedBlock {
  sender: PeerId
  cid: CID
  block: Uint8Array
}

/** The message shape Helia's bitswap network sends (its `QueuedBitswapMessage`). */
export interface OutgoingBitswapMessage {
  full: boolean
  pendingBytes: number
  wantlist: Map<
    string,
    {
      cid: Uint8Array
      priority: number
      wantType: 'WantBlock' | 'WantHave'
      cancel: boolean
      sendDontHave: boolean
    }
  >
  blocks: Map<string, unknown>
  blockPresences: Map<string, unknown>
}

export interface BitswapWantList {
  /** the network the want list sends through */
  network?: {
    sendMessage(peer: PeerId, message: OutgoingBitswapMessage, options?: AbortOptions): Promise<void>
  }
  /** Helia's own wants, keyed by the multihash in base64 */
  wants?: Map<string, unknown>
  wantSessionBlock(cid: CID, peerId: PeerId, options?: AbortOptions): Promise<WantPresence>
  wantSessionPresence(cid: CID, peerId: PeerId, options?: AbortOptions): Promise<WantPresence>
  addEventListener(type: 'block', listener: (evt: CustomEvent<ReceivedBlock>) => void): void
  removeEventListener(type: 'block', listener: (evt: CustomEvent<ReceivedBlock>) => void): void
}

/** A bitswap message as Helia's network hands it on (its `BitswapMessage`, the parts we count). */
export interface InboundBitswapMessage {
  peer: PeerId
  connection: Connection
  message: {
    wantlist?: { entries?: unknown[] }
    blocks?: unknown[]
    blockPresences?: unknown[]
  }
}

/**
 * Helia's bitswap network (its `Network`): the inbound stream handler and the message event
 * it emits for every decoded message.
 */
export interface BitswapNetwork {
  /** the protocols it handles (`/ipfs/bitswap/1.2.0`) */
  protocols: string[]
  maxOutboundStreams: number
  _onStream(stream: Stream, connection: Connection): void
  addEventListener(type: 'bitswap:message', listener: (evt: CustomEvent<InboundBitswapMessage>) => void): void
  removeEventListener(
    type: 'bitswap:message',
    listener: (evt: CustomEvent<InboundBitswapMessage>) => void
  ): void
}

export interface BitswapBroker {
  name: 'bitswap'
  retrieve(cid: CID, options?: AbortOptions): Promise<Uint8Array>
  announce?(cid: CID, options?: AbortOptions): Promise<void>
  bitswap: { wantList: BitswapWantList; network?: BitswapNetwork }
}

/** The bitswap broker of a started Helia node, with its want list. */
/**
 * Tell `peer` we no longer want `cid` (a bitswap CANCEL), so a slow peer drops the want
 * from its queue instead of working through requests we gave up on.
 */
export async function sendCancel(wantList: BitswapWantList, peer: PeerId, cid: CID): Promise<void> {
  if (wantList.network == null) return
  const key = base64.encode(cid.multihash.bytes)
  await wantList.network.sendMessage(
    peer,
    {
      full: false,
      pendingBytes: 0,
      wantlist: new Map([
        [key, { cid: cid.bytes, priority: 1, wantType: 'WantBlock', cancel: true, sendDontHave: false }]
      ]),
      blocks: new Map(),
      blockPresences: new Map()
    },
    { signal: AbortSignal.timeout(5_000) }
  )
}

export function bitswapOf(helia: Helia): BitswapBroker {
  const brokers = (helia as Helia & { blockBrokers: Array<{ name: string }> }).blockBrokers
  const broker = brokers?.find((b) => b.name === 'bitswap') as BitswapBroker | undefined
  const wantList = broker?.bitswap?.wantList
  if (broker == null || typeof wantList?.wantSessionBlock !== 'function') {
    throw new InvalidParametersError(
      'this Helia node has no bitswap want list (is it started, with @helia/bitswap 4?)'
    )
  }
  return broker
}
