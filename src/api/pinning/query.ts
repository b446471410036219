/**
 * What a Pinning Service API client sends, checked: the filters of `GET /pins` (as the spec
 * and Kubo's client, boxo's `pinning/remote/client`, encode them: `cid` and `status` repeated
 * or comma-separated, RFC 3339 times, `meta` as JSON) and the `Pin` body of `POST /pins`.
 * Anything off is an {@link InvalidParametersError} (or {@link InvalidCIDError}) naming the
 * field: HTTP 400 `BAD_REQUEST`.
 *
 * @packageDocumentation
 */
import { multiaddr } from '@multiformats/multiaddr'
import { parseCID } from '../../cids.ts'
import {
  PINNING_SERVICE_DEFAULT_LIMIT,
  PINNING_SERVICE_MAX_ADDRS,
  PINNING_SERVICE_MAX_CID_FILTER,
  PINNING_SERVICE_MAX_LIMIT,
  PINNING_SERVICE_MAX_META_KEYS,
  PINNING_SERVICE_MAX_NAME_LENGTH
} from '../../constants.ts'
import { InvalidParametersError } from '../../errors.ts'
import {
  type ListQuery,
  PINNING_STATUSES,
  type PinningStatus,
  type PinObject,
  type TextMatch
} from './types.ts'

const MATCHES: ReadonlySet<string> = new Set(['exact', 'iexact', 'partial', 'ipartial'])
const STATUSES: ReadonlySet<string> = new Set(PINNING_STATUSES)
/** RFC 3339, section 5.6 (`date-time`): a fraction of any length, `Z` or an offset. */
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i

/** Every value of a query parameter, repeated (`?a=1&a=2`) or comma-separated (`?a=1,2`). */
function listParam(params: URLSearchParams, name: string): string[] {
  return params
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '')
}

/**
 * An RFC 3339 time as whole ms since the epoch. A finer fraction (Go's RFC3339Nano) rounds
 * `up` or `down`, so that a strict comparison with our whole-ms `created` stays exact:
 * `created < t` is `created < up(t)`, `created > t` is `created > down(t)`.
 * @throws {InvalidParametersError} naming the parameter
 */
export function parseTime(value: string, what: string, round: 'up' | 'down'): number {
  const m = RFC3339.exec(value)
  const whole = m == null ? Number.NaN : Date.parse(`${m[1]}${m[3]}`)
  if (m == null || !Number.isFinite(whole)) {
    throw new InvalidParametersError(
      `${what} must be an RFC 3339 time such as 2020-07-27T17:32:28Z, not "${value.slice(0, 64)}"`
    )
  }
  const digits = (m[2] ?? '.').slice(1)
  const ms = whole + Number(digits.slice(0, 3).padEnd(3, '0'))
  return round === 'up' && /[1-9]/.test(digits.slice(3)) ? ms + 1 : ms
}

/** The cluster keys under which a CID may be pinned: as given, as CIDv1, and as CIDv0 when it has one. */
export function cidKeys(value: string): string[] {
  const cid = parseCID(value)
  const keys = new Set([cid.toString(), cid.toV1().toString()])
  try {
    keys.add(cid.toV0().toString())
  } catch {
    // only dag-pb sha2-256 CIDs have a v0 form
  }
  return [...keys]
}

/** A JSON object of texts (`meta`), at most PINNING_SERVICE_MAX_META_KEYS keys. */
function textRecord(value: unknown, what: string): Record<string, string> {
  if (typeof value !== 'object' || value == null || Array.isArray(value)) {
    throw new InvalidParametersError(`${what} must be a JSON object of texts`)
  }
  const entries = Object.entries(value)
  if (entries.length > PINNING_SERVICE_MAX_META_KEYS) {
    throw new InvalidParametersError(`${what} has over ${PINNING_SERVICE_MAX_META_KEYS} keys`)
  }
  const out: Record<string, string> = {}
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new InvalidParametersError(`${what}.${k.slice(0, 64)} must be a text`)
    out[k] = v
  }
  return out
}

/**
 * The filters of `GET /pins`. Without `status`, only pinned requests are listed (the spec:
 * "when no filter is provided, only successful pins are returned"); `limit` is 1 to 1000
 * (default 10).
 * @throws {InvalidParametersError} naming the parameter
 */
export function parseListQuery(params: URLSearchParams): ListQuery {
  const cidList = listParam(params, 'cid')
  if (cidList.length > PINNING_SERVICE_MAX_CID_FILTER) {
    throw new InvalidParametersError(
      `cid filters by at most ${PINNING_SERVICE_MAX_CID_FILTER} CIDs, not ${cidList.length}`
    )
  }
  const name = params.get('name') ?? undefined
  if (name != null && name.length > PINNING_SERVICE_MAX_NAME_LENGTH) {
    throw new InvalidParametersError(`name is longer than ${PINNING_SERVICE_MAX_NAME_LENGTH} characters`)
  }
  const match = params.get('match') ?? 'exact'
  if (!MATCHES.has(match)) {
    throw new InvalidParametersError(
      `match must be exact, iexact, partial or ipartial, not "${match.slice(0, 64)}"`
    )
  }
  const statusList = listParam(params, 'status')
  for (const s of statusList) {
    if (!STATUSES.has(s))
      throw new InvalidParametersError(
        `status must be queued, pinning, pinned or failed, not "${s.slice(0, 64)}"`
      )
  }
  const limitText = params.get('limit')
  let limit = PINNING_SERVICE_DEFAULT_LIMIT
  if (limitText != null && limitText !== '') {
    limit = /^[0-9]+$/.test(limitText) ? Number(limitText) : Number.NaN
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > PINNING_SERVICE_MAX_LIMIT) {
      throw new InvalidParametersError(
        `limit must be a whole number from 1 to ${PINNING_SERVICE_MAX_LIMIT}, not "${limitText.slice(0, 64)}"`
      )
    }
  }
  const before = params.get('before')
  const after = params.get('after')
  const metaText = params.get('meta')
  let meta: Record<string, string> | undefined
  if (metaText != null && metaText !== '') {
    let parsed: unknown
    try {
      parsed = JSON.parse(metaText)
    } catch {
      throw new InvalidParametersError(`meta must be a JSON object of texts, such as {"app_id":"x"}`)
    }
    meta = textRecord(parsed, 'meta')
  }
  return {
    cids: cidList.length === 0 ? undefined : new Set(cidList.flatMap((c) => cidKeys(c))),
    name: name === '' ? undefined : name,
    match: match as TextMatch,
    statuses: new Set(statusList.length === 0 ? ['pinned'] : (statusList as PinningStatus[])),
    before: before == null || before === '' ? undefined : parseTime(before, 'before', 'up'),
    after: after == null || after === '' ? undefined : parseTime(after, 'after', 'down'),
    limit,
    meta
  }
}

/** Whether a name passes the `name` filter with its matching strategy. */
export function nameMatches(name: string | undefined, wanted: string, match: TextMatch): boolean {
  const have = name ?? ''
  switch (match) {
    case 'exact':
      return have === wanted
    case 'iexact':
      return have.toLowerCase() === wanted.toLowerCase()
    case 'partial':
      return have.includes(wanted)
    case 'ipartial':
      return have.toLowerCase().includes(wanted.toLowerCase())
  }
}

/**
 * The `Pin` of a `POST /pins` body: `cid` (required), `name`, `origins` (multiaddrs), `meta`,
 * within the spec's bounds. Unknown fields are ignored, as the spec's clients may add some.
 * @throws {InvalidParametersError} or {@link InvalidCIDError} naming the field
 */
export function parsePinBody(text: string): PinObject {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new InvalidParametersError('the body must be a JSON Pin object, such as {"cid":"bafy…"}')
  }
  if (typeof value !== 'object' || value == null || Array.isArray(value)) {
    throw new InvalidParametersError('the body must be a JSON Pin object, such as {"cid":"bafy…"}')
  }
  const v = value as Record<string, unknown>
  if (typeof v.cid !== 'string' || v.cid === '')
    throw new InvalidParametersError('cid is required: a CID text')
  parseCID(v.cid)
  const pin: PinObject = { cid: v.cid }
  if (v.name != null) {
    if (typeof v.name !== 'string' || v.name.length > PINNING_SERVICE_MAX_NAME_LENGTH) {
      throw new InvalidParametersError(
        `name must be a text of at most ${PINNING_SERVICE_MAX_NAME_LENGTH} characters`
      )
    }
    pin.name = v.name
  }
  if (v.origins != null) {
    if (!Array.isArray(v.origins) || v.origins.length > PINNING_SERVICE_MAX_ADDRS) {
      throw new InvalidParametersError(
        `origins must be a list of at most ${PINNING_SERVICE_MAX_ADDRS} multiaddrs`
      )
    }
    const origins: string[] = []
    for (const o of v.origins) {
      if (typeof o !== 'string') throw new InvalidParametersError('origins must be multiaddr texts')
      try {
        multiaddr(o)
      } catch (err) {
        throw new InvalidParametersError(`origins: "${o.slice(0, 128)}" is not a multiaddr`, { cause: err })
      }
      if (!origins.includes(o)) origins.push(o)
    }
    pin.origins = origins
  }
  if (v.meta != null) pin.meta = textRecord(v.meta, 'meta')
  return pin
}

/** A path segment, %-decoded. @throws {InvalidParametersError} for a malformed escape */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch (err) {
    throw new InvalidParametersError(`malformed %-escape in the path: "${segment.slice(0, 128)}"`, {
      cause: err
    })
  }
}
