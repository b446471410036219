/**
 * Kubo's `add` settings, checked and resolved before anything is read: the chunker spec
 * (`size-<n>`, `rabin`, `rabin-<avg>`, `rabin-<min>-<avg>-<max>`, `buzhash`), the hash function by its
 * multihash name, and how they combine with the CID version and raw leaves. Pure functions with
 * Kubo's rules and messages: the CLI checks its flags with them before a node starts, and the
 * kit applies them.
 *
 * @packageDocumentation
 */

import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import {
  CHUNK_SIZE_LIMIT,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_CID_VERSION,
  DEFAULT_RABIN_AVG_BYTES,
  RABIN_MIN_LIMIT_BYTES
} from '../constants.ts'
import { InvalidParametersError, UnsupportedHasherError } from '../errors.ts'

/** How file bytes are cut into leaves. */
export type ChunkerSpec =
  /** fixed-size chunks of `size` bytes (Kubo's `size-<n>`) */
  | { type: 'size'; size: number }
  /** content-defined chunks (Kubo's rabin fingerprinting), sizes in bytes */
  | { type: 'rabin'; min: number; avg: number; max: number }
  /** content-defined chunks of 128 to 512 KiB (Kubo's buzhash, which takes no sizes) */
  | { type: 'buzhash' }

/** Kubo's `strconv.Atoi`: an optional sign, then decimal digits. */
function atoi(text: string, spec: string): number {
  if (!/^[+-]?\d{1,15}$/.test(text)) {
    throw new InvalidParametersError(`chunker "${spec}": "${text}" is not a whole number`)
  }
  return Number(text)
}

const RABIN_FORMAT = "incorrect format (expected 'rabin' 'rabin-[avg]' or 'rabin-[min]-[avg]-[max]'"

/** One size of `rabin-<min>-<avg>-<max>`, with its optional label (`min:87381`). */
function rabinPart(part: string, label: string, position: string, spec: string): number {
  const sub = part.split(':')
  if (sub.length > 1 && sub[0] !== label) {
    throw new InvalidParametersError(`${position} label must be ${label}`)
  }
  return atoi(sub.at(-1) ?? '', spec)
}

/**
 * Kubo's `--chunker`: `size-<bytes>`, `rabin`, `rabin-<avg>`, `rabin-<min>-<avg>-<max>` or
 * `buzhash` (`default` or empty: `size-262144`), with Kubo's limits and messages.
 *
 * @throws {InvalidParametersError} for a spec Kubo refuses
 * @example
 * ```ts
 * parseChunker('rabin') // { type: 'rabin', min: 87381, avg: 262144, max: 393216 }
 * ```
 */
export function parseChunker(spec: string): ChunkerSpec {
  if (spec === '' || spec === 'default') return { type: 'size', size: DEFAULT_CHUNK_SIZE }
  if (spec.startsWith('size-')) {
    const size = atoi(spec.slice('size-'.length), spec)
    if (size <= 0) throw new InvalidParametersError('chunker size must be greater than 0')
    if (size > CHUNK_SIZE_LIMIT) {
      throw new InvalidParametersError(
        `chunker parameters may not exceed the maximum chunk size of ${CHUNK_SIZE_LIMIT}`
      )
    }
    return { type: 'size', size }
  }
  if (spec === 'buzhash') return { type: 'buzhash' }
  if (spec !== 'rabin' && !spec.startsWith('rabin-')) {
    throw new InvalidParametersError(`unrecognized chunker option: ${spec}`)
  }
  const parts = spec.split('-')
  let min: number
  let avg: number
  let max: number
  if (parts.length === 1 || parts.length === 2) {
    // Kubo's NewRabin: min avg/3, max avg + avg/2 (integer division)
    avg = parts.length === 1 ? DEFAULT_RABIN_AVG_BYTES : atoi(parts[1] ?? '', spec)
    if (Math.trunc(avg * 1.5) > CHUNK_SIZE_LIMIT) {
      throw new InvalidParametersError(
        `chunker parameters may not exceed the maximum chunk size of ${CHUNK_SIZE_LIMIT}`
      )
    }
    min = Math.trunc(avg / 3)
    max = avg + Math.trunc(avg / 2)
  } else if (parts.length === 4) {
    min = rabinPart(parts[1] ?? '', 'min', 'first', spec)
    if (min < RABIN_MIN_LIMIT_BYTES)
      throw new InvalidParametersError(`rabin min must be greater than ${RABIN_MIN_LIMIT_BYTES}`)
    avg = rabinPart(parts[2] ?? '', 'avg', 'second', spec)
    max = rabinPart(parts[3] ?? '', 'max', 'final', spec)
    if (min >= avg)
      throw new InvalidParametersError('incorrect format: rabin-min must be smaller than rabin-avg')
    if (avg >= max)
      throw new InvalidParametersError('incorrect format: rabin-avg must be smaller than rabin-max')
    if (max > CHUNK_SIZE_LIMIT) {
      throw new InvalidParametersError(
        `chunker parameters may not exceed the maximum chunk size of ${CHUNK_SIZE_LIMIT}`
      )
    }
  } else {
    throw new InvalidParametersError(RABIN_FORMAT)
  }
  // the rabin implementation (rabin-wasm, as Kubo's) needs a window's worth of bytes
  if (min < RABIN_MIN_LIMIT_BYTES)
    throw new InvalidParametersError(`rabin min must be greater than ${RABIN_MIN_LIMIT_BYTES}`)
  return { type: 'rabin', min, avg, max }
}

/** The hash functions `add` offers (Kubo's names): those multiformats ships. */
export const ADD_HASHERS: Readonly<Record<string, MultihashHasher>> = {
  'sha2-256': sha256,
  'sha2-512': sha512
}

/**
 * Hash functions Kubo's `add` takes that ipfs-kit does not offer: no kept implementation in
 * multiformats, and blocks hashed with them could not be verified when read back.
 */
const KUBO_ONLY_HASHES = new Set([
  'sha1',
  'sha3-224',
  'sha3-256',
  'sha3-384',
  'sha3-512',
  'shake-256',
  'dbl-sha2-256',
  'keccak-224',
  'keccak-256',
  'keccak-384',
  'keccak-512',
  'blake3',
  'identity',
  'x11',
  'sha2-256-trunc254-padded',
  'poseidon-bls12_381-a2-fc1'
])

/** blake2b-160…512 and blake2s-160…256 (Kubo takes digests of 20 bytes or more). */
function isKuboBlake2(name: string): boolean {
  const m = /^blake2([bs])-(\d+)$/.exec(name)
  if (m == null) return false
  const bits = Number(m[2])
  return bits % 8 === 0 && bits >= 160 && bits <= (m[1] === 'b' ? 512 : 256)
}

/**
 * The hasher of Kubo's `--hash <name>` (case-insensitive, as Kubo).
 *
 * @throws {UnsupportedHasherError} for a function Kubo takes that ipfs-kit does not offer
 * @throws {InvalidParametersError} for a name that is no hash function Kubo takes
 */
export function parseHash(name: string): MultihashHasher {
  const key = name.toLowerCase()
  const hasher = ADD_HASHERS[key]
  if (hasher != null) return hasher
  const offered = Object.keys(ADD_HASHERS).join(' and ')
  if (KUBO_ONLY_HASHES.has(key) || isKuboBlake2(key)) {
    throw new UnsupportedHasherError(
      `hash function "${key}" is not supported by ipfs-kit's add: use ${offered}`
    )
  }
  throw new InvalidParametersError(`unrecognized hash function: "${key}" (ipfs-kit offers ${offered})`)
}

/** What {@link resolveImport} makes of an add's options. */
export interface ResolvedImport {
  cidVersion: 0 | 1
  rawLeaves: boolean
  chunker: ChunkerSpec
  trickle: boolean
  hasher: MultihashHasher
}

/** The options {@link resolveImport} reads (a subset of the kit's `AddOptions`). */
export interface ImportSettings {
  cidVersion?: 0 | 1
  rawLeaves?: boolean
  chunkSize?: number
  chunker?: string
  trickle?: boolean
  hash?: string
}

/**
 * Kubo's rules for combining the options: a hash other than sha2-256 implies CIDv1 (and an
 * explicit CIDv0 with it is refused), CIDv1 implies raw leaves unless told otherwise, raw
 * leaves need CIDv1.
 *
 * @throws {InvalidParametersError} for a combination Kubo refuses
 */
export function resolveImport(opts: ImportSettings = {}): ResolvedImport {
  const hasher = parseHash(opts.hash ?? 'sha2-256')
  if (opts.cidVersion != null && opts.cidVersion !== 0 && opts.cidVersion !== 1) {
    throw new InvalidParametersError(`cidVersion must be 0 or 1, not ${String(opts.cidVersion)}`)
  }
  let cidVersion: 0 | 1 = opts.cidVersion ?? DEFAULT_CID_VERSION
  if (hasher.code !== sha256.code) {
    if (opts.cidVersion === 0) throw new InvalidParametersError('CIDv0 only supports sha2-256')
    cidVersion = 1
  }
  const rawLeaves = opts.rawLeaves ?? cidVersion === 1
  if (cidVersion === 0 && rawLeaves) {
    throw new InvalidParametersError('raw leaves need CIDv1 (as in Kubo): pass cidVersion 1 with rawLeaves')
  }
  if (opts.chunkSize != null && opts.chunker != null) {
    throw new InvalidParametersError('pass either chunkSize or chunker, not both')
  }
  let chunker: ChunkerSpec
  if (opts.chunker != null) chunker = parseChunker(opts.chunker)
  else {
    const size = opts.chunkSize ?? DEFAULT_CHUNK_SIZE
    if (!Number.isInteger(size) || size < 1 || size > CHUNK_SIZE_LIMIT) {
      throw new InvalidParametersError(
        `chunkSize must be a whole number of bytes from 1 to ${CHUNK_SIZE_LIMIT}, not ${size}`
      )
    }
    chunker = { type: 'size', size }
  }
  return { cidVersion, rawLeaves, chunker, trickle: opts.trickle === true, hasher }
}
