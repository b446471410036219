/**
 * Test helpers for the cache: deterministic blocks, a seeded PRNG, temp folders and a measure of
 * the bytes really held on disk.
 */

import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

/** A block: bytes and the CID they hash to. */
export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A deterministic raw block of `size` bytes derived from `seed` (CIDv1, raw, sha2-256). */
export async function makeBlock(seed: number, size: number): Promise<Block> {
  const random = prng(seed * 7919 + size)
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) {
    bytes[i] = Math.floor(random() * 256)
  }
  const digest = await sha256.digest(bytes)
  return { cid: CID.createV1(raw.code, digest), bytes }
}

/** `count` blocks with sizes drawn uniformly from [minSize, maxSize] by a seeded PRNG. */
export async function makeBlocks(
  count: number,
  minSize: number,
  maxSize: number,
  seed = 1
): Promise<Block[]> {
  const random = prng(seed)
  const blocks: Block[] = []
  for (let i = 0; i < count; i++) {
    const size = minSize + Math.floor(random() * (maxSize - minSize + 1))
    blocks.push(await makeBlock(seed * 100_000 + i, size))
  }
  return blocks
}

/** A fresh folder under the OS temp folder. */
export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ipfs-kit-cache-'))
}

/** Remove a temp folder. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/**
 * Bytes of every file the disk tier holds in `dir`, measured with `fs.stat`: the block files in the
 * shard folders and any temp file (the LevelDB index is not counted).
 */
export async function diskBytes(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === 'index') {
      continue
    }
    for (const name of await readdir(join(dir, entry.name))) {
      total += (await stat(join(dir, entry.name, name))).size
    }
  }
  return total
}

/** Block files (not temp files, not the index) present in `dir`. */
export async function diskFiles(dir: string): Promise<string[]> {
  const files: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name.length === 2) {
      for (const name of await readdir(join(dir, entry.name))) {
        files.push(join(dir, entry.name, name))
      }
    }
  }
  return files
}
