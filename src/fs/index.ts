import { Readable } from 'node:stream'
import type { AbortOptions } from '@libp2p/interface'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { collectBytes } from '../blocks/bytes.ts'
import type { TieredCache } from '../cache/index.ts'
import { type CIDOrPath, parseCIDPath, toKitError } from '../cids.ts'
import { DEFAULT_NETWORK_TIMEOUT_MS, ROUTING_BLOCK_CONCURRENCY } from '../constants.ts'
import { InvalidParametersError, NotAFileError, NotFoundError } from '../errors.ts'
import { exportTo } from '../kit/get.ts'
import type { LibP2PIntegration } from '../libp2p/integration/index.ts'
import type { IPFSLibp2pPeer } from '../libp2p/peer/index.ts'

/** What the filesystem needs of a kit. */
export interface FilesystemHost {
  readonly peer: IPFSLibp2pPeer
  ipfsAddFile(path: string, options?: AbortOptions): Promise<{ cid: CID }>
}

/** Options of {@link IPFSFileSystem}. */
export interface FilesystemInit {
  /** serve cache misses from peers through the libp2p integration @default false */
  useLibp2p?: boolean
}

/** An entry as `ls` and `info` give it (fsspec's shape). */
export interface FileInfo {
  /** the path asked for, or the entry's path below it */
  name: string
  cid: CID
  /** file size in bytes; for folders the DAG size */
  size: number
  type: 'file' | 'directory' | 'raw' | 'other'
}

/** Options of a read. */
export interface ReadOptions extends AbortOptions {
  offset?: number
  length?: number
}

/** Where each block read came from (`getStats()`). */
export interface FilesystemStats {
  blocksFromMemory: number
  blocksFromDisk: number
  blocksFromBlockstore: number
  blocksFromLibp2p: number
  blocksFromNetwork: number
}

function kindOf(entry: UnixFSEntry): FileInfo['type'] {
  return entry.type === 'file' || entry.type === 'directory' || entry.type === 'raw' ? entry.type : 'other'
}

/**
 * A read-mostly filesystem over IPFS, modelled on what fsspec users expect. Paths may
 * be a CID, `/ipfs/<cid>`, or `/ipfs/<cid>/sub/path` through UnixFS folders. Each
 * block is read from the memory tier, then the disk tier, then the node's blockstore,
 * then (with `useLibp2p`) from peers through the libp2p integration, or (without it)
 * through the node's normal bitswap path; a block found on the way is put into the cache.
 *
 * @example
 * ```ts
 * const fs = kit.getFilesystem({ useLibp2p: true })
 * const bytes = await fs.cat('/ipfs/Qm…/readme.md')
 * ```
 */
export class IPFSFileSystem {
  readonly useLibp2p: boolean
  readonly #host: FilesystemHost
  readonly #cache: () => Promise<TieredCache>
  readonly #integration: () => Promise<LibP2PIntegration | undefined>
  readonly #stats: FilesystemStats = {
    blocksFromMemory: 0,
    blocksFromDisk: 0,
    blocksFromBlockstore: 0,
    blocksFromLibp2p: 0,
    blocksFromNetwork: 0
  }

  constructor(
    host: FilesystemHost,
    components: {
      cache: () => Promise<TieredCache>
      integration: () => Promise<LibP2PIntegration | undefined>
    },
    init: FilesystemInit = {}
  ) {
    this.#host = host
    this.useLibp2p = init.useLibp2p === true
    this.#cache = components.cache
    this.#integration = components.integration
  }

  getStats(): FilesystemStats {
    return { ...this.#stats }
  }

  /** A block source for the UnixFS exporter that reads through every tier. */
  #source(
    root: CID,
    signal: AbortSignal
  ): { get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> } {
    const fs = this
    const peer = this.#host.peer
    return {
      async *get(cid: CID): AsyncGenerator<Uint8Array> {
        const cache = await fs.#cache()
        const inMemory = cache.memory.has(cid)
        const cached = await cache.get(cid, { signal })
        if (cached != null) {
          if (inMemory) fs.#stats.blocksFromMemory++
          else fs.#stats.blocksFromDisk++
          yield cached
          return
        }
        const blockstore = peer.helia.blockstore
        if (await blockstore.has(cid)) {
          const bytes = await collectBytes(blockstore.get(cid, { signal, offline: true }))
          fs.#stats.blocksFromBlockstore++
          await cache.put(cid, bytes, { signal }).catch(() => {})
          yield bytes
          return
        }
        if (fs.useLibp2p) {
          const integration = await fs.#integration()
          if (integration == null)
            throw new NotFoundError(`${cid} is not held locally and no libp2p integration is set`)
          const bytes = await integration.handleCacheMiss(cid, { root, signal })
          fs.#stats.blocksFromLibp2p++
          yield bytes
          return
        }
        if (peer.offline) throw new NotFoundError(`${cid} is not held locally and the node is offline`)
        // the node's normal bitswap path (verified by Helia, stored in the blockstore)
        const bytes = await collectBytes(blockstore.get(cid, { signal }))
        fs.#stats.blocksFromNetwork++
        await cache.put(cid, bytes, { signal }).catch(() => {})
        yield bytes
      }
    }
  }

  #signal(options: AbortOptions): AbortSignal {
    return options.signal ?? AbortSignal.timeout(DEFAULT_NETWORK_TIMEOUT_MS)
  }

  async #entry(path: CIDOrPath, signal: AbortSignal): Promise<UnixFSEntry> {
    const { cid, path: sub } = parseCIDPath(path)
    try {
      return await exporter(sub == null ? cid : `${cid}/${sub}`, this.#source(cid, signal), { signal })
    } catch (err) {
      throw toKitError(err, String(path), signal)
    }
  }

  /** Stream a file's bytes (whole, or a range: only the blocks it needs are read). */
  async *catStream(path: CIDOrPath, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    for (const key of ['offset', 'length'] as const) {
      const v = options[key]
      if (v != null && (!Number.isSafeInteger(v) || v < 0)) {
        throw new InvalidParametersError(`${key} must be a whole number of bytes, 0 or more, not ${v}`)
      }
    }
    const signal = this.#signal(options)
    const entry = await this.#entry(path, signal)
    if (entry.type === 'directory' || entry.type === 'object') {
      throw new NotAFileError(`${String(path)} is a ${entry.type}, not a file`)
    }
    try {
      yield* entry.content({
        signal,
        offset: options.offset,
        length: options.length,
        blockReadConcurrency: ROUTING_BLOCK_CONCURRENCY
      })
    } catch (err) {
      throw toKitError(err, String(path), signal)
    }
  }

  /** A file's bytes (whole, or `{ offset, length }`). */
  async cat(path: CIDOrPath, options: ReadOptions = {}): Promise<Uint8Array> {
    return collectBytes(this.catStream(path, options))
  }

  /** A Node.js readable stream of a file's bytes. */
  open(path: CIDOrPath, options: ReadOptions = {}): Readable {
    return Readable.from(this.catStream(path, options), { objectMode: false })
  }

  /** The entries of a folder. */
  async ls(path: CIDOrPath, options: AbortOptions = {}): Promise<FileInfo[]> {
    const signal = this.#signal(options)
    const entry = await this.#entry(path, signal)
    const base = typeof path === 'string' ? path.replace(/\/+$/, '') : path.toString()
    if (entry.type !== 'directory') return [this.#info(entry, base)]
    const { cid: root } = parseCIDPath(path)
    const out: FileInfo[] = []
    try {
      for await (const child of entry.entries({ signal })) {
        const node = await exporter(child.cid, this.#source(root, signal), { signal })
        out.push(this.#info(node, `${base}/${child.name}`))
      }
    } catch (err) {
      throw toKitError(err, String(path), signal)
    }
    return out
  }

  #info(entry: UnixFSEntry, name: string): FileInfo {
    return { name, cid: entry.cid, size: Number(entry.size), type: kindOf(entry) }
  }

  /** What is at a path (fsspec's `info`). */
  async info(path: CIDOrPath, options: AbortOptions = {}): Promise<FileInfo> {
    const entry = await this.#entry(path, this.#signal(options))
    return this.#info(entry, typeof path === 'string' ? path : path.toString())
  }

  /** Same as {@link info}. */
  async stat(path: CIDOrPath, options: AbortOptions = {}): Promise<FileInfo> {
    return this.info(path, options)
  }

  /** True if the path resolves; false for a missing entry or content not found. */
  async exists(path: CIDOrPath, options: AbortOptions = {}): Promise<boolean> {
    try {
      await this.info(path, options)
      return true
    } catch (err) {
      if (
        err instanceof NotFoundError ||
        (err as Error).name === 'NotFoundError' ||
        (err as Error).name === 'TimeoutError'
      ) {
        return false
      }
      throw err
    }
  }

  /** Walk a folder tree, top down, as fsspec's `walk`: one `[path, dirs, files]` per folder. */
  async *walk(path: CIDOrPath, options: AbortOptions = {}): AsyncGenerator<[string, string[], string[]]> {
    const entries = await this.ls(path, options)
    const base = typeof path === 'string' ? path.replace(/\/+$/, '') : path.toString()
    const dirs = entries.filter((e) => e.type === 'directory')
    const files = entries.filter((e) => e.type !== 'directory')
    yield [
      base,
      dirs.map((d) => d.name.slice(base.length + 1)),
      files.map((f) => f.name.slice(base.length + 1))
    ]
    for (const d of dirs) yield* this.walk(d.name, options)
  }

  /** Write a file or folder to a local path. */
  async get(path: CIDOrPath, localPath: string, options: AbortOptions = {}): Promise<void> {
    const { cid, path: sub } = parseCIDPath(path)
    const signal = this.#signal(options)
    try {
      await exportTo(sub == null ? cid : `${cid}/${sub}`, this.#source(cid, signal), localPath, { signal })
    } catch (err) {
      throw toKitError(err, String(path), signal)
    }
  }

  /** Add a local file or folder; its CID. */
  async put(localPath: string, options: AbortOptions = {}): Promise<CID> {
    return (await this.#host.ipfsAddFile(localPath, options)).cid
  }
}
