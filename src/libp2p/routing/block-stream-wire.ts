/**
 * The block stream's frames and the types its client, server and their per-stream halves share
 * (see `block-stream.ts` for the protocol). Every frame is `uvarint(length) | type | cid | rest`.
 *
 * @packageDocumentation
 */

import { varint } from 'multiformats'
import { base64 } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { BytesInput } from '../../blocks/bytes.ts'
import { BLOCK_STREAM_MAX_CID_BYTES } from '../../constants.ts'
import { ProtocolViolationError } from '../../errors.ts'

/** Frame types, client → server. */
export const WANT = 0x01
export const CANCEL = 0x02
/** Frame types, server → client. */
export const BLOCK = 0x01
export const DONT_HAVE = 0x02
export const CANCELLED = 0x03

/** Where a server reads blocks: any blockstore (Helia's honours `offline`, a plain one ignores it). */
export interface BlockStreamStore {
  get(cid: CID, options?: { signal?: AbortSignal; offline?: boolean }): BytesInput | Promise<BytesInput>
}

/** A frame: `uvarint(1 + cid + extra) | type | cid`, to be followed by `extra` bytes. */
export function frameHeader(type: number, cid: Uint8Array, extra = 0): Uint8Array {
  const length = 1 + cid.byteLength + extra
  const prefix = varint.encodingLength(length)
  const out = new Uint8Array(prefix + 1 + cid.byteLength)
  varint.encodeTo(length, out, 0)
  out[prefix] = type
  out.set(cid, prefix + 1)
  return out
}

/** A decoded frame: its type, its CID, and what follows the CID. */
export interface Frame {
  type: number
  cid: CID
  /** key of the CID's multihash */
  key: string
  rest: Uint8ArrayList
}

/** Decode a frame's type and CID; throws a {@link ProtocolViolationError} on bytes that are not one. */
export function parseFrame(frame: Uint8ArrayList): Frame {
  const head = frame.subarray(0, Math.min(frame.byteLength, 1 + BLOCK_STREAM_MAX_CID_BYTES))
  const type = head[0]
  let cid: CID
  let cidLength: number
  try {
    const [decoded, remainder] = CID.decodeFirst(head.subarray(1))
    cid = decoded
    cidLength = head.byteLength - 1 - remainder.byteLength
  } catch (err) {
    throw new ProtocolViolationError('a block-stream frame does not hold a CID', { cause: err })
  }
  if (type == null) throw new ProtocolViolationError('an empty block-stream frame')
  return { type, cid, key: mhKey(cid), rest: frame.sublist(1 + cidLength) }
}

/** Key of a CID in every map here: its multihash in base64 (two CIDs of one block share it). */
export const mhKey = (cid: CID): string => base64.baseEncode(cid.multihash.bytes)

/** A peer's answer to a want. */
export interface BlockStreamAnswer {
  has: boolean
  /** the block's bytes, unverified: the caller hashes them */
  block?: Uint8Array
}

/** One caller waiting for an answer. */
export interface Waiter {
  resolve: (answer: BlockStreamAnswer) => void
  reject: (err: Error) => void
}

/** A CID wanted from one peer, and who waits for it. */
export interface WantEntry {
  cid: CID
  key: string
  waiters: Set<Waiter>
  /** queued: not sent yet; sent: WANT sent; cancelled: CANCEL sent, an answer still due */
  state: 'queued' | 'sent' | 'cancelled'
}

/** Counters a client's streams add to. */
export interface ClientCounters {
  /** streams opened since start */
  streamsOpened: number
  blocksReceived: number
  bytesReceived: number
  /** streams reset because the peer broke the protocol */
  violations: number
}

/** Counters a server's streams add to. */
export interface ServerCounters {
  /** streams accepted since start */
  streamsOpened: number
  blocksSent: number
  bytesSent: number
  dontHaves: number
  cancelled: number
  /** streams reset for breaking the protocol */
  violations: number
}
