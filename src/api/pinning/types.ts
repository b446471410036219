/**
 * Types of the IPFS Pinning Service API (ipfs/pinning-services-api-spec): the wire shapes and
 * the pin requests we keep, shared by the files of `src/api/pinning/`.
 *
 * @packageDocumentation
 */

/** A pin's status at the service (the spec's `Status`). */
export type PinningStatus = 'queued' | 'pinning' | 'pinned' | 'failed'

/** Every {@link PinningStatus}, in the spec's order. */
export const PINNING_STATUSES: readonly PinningStatus[] = ['queued', 'pinning', 'pinned', 'failed']

/** The spec's `TextMatchingStrategy` (of the `name` filter). */
export type TextMatch = 'exact' | 'iexact' | 'partial' | 'ipartial'

/** The spec's `Pin` object, as a client sends it and as we echo it. */
export interface PinObject {
  /** CID to pin recursively, as the client gave it */
  cid: string
  name?: string
  /** multiaddrs known to provide the data */
  origins?: string[]
  meta?: Record<string, string>
}

/** A pin request as the service keeps it (one record per request id, in the repo's datastore). */
export interface PinRequest {
  /** opaque, unique id (a UUID) */
  requestid: string
  /** the pin as asked for */
  pin: PinObject
  /** the CID as the cluster keys it */
  key: string
  /** ms since the epoch when the request arrived; unique across requests (pagination needs it) */
  created: number
  /**
   * the cluster already pinned the CID when this request (or the first of its CID's) arrived:
   * removing the request does not unpin it
   */
  adopted: boolean
}

/** The spec's `PinStatus`. */
export interface PinStatusBody {
  requestid: string
  status: PinningStatus
  /** RFC 3339 */
  created: string
  pin: PinObject
  /** multiaddrs (with `/p2p/`) of members that will hold the data */
  delegates: string[]
  info: Record<string, string>
}

/** The spec's `PinResults`. */
export interface PinResultsBody {
  /** every pin request matching the filters */
  count: number
  /** the newest `limit` of them, newest first */
  results: PinStatusBody[]
}

/** The spec's `Failure`. */
export interface FailureBody {
  error: { reason: string; details?: string }
}

/** The filters of `GET /pins`, checked. */
export interface ListQuery {
  /** cluster keys (CIDv1 strings) to match */
  cids?: Set<string>
  name?: string
  match: TextMatch
  statuses: Set<PinningStatus>
  /** created strictly before, ms (a finer fraction rounded up) */
  before?: number
  /** created strictly after, ms (a finer fraction rounded down) */
  after?: number
  limit: number
  meta?: Record<string, string>
}
