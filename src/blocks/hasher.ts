/**
 * SHA-256 of blocks this process makes itself (the leaves of an add), on worker threads, with a
 * record of what was hashed here so that the blockstore need not hash those bytes again.
 *
 * The record is keyed by the `Uint8Array` object itself and holds the digest computed from it.
 * An entry exists only for an array this module hashed (in this thread or a worker's), and
 * the arrays handed back by the workers were transferred to and from them: nothing else holds
 * them, so their bytes cannot have changed since. Network input never passes through here, so
 * a block from a peer is always hashed by the blockstore.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { equals } from 'multiformats/bytes'
import type { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ADD_HASH_WORKERS } from '../constants.ts'
import { NotStartedError } from '../errors.ts'

/** Digests of arrays hashed in this process, keyed by the array. */
const hashedHere = new WeakMap<Uint8Array, Uint8Array>()

/**
 * Whether `bytes` is an array this module hashed and its digest is `cid`'s: then it is the
 * block `cid` names, with no need to hash it again.
 */
export function wasHashedHere(cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== sha256.code) return false
  const digest = hashedHere.get(bytes)
  return digest != null && equals(digest, cid.multihash.digest)
}

/** SHA-256 of `bytes` in this thread, recorded for {@link wasHashedHere}. */
export function sha256Here(bytes: Uint8Array): Uint8Array {
  const digest = new Uint8Array(createHash('sha256').update(bytes).digest())
  hashedHere.set(bytes, digest)
  return digest
}

/**
 * Take back the memory of an array hashed here that nothing will read again: it is forgotten
 * by {@link wasHashedHere} and emptied (its buffer detached: a reference to it that someone kept
 * sees an empty array, never other bytes), and its memory is returned, moved without a copy
 * into a new `ArrayBuffer`, to be used again. Undefined for an array that does not own its whole
 * buffer (only forgotten then).
 *
 * An add makes hundreds of MiB of leaves that live a few milliseconds each: left to the garbage
 * collector, each 64 MiB of them costs a full mark of the heap, and their memory comes back to
 * the process as fresh pages (a page fault per 4 KiB).
 */
export function reclaimHashed(bytes: Uint8Array): ArrayBuffer | undefined {
  hashedHere.delete(bytes)
  const buffer = bytes.buffer
  if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength) {
    return undefined
  }
  return buffer.transfer()
}

// the worker's code (CommonJS, evaluated): say it is up, then hash what arrives and send the
// array back with its digest
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
parentPort.on('message', ({ id, bytes }) => {
  const digest = new Uint8Array(createHash('sha256').update(bytes).digest())
  parentPort.postMessage({ id, bytes, digest }, [bytes.buffer, digest.buffer])
})
parentPort.postMessage({ up: true })
`

interface Task {
  resolve(result: { bytes: Uint8Array; digest: Uint8Array }): void
  reject(err: Error): void
}

interface PoolWorker {
  worker: Worker
  pending: Map<number, Task>
  /** whether the worker has started (a thread takes tens of milliseconds to) */
  up: boolean
  /** settles when the worker is up or gone */
  started: Promise<void>
}

/** Options of {@link Sha256Pool}. */
export interface Sha256PoolInit {
  /** worker threads @default ADD_HASH_WORKERS */
  workers?: number
}

/**
 * Worker threads hashing blocks with SHA-256. Started with {@link Sha256Pool.start} or on first
 * use, stopped with {@link Sha256Pool.stop}; idle workers do not keep the process alive. A worker
 * thread takes tens of milliseconds to start: {@link Sha256Pool.ready} tells when one is up, so
 * that a caller can hash in its own thread until then rather than wait.
 *
 * @example
 * ```ts
 * const pool = new Sha256Pool()
 * const { bytes, digest } = await pool.digest(new Uint8Array([1, 2, 3]))
 * await pool.stop()
 * ```
 */
export class Sha256Pool {
  readonly #size: number
  #workers: PoolWorker[] = []
  #next = 0
  #ids = 0
  #stopped = false

  constructor(init: Sha256PoolInit = {}) {
    this.#size = Math.max(1, init.workers ?? ADD_HASH_WORKERS)
  }

  /** Whether a worker is up: a digest asked for now is hashed at once. */
  get ready(): boolean {
    return this.#workers.some((w) => w.up)
  }

  /**
   * Start the workers (a digest starts them too); resolves when each is up or gone. Can be
   * called twice.
   *
   * @throws NotStartedError if the pool was stopped
   */
  async start(): Promise<void> {
    if (this.#stopped) throw new NotStartedError('the hash workers are stopped')
    while (this.#workers.length < this.#size) this.#spawn()
    await Promise.all(this.#workers.map((w) => w.started))
  }

  /**
   * Hash `bytes` on a worker. The array is moved to the worker and back: `bytes` must be an
   * array that owns its whole buffer, nothing else may hold it, and it is unusable afterwards;
   * use the `bytes` returned (recorded for {@link wasHashedHere}).
   */
  async digest(bytes: Uint8Array): Promise<{ bytes: Uint8Array; digest: Uint8Array }> {
    if (this.#stopped) throw new NotStartedError('the hash workers are stopped')
    if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) {
      throw new TypeError('Sha256Pool.digest takes an array that owns its whole buffer')
    }
    const w = this.#pick()
    const id = ++this.#ids
    const result = await new Promise<{ bytes: Uint8Array; digest: Uint8Array }>((resolve, reject) => {
      if (w.pending.size === 0) w.worker.ref()
      w.pending.set(id, { resolve, reject })
      w.worker.postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer])
    })
    hashedHere.set(result.bytes, result.digest)
    return result
  }

  #pick(): PoolWorker {
    if (this.#workers.length < this.#size) return this.#spawn()
    // the least busy, ties taken in turn
    let best = this.#workers[this.#next++ % this.#workers.length]!
    for (const w of this.#workers) if (w.pending.size < best.pending.size) best = w
    return best
  }

  #spawn(): PoolWorker {
    let settle = (): void => {}
    const w: PoolWorker = {
      worker: new Worker(WORKER_SOURCE, { eval: true }),
      pending: new Map(),
      up: false,
      started: new Promise<void>((resolve) => {
        settle = resolve
      })
    }
    w.worker.unref()
    w.worker.on('message', (msg: { id: number; bytes: Uint8Array; digest: Uint8Array } | { up: true }) => {
      if ('up' in msg) {
        w.up = true
        settle()
        return
      }
      const task = w.pending.get(msg.id)
      if (task == null) return
      w.pending.delete(msg.id)
      if (w.pending.size === 0) w.worker.unref()
      task.resolve({ bytes: msg.bytes, digest: msg.digest })
    })
    const fail = (err: Error): void => {
      for (const task of w.pending.values()) task.reject(err)
      w.pending.clear()
      this.#workers = this.#workers.filter((x) => x !== w)
      settle()
    }
    w.worker.on('error', fail)
    w.worker.on('exit', (code) => fail(new Error(`a hash worker exited (code ${code})`)))
    this.#workers.push(w)
    return w
  }

  /** Stop the workers (a pending digest fails); can be called twice. */
  async stop(): Promise<void> {
    this.#stopped = true
    const workers = this.#workers
    this.#workers = []
    await Promise.all(workers.map((w) => w.worker.terminate()))
  }
}
