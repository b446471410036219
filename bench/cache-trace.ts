/**
 * The scan-plus-hot-set trace shared by test/cache/arc.test.ts and bench/cache.ts: a hot set that
 * fits in the memory tier, read at random, interleaved with one pass over a scan many times larger
 * than the memory tier. LRU lets the scan flush the hot set; ARC keeps it in T2.
 */

import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { CachePolicy } from '../src/cache/index.ts'
import { MemoryTier } from '../src/cache/index.ts'

/** A block of the trace. */
export interface TraceBlock {
  /** its CID (v1, raw, sha2-256) */
  cid: CID
  /** its bytes */
  bytes: Uint8Array
}

/** Shape of the trace. */
export interface ScanHotTraceInit {
  /** blocks in the hot set */
  hotBlocks: number
  /** blocks in the one-pass scan */
  scanBlocks: number
  /** bytes per block */
  blockSize: number
  /** hot reads after each scan read */
  hotPerScan: number
  /** seed of the PRNG choosing hot blocks */
  seed: number
}

/** The trace: its blocks and the sequence of block indexes read. */
export interface ScanHotTrace {
  /** hot blocks first, then scan blocks */
  blocks: TraceBlock[]
  /** indexes into `blocks`, in read order */
  reads: number[]
}

/** Default shape: 40 hot blocks (160 KiB) and a 2,048-block (8 MiB) scan of 4 KiB blocks. */
export const DEFAULT_TRACE: ScanHotTraceInit = {
  hotBlocks: 40,
  scanBlocks: 2048,
  blockSize: 4096,
  hotPerScan: 1,
  seed: 42
}

/** mulberry32: a seeded PRNG returning floats in [0, 1). */
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

/**
 * Build the trace: the hot set is read twice (warm-up), then every scan block is read once, each
 * followed by `hotPerScan` reads of random hot blocks.
 */
export async function scanHotTrace(init: ScanHotTraceInit = DEFAULT_TRACE): Promise<ScanHotTrace> {
  const random = prng(init.seed)
  const blocks: TraceBlock[] = []
  for (let i = 0; i < init.hotBlocks + init.scanBlocks; i++) {
    const bytes = new Uint8Array(init.blockSize)
    for (let j = 0; j < bytes.length; j += 4) {
      new DataView(bytes.buffer).setUint32(j, Math.floor(random() * 2 ** 32))
    }
    blocks.push({ cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes })
  }
  const reads: number[] = []
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < init.hotBlocks; i++) {
      reads.push(i)
    }
  }
  for (let s = 0; s < init.scanBlocks; s++) {
    reads.push(init.hotBlocks + s)
    for (let k = 0; k < init.hotPerScan; k++) {
      reads.push(Math.floor(random() * init.hotBlocks))
    }
  }
  return { blocks, reads }
}

/** Replay the trace against a memory tier (a miss is followed by a put); returns its hit ratio. */
export async function replay(trace: ScanHotTrace, policy: CachePolicy, maxBytes: number): Promise<number> {
  const tier = new MemoryTier({ maxBytes, policy })
  for (const index of trace.reads) {
    const block = trace.blocks[index]
    if (block == null) {
      throw new RangeError(`trace reads block ${index} of ${trace.blocks.length}`)
    }
    if ((await tier.get(block.cid)) == null) {
      await tier.put(block.cid, block.bytes)
    }
  }
  return tier.getStats().hitRatio
}
