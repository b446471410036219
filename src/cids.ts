import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { MAX_DIGEST_BYTES, MIN_DIGEST_BYTES } from './constants.ts'
import {
  DiskFullError,
  InvalidCIDError,
  InvalidParametersError,
  IpfsKitError,
  isDiskFull,
  NotAFileError,
  NotFoundError,
  TimeoutError
} from './errors.ts'

/** A CID, or a path `/ipfs/<cid>/sub/path` or `<cid>/sub/path`. */
export type CIDOrPath = CID | string

/** Digest lengths of the hash functions whose output length is fixed and known. */
const DIGEST_BYTES = new Map<number, number>([
  [sha256.code, 32],
  [sha512.code, 64]
])

/**
 * Throw an {@link InvalidCIDError} if a CID's digest cannot name a block safely: shorter than
 * its hash function's output (a truncated or empty digest matches bytes an attacker chose),
 * under {@link MIN_DIGEST_BYTES} for other functions, or over {@link MAX_DIGEST_BYTES}.
 */
export function checkDigest(cid: CID): CID {
  const { code, digest } = cid.multihash
  const size = digest.byteLength
  if (size > MAX_DIGEST_BYTES) {
    throw new InvalidCIDError(
      `${cid} has a ${size}-byte digest: at most ${MAX_DIGEST_BYTES} bytes are accepted`
    )
  }
  if (code === identity.code) return cid
  const expected = DIGEST_BYTES.get(code)
  if (expected != null && size !== expected) {
    throw new InvalidCIDError(
      `${cid} has a ${size}-byte digest but its hash function gives ${expected} bytes: truncated digests are refused`
    )
  }
  if (size < MIN_DIGEST_BYTES) {
    throw new InvalidCIDError(
      `${cid} has a ${size}-byte digest: at least ${MIN_DIGEST_BYTES} bytes are needed (as Kubo)`
    )
  }
  return cid
}

/** Parse a CID string, or throw an {@link InvalidCIDError} that says what was wrong. */
export function parseCID(value: string | CID): CID {
  if (typeof value !== 'string') {
    const cid = CID.asCID(value)
    if (cid == null) throw new InvalidCIDError(`expected a CID, got ${typeof value}`)
    return checkDigest(cid)
  }
  const text = value.trim()
  if (text === '') throw new InvalidCIDError('empty CID')
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch (err) {
    throw new InvalidCIDError(`"${value}" is not a valid CID: ${(err as Error).message}`, { cause: err })
  }
  return checkDigest(cid)
}

/** Split `/ipfs/<cid>/a/b`, `<cid>/a/b` or a CID into the root CID and the path below it. */
export function parseCIDPath(value: CIDOrPath): { cid: CID; path: string | undefined } {
  if (typeof value !== 'string') return { cid: parseCID(value), path: undefined }
  let text = value.trim()
  if (text.startsWith('/ipfs/')) text = text.slice('/ipfs/'.length)
  else if (text.startsWith('ipfs://')) text = text.slice('ipfs://'.length)
  else if (text.startsWith('/')) {
    throw new InvalidCIDError(`"${value}" is not an IPFS path: use a CID, <cid>/path or /ipfs/<cid>/path`)
  }
  const [head, ...rest] = text.split('/')
  const path = rest.filter((p) => p !== '').join('/')
  return { cid: parseCID(head ?? ''), path: path === '' ? undefined : path }
}

/**
 * Turn an error from Helia or UnixFS into ours, so callers see one class per condition.
 * Errors that are already ours pass through.
 */
export function toKitError(err: unknown, what: string, signal?: AbortSignal): Error {
  if (err instanceof IpfsKitError) return err
  if (isDiskFull(err)) {
    return new DiskFullError(
      `${what}: the disk holding the repo is full (${(err as Error).message}); free space and try again`,
      {
        cause: err
      }
    )
  }
  const e = err as Error
  switch (e?.name) {
    case 'NotAFileError':
      return new NotAFileError(
        `${what} is not a file (it is a folder or another kind of node): ${e.message}`,
        { cause: err }
      )
    case 'InvalidConfigurationError':
      // an offline node has no block brokers: a block that is not local cannot be had
      if (!/block brokers/i.test(e.message)) return e
      return new NotFoundError(
        `${what} not found: a block is missing from the local repo and the node is offline`,
        { cause: err }
      )
    case 'BlockNotFoundWhileOfflineError':
      return new NotFoundError(
        `${what} not found: a block is missing from the local repo and the node is offline`,
        {
          cause: err
        }
      )
    case 'DoesNotExistError':
    case 'NoContentError':
    case 'NotFoundError':
    case 'ERR_NOT_FOUND':
      return new NotFoundError(`${what} not found: ${e.message}`, { cause: err })
    case 'NotUnixFSError':
    case 'NotADirectoryError':
    case 'InvalidPBNodeError':
      return new InvalidParametersError(`${what}: ${e.message}`, { cause: err })
    case 'LoadBlockFailedError':
      // every block broker gave up on a block: because the call was cancelled or ran out of
      // time (the brokers' errors are only "aborted"), or because no peer supplied it
      if (signal?.aborted !== true) {
        return new NotFoundError(`${what} not found: no peer supplied a block (${e.message})`, { cause: err })
      }
      if (signal.reason instanceof TimeoutError) return signal.reason
      return new TimeoutError(`${what}: gave up (${e.message})`, { cause: err })
    case 'AbortError':
    case 'TimeoutError':
      if (signal?.reason instanceof TimeoutError) return signal.reason
      return new TimeoutError(`${what}: gave up (${e.message})`, { cause: err })
    default:
      return e instanceof Error ? e : new Error(String(err))
  }
}
