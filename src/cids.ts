import { CID } from 'multiformats/cid'
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

/** Parse a CID string, or throw an {@link InvalidCIDError} that says what was wrong. */
export function parseCID(value: string | CID): CID {
  if (typeof value !== 'string') {
    const cid = CID.asCID(value)
    if (cid == null) throw new InvalidCIDError(`expected a CID, got ${typeof value}`)
    return cid
  }
  const text = value.trim()
  if (text === '') throw new InvalidCIDError('empty CID')
  try {
    return CID.parse(text)
  } catch (err) {
    throw new InvalidCIDError(`"${value}" is not a valid CID: ${(err as Error).message}`, { cause: err })
  }
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
