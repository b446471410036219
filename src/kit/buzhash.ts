/**
 * Kubo's buzhash chunker (`ipfs add --chunker=buzhash`, boxo's `chunker/buzhash.go`), cut for
 * cut, so that a file added with it has Kubo's CIDs. As a stream: at most one maximum-size
 * chunk (512 KiB) is held, whatever the size of the file or of the pieces it arrives in.
 *
 * The rule, from boxo: a chunk is never shorter than 128 KiB (but a file's last) nor longer than
 * 512 KiB. From its 128th KiB on, a rolling hash covers the 32 bytes before each position: it
 * starts at 0, hashes the 32 bytes before the 128 KiB mark (each step rotates it left by one bit
 * and XORs in the table value of the byte; a byte 32 steps old has come round to its own place
 * and is XORed out again). The chunk ends at the first position from 128 KiB on where the low 17
 * bits of the hash are zero, or at 512 KiB. Each chunk starts a new hash. When the input ends,
 * what is left is cut the same way while it holds 128 KiB or more, and the rest (if any) is the
 * last chunk: never an empty chunk after a full one (boxo fixed that in 2020, kubo#6953).
 *
 * @packageDocumentation
 */

import type { Chunker } from 'ipfs-unixfs-importer/chunker'
import { BUZHASH_MASK, BUZHASH_MAX_BYTES, BUZHASH_MIN_BYTES, BUZHASH_WINDOW_BYTES } from '../constants.ts'
import { BUZHASH_TABLE } from './buzhash-table.ts'

/** The table as signed words: the hash stays a small integer to the engine (no float boxing). */
const TABLE = new Int32Array(BUZHASH_TABLE.buffer, BUZHASH_TABLE.byteOffset, BUZHASH_TABLE.length)

/**
 * Kubo's buzhash cuts over a stream: {@link BuzhashSplitter.push} the bytes as they come, then
 * {@link BuzhashSplitter.end}. The chunks are the same whatever the pieces the bytes come in.
 * Each chunk is a new array of its own (the importer keeps chunks after they are yielded).
 *
 * @example
 * ```ts
 * const splitter = new BuzhashSplitter()
 * const chunks = [...splitter.push(bytes), ...splitter.end()]
 * ```
 */
export class BuzhashSplitter {
  /** bytes not yet in a chunk: at most one maximum-size chunk */
  readonly #pending = new Uint8Array(BUZHASH_MAX_BYTES)
  #length = 0
  /** the next position the hash looks at; 0 while the hash of this chunk has not started */
  #at = 0
  /** the rolling hash of the 32 bytes before `#at` */
  #state = 0
  #emitted = false

  /** Bytes held, not yet in a chunk: never more than one maximum-size chunk (512 KiB). */
  get held(): number {
    return this.#length
  }

  /** The chunks complete once `bytes` are added. */
  *push(bytes: Uint8Array): Generator<Uint8Array> {
    let offset = 0
    while (offset < bytes.byteLength) {
      const n = Math.min(bytes.byteLength - offset, BUZHASH_MAX_BYTES - this.#length)
      this.#pending.set(bytes.subarray(offset, offset + n), this.#length)
      this.#length += n
      offset += n
      // a cut found in what is here is final: later bytes cannot move it
      for (let cut = this.#scan(); cut != null; cut = this.#scan()) yield this.#take(cut)
    }
  }

  /**
   * The last chunks, once the input has ended: what is left is cut while it holds a minimum-size
   * chunk, and the rest is the last chunk (an empty one only for an empty input, which is an
   * empty file).
   */
  *end(): Generator<Uint8Array> {
    while (this.#length >= BUZHASH_MIN_BYTES) yield this.#take(this.#scan() ?? this.#length)
    if (this.#length > 0 || !this.#emitted) yield this.#take(this.#length)
  }

  /**
   * Runs the hash over the bytes held: the end of the chunk if it is known (a position whose
   * hash matches, or the maximum size), `undefined` while more bytes could still move it.
   */
  #scan(): number | undefined {
    const length = this.#length
    if (length < BUZHASH_MIN_BYTES) return undefined
    // locals for the loop below, the hot one of an add (module bindings are slower to read)
    const bytes = this.#pending
    const table = TABLE
    const mask = BUZHASH_MASK
    const window = BUZHASH_WINDOW_BYTES
    let at = this.#at
    let state = this.#state
    if (at === 0) {
      for (let i = BUZHASH_MIN_BYTES - window; i < BUZHASH_MIN_BYTES; i++) {
        state = ((state << 1) | (state >>> 31)) ^ table[bytes[i]!]!
      }
      at = BUZHASH_MIN_BYTES
    }
    while (at < length && (state & mask) !== 0) {
      state = ((state << 1) | (state >>> 31)) ^ table[bytes[at - window]!]! ^ table[bytes[at]!]!
      at++
    }
    this.#at = at
    this.#state = state
    return at < length || length === BUZHASH_MAX_BYTES ? at : undefined
  }

  /** The first `length` bytes held, as a chunk of their own; the hash starts again after them. */
  #take(length: number): Uint8Array {
    const chunk = this.#pending.slice(0, length)
    this.#pending.copyWithin(0, length, this.#length)
    this.#length -= length
    this.#at = 0
    this.#state = 0
    this.#emitted = true
    return chunk
  }
}

/**
 * Kubo's buzhash chunker for `ipfs-unixfs-importer` (its `chunker` option), as Kubo's
 * `--chunker=buzhash`: chunks of 128 to 512 KiB cut by content, Kubo's cuts.
 *
 * @example
 * ```ts
 * for await (const entry of importer(files, blockstore, { chunker: buzhash() })) { … }
 * ```
 */
export function buzhash(): Chunker {
  return async function* buzhashChunker(source) {
    const splitter = new BuzhashSplitter()
    for await (const bytes of source) yield* splitter.push(bytes)
    yield* splitter.end()
  }
}
