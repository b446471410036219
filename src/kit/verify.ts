/**
 * `repo verify` and `pin verify`: read what the repo holds, check each block against its CID,
 * and repair what can be repaired. A block that fails the check is treated as missing: the bad
 * copy is removed, and a pinned one is fetched again from peers (unless the node is offline).
 *
 * @packageDocumentation
 */
import type { Helia } from '@helia/interface'
import type { AbortOptions } from '@libp2p/interface'
import { createUnsafe } from 'multiformats/block'
import type { CID } from 'multiformats/cid'
import { collectBytes } from '../blocks/bytes.ts'
import { blockMatches } from '../blocks/verify.ts'
import type { VerifyingBlockstore } from '../blocks/verifying-blockstore.ts'
import { cacheKey } from '../cache/key.ts'
import { VERIFY_FETCH_TIMEOUT_MS } from '../constants.ts'
import { TimeoutError } from '../errors.ts'

/** Options of a verify: `offline` repairs nothing from the network. */
export interface VerifyOptions extends AbortOptions {
  offline?: boolean
  /** how long to wait for a peer to supply one block @default VERIFY_FETCH_TIMEOUT_MS */
  fetchTimeoutMs?: number
}

/**
 * Run `fn` with a signal that aborts at the caller's signal or after the per-block deadline.
 * The deadline's timer is a normal one, not `AbortSignal.timeout`'s: that one does not keep
 * the process alive, and a fetch that waits on peers may be all that is left to wait for.
 */
async function withDeadline<T>(options: VerifyOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ms = options.fetchTimeoutMs ?? VERIFY_FETCH_TIMEOUT_MS
  const deadline = new AbortController()
  const timer = setTimeout(
    () => deadline.abort(new TimeoutError(`no peer supplied the block within ${ms / 1000} s`)),
    ms
  )
  try {
    return await fn(
      options.signal == null ? deadline.signal : AbortSignal.any([options.signal, deadline.signal])
    )
  } finally {
    clearTimeout(timer)
  }
}

/** One line of `repo verify`, as Kubo's (`Msg` empty on progress lines), plus what was done. */
export interface RepoVerifyProgress {
  Msg: string
  /** blocks checked so far */
  Progress: number
  /** a block that failed the check */
  Cid?: string
  /** for a bad block: `healed` (fetched again), `removed` (unpinned, so only removed), `lost` (pinned, no peer had it) */
  Action?: 'healed' | 'removed' | 'lost'
}

/** Whether a stored block matches its CID; a CID that cannot be verified (bad digest) does not. */
async function holdsGoodBlock(cid: CID, bytes: Uint8Array): Promise<boolean> {
  try {
    return await blockMatches(cid, bytes)
  } catch (err) {
    if ((err as Error).name === 'UnsupportedHasherError') return true
    return false
  }
}

/**
 * Check every block in the repo. A bad block is removed; a pinned one is fetched again from
 * peers. Yields a progress line per block checked and a message per bad block.
 */
export async function* verifyRepo(
  helia: Helia,
  store: VerifyingBlockstore,
  options: VerifyOptions = {}
): AsyncGenerator<RepoVerifyProgress> {
  let checked = 0
  for await (const { cid, bytes } of store.unwrap().getAll(options)) {
    options.signal?.throwIfAborted()
    const data = await collectBytes(bytes)
    checked++
    if (await holdsGoodBlock(cid, data)) {
      yield { Msg: '', Progress: checked }
      continue
    }
    const pinned = await helia.pins.isPinned(cid, options)
    let action: RepoVerifyProgress['Action']
    let detail: string
    try {
      // removes the bad copy, then fetches a pinned block again (offline for an unpinned one)
      await withDeadline(options, (signal) =>
        store.heal(cid, data.byteLength, { signal, offline: options.offline === true || !pinned })
      )
      action = 'healed'
      detail = 'fetched a good copy from a peer'
    } catch {
      action = pinned ? 'lost' : 'removed'
      detail = !pinned
        ? 'removed (it was not pinned)'
        : options.offline === true
          ? 'removed; it is pinned, and the node is offline so it was not fetched again'
          : 'removed; it is pinned, and no peer supplied a good copy'
    }
    yield {
      Msg: `block ${cid} was corrupt (${data.byteLength} bytes did not hash to its CID): ${detail}`,
      Progress: checked,
      Cid: cid.toString(),
      Action: action
    }
  }
}

/** A block of a pin that was missing or bad, and could not be repaired. */
export interface BadNode {
  Cid: string
  Err: string
}

/** One pin checked by `pin verify`, as Kubo's. */
export interface PinVerifyResult {
  Cid: string
  Ok: boolean
  BadNodes?: BadNode[]
}

/**
 * Check every block of every pin: each must be held and match its CID. A missing or bad block
 * is fetched again from peers (unless offline); what cannot be had is reported in `BadNodes`.
 */
export async function* verifyPins(
  helia: Helia,
  options: VerifyOptions = {}
): AsyncGenerator<PinVerifyResult> {
  for await (const pin of helia.pins.ls({ signal: options.signal })) {
    const bad: BadNode[] = []
    const seen = new Set<string>()
    const stack: Array<{ cid: CID; depth: number }> = [{ cid: pin.cid, depth: 0 }]
    while (stack.length > 0) {
      options.signal?.throwIfAborted()
      const { cid, depth } = stack.pop()!
      const key = cacheKey(cid)
      if (seen.has(key)) continue
      seen.add(key)
      let bytes: Uint8Array
      try {
        // through the node's storage: a missing block is fetched, a bad one removed and fetched
        bytes = await withDeadline(options, (signal) =>
          collectBytes(helia.blockstore.get(cid, { signal, offline: options.offline }))
        )
      } catch (err) {
        options.signal?.throwIfAborted()
        bad.push({ Cid: cid.toString(), Err: (err as Error).message })
        continue
      }
      if (depth >= pin.depth) continue
      try {
        const block = createUnsafe({ cid, bytes, codec: await helia.getCodec(cid.code) })
        for (const [, child] of block.links()) stack.push({ cid: child, depth: depth + 1 })
      } catch (err) {
        bad.push({ Cid: cid.toString(), Err: `cannot decode: ${(err as Error).message}` })
      }
    }
    yield bad.length === 0
      ? { Cid: pin.cid.toString(), Ok: true }
      : { Cid: pin.cid.toString(), Ok: false, BadNodes: bad }
  }
}
