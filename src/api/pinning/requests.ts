/**
 * The Pinning Service API's pin requests: one JSON record per request id in the repo's
 * datastore (LevelDB), under PINNING_SERVICE_DATASTORE_PREFIX, so request ids outlive a
 * restart. They are read once into an index ordered by `created` (unique and increasing, as
 * pagination by `before` needs) and by CID (what `?cid=` and unpinning look up).
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto'
import type { AbortOptions } from '@libp2p/interface'
import { type Datastore, Key } from 'interface-datastore'
import { PINNING_SERVICE_DATASTORE_PREFIX, PINNING_SERVICE_MAX_REQUESTS } from '../../constants.ts'
import { PinRequestLimitError } from '../../errors.ts'
import type { PinObject, PinRequest } from './types.ts'

/** A record read back, checked field by field (undefined if it is not one of ours). */
function decodeRecord(bytes: Uint8Array): PinRequest | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Partial<PinRequest>
    if (
      typeof v.requestid !== 'string' ||
      typeof v.key !== 'string' ||
      typeof v.created !== 'number' ||
      typeof v.adopted !== 'boolean' ||
      typeof v.pin !== 'object' ||
      v.pin == null ||
      typeof v.pin.cid !== 'string'
    ) {
      return undefined
    }
    return v as PinRequest
  } catch {
    return undefined
  }
}

/**
 * The pin requests of one repo. Not safe for concurrent writers: the service calls
 * {@link add} and {@link remove} one at a time.
 */
export class PinRequests {
  readonly #datastore: Datastore
  /** oldest first; `created` strictly increases */
  #ordered: PinRequest[] = []
  readonly #byId = new Map<string, PinRequest>()
  readonly #byKey = new Map<string, Set<string>>()
  #loading?: Promise<void>

  constructor(datastore: Datastore) {
    this.#datastore = datastore
  }

  #dsKey(id: string): Key {
    return new Key(`${PINNING_SERVICE_DATASTORE_PREFIX}/${id}`)
  }

  /** Read every record once (later calls wait for the same read). */
  async load(options: AbortOptions = {}): Promise<void> {
    this.#loading ??= (async () => {
      const all: PinRequest[] = []
      for await (const { value } of this.#datastore.query(
        { prefix: PINNING_SERVICE_DATASTORE_PREFIX },
        options
      )) {
        const r = decodeRecord(value)
        if (r != null) all.push(r)
      }
      all.sort((a, b) => a.created - b.created)
      for (const r of all) this.#index(r)
    })().catch((err: unknown) => {
      this.#loading = undefined
      throw err
    })
    await this.#loading
  }

  #index(r: PinRequest): void {
    this.#ordered.push(r)
    this.#byId.set(r.requestid, r)
    let ids = this.#byKey.get(r.key)
    if (ids == null) {
      ids = new Set()
      this.#byKey.set(r.key, ids)
    }
    ids.add(r.requestid)
  }

  get size(): number {
    return this.#byId.size
  }

  get(id: string): PinRequest | undefined {
    return this.#byId.get(id)
  }

  /** The requests of a cluster key (a CID as the cluster keys it). */
  ofKey(key: string): PinRequest[] {
    return [...(this.#byKey.get(key) ?? [])].map((id) => this.#byId.get(id) as PinRequest)
  }

  /** Newest first, created strictly between `after` and `before` (ms, either may be absent). */
  *newestFirst(before?: number, after?: number): Generator<PinRequest> {
    const list = this.#ordered
    // the first index at or past `before`: everything under it is older
    let lo = 0
    let hi = list.length
    if (before != null) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if ((list[mid] as PinRequest).created < before) lo = mid + 1
        else hi = mid
      }
    } else lo = list.length
    for (let i = lo - 1; i >= 0; i--) {
      const r = list[i] as PinRequest
      if (after != null && r.created <= after) return
      yield r
    }
  }

  /**
   * Keep a new request (a new UUID, `created` now or just after the newest, so it is unique).
   * @throws {PinRequestLimitError} past PINNING_SERVICE_MAX_REQUESTS
   */
  async add(pin: PinObject, key: string, adopted: boolean, options: AbortOptions = {}): Promise<PinRequest> {
    if (this.#byId.size >= PINNING_SERVICE_MAX_REQUESTS) {
      throw new PinRequestLimitError(
        `this service holds ${PINNING_SERVICE_MAX_REQUESTS} pin requests, its most: remove some first`
      )
    }
    const newest = this.#ordered.at(-1)?.created ?? 0
    const r: PinRequest = {
      requestid: randomUUID(),
      pin,
      key,
      created: Math.max(Date.now(), newest + 1),
      adopted
    }
    await this.#datastore.put(this.#dsKey(r.requestid), new TextEncoder().encode(JSON.stringify(r)), options)
    this.#index(r)
    return r
  }

  /** Forget a request (from the datastore first). */
  async remove(r: PinRequest, options: AbortOptions = {}): Promise<void> {
    await this.#datastore.delete(this.#dsKey(r.requestid), options)
    this.#byId.delete(r.requestid)
    const ids = this.#byKey.get(r.key)
    ids?.delete(r.requestid)
    if (ids?.size === 0) this.#byKey.delete(r.key)
    // `created` is unique and the list sorted: find it by halving
    let lo = 0
    let hi = this.#ordered.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.#ordered[mid] as PinRequest).created < r.created) lo = mid + 1
      else hi = mid
    }
    if (this.#ordered[lo]?.requestid === r.requestid) this.#ordered.splice(lo, 1)
  }
}
