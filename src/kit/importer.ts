import type { ImporterOptions } from 'ipfs-unixfs-importer'
import { type Chunker, fixedSize, rabin } from 'ipfs-unixfs-importer/chunker'
import { balanced, trickle } from 'ipfs-unixfs-importer/layout'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256 } from 'multiformats/hashes/sha2'
import { DEFAULT_MAX_CHILDREN_PER_NODE, TRICKLE_LAYER_REPEAT } from '../constants.ts'
import { buzhash } from './buzhash.ts'
import { type ChunkerSpec, type ImportSettings, resolveImport } from './import-options.ts'

/** Options of every add, as Kubo's `ipfs add` flags. */
export interface AddOptions extends ImportSettings {
  /** @default DEFAULT_CID_VERSION (0); 1 with a hash other than sha2-256 (as Kubo) */
  cidVersion?: 0 | 1
  /** @default false with CIDv0, true with CIDv1 (as Kubo) */
  rawLeaves?: boolean
  /** fixed chunk size in bytes (or use `chunker`) @default DEFAULT_CHUNK_SIZE (256 KiB) */
  chunkSize?: number
  /**
   * Kubo's chunker spec: `size-<bytes>`, `rabin`, `rabin-<avg>`, `rabin-<min>-<avg>-<max>` or
   * `buzhash` (see `parseChunker` in `import-options.ts`) @default `size-262144`
   */
  chunker?: string
  /** Kubo's trickle layout instead of the balanced one (`--trickle`) @default false */
  trickle?: boolean
  /** hash function by its multihash name: `sha2-256` or `sha2-512` @default 'sha2-256' */
  hash?: string
  /** pin the root recursively @default true (as Kubo) */
  pin?: boolean
  /** only compute the CID: nothing is stored @default false */
  onlyHash?: boolean
  /** wrap what is added in a folder, whose CID is the root (Kubo's `-w`) @default false */
  wrapWithDirectory?: boolean
  /** bytes read so far, for a progress bar */
  onProgress?: (bytes: number) => void
  signal?: AbortSignal
}

/** How {@link kuboImporterOptions} imports. */
export interface KuboImport {
  /** options for `ipfs-unixfs-importer` */
  importer: Partial<ImporterOptions>
  /** the hash of every block: the importer's are sha2-256, others are written again */
  hasher: MultihashHasher
  /**
   * whether the add's own leaf writer (`parallelLeaves`: dag-pb `file` or raw leaves, sha2-256)
   * makes the same leaves as the importer would
   */
  parallelLeaves: boolean
}

function chunkerOf(spec: ChunkerSpec): Chunker {
  if (spec.type === 'size') return fixedSize({ chunkSize: spec.size })
  if (spec.type === 'buzhash') return buzhash()
  return rabin({ minChunkSize: spec.min, avgChunkSize: spec.avg, maxChunkSize: spec.max })
}

/**
 * The importer's settings for Kubo's CIDs (see {@link kuboImport}).
 *
 * @throws {InvalidParametersError} for options Kubo refuses
 */
export function kuboImporterOptions(opts: AddOptions = {}): Partial<ImporterOptions> {
  return kuboImport(opts).importer
}

/**
 * Importer settings that give Kubo's CIDs for the same bytes and flags: fixed 256 KiB chunks
 * (or the chunker asked for), a balanced DAG of at most 174 links per node (or Kubo's trickle
 * DAG: `raw`-typed dag-pb leaves, a root even over a single leaf), dag-pb leaves under CIDv0 and
 * raw leaves under CIDv1 unless told otherwise.
 *
 * @throws {InvalidParametersError} for options Kubo refuses
 */
export function kuboImport(opts: AddOptions = {}): KuboImport {
  const resolved = resolveImport(opts)
  const layout = resolved.trickle
    ? trickle({ maxChildrenPerNode: DEFAULT_MAX_CHILDREN_PER_NODE, layerRepeat: TRICKLE_LAYER_REPEAT })
    : balanced({ maxChildrenPerNode: DEFAULT_MAX_CHILDREN_PER_NODE })
  return {
    importer: {
      profile: 'unixfs-v0-2015',
      cidVersion: resolved.cidVersion,
      rawLeaves: resolved.rawLeaves,
      // Kubo's trickle DAG: leaves typed `raw` in dag-pb, and a root even above one leaf
      leafType: resolved.trickle ? 'raw' : 'file',
      reduceSingleLeafToSelf: !resolved.trickle,
      chunker: chunkerOf(resolved.chunker),
      layout,
      wrapWithDirectory: opts.wrapWithDirectory === true
    },
    hasher: resolved.hasher,
    parallelLeaves: resolved.hasher.code === sha256.code && !resolved.trickle
  }
}
