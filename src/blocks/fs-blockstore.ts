import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast, type ShardingStrategy } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'
import { NotFoundError } from '../errors.ts'

/**
 * The repo's block files: `blockstore-fs` (its layout, atomic writes, deletes and listing),
 * read with one `readFile` per block. blockstore-fs 4 opens a read stream per block and hands
 * it over in 64 KiB chunks; every reader here (the verifier first of all) needs the block whole,
 * so the stream only adds work: about three times the cost of a 256 KiB read on this machine,
 * which made pinning after an add (a read of every block) as slow as the add itself.
 *
 * Blocks are bounded (bitswap caps them at a few MiB), so reading one whole is safe.
 */
export class RepoBlockstore extends FsBlockstore {
  readonly #sharding: ShardingStrategy

  constructor(location: string, sharding: ShardingStrategy = new NextToLast()) {
    super(location, { shardingStrategy: sharding })
    this.#sharding = sharding
  }

  override async *get(key: CID, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    const { dir, file } = this.#sharding.encode(key)
    let bytes: Uint8Array
    try {
      bytes = await readFile(join(this.path, dir, file), { signal: options.signal })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
        throw new NotFoundError(`block ${key} is not in the blockstore`, { cause: err })
      }
      throw err
    }
    yield bytes
  }
}
