/**
 * The Mutable File System (Kubo's `ipfs files`): a UnixFS folder tree whose root CID is kept
 * in the repo's datastore under Kubo's key (`/local/filesroot`), so it survives restarts. Each
 * change rebuilds the folders on the path with `@helia/unixfs` (`cp`, `mkdir`, `rm`) and
 * stores the new root; changes are made one at a time. New folders and files take the CID
 * version of their folder (CIDv0 under the default root, as Kubo), files are written as
 * Kubo's `files write` writes them (see `mfs-file.ts`), so the same operations give Kubo's CIDs.
 *
 * @packageDocumentation
 */
import { posix } from 'node:path'
import type { Blocks } from '@helia/interface'
import { type UnixFS as HeliaUnixFS, unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import type { AbortOptions } from '@libp2p/interface'
import { type Datastore, Key } from 'interface-datastore'
import { UnixFS } from 'ipfs-unixfs'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import createMortice, { type Mortice } from 'mortice'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { collectBytes } from '../blocks/bytes.ts'
import { parseCIDPath, toKitError } from '../cids.ts'
import { MFS_ROOT_KEY } from '../constants.ts'
import {
  AlreadyExistsError,
  InvalidParametersError,
  IpfsKitError,
  IsADirectoryError,
  NotADirectoryError,
  NotAFileError,
  NotFoundError
} from '../errors.ts'
import { writeFile } from './mfs-file.ts'

/** What the MFS needs of a node. */
export interface MfsComponents {
  /** the node's blockstore (Helia's: missing blocks are fetched when online) */
  blockstore: Blocks
  /** where the root CID is kept */
  datastore: Datastore
  /** runs a change so that no `gc` comes between its blocks and its new root */
  guard: <T>(signal: AbortSignal, fn: () => Promise<T>) => Promise<T>
  /** the node is offline: missing blocks fail at once */
  offline?: () => boolean
}

/** An entry of `files ls` (Kubo's `NodeListing`, in TypeScript's case). */
export interface MfsEntry {
  name: string
  type: 'file' | 'directory'
  /** file size in bytes (0 for a folder, and without `long`) */
  size: number
  /** undefined without `long` */
  cid?: CID
}

/** What `files stat` tells (Kubo's `statOutput`). */
export interface MfsStat {
  cid: CID
  /** file size in bytes; 0 for a folder */
  size: number
  /** the node's block and every block below it, in bytes */
  cumulativeSize: number
  /** links of the node */
  blocks: number
  type: 'file' | 'directory' | 'symlink'
  /** UnixFS mode bits, when set */
  mode?: number
  /** UnixFS mtime, when set */
  mtime?: { secs: number; nsecs: number }
}

/** Options of {@link MutableFileSystem.write}. */
export interface MfsWriteOptions extends AbortOptions {
  /** create the file if it is missing (`-e`) @default false */
  create?: boolean
  /** create missing parent folders (`-p`) @default false */
  parents?: boolean
  /** empty the file first (`-t`) @default false */
  truncate?: boolean
  /** byte offset to write at (`-o`) @default 0 */
  offset?: number
  /** write at most this many bytes of the input (`-n`) @default all */
  count?: number
  /** new leaves as raw blocks @default true for a CIDv1 file, else false (as Kubo) */
  rawLeaves?: boolean
  /** CID version of a new file @default its folder's */
  cidVersion?: 0 | 1
}

/** A checked MFS path: its names, and whether it ended with `/`. */
interface MfsPath {
  text: string
  names: string[]
  dirSlash: boolean
}

/** Kubo's `checkPath`: not empty, starts with `/`, cleaned (`//`, `.`, `..`). */
export function parseMfsPath(path: string): MfsPath {
  if (typeof path !== 'string' || path === '') throw new InvalidParametersError('paths must not be empty')
  if (!path.startsWith('/')) {
    throw new InvalidParametersError(`paths must start with a leading slash: "${path.slice(0, 200)}"`)
  }
  if (path.includes('\0')) throw new InvalidParametersError('paths must not hold a NUL byte')
  const clean = posix.normalize(path).replace(/\/+$/, '') || '/'
  return {
    text: clean,
    names: clean.split('/').filter((n) => n !== ''),
    dirSlash: path.length > 1 && path.endsWith('/')
  }
}

const EMPTY_DIR_DATA = new UnixFS({ type: 'directory' }).marshal()

/** Whether the node stores a mode (Kubo prints "not set" otherwise); `ipfs-unixfs` keeps it as read. */
function modeSet(fs: UnixFS): boolean {
  return ((fs as unknown as { _originalMode?: number })._originalMode ?? 0) !== 0
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; code?: string }
  return e?.name === 'NotFoundError' || e?.code === 'ERR_NOT_FOUND'
}

function kind(entry: UnixFSEntry): 'file' | 'directory' | 'symlink' | 'other' {
  if (entry.type === 'directory') return 'directory'
  if (entry.type === 'raw' || entry.type === 'identity') return 'file'
  if (entry.type === 'file') return entry.unixfs.type === 'symlink' ? 'symlink' : 'file'
  return 'other'
}

/** Where a path leads: the folders on its way (root first), and the entry if it is there. */
interface Walk {
  /** the folder holding each name of the path, as far as they exist */
  dirs: CID[]
  entry?: UnixFSEntry
}

/**
 * Kubo's MFS over the node's blocks.
 *
 * @example
 * ```ts
 * await kit.files.mkdir('/docs', { parents: true })
 * await kit.files.write('/docs/a.txt', [new TextEncoder().encode('hi\n')], { create: true })
 * const { cid } = await kit.files.stat('/')
 * ```
 */
export class MutableFileSystem {
  readonly #components: MfsComponents
  readonly #fs: HeliaUnixFS
  readonly #lock: Mortice
  #root?: CID

  constructor(components: MfsComponents) {
    this.#components = components
    this.#fs = unixfs({ blockstore: components.blockstore })
    this.#lock = createMortice({ name: `ipfs-kit:mfs:${++instances}`, singleProcess: true })
  }

  #opts(options: AbortOptions): AbortOptions & { offline: boolean } {
    return { signal: options.signal, offline: this.#components.offline?.() ?? false }
  }

  async #block(cid: CID, options: AbortOptions): Promise<Uint8Array> {
    return collectBytes(this.#components.blockstore.get(cid, this.#opts(options)))
  }

  /** The root CID: the stored one, or a new empty folder (CIDv0, as Kubo's). */
  async root(options: AbortOptions = {}): Promise<CID> {
    if (this.#root != null) return this.#root
    const key = new Key(MFS_ROOT_KEY)
    try {
      this.#root = CID.decode(await this.#components.datastore.get(key, options))
    } catch (err) {
      if (!isNotFound(err)) throw toKitError(err, 'the MFS root')
      this.#root = await this.#emptyDir(0, options)
      await this.#components.datastore.put(key, this.#root.bytes, options)
    }
    return this.#root
  }

  async #emptyDir(version: 0 | 1, options: AbortOptions): Promise<CID> {
    const bytes = dagPb.encode({ Data: EMPTY_DIR_DATA, Links: [] })
    const cid = CID.create(version, dagPb.code, await sha256.digest(bytes))
    await this.#components.blockstore.put(cid, bytes, options)
    return cid
  }

  /** Run a change holding the MFS lock; `fn` returns the new root, which is stored. */
  async #change(options: AbortOptions, fn: (root: CID) => Promise<CID>): Promise<CID> {
    const signal = options.signal ?? AbortSignal.timeout(2 ** 31 - 1)
    const release = await this.#lock.writeLock({ signal })
    try {
      return await this.#components.guard(signal, async () => {
        const root = await this.root({ signal })
        let next: CID
        try {
          next = await fn(root)
        } catch (err) {
          throw err instanceof IpfsKitError ? err : toKitError(err, 'files', signal)
        }
        if (!next.equals(root)) {
          await this.#components.datastore.put(new Key(MFS_ROOT_KEY), next.bytes, { signal })
          this.#root = next
        }
        return next
      })
    } finally {
      release()
    }
  }

  /** Follow `names` from `root` as far as they go. */
  async #walk(root: CID, names: string[], options: AbortOptions): Promise<Walk> {
    const opts = this.#opts(options)
    let entry: UnixFSEntry
    try {
      entry = await exporter(root, this.#components.blockstore, opts)
    } catch (err) {
      throw toKitError(err, 'the MFS root', options.signal)
    }
    const dirs: CID[] = []
    for (const [i, name] of names.entries()) {
      if (entry.type !== 'directory') {
        throw new NotADirectoryError(`/${names.slice(0, i).join('/')} is not a directory`)
      }
      dirs.push(entry.cid)
      try {
        entry = await exporter(`${entry.cid}/${name}`, this.#components.blockstore, opts)
      } catch (err) {
        if (isNotFound(err)) return { dirs }
        throw toKitError(err, `/${names.slice(0, i + 1).join('/')}`, options.signal)
      }
    }
    return { dirs, entry }
  }

  /** The entry at an MFS path. */
  async #lookup(path: MfsPath, options: AbortOptions): Promise<UnixFSEntry> {
    const { entry } = await this.#walk(await this.root(options), path.names, options)
    if (entry == null) throw new NotFoundError(`${path.text}: file does not exist`)
    return entry
  }

  /** Put `child` (or remove the entry, if undefined) at `names`, rebuilding the folders above; the new root. */
  async #set(dirs: CID[], names: string[], child: CID | undefined, options: AbortOptions): Promise<CID> {
    const opts = { ...this.#opts(options), shardSplitStrategy: 'links-bytes' as const }
    let next = child
    for (let i = names.length - 1; i >= 0; i--) {
      const dir = dirs[i] as CID
      const name = names[i] as string
      next =
        next == null
          ? await this.#fs.rm(dir, name, opts)
          : await this.#fs.cp(next, dir, name, { ...opts, force: true })
    }
    if (next == null) throw new InvalidParametersError('cannot remove the root')
    return next
  }

  /** Make the folders of `names` missing below `dirs`; the folders of the whole path and the new root. */
  async #makeParents(
    root: CID,
    names: string[],
    version: 0 | 1 | undefined,
    options: AbortOptions
  ): Promise<{ root: CID; dirs: CID[] }> {
    const walk = await this.#walk(root, names, options)
    if (walk.entry != null) {
      if (walk.entry.type !== 'directory') {
        throw new NotADirectoryError(`/${names.join('/')} is not a directory`)
      }
      return { root, dirs: [...walk.dirs, walk.entry.cid] }
    }
    const have = walk.dirs.length
    const parent = walk.dirs[have - 1] as CID
    const v = version ?? (parent.version === 1 ? 1 : 0)
    let child = await this.#emptyDir(v, options)
    for (let i = names.length - 1; i > have - 1; i--) {
      child = await this.#fs.cp(
        child,
        await this.#emptyDir(v, options),
        names[i] as string,
        this.#opts(options)
      )
    }
    const newRoot = await this.#set(walk.dirs, names.slice(0, have), child, options)
    const again = await this.#walk(newRoot, names, options)
    return { root: newRoot, dirs: [...again.dirs, (again.entry as UnixFSEntry).cid] }
  }

  /** `files mkdir`: make a folder (`parents`: and the missing ones above; no error if it is there). */
  async mkdir(
    path: string,
    options: AbortOptions & { parents?: boolean; cidVersion?: 0 | 1 } = {}
  ): Promise<void> {
    const p = parseMfsPath(path)
    if (p.names.length === 0) throw new AlreadyExistsError("cannot create directory '/': Already exists")
    await this.#change(options, async (root) => {
      if (options.parents === true)
        return (await this.#makeParents(root, p.names, options.cidVersion, options)).root
      const walk = await this.#walk(root, p.names, options)
      if (walk.entry != null) throw new AlreadyExistsError(`${p.text}: file already exists`)
      if (walk.dirs.length < p.names.length) {
        throw new NotFoundError(`${p.text}: file does not exist (a parent folder is missing: use --parents)`)
      }
      const parent = walk.dirs.at(-1) as CID
      const dir = await this.#emptyDir(options.cidVersion ?? (parent.version === 1 ? 1 : 0), options)
      return this.#set(walk.dirs, p.names, dir, options)
    })
  }

  /** `files write`: write bytes into a file (see {@link MfsWriteOptions}). */
  async write(
    path: string,
    content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: MfsWriteOptions = {}
  ): Promise<void> {
    const p = parseMfsPath(path)
    for (const key of ['offset', 'count'] as const) {
      const v = options[key]
      if (v != null && (!Number.isSafeInteger(v) || v < 0)) {
        throw new InvalidParametersError(`${key} must be a whole number of bytes, 0 or more, not ${v}`)
      }
    }
    if (options.cidVersion === 0 && options.rawLeaves === true) {
      throw new InvalidParametersError('raw leaves need CIDv1 files: pass --cid-version 1 with --raw-leaves')
    }
    if (p.names.length === 0) throw new NotAFileError('/ was not a file')
    const blocks = {
      get: (cid: CID, o: AbortOptions) => this.#block(cid, o),
      put: async (cid: CID, bytes: Uint8Array, o: AbortOptions) => {
        await this.#components.blockstore.put(cid, bytes, o)
      }
    }
    await this.#change(options, async (root) => {
      let walk = await this.#walk(root, p.names, options)
      let base = root
      if (walk.entry != null) {
        if (kind(walk.entry) !== 'file') throw new NotAFileError(`${p.text} was not a file`)
      } else {
        if (options.create !== true) throw new NotFoundError(`${p.text}: file does not exist (use --create)`)
        if (p.dirSlash) throw new InvalidParametersError(`${path}: a file name cannot end with /`)
        if (walk.dirs.length < p.names.length) {
          if (options.parents !== true) {
            throw new NotFoundError(
              `${p.text}: file does not exist (a parent folder is missing: use --parents)`
            )
          }
          base = (await this.#makeParents(root, p.names.slice(0, -1), options.cidVersion, options)).root
          walk = await this.#walk(base, p.names, options)
        }
      }
      const parent = walk.dirs.at(-1) as CID
      const file = await writeFile(walk.entry?.cid, content, blocks, {
        ...options,
        cidVersion: options.cidVersion ?? (parent.version === 1 ? 1 : 0)
      })
      return this.#set(walk.dirs, p.names, file, options)
    })
  }

  /** `files read`: a file's bytes from `offset`, at most `count`. */
  async *read(
    path: string,
    options: AbortOptions & { offset?: number; count?: number } = {}
  ): AsyncGenerator<Uint8Array> {
    const p = parseMfsPath(path)
    const entry = await this.#lookup(p, options)
    if (kind(entry) !== 'file' || entry.type === 'directory' || entry.type === 'object') {
      throw new NotAFileError(`${p.text} was not a file`)
    }
    const offset = options.offset ?? 0
    if (offset > Number(entry.size)) {
      throw new InvalidParametersError(`offset was past end of file (${offset} > ${entry.size})`)
    }
    try {
      yield* entry.content({ ...this.#opts(options), offset, length: options.count })
    } catch (err) {
      throw toKitError(err, p.text, options.signal)
    }
  }

  /** `files ls`: a folder's entries in its own order, or the one file; `long` adds CIDs and sizes. */
  async ls(path = '/', options: AbortOptions & { long?: boolean } = {}): Promise<MfsEntry[]> {
    const p = parseMfsPath(path)
    const entry = await this.#lookup(p, options)
    const describe = async (name: string, cid: CID): Promise<MfsEntry> => {
      if (options.long !== true) return { name, type: 'file', size: 0 }
      const s = await this.#statCid(cid, options)
      return { name, type: s.type === 'directory' ? 'directory' : 'file', size: s.size, cid }
    }
    if (entry.type !== 'directory') return [await describe(p.names.at(-1) ?? '', entry.cid)]
    const out: MfsEntry[] = []
    try {
      for await (const child of entry.entries(this.#opts(options)))
        out.push(await describe(child.name, child.cid))
    } catch (err) {
      throw toKitError(err, p.text, options.signal)
    }
    return out
  }

  /** `files stat`: of an MFS path, or of an `/ipfs/…` path. */
  async stat(path: string, options: AbortOptions = {}): Promise<MfsStat> {
    return this.#statCid(await this.#resolve(path, options), options)
  }

  /** The CID at an MFS path or an `/ipfs/…` path. */
  async #resolve(path: string, options: AbortOptions): Promise<CID> {
    if (path.startsWith('/ipfs/')) {
      const { cid, path: sub } = parseCIDPath(path)
      if (sub == null) return cid
      try {
        return (await exporter(`${cid}/${sub}`, this.#components.blockstore, this.#opts(options))).cid
      } catch (err) {
        throw toKitError(err, path, options.signal)
      }
    }
    return (await this.#lookup(parseMfsPath(path), options)).cid
  }

  async #statCid(cid: CID, options: AbortOptions): Promise<MfsStat> {
    let bytes: Uint8Array
    try {
      bytes = await this.#block(cid, options)
    } catch (err) {
      throw toKitError(err, cid.toString(), options.signal)
    }
    if (cid.code === raw.code) {
      return { cid, size: bytes.byteLength, cumulativeSize: bytes.byteLength, blocks: 0, type: 'file' }
    }
    if (cid.code !== dagPb.code)
      throw new InvalidParametersError(`${cid} is not a UnixFS node (dag-pb or raw)`)
    const node = dagPb.decode(bytes)
    const fs = UnixFS.unmarshal(node.Data ?? new Uint8Array(0))
    const type = fs.isDirectory() ? 'directory' : fs.type === 'symlink' ? 'symlink' : 'file'
    return {
      cid,
      size: type === 'directory' ? 0 : Number(fs.fileSize()),
      cumulativeSize: bytes.byteLength + node.Links.reduce((n, l) => n + (l.Tsize ?? 0), 0),
      blocks: node.Links.length,
      type,
      // ipfs-unixfs reports a default mode when none is stored; the stored one is kept here
      ...(modeSet(fs) ? { mode: fs.mode } : {}),
      ...(fs.mtime == null ? {} : { mtime: { secs: Number(fs.mtime.secs), nsecs: fs.mtime.nsecs ?? 0 } })
    }
  }

  /** `files cp`: copy an MFS path or an `/ipfs/…` path to a new MFS path (`parents`: make its folders). */
  async cp(from: string, to: string, options: AbortOptions & { parents?: boolean } = {}): Promise<void> {
    const src = from.replace(/(.)\/+$/, '$1')
    const dst = parseMfsPath(to.endsWith('/') ? `${to}${posix.basename(src)}` : to)
    if (dst.names.length === 0) throw new AlreadyExistsError('cp: cannot put a node at /: it is the root')
    await this.#change(options, async (root) => {
      let cid: CID
      try {
        cid = await this.#resolve(src, options)
      } catch (err) {
        throw Object.assign(err as Error, {
          message: `cp: cannot get node from path ${src}: ${(err as Error).message}`
        })
      }
      let base = root
      if (options.parents === true && dst.names.length > 1) {
        base = (await this.#makeParents(root, dst.names.slice(0, -1), undefined, options)).root
      }
      const walk = await this.#walk(base, dst.names, options)
      if (walk.entry != null) {
        throw new AlreadyExistsError(
          `cp: cannot put node in path ${dst.text}: directory already has entry by that name`
        )
      }
      if (walk.dirs.length < dst.names.length) {
        throw new NotFoundError(
          `cp: cannot put node in path ${dst.text}: file does not exist (use --parents)`
        )
      }
      return this.#set(walk.dirs, dst.names, cid, options)
    })
  }

  /** `files mv`: move an entry; onto a file it replaces it, onto a folder it goes inside. */
  async mv(from: string, to: string, options: AbortOptions = {}): Promise<void> {
    const src = parseMfsPath(from)
    if (src.names.length === 0) throw new InvalidParametersError('cannot move the root')
    await this.#change(options, async (root) => {
      const source = await this.#walk(root, src.names, options)
      if (source.entry == null) throw new NotFoundError(`${src.text}: file does not exist`)
      let dst = parseMfsPath(to.endsWith('/') ? `${to}${src.names.at(-1)}` : to)
      let target = await this.#walk(root, dst.names, options)
      if (target.entry != null && target.entry.type === 'directory' && !to.endsWith('/')) {
        dst = parseMfsPath(`${dst.text}/${src.names.at(-1)}`)
        target = await this.#walk(root, dst.names, options)
        if (target.entry != null) {
          throw new AlreadyExistsError(`${dst.text}: directory already has entry by that name`)
        }
      }
      if (dst.text === src.text) return root
      if (dst.names.length > src.names.length && src.names.every((n, i) => dst.names[i] === n)) {
        throw new InvalidParametersError(`cannot move ${src.text} into itself (${dst.text})`)
      }
      if (target.entry != null && target.entry.type === 'directory') {
        throw new AlreadyExistsError(`${dst.text}: directory already has entry by that name`)
      }
      if (target.dirs.length < dst.names.length) throw new NotFoundError(`${dst.text}: file does not exist`)
      const placed = await this.#set(target.dirs, dst.names, source.entry.cid, options)
      const again = await this.#walk(placed, src.names, options)
      return this.#set(again.dirs, src.names, undefined, options)
    })
  }

  /** `files rm`: remove entries (folders need `recursive`; `force` ignores missing ones). */
  async rm(
    paths: string[],
    options: AbortOptions & { recursive?: boolean; force?: boolean } = {}
  ): Promise<void> {
    const checked = paths.map((path) => parseMfsPath(path))
    const failures: Error[] = []
    await this.#change(options, async (root) => {
      let next = root
      for (const p of checked) {
        if (p.names.length === 0) {
          failures.push(new InvalidParametersError(`${p.text}: cannot delete root`))
          continue
        }
        let walk: Walk
        try {
          walk = await this.#walk(next, p.names, options)
        } catch (err) {
          if (options.force === true && err instanceof NotADirectoryError) continue
          failures.push(err as Error)
          continue
        }
        if (walk.entry == null) {
          if (options.force !== true) failures.push(new NotFoundError(`${p.text}: file does not exist`))
          continue
        }
        if (walk.entry.type === 'directory' && options.recursive !== true && options.force !== true) {
          failures.push(new IsADirectoryError(`${p.text} is a directory, use -r to remove directories`))
          continue
        }
        next = await this.#set(walk.dirs, p.names, undefined, options)
      }
      return next
    })
    const first = failures[0]
    if (first == null) return
    if (failures.length === 1) throw first
    const Cls = first.constructor as new (message: string) => Error
    throw new Cls(`can't remove some files: ${failures.map((f) => f.message).join('; ')}`)
  }

  /** `files flush`: the CID at a path (every change is already stored). */
  async flush(path = '/', options: AbortOptions = {}): Promise<CID> {
    const p = parseMfsPath(path)
    if (p.names.length === 0) return this.root(options)
    return (await this.#lookup(p, options)).cid
  }

  /** `files chcid`: give a folder (the root by default) another CID version. */
  async chcid(path = '/', options: AbortOptions & { cidVersion?: 0 | 1 } = {}): Promise<void> {
    const p = parseMfsPath(path)
    if (options.cidVersion == null) return
    const version = options.cidVersion
    await this.#change(options, async (root) => {
      const walk = await this.#walk(root, p.names, options)
      if (walk.entry == null) throw new NotFoundError(`${p.text}: file does not exist`)
      if (walk.entry.type !== 'directory')
        throw new NotADirectoryError(`${p.text}: can only update directories`)
      const old = walk.entry.cid
      if (old.version === version) return root
      const cid = CID.create(version, dagPb.code, old.multihash)
      await this.#components.blockstore.put(cid, await this.#block(old, options), options)
      return p.names.length === 0 ? cid : this.#set(walk.dirs, p.names, cid, options)
    })
  }

  /**
   * The multihashes (base58btc) of the MFS tree's blocks held locally, for `gc` to keep;
   * blocks never fetched (a `cp` of remote content) are not walked.
   */
  async localBlocks(options: AbortOptions = {}): Promise<Set<string>> {
    const keep = new Set<string>()
    const stack = [await this.root(options)]
    const store = this.#components.blockstore
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      const key = base58btc.encode(cid.multihash.bytes)
      if (keep.has(key)) continue
      if (!(await store.has(cid, options))) continue
      keep.add(key)
      if (cid.code !== dagPb.code) continue
      const node = dagPb.decode(await collectBytes(store.get(cid, { ...options, offline: true })))
      for (const link of node.Links) stack.push(link.Hash)
    }
    return keep
  }

  /** Release the lock's resources. */
  close(): void {
    this.#lock.finalize()
  }
}

/** MFS instances made in this process: each gets a lock of its own. */
let instances = 0
