import { createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { AbortOptions } from '@libp2p/interface'
import { exporter, type ReadableStorage, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { InvalidParametersError } from '../errors.ts'

function safeName(name: string): string {
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

/** Options of {@link exportTo}. */
export interface ExportOptions extends AbortOptions {
  /** read local blocks only: a missing block fails at once instead of being fetched @default false */
  offline?: boolean
}

async function writeEntry(
  entry: UnixFSEntry,
  out: string,
  blockstore: ReadableStorage,
  options: ExportOptions
): Promise<void> {
  options.signal?.throwIfAborted()
  const read = { signal: options.signal, offline: options.offline }
  if (entry.type === 'directory') {
    await mkdir(out, { recursive: true })
    for await (const child of entry.entries(read)) {
      const target = join(out, safeName(child.name))
      await writeEntry(await exporter(child.cid, blockstore, read), target, blockstore, options)
    }
    return
  }
  if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    await pipeline(entry.content(read), createWriteStream(out), { signal: options.signal })
    return
  }
  throw new InvalidParametersError(`${entry.cid} is a ${entry.type} node, not a UnixFS file or folder`)
}

/**
 * Write a UnixFS file or folder to `outPath` (a folder is created with its contents;
 * entry names that could escape `outPath` are refused).
 */
export async function exportTo(
  path: CID | string,
  blockstore: ReadableStorage,
  outPath: string,
  options: ExportOptions = {}
): Promise<void> {
  const entry = await exporter(path, blockstore, { signal: options.signal, offline: options.offline })
  await writeEntry(entry, outPath, blockstore, options)
}
