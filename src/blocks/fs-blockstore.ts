import { access, rename, writeFile } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast, type ShardingStrategy } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'
import { NotFoundError } from '../errors.ts'
import { type BytesInput, collectBytes } from './bytes.ts'

/** Shard folders remembered as existing, at most (NextToLast's default makes 1,024). */
const MAX_KNOWN_DIRS = 4096

/**
 * `bytes` as the whole of file `path`, through the callback API (its promise twin opens a
 * `FileHandle` per file: a quarter more work per block).
 */
async function writeWhole(path: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    writeFile(path, bytes, { signal }, (err) => (err == null ? resolve() : reject(err)))
  })
}

/**
 * The repo's block files: `blockstore-fs` (its layout, deletes and listing), read with one
 * `readFile` per block and written with one temp file and a rename per block.
 *
 * blockstore-fs 4 opens a read stream per block and hands it over in 64 KiB chunks; every
 * reader here (the verifier first of all) needs the block whole, so the stream only adds work:
 * about three times the cost of a 256 KiB read on this machine. Its writes run a `mkdir` of the
 * shard folder before every block; here a folder made once is remembered (and made again if it
 * went away). A write is atomic as before: the bytes go to a temp file renamed over the block's
 * file, and writes of one block run one after the other.
 *
 * Blocks are bounded (bitswap caps them at a few MiB), so reading one whole is safe.
 */
export class RepoBlockstore extends FsBlockstore {
  readonly #sharding: ShardingStrategy
  readonly #dirs = new Set<string>()
  /** writes in progress, by file: bounded by the writes in flight */
  readonly #writing = new Map<string, Promise<void>>()

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

  /**
   * Whether the block's file exists: one `access`, through its callback (the promise's rejection
   * for a block not held, the usual answer during an add, costs three times as much).
   */
  override async has(key: CID, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    const { dir, file } = this.#sharding.encode(key)
    return new Promise((resolve) => {
      access(join(this.path, dir, file), (err) => resolve(err == null))
    })
  }

  override async put(key: CID, val: BytesInput, options: AbortOptions = {}): Promise<CID> {
    const bytes = await collectBytes(val)
    const { dir, file } = this.#sharding.encode(key)
    // one write of a block at a time: a second waits for the first, then writes again
    const previous = this.#writing.get(file)
    const write = (previous ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.#write(dir, file, bytes, options))
    this.#writing.set(file, write)
    try {
      await write
    } finally {
      if (this.#writing.get(file) === write) this.#writing.delete(file)
    }
    return key
  }

  async #write(dir: string, file: string, bytes: Uint8Array, options: AbortOptions): Promise<void> {
    options.signal?.throwIfAborted()
    const folder = join(this.path, dir)
    // blockstore-fs's (steno's) temp name: a failed write leaves at most one per block, which
    // the block's next write replaces
    const temp = join(folder, `.${file}.tmp`)
    if (!this.#dirs.has(dir)) await this.#mkdir(dir, folder)
    try {
      await writeWhole(temp, bytes, options.signal)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      // the shard folder went away since it was made: make it again
      this.#dirs.delete(dir)
      await this.#mkdir(dir, folder)
      await writeWhole(temp, bytes, options.signal)
    }
    await new Promise<void>((resolve, reject) => {
      rename(temp, join(folder, file), (err) => (err == null ? resolve() : reject(err)))
    })
  }

  async #mkdir(dir: string, folder: string): Promise<void> {
    await mkdir(folder, { recursive: true })
    if (this.#dirs.size >= MAX_KNOWN_DIRS) this.#dirs.clear()
    this.#dirs.add(dir)
  }
}
