/**
 * The disk tier's LevelDB index (`<dir>/index`): one JSON record per block, keyed by its cache key,
 * and the reconciliation of index and files when the tier starts.
 *
 * @packageDocumentation
 */

import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { RepoLockedError } from '../errors.ts'
import type { DiskTierStore } from './index.ts'
import { cacheKey, shardOf } from './key.ts'

/** What the index stores per block. */
export interface IndexRecord {
  /** the CID the block was stored under */
  cid: string
  /** bytes of the block file */
  size: number
  /** heat at `lastAccess` */
  heat: number
  /** ms since the epoch of the last read (or of the write) */
  lastAccess: number
  /** ms since the epoch of the write */
  created: number
}

/** A block held by the disk tier, in memory. */
export interface DiskEntry {
  /** cache key: file name and index key */
  key: string
  /** the CID the block was stored under */
  cid: CID
  /** bytes of the block file */
  size: number
  /** heat at `lastAccess` */
  heat: number
  /** ms since the epoch of the last read (or of the write) */
  lastAccess: number
  /** ms since the epoch of the write */
  created: number
}

/** The index database. */
export type IndexDb = ClassicLevel<string, IndexRecord>

/** What {@link reconcile} found. */
export interface Reconciled {
  /** the blocks, least recently used first */
  entries: DiskEntry[]
  /** shard folders that exist */
  shards: string[]
  /** index entries dropped because their file was missing */
  missingDropped: number
  /** temp files and unindexed block files removed */
  orphansRemoved: number
}

/**
 * Open the index at `<dir>/index`.
 *
 * @throws RepoLockedError if another process has it open
 */
export async function openIndex(dir: string): Promise<IndexDb> {
  const location = join(dir, 'index')
  const db: IndexDb = new ClassicLevel<string, IndexRecord>(location, { valueEncoding: 'json' })
  try {
    await db.open()
  } catch (err) {
    if (isCode((err as { cause?: unknown }).cause, 'LEVEL_LOCKED')) {
      throw new RepoLockedError(`the cache index ${location} is in use by another process`, { cause: err })
    }
    throw err
  }
  return db
}

/**
 * Make index and files agree: remove every temp file (an interrupted write), drop index entries
 * whose file is missing (and malformed ones), remove block files without an entry (a crash between
 * rename and index write).
 */
export async function reconcile(db: IndexDb, dir: string): Promise<Reconciled> {
  let orphansRemoved = 0
  const tmp = join(dir, 'tmp')
  for (const name of await readdir(tmp)) {
    await rm(join(tmp, name), { recursive: true, force: true })
    orphansRemoved++
  }
  const loaded = new Map<string, DiskEntry>()
  const stale: string[] = []
  for await (const [key, record] of db.iterator()) {
    const entry = fromRecord(key, record)
    if (entry == null) {
      stale.push(key)
    } else {
      loaded.set(key, entry)
    }
  }
  const present = new Set<string>()
  const shards: string[] = []
  for (const shard of await readdir(dir, { withFileTypes: true })) {
    if (!shard.isDirectory() || shard.name.length !== 2) {
      continue
    }
    shards.push(shard.name)
    for (const name of await readdir(join(dir, shard.name))) {
      if (loaded.has(name) && shardOf(name) === shard.name) {
        present.add(name)
      } else {
        await rm(join(dir, shard.name, name), { recursive: true, force: true })
        orphansRemoved++
      }
    }
  }
  let missingDropped = 0
  for (const key of loaded.keys()) {
    if (!present.has(key)) {
      loaded.delete(key)
      stale.push(key)
      missingDropped++
    }
  }
  await db.batch(stale.map((key) => ({ type: 'del' as const, key })))
  const entries = [...loaded.values()].sort((a, b) => a.lastAccess - b.lastAccess)
  return { entries, shards, missingDropped, orphansRemoved }
}

/**
 * Make the index of a tier over a block store agree with the store: remove temp files and the
 * files of an earlier file-backed tier (copies: the store is the one copy now), and drop index
 * entries (and malformed ones) whose block the store does not hold.
 */
export async function reconcileWithStore(
  db: IndexDb,
  dir: string,
  store: DiskTierStore
): Promise<Reconciled> {
  let orphansRemoved = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const legacyShard = entry.isDirectory() && entry.name.length === 2
    if (!legacyShard && entry.name !== 'tmp') continue
    for (const name of await readdir(join(dir, entry.name))) {
      await rm(join(dir, entry.name, name), { recursive: true, force: true })
      orphansRemoved++
    }
    if (legacyShard) await rm(join(dir, entry.name), { recursive: true, force: true })
  }
  const entries: DiskEntry[] = []
  const stale: string[] = []
  let missingDropped = 0
  for await (const [key, record] of db.iterator()) {
    const entry = fromRecord(key, record)
    if (entry == null) {
      stale.push(key)
    } else if (await store.has(entry.cid)) {
      entries.push(entry)
    } else {
      stale.push(key)
      missingDropped++
    }
  }
  await db.batch(stale.map((key) => ({ type: 'del' as const, key })))
  entries.sort((a, b) => a.lastAccess - b.lastAccess)
  return { entries, shards: [], missingDropped, orphansRemoved }
}

/** The index record of an entry. */
export function toRecord(entry: DiskEntry): IndexRecord {
  return {
    cid: entry.cid.toString(),
    size: entry.size,
    heat: entry.heat,
    lastAccess: entry.lastAccess,
    created: entry.created
  }
}

/** Parse an index record defensively: `undefined` for a malformed one. */
export function fromRecord(key: string, record: unknown): DiskEntry | undefined {
  if (record == null || typeof record !== 'object') {
    return undefined
  }
  const { cid, size, heat, lastAccess, created } = record as Partial<Record<keyof IndexRecord, unknown>>
  if (typeof cid !== 'string' || !isCount(size) || typeof heat !== 'number' || !Number.isFinite(heat)) {
    return undefined
  }
  if (typeof lastAccess !== 'number' || typeof created !== 'number') {
    return undefined
  }
  try {
    const parsed = CID.parse(cid)
    return cacheKey(parsed) === key ? { key, cid: parsed, size, heat, lastAccess, created } : undefined
  } catch {
    return undefined
  }
}

/** Whether `err` carries the error code `code` (Node's `ENOENT`, Level's `LEVEL_LOCKED`, …). */
export function isCode(err: unknown, code: string): boolean {
  return err != null && typeof err === 'object' && (err as { code?: unknown }).code === code
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}
