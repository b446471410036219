import type { ImporterOptions } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { DEFAULT_CHUNK_SIZE, DEFAULT_CID_VERSION, DEFAULT_MAX_CHILDREN_PER_NODE } from '../constants.ts'
import { InvalidParametersError } from '../errors.ts'

/** Options of every add, as Kubo's `ipfs add` flags. */
export interface AddOptions {
  /** @default DEFAULT_CID_VERSION (0) */
  cidVersion?: 0 | 1
  /** @default false with CIDv0, true with CIDv1 (as Kubo) */
  rawLeaves?: boolean
  /** fixed chunk size in bytes @default DEFAULT_CHUNK_SIZE (256 KiB) */
  chunkSize?: number
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

/**
 * Importer settings that give Kubo's CIDs for the same bytes and flags: fixed 256 KiB
 * chunks, a balanced DAG of at most 174 links per node, dag-pb leaves under CIDv0
 * and raw leaves under CIDv1 unless told otherwise.
 */
export function kuboImporterOptions(opts: AddOptions = {}): Partial<ImporterOptions> {
  const cidVersion = opts.cidVersion ?? DEFAULT_CID_VERSION
  if (cidVersion !== 0 && cidVersion !== 1) {
    throw new InvalidParametersError(`cidVersion must be 0 or 1, not ${String(cidVersion)}`)
  }
  const rawLeaves = opts.rawLeaves ?? cidVersion === 1
  if (cidVersion === 0 && rawLeaves) {
    throw new InvalidParametersError('raw leaves need CIDv1 (as in Kubo): pass cidVersion 1 with rawLeaves')
  }
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 1024 * 1024) {
    throw new InvalidParametersError(
      `chunkSize must be a whole number of bytes from 1 to 1048576, not ${chunkSize}`
    )
  }
  return {
    profile: 'unixfs-v0-2015',
    cidVersion,
    rawLeaves,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize }),
    layout: balanced({ maxChildrenPerNode: DEFAULT_MAX_CHILDREN_PER_NODE }),
    wrapWithDirectory: opts.wrapWithDirectory === true
  }
}
