import type { Dirent, Stats } from 'node:fs'
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink } from 'node:fs/promises'
import { basename, join, relative, sep } from 'node:path'
import type { ImportCandidate } from 'ipfs-unixfs-importer'
import { PathNotFoundError } from '../errors.ts'

/** Options of adding a path from the local filesystem. */
export interface PathSourceOptions {
  /** include files and folders whose name starts with a dot @default false (as Kubo) */
  hidden?: boolean
  /** bytes read so far */
  onBytes?: (n: number) => void
  /**
   * called for each entry below a folder that is neither a file, a folder nor a symlink (a
   * FIFO, a socket, a device): it is skipped, as it has no bytes to add
   */
  onSkip?: (path: string, kind: string) => void
}

/** Read chunk size for files: one UnixFS chunk. */
const READ_CHUNK = 256 * 1024

async function* countBytes(
  source: AsyncIterable<Uint8Array>,
  onBytes?: (n: number) => void
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    onBytes?.(chunk.byteLength)
    yield chunk
  }
}

/** A file's bytes as a stream (memory does not grow with file size). */
export function fileContent(path: string, onBytes?: (n: number) => void): AsyncIterable<Uint8Array> {
  return countBytes(createReadStream(path, { highWaterMark: READ_CHUNK }), onBytes)
}

/** What a folder entry that cannot be added is, for a warning. */
export function specialKind(entry: Dirent | Stats): string {
  if (entry.isFIFO()) return 'a FIFO (named pipe)'
  if (entry.isSocket()) return 'a socket'
  if (entry.isCharacterDevice()) return 'a character device'
  if (entry.isBlockDevice()) return 'a block device'
  return 'not a file, folder or symlink'
}

/**
 * Importer candidates for a file, a symlink, or a folder and everything below it. Paths
 * are relative to the folder's parent, so the root entry is the folder's own name (as
 * `ipfs add -r`). Symbolic links are kept as UnixFS symlinks holding their target, never
 * followed (as Kubo); FIFOs, sockets and devices below a folder are skipped and reported
 * to `onSkip`.
 */
export async function pathCandidates(
  path: string,
  options: PathSourceOptions = {}
): Promise<AsyncIterable<ImportCandidate>> {
  let info: Stats
  try {
    info = await lstat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PathNotFoundError(`no such file or folder: ${path}`, { cause: err })
    }
    throw new PathNotFoundError(`cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
  const name = basename(path)
  if (info.isFile()) {
    return (async function* () {
      yield { path: name, content: fileContent(path, options.onBytes) }
    })()
  }
  if (info.isSymbolicLink()) {
    const link = await readlink(path)
    return (async function* () {
      yield { path: name, link }
    })()
  }
  if (!info.isDirectory()) {
    throw new PathNotFoundError(`${path} is neither a file, a folder nor a symlink (${specialKind(info)})`)
  }
  const parent = join(path, '..')
  return (async function* walk(dir: string): AsyncGenerator<ImportCandidate> {
    const entries = await readdir(dir, { withFileTypes: true })
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const rel = relative(parent, dir).split(sep).join('/')
    yield { path: rel }
    for (const entry of entries) {
      if (!options.hidden && entry.name.startsWith('.')) continue
      const full = join(dir, entry.name)
      if (entry.isDirectory()) yield* walk(full)
      else if (entry.isFile()) {
        yield { path: `${rel}/${entry.name}`, content: fileContent(full, options.onBytes) }
      } else if (entry.isSymbolicLink()) {
        yield { path: `${rel}/${entry.name}`, link: await readlink(full) }
      } else {
        options.onSkip?.(full, specialKind(entry))
      }
    }
  })(path)
}
