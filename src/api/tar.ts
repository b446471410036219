/**
 * Tar streams as `ipfs get` sends folders, written and read with `tar-stream` (POSIX ustar,
 * PAX records read by their length prefix, GNU long names). Both sides stream: a file's
 * bytes pass through as they are read, never held whole.
 *
 * @packageDocumentation
 */

import type { Blockstore } from 'interface-blockstore'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import { extract as tarExtract, pack as tarPack } from 'tar-stream'
import { InvalidArchiveError, InvalidParametersError } from '../errors.ts'
import { symlinkTarget } from '../kit/get.ts'
import { type DrainableSink, drained } from './drained.ts'

/** One entry to write. */
export interface TarEntry {
  /** path inside the archive, `/`-separated, no leading `/` */
  name: string
  type: 'file' | 'directory' | 'symlink'
  /** bytes of a file (its content must yield exactly this many) */
  size?: number
  /** @default 0o644 for files and symlinks, 0o755 for folders */
  mode?: number
  /** seconds since the epoch @default 0 */
  mtime?: number
  content?: AsyncIterable<Uint8Array>
  /** a symlink's target */
  linkname?: string
}

/** What a tar stream's writable side needs from `tar-stream`'s entry sink (a streamx Writable). */
interface Sink extends DrainableSink {
  write(chunk: Uint8Array): boolean
  end(): void
}

function headerOf(entry: TarEntry): Parameters<ReturnType<typeof tarPack>['entry']>[0] {
  const type = entry.type
  // a trailing `/` marks a folder (as before, and as GNU tar writes them)
  const name = type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name
  return {
    name,
    type,
    size: type === 'file' ? (entry.size ?? 0) : 0,
    mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644),
    mtime: new Date((entry.mtime ?? 0) * 1000),
    ...(type === 'symlink' ? { linkname: entry.linkname ?? '' } : {})
  }
}

async function writeEntry(pack: ReturnType<typeof tarPack>, entry: TarEntry): Promise<void> {
  if (entry.type === 'symlink' && (entry.linkname == null || entry.linkname === '')) {
    throw new InvalidParametersError(`${entry.name}: a symlink needs a target`)
  }
  let finished!: (err?: Error | null) => void
  const done = new Promise<void>((resolve, reject) => {
    finished = (err) => (err == null ? resolve() : reject(err))
  })
  // awaited below unless the content fails first; never an unhandled rejection
  done.catch(() => {})
  const sink = pack.entry(headerOf(entry), (err) => finished(err)) as unknown as Sink
  if (entry.type === 'file') {
    const size = entry.size ?? 0
    let written = 0
    for await (const chunk of entry.content ?? []) {
      written += chunk.byteLength
      if (written > size) break
      if (!sink.write(chunk)) await drained(sink)
      if (sink.destroyed) break
    }
    if (written !== size) {
      throw new InvalidParametersError(`${entry.name}: expected ${size} bytes, read ${written}`)
    }
    sink.end()
  }
  await done
}

/**
 * Write entries as a tar stream, ending with the two zero blocks. A failure (of `entries`
 * or of a file's content) ends the stream with that error, without the end blocks.
 * Memory stays bounded: a file's next chunk is read only once the previous one was taken.
 */
export async function* tarStream(entries: AsyncIterable<TarEntry>): AsyncGenerator<Uint8Array> {
  const pack = tarPack()
  let failure: unknown
  const feed = (async () => {
    try {
      for await (const entry of entries) {
        if (pack.destroyed) return
        await writeEntry(pack, entry)
      }
      pack.finalize()
    } catch (err) {
      failure = err
      pack.destroy(err as Error)
    }
  })()
  try {
    for await (const chunk of pack as AsyncIterable<Uint8Array>) yield chunk
  } catch (err) {
    throw failure ?? err
  } finally {
    if (!pack.destroyed) pack.destroy()
    await feed
  }
  if (failure != null) throw failure
}

/** One entry read from a tar stream; its content must be read whole, or not at all, before the next. */
export interface TarReadEntry {
  name: string
  type: 'file' | 'directory' | 'symlink' | 'other'
  size: number
  /** a symlink's target ('' for other entries) */
  linkname: string
  content: AsyncIterable<Uint8Array>
}

/** The end-of-archive marker: two zero blocks. */
const END_BYTES = 1024

function kindOf(type: string | null | undefined): TarReadEntry['type'] {
  if (type === 'file' || type === 'contiguous-file') return 'file'
  if (type === 'directory' || type === 'symlink') return type
  return 'other'
}

function archiveError(err: unknown): Error {
  if (err instanceof InvalidArchiveError) return err
  return new InvalidArchiveError(`the tar archive cannot be read: ${(err as Error).message}`, { cause: err })
}

/** The last {@link END_BYTES} bytes of a stream, kept as it passes. */
class Tail {
  readonly #bytes = new Uint8Array(END_BYTES)
  #seen = 0

  add(chunk: Uint8Array): void {
    const take = chunk.subarray(Math.max(0, chunk.byteLength - END_BYTES))
    const keep = END_BYTES - take.byteLength
    this.#bytes.copyWithin(0, END_BYTES - keep)
    this.#bytes.set(take, keep)
    this.#seen += chunk.byteLength
  }

  /** True if the stream ended with the two zero blocks. */
  get ended(): boolean {
    return this.#seen >= END_BYTES && this.#bytes.every((b) => b === 0)
  }
}

/**
 * Read a tar stream (ustar, PAX records by their length, GNU long names). A corrupt or
 * truncated archive, or one without its end-of-archive blocks, fails with
 * {@link InvalidArchiveError}; an error of `source` itself is passed on as it is.
 */
export async function* untar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarReadEntry> {
  const extract = tarExtract()
  const tail = new Tail()
  let sourceError: unknown
  const feed = (async () => {
    try {
      for await (const chunk of source) {
        if (extract.destroyed) return
        tail.add(chunk)
        if (!extract.write(chunk)) await drained(extract as unknown as Sink)
      }
      ;(extract as unknown as Sink).end()
    } catch (err) {
      sourceError = err
      extract.destroy(err as Error)
    }
  })()
  const failed = (err: unknown): unknown => sourceError ?? archiveError(err)
  let complete = false
  try {
    const entries = extract[Symbol.asyncIterator]()
    for (;;) {
      let next: Awaited<ReturnType<typeof entries.next>>
      try {
        next = await entries.next()
      } catch (err) {
        throw failed(err)
      }
      if (next.done === true) break
      const stream = next.value
      const header = stream.header
      const content = (async function* () {
        try {
          for await (const chunk of stream as AsyncIterable<Uint8Array>) yield chunk
        } catch (err) {
          throw failed(err)
        }
      })()
      yield {
        name: header.name.replace(/\/+$/, ''),
        type: kindOf(header.type),
        size: header.size ?? 0,
        linkname: header.linkname ?? '',
        content
      }
      // whatever the consumer left unread
      for await (const _ of content) {
        // dropped
      }
    }
    await feed
    if (sourceError != null) throw sourceError
    if (!tail.ended)
      throw new InvalidArchiveError('the tar archive is truncated: it has no end-of-archive blocks')
    complete = true
  } finally {
    if (!complete && !extract.destroyed) extract.destroy()
    // the feed ends at its next chunk (a consumer that stops early closes `source` itself)
    feed.catch(() => {})
  }
}

function checkName(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new InvalidParametersError(
      `refusing a folder entry named ${JSON.stringify(name)}: not a plain name`
    )
  }
  return name
}

/** The tar entries of a UnixFS file or folder, named under `name`. */
export async function* unixfsTarEntries(
  entry: UnixFSEntry,
  name: string,
  blockstore: Blockstore,
  signal: AbortSignal
): AsyncGenerator<TarEntry> {
  const mtime =
    entry.type === 'file' || entry.type === 'directory' ? Number(entry.unixfs.mtime?.secs ?? 0) : 0
  const target = symlinkTarget(entry)
  if (target != null) {
    // the archive carries the link as it is (as Kubo's); the client decides whether to write it
    if (target === '' || target.includes('\0')) {
      throw new InvalidParametersError(`symlink ${name} has a target a tar archive cannot hold`)
    }
    yield {
      name,
      type: 'symlink',
      linkname: target,
      mtime,
      mode: entry.type === 'file' ? entry.unixfs.mode : undefined
    }
    return
  }
  if (entry.type === 'directory') {
    yield { name, type: 'directory', mtime, mode: entry.unixfs.mode }
    for await (const child of entry.entries({ signal })) {
      const node = await exporter(child.cid, blockstore, { signal })
      yield* unixfsTarEntries(node, `${name}/${checkName(child.name)}`, blockstore, signal)
    }
    return
  }
  if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    yield {
      name,
      type: 'file',
      size: Number(entry.size),
      mtime,
      mode: entry.type === 'file' ? entry.unixfs.mode : undefined,
      content: entry.content({ signal })
    }
    return
  }
  throw new InvalidParametersError(`${entry.cid} is a ${entry.type} node, not a UnixFS file or folder`)
}
