import type { AbortOptions, PeerId } from '@libp2p/interface'
import { base64 } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import { ROUTING_WANT_BATCH_MS } from '../../constants.ts'
import type { BitswapWantList, OutgoingBitswapMessage } from './bitswap-access.ts'

type Send = (peer: PeerId, message: OutgoingBitswapMessage, options?: AbortOptions) => Promise<void>

interface Pending {
  peer: PeerId
  message: OutgoingBitswapMessage
  waiters: Array<{ resolve: () => void; reject: (err: Error) => void }>
}

/** Options of {@link batchWants}. */
export interface WantBatchInit {
  /** wants to one peer issued within this many ms share a message @default ROUTING_WANT_BATCH_MS */
  windowMs?: number
}

/** The want list's key of an entry: the multihash in base64, whatever key the sender used. */
function entryKey(cid: Uint8Array): string {
  return base64.baseEncode(CID.decode(cid).multihash.bytes)
}

/**
 * Coalesce the want-only messages (want-block, want-have, cancel; no blocks, no presences) that
 * this node's bitswap network sends to one peer within `windowMs` into one message, the later
 * entry for a CID replacing the earlier one (a CANCEL after a want withdraws it). Messages that
 * carry blocks or presences (our answers as a provider) go out as before. Each caller's promise
 * settles when the merged message has been sent. Returns the function that undoes it.
 *
 * @example
 * ```ts
 * const undo = batchWants(bitswapOf(helia).bitswap.wantList)
 * // … later, on stop
 * undo()
 * ```
 */
export function batchWants(wantList: BitswapWantList, init: WantBatchInit = {}): () => void {
  const network = wantList.network
  if (network == null) return () => {}
  const windowMs = init.windowMs ?? ROUTING_WANT_BATCH_MS
  const send: Send = network.sendMessage.bind(network)
  const pending = new Map<string, Pending>()

  const flush = (key: string): void => {
    const batch = pending.get(key)
    if (batch == null) return
    pending.delete(key)
    send(batch.peer, batch.message).then(
      () => {
        for (const w of batch.waiters) w.resolve()
      },
      (err: Error) => {
        for (const w of batch.waiters) w.reject(err)
      }
    )
  }

  const batched: Send = async (peer, message, options) => {
    if (message.blocks.size > 0 || message.blockPresences.size > 0 || message.full) {
      return send(peer, message, options)
    }
    options?.signal?.throwIfAborted()
    const key = peer.toString()
    let batch = pending.get(key)
    if (batch == null) {
      batch = {
        peer,
        message: {
          full: false,
          pendingBytes: 0,
          wantlist: new Map(),
          blocks: new Map(),
          blockPresences: new Map()
        },
        waiters: []
      }
      pending.set(key, batch)
      setTimeout(flush, windowMs, key)
    }
    for (const entry of message.wantlist.values()) {
      const k = entryKey(entry.cid)
      // re-inserted, so that the entry's place is its latest (a want after a cancel wins)
      batch.message.wantlist.delete(k)
      batch.message.wantlist.set(k, entry)
    }
    const waiters = batch.waiters
    await new Promise<void>((resolve, reject) => {
      const signal = options?.signal
      const onAbort = (): void => reject(signal?.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      waiters.push({
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort)
          reject(err)
        }
      })
    })
  }

  network.sendMessage = batched
  return () => {
    for (const key of [...pending.keys()]) flush(key)
    if (network.sendMessage === batched) network.sendMessage = send
  }
}
