import type { AbortOptions } from '@libp2p/interface'
import { BaseBlockstore } from 'blockstore-core'
import type { Blockstore, Pair } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { DiskFullError, isDiskFull } from '../errors.ts'
import { collectBytes } from './bytes.ts'
import { verifyBlock } from './verify.ts'

type BlockInput = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

/**
 * A blockstore that checks every block against its CID on the way in and on the
 * way out, so a block changed on disk is an error, never content.
 */
export class VerifyingBlockstore extends BaseBlockstore {
  readonly #child: Blockstore

  constructor(child: Blockstore) {
    super()
    this.#child = child
  }

  /** The store underneath, without checks (for `repo stat` and tests). */
  unwrap(): Blockstore {
    return this.#child
  }

  override async has(key: CID, options?: AbortOptions): Promise<boolean> {
    return this.#child.has(key, options)
  }

  override async put(key: CID, val: BlockInput, options?: AbortOptions): Promise<CID> {
    const bytes = await collectBytes(val)
    await verifyBlock(key, bytes, 'block to store')
    try {
      await this.#child.put(key, bytes, options)
    } catch (err) {
      if (!isDiskFull(err)) throw err
      throw new DiskFullError(
        `cannot store block ${key}: the disk holding the repo is full (${(err as Error).message}); free space (\`ipfs-kit gc\` removes unpinned blocks) and try again`,
        { cause: err }
      )
    }
    return key
  }

  override async *get(key: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    const bytes = await collectBytes(this.#child.get(key, options))
    await verifyBlock(key, bytes, 'stored block')
    yield bytes
  }

  override async delete(key: CID, options?: AbortOptions): Promise<void> {
    await this.#child.delete(key, options)
  }

  override async *getAll(options?: AbortOptions): AsyncGenerator<Pair> {
    yield* this.#child.getAll(options)
  }
}
