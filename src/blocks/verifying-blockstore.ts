import type { AbortOptions } from '@libp2p/interface'
import { BaseBlockstore } from 'blockstore-core'
import type { Blockstore, Pair } from 'interface-blockstore'
import { equals } from 'multiformats/bytes'
import type { CID } from 'multiformats/cid'
import { CorruptBlockError, DiskFullError, isDiskFull } from '../errors.ts'
import { collectBytes } from './bytes.ts'
import { wasHashedHere } from './hasher.ts'
import { blockMatches, verifyBlock } from './verify.ts'

export type BlockInput = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

/**
 * Fetches a block from the network and stores it (verified), as the node's networked
 * storage does for a block it does not hold; `offline` means: do not try.
 */
export type BlockHealer = (cid: CID, options: AbortOptions & { offline?: boolean }) => Promise<Uint8Array>

/** What the store did about corrupt blocks since it was opened. */
export interface CorruptionStats {
  /** stored blocks that did not match their CID (each removed at once) */
  found: number
  /** of those, fetched again from a peer or rewritten by an add */
  healed: number
}

/**
 * A blockstore that checks every block against its CID on the way in and on the
 * way out, so a block changed on disk is never content. A stored block that fails the check
 * is treated as missing: the bad copy is removed, counted, and fetched again from the network
 * when a {@link BlockHealer} is set and the call is not offline; otherwise the read fails
 * with a {@link CorruptBlockError}.
 */
export class VerifyingBlockstore extends BaseBlockstore {
  readonly #child: Blockstore
  #healer?: BlockHealer
  readonly #stats: CorruptionStats = { found: 0, healed: 0 }

  constructor(child: Blockstore) {
    super()
    this.#child = child
  }

  /** The store underneath, without checks (for `repo stat` and tests). */
  unwrap(): Blockstore {
    return this.#child
  }

  /** Set (or clear) how a corrupt block is fetched again. */
  setHealer(healer: BlockHealer | undefined): void {
    this.#healer = healer
  }

  /** Corrupt blocks found and healed since the store was opened. */
  corruption(): CorruptionStats {
    return { ...this.#stats }
  }

  override async has(key: CID, options?: AbortOptions): Promise<boolean> {
    return this.#child.has(key, options)
  }

  override async put(key: CID, val: BlockInput, options?: AbortOptions): Promise<CID> {
    const bytes = await collectBytes(val)
    await this.#verify(key, bytes)
    await this.#write(key, bytes, options)
    return key
  }

  /**
   * Check a block to store against its CID, unless this process computed that CID from these
   * very bytes (an add's leaves: see {@link wasHashedHere}); a block from anywhere else, the
   * network first of all, is always hashed.
   */
  async #verify(key: CID, bytes: Uint8Array): Promise<void> {
    if (wasHashedHere(key, bytes)) return
    await verifyBlock(key, bytes, 'block to store')
  }

  async #write(key: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    try {
      await this.#child.put(key, bytes, options)
    } catch (err) {
      if (!isDiskFull(err)) throw err
      throw new DiskFullError(
        `cannot store block ${key}: the disk holding the repo is full (${(err as Error).message}); free space (\`ipfs-kit gc\` removes unpinned blocks) and try again`,
        { cause: err }
      )
    }
  }

  /**
   * Store a block the caller knows is good (`bytes` hash to `key`), also over a copy already
   * held if that copy is damaged: an add of content whose blocks went bad on disk repairs
   * them. Returns whether a damaged copy was replaced.
   */
  async putOver(key: CID, bytes: Uint8Array, options?: AbortOptions): Promise<boolean> {
    const held = await this.#read(key, options)
    if (held != null && equals(held, bytes)) return false
    await this.#verify(key, bytes)
    await this.#write(key, bytes, options)
    if (held == null) return false
    this.#stats.found++
    this.#stats.healed++
    return true
  }

  /** The stored bytes, or undefined if the block is not held. */
  async #read(key: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    try {
      return await collectBytes(this.#child.get(key, options))
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') return undefined
      throw err
    }
  }

  override async *get(
    key: CID,
    options: AbortOptions & { offline?: boolean } = {}
  ): AsyncGenerator<Uint8Array> {
    const bytes = await collectBytes(this.#child.get(key, options))
    if (await blockMatches(key, bytes)) {
      yield bytes
      return
    }
    yield await this.heal(key, bytes.byteLength, options)
  }

  /**
   * Deal with a stored copy of `key` that failed verification: remove it, count it, and
   * fetch the block again if a healer is set and `offline` is not.
   *
   * @throws CorruptBlockError if the block could not be had again
   */
  async heal(
    key: CID,
    badLength: number,
    options: AbortOptions & { offline?: boolean } = {}
  ): Promise<Uint8Array> {
    this.#stats.found++
    await this.#child.delete(key, options)
    const what = `the stored block ${key} did not match its CID (${badLength} bytes on disk) and was removed`
    if (this.#healer == null || options.offline === true) {
      throw new CorruptBlockError(`${what}; the node is offline, so it was not fetched again`)
    }
    let good: Uint8Array
    try {
      good = await this.#healer(key, options)
    } catch (err) {
      throw new CorruptBlockError(`${what}; fetching it again failed: ${(err as Error).message}`, {
        cause: err
      })
    }
    this.#stats.healed++
    return good
  }

  override async delete(key: CID, options?: AbortOptions): Promise<void> {
    await this.#child.delete(key, options)
  }

  override async *getAll(options?: AbortOptions): AsyncGenerator<Pair> {
    yield* this.#child.getAll(options)
  }
}
