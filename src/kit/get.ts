/**
 * Writing UnixFS content to disk (`get`), locally or from the daemon's tar stream: files,
 * folders and symlinks, never outside the output folder and never through a symlink.
 *
 * @packageDocumentation
 */
import { constants } from 'node:fs'
import { lstat, mkdir, open, symlink, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { AbortOptions } from '@libp2p/interface'
import { exporter, type ReadableStorage, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { InvalidParametersError, UnsafeSymlinkError } from '../errors.ts'
import type { LsEntry } from './types.ts'

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** The target of a UnixFS symlink node, or undefined for any other entry. */
export function symlinkTarget(entry: UnixFSEntry): string | undefined {
  if (entry.type !== 'file' || entry.unixfs.type !== 'symlink') return undefined
  const data = entry.unixfs.data ?? new Uint8Array(0)
  try {
    return strictUtf8.decode(data)
  } catch (err) {
    throw new UnsafeSymlinkError(`symlink ${entry.cid} has a target that is not UTF-8 text`, { cause: err })
  }
}

/**
 * `ls` fields of an entry, as Kubo gives them: a symlink is type `symlink` with its
 * `Target` and size 0 (it has no file size); files and folders their size.
 */
export function lsFields(node: UnixFSEntry): Pick<LsEntry, 'Size' | 'Type' | 'Target'> {
  const target = symlinkTarget(node)
  if (target != null) return { Size: 0, Type: 'symlink', Target: target }
  const type = node.type === 'directory' || node.type === 'file' || node.type === 'raw' ? node.type : 'other'
  return { Size: Number(node.size), Type: type }
}

/** A folder entry name, or a refusal: it must be one plain path segment. */
export function safeName(name: string): string {
  if (
    name === '' ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('\0')
  ) {
    throw new InvalidParametersError(
      `refusing to write a folder entry named ${JSON.stringify(name)}: not a plain name`
    )
  }
  return name
}

/**
 * Refuse a symlink target that could lead outside the output folder. `at` is the link's
 * path below the output folder (`[]` for the output itself, whose folder is the one holding
 * it). A target is taken when it is relative, not empty, in plain form (any `..` segments
 * lead it: `../../a/b`, never `a/../..`, which could climb through another link) and does
 * not climb above the output folder. Such a target, resolved from a real folder, stays
 * inside whatever links it passes (each of which is held to the same rule).
 * @throws {UnsafeSymlinkError}
 */
export function checkSymlinkTarget(at: readonly string[], target: string): void {
  const where = at.length === 0 ? 'the output' : at.join('/')
  const refuse = (why: string): never => {
    throw new UnsafeSymlinkError(`refusing symlink ${where} -> ${JSON.stringify(target)}: ${why}`)
  }
  if (target === '') refuse('its target is empty')
  if (target.includes('\0')) refuse('its target holds a NUL byte')
  if (target.startsWith('/')) refuse('its target is an absolute path')
  let up = 0
  let named = false
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue
    if (part !== '..') named = true
    else if (named) refuse('its target climbs back up after a name (not in plain form)')
    else up++
  }
  if (up > Math.max(0, at.length - 1)) refuse('its target resolves outside the output folder')
}

/** True if `err` is a system error with `code`. */
function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException)?.code === code
}

async function lstatOrUndefined(path: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try {
    return await lstat(path)
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined
    throw err
  }
}

/** Write a file without following a symlink at its path (`O_NOFOLLOW`). */
const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW

/**
 * The output of one `get`: a file, folder or symlink at `root`, and the entries below it,
 * each given by its path segments below `root`. No entry is written through a symlink: a
 * link on disk where a parent folder should be is refused, one where the entry itself goes
 * is replaced (the link, never its target). Symlink targets are checked with
 * {@link checkSymlinkTarget} before anything is written for them.
 */
export class OutputTree {
  readonly root: string
  /** the parent folder last checked (entries come parents first, so most checks are free) */
  #checked: string[] | undefined

  constructor(root: string) {
    this.root = root
  }

  #path(at: readonly string[]): string {
    return at.length === 0 ? this.root : join(this.root, ...at.map(safeName))
  }

  /** Make sure every folder above `at` (below the root) is a real folder, creating missing ones. */
  async #parents(at: readonly string[]): Promise<void> {
    if (at.length === 0) {
      await mkdir(dirname(this.root), { recursive: true })
      return
    }
    if (this.#checked == null) await mkdir(this.root, { recursive: true })
    const parent = at.slice(0, -1)
    let same = 0
    const checked = this.#checked ?? []
    while (same < parent.length && same < checked.length && parent[same] === checked[same]) same++
    for (let i = same; i < parent.length; i++) {
      const dir = this.#path(parent.slice(0, i + 1))
      const info = await lstatOrUndefined(dir)
      if (info == null) await mkdir(dir)
      else if (info.isSymbolicLink()) {
        throw new UnsafeSymlinkError(
          `refusing to write ${at.join('/')} through the symlink ${parent.slice(0, i + 1).join('/')}`
        )
      } else if (!info.isDirectory()) {
        throw new InvalidParametersError(
          `cannot write ${at.join('/')}: ${parent.slice(0, i + 1).join('/')} is not a folder`
        )
      }
    }
    this.#checked = parent
  }

  /** Remove a symlink (or, with `files`, a file) in the way of an entry; never a folder. */
  async #clear(path: string, files: boolean): Promise<'none' | 'folder' | 'cleared'> {
    const info = await lstatOrUndefined(path)
    if (info == null) return 'none'
    if (info.isDirectory()) return 'folder'
    if (info.isSymbolicLink() || files) {
      await unlink(path)
      return 'cleared'
    }
    return 'none'
  }

  /** A folder at `at`. */
  async directory(at: readonly string[]): Promise<void> {
    const path = this.#path(at)
    if (at.length === 0) {
      await mkdir(path, { recursive: true })
      return
    }
    await this.#parents(at)
    if ((await this.#clear(path, false)) !== 'folder') await mkdir(path)
  }

  /** A file at `at` with `content` (streamed: memory does not grow with its size). */
  async file(
    at: readonly string[],
    content: AsyncIterable<Uint8Array>,
    options: AbortOptions = {}
  ): Promise<void> {
    const path = this.#path(at)
    await this.#parents(at)
    await this.#clear(path, false)
    const handle = await open(path, FILE_FLAGS, 0o644)
    try {
      await pipeline(content, handle.createWriteStream(), { signal: options.signal })
    } finally {
      await handle.close().catch(() => {})
    }
  }

  /** A symlink at `at` to `target`, if {@link checkSymlinkTarget} takes it (else nothing is written). */
  async symlink(at: readonly string[], target: string): Promise<void> {
    checkSymlinkTarget(at, target)
    const path = this.#path(at)
    await this.#parents(at)
    if ((await this.#clear(path, true)) === 'folder') {
      throw new InvalidParametersError(
        `cannot write symlink ${at.length === 0 ? path : at.join('/')}: a folder is in its place`
      )
    }
    await symlink(target, path)
  }
}

/** Options of {@link exportTo}. */
export interface ExportOptions extends AbortOptions {
  /** read local blocks only: a missing block fails at once instead of being fetched @default false */
  offline?: boolean
}

async function writeEntry(
  entry: UnixFSEntry,
  at: string[],
  out: OutputTree,
  blockstore: ReadableStorage,
  options: ExportOptions
): Promise<void> {
  options.signal?.throwIfAborted()
  const read = { signal: options.signal, offline: options.offline }
  if (entry.type === 'directory') {
    await out.directory(at)
    for await (const child of entry.entries(read)) {
      const name = safeName(child.name)
      await writeEntry(await exporter(child.cid, blockstore, read), [...at, name], out, blockstore, options)
    }
    return
  }
  const target = symlinkTarget(entry)
  if (target != null) {
    await out.symlink(at, target)
    return
  }
  if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    await out.file(at, entry.content(read), { signal: options.signal })
    return
  }
  throw new InvalidParametersError(`${entry.cid} is a ${entry.type} node, not a UnixFS file or folder`)
}

/**
 * Write a UnixFS file, folder or symlink to `outPath` (a folder is created with its
 * contents). Entry names that could escape `outPath` are refused, and so are symlinks whose
 * target could (see {@link OutputTree}).
 */
export async function exportTo(
  path: CID | string,
  blockstore: ReadableStorage,
  outPath: string,
  options: ExportOptions = {}
): Promise<void> {
  const entry = await exporter(path, blockstore, { signal: options.signal, offline: options.offline })
  await writeEntry(entry, [], new OutputTree(outPath), blockstore, options)
}
