/**
 * Every error ipfs-kit throws on purpose. One class per condition, matched by
 * `err.name` (stable across module copies), each with a message a user can act on.
 *
 * @packageDocumentation
 */

/** Base class: every ipfs-kit error has a stable `name` and a machine-readable `code`. */
export class IpfsKitError extends Error {
  static readonly code: string = 'ERR_IPFS_KIT'
  readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = (new.target as typeof IpfsKitError).code
  }
}

/** A string or value that should be a CID is not one. */
export class InvalidCIDError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_CID'
}

/** A multiaddr string could not be parsed, or names no peer where one is needed. */
export class InvalidMultiaddrError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_MULTIADDR'
}

/** A parameter has the wrong type or value (non-serialisable JSON, a bad offset, …). */
export class InvalidParametersError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_PARAMETERS'
}

/** A local path (file or folder) does not exist or cannot be read. */
export class PathNotFoundError extends IpfsKitError {
  static override readonly code = 'ERR_PATH_NOT_FOUND'
}

/** Content (a CID, or a path inside a UnixFS folder) could not be found. */
export class NotFoundError extends IpfsKitError {
  static override readonly code = 'ERR_NOT_FOUND'
}

/** The content at a CID is not of the kind the call needs (a folder given to `cat`, …). */
export class NotAFileError extends IpfsKitError {
  static override readonly code = 'ERR_NOT_A_FILE'
}

/** The repo folder cannot be used: it is a file, unreadable, or its config is corrupt. */
export class RepoError extends IpfsKitError {
  static override readonly code = 'ERR_REPO'
}

/** The repo is not initialised (no config) and the call does not create one. */
export class RepoNotInitializedError extends IpfsKitError {
  static override readonly code = 'ERR_REPO_NOT_INITIALIZED'
}

/** Another process (usually a running daemon) holds the repo. */
export class RepoLockedError extends IpfsKitError {
  static override readonly code = 'ERR_REPO_LOCKED'
}

/** A block's bytes do not hash to its CID. */
export class BlockVerificationError extends IpfsKitError {
  static override readonly code = 'ERR_BLOCK_VERIFICATION'
}

/** An operation did not finish before its deadline. */
export class TimeoutError extends IpfsKitError {
  static override readonly code = 'ERR_TIMEOUT'
}

/** A peer could not be dialled (bad address, refused, unreachable). */
export class DialError extends IpfsKitError {
  static override readonly code = 'ERR_DIAL_FAILED'
}

/**
 * A node on the `local` profile was asked to dial an address off the machine (a non-loopback
 * IP, or a DNS name other than `localhost`): refused before any DNS query or packet.
 */
export class LoopbackOnlyError extends IpfsKitError {
  static override readonly code = 'ERR_LOOPBACK_ONLY'
}

/** The node is offline, or not started, and the call needs the network. */
export class OfflineError extends IpfsKitError {
  static override readonly code = 'ERR_OFFLINE'
}

/** The kit or peer was used before `start()` or after `stop()`. */
export class NotStartedError extends IpfsKitError {
  static override readonly code = 'ERR_NOT_STARTED'
}

/** Content exceeded a size limit the caller set. */
export class MaxSizeExceededError extends IpfsKitError {
  static override readonly code = 'ERR_MAX_SIZE_EXCEEDED'
}

/** Every provider asked for content failed; `errors` holds each failure. */
export class AllProvidersFailedError extends AggregateError {
  static readonly code = 'ERR_ALL_PROVIDERS_FAILED'
  readonly code = AllProvidersFailedError.code

  constructor(errors: Iterable<unknown>, message: string) {
    super(errors, message)
    this.name = 'AllProvidersFailedError'
  }
}

/** True if `err` is an Error whose `name` is `name` (works across module copies). */
export function isErrorNamed(err: unknown, name: string): err is Error {
  return err instanceof Error && err.name === name
}

/** A CID uses a multihash function ipfs-kit cannot compute, so its bytes cannot be verified. */
export class UnsupportedHasherError extends IpfsKitError {
  static override readonly code = 'ERR_UNSUPPORTED_HASHER'
}

/** An HTTP API request without the bearer token the API requires (HTTP 401). */
export class ApiUnauthorizedError extends IpfsKitError {
  static override readonly code = 'ERR_API_UNAUTHORIZED'
}

/** An HTTP API request refused: from another web origin, or for a host name the API does not serve (HTTP 403). */
export class ApiForbiddenError extends IpfsKitError {
  static override readonly code = 'ERR_API_FORBIDDEN'
}

/** An HTTP API request body over the endpoint's size limit (HTTP 413). */
export class PayloadTooLargeError extends IpfsKitError {
  static override readonly code = 'ERR_PAYLOAD_TOO_LARGE'
}

/** An HTTP API path that names no command (HTTP 404). */
export class UnknownCommandError extends IpfsKitError {
  static override readonly code = 'ERR_UNKNOWN_COMMAND'
}

/** An HTTP API command called with a method it does not take, e.g. GET on `/api/v0/*` (HTTP 405). */
export class MethodNotAllowedError extends IpfsKitError {
  static override readonly code = 'ERR_METHOD_NOT_ALLOWED'
}

/** The daemon's HTTP API cannot be reached, or answered with something that is not the API. */
export class DaemonUnreachableError extends IpfsKitError {
  static override readonly code = 'ERR_DAEMON_UNREACHABLE'
}

/**
 * A peer broke a protocol's rules (a flood of requests, a message over the size limit, bytes
 * that do not decode): its connections are closed and it is refused for a while.
 */
export class ProtocolViolationError extends IpfsKitError {
  static override readonly code = 'ERR_PROTOCOL_VIOLATION'
}

/** The disk holding the repo is full: nothing more can be stored until space is freed. */
export class DiskFullError extends IpfsKitError {
  static override readonly code = 'ERR_DISK_FULL'
}

/**
 * True if `err`, or an error in its `cause` chain, says the disk is full (`ENOSPC`). Stores
 * often keep only the message of the system error (`PutFailedError: Error: ENOSPC: …`), so the
 * message is read too.
 */
export function isDiskFull(err: unknown): boolean {
  let e: unknown = err
  for (let depth = 0; depth < 8 && e != null; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown }
    if (code === 'ENOSPC') return true
    if (typeof message === 'string' && /ENOSPC|no space left on device/i.test(message)) return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/**
 * A block on disk does not match its CID (a flipped byte, a truncated file) and no peer
 * supplied a good copy: the bad copy is removed, so the block is now missing.
 */
export class CorruptBlockError extends IpfsKitError {
  static override readonly code = 'ERR_CORRUPT_BLOCK'
}

/**
 * A UnixFS symlink is refused while content is written to disk: its target is absolute, empty,
 * not in plain form (`a/../..`), or would resolve outside the output folder, or an entry would
 * be written through a symlink already on disk. Nothing is written for it; no link is followed.
 */
export class UnsafeSymlinkError extends IpfsKitError {
  static override readonly code = 'ERR_UNSAFE_SYMLINK'
}

/** A tar archive (from the daemon's `get`) is corrupt or truncated: it cannot be unpacked. */
export class InvalidArchiveError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_ARCHIVE'
}

/**
 * A block stream to a peer closed or failed (a reset, a dropped connection, the peer stopping)
 * while wants were open on it: each of them fails with this error; the next want opens a new
 * stream.
 */
export class BlockStreamClosedError extends IpfsKitError {
  static override readonly code = 'ERR_BLOCK_STREAM_CLOSED'
}

/** An MFS path names an entry that is already there (`files mkdir` without `-p`, `files cp` onto it). */
export class AlreadyExistsError extends IpfsKitError {
  static override readonly code = 'ERR_ALREADY_EXISTS'
}

/** An MFS path goes through a file as if it were a folder (`/a/b` where `/a` is a file). */
export class NotADirectoryError extends IpfsKitError {
  static override readonly code = 'ERR_NOT_A_DIRECTORY'
}

/** An MFS command that takes a file or needs `-r` was given a folder (`files rm` without `-r`). */
export class IsADirectoryError extends IpfsKitError {
  static override readonly code = 'ERR_IS_A_DIRECTORY'
}

/**
 * A config key that the repo's config does not have or that cannot be read or changed this way
 * (`Identity.PrivKey`): nothing was changed.
 */
export class ConfigKeyError extends IpfsKitError {
  static override readonly code = 'ERR_CONFIG_KEY'
}

/**
 * A config value, or a whole config (`config replace`), that does not fit the config's types:
 * it is refused whole and the config on disk is left as it was.
 */
export class InvalidConfigError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_CONFIG'
}

/** A command that only a running daemon can carry out (`shutdown`) was sent to a node that is not one. */
export class NotADaemonError extends IpfsKitError {
  static override readonly code = 'ERR_NOT_A_DAEMON'
}

/** No key of that name (or id) is in the repo's keychain (`key rm`, `name publish --key`, …). */
export class KeyNotFoundError extends IpfsKitError {
  static override readonly code = 'ERR_KEY_NOT_FOUND'
}

/** A key of that name is in the keychain already (`key gen`, `key import`, `key rename` without `--force`). */
export class KeyExistsError extends IpfsKitError {
  static override readonly code = 'ERR_KEY_EXISTS'
}

/** Key bytes that are not a private key in the format given, or of a type that is not allowed. */
export class InvalidKeyError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_KEY'
}

/** An IPNS name that no valid record could be found for (`name resolve`, `resolve /ipns/…`). */
export class NameNotFoundError extends IpfsKitError {
  static override readonly code = 'ERR_NAME_NOT_FOUND'
}

/**
 * An IPNS record that is refused: malformed, signed by a key other than the name's, with a bad
 * signature, or expired (`routing put`, records from peers).
 */
export class InvalidRecordError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_RECORD'
}

/** A cluster call on a node whose cluster is not running (no `cluster.json`, or it was stopped). */
export class ClusterNotRunningError extends IpfsKitError {
  static override readonly code = 'ERR_CLUSTER_NOT_RUNNING'
}

/** This member may not write the cluster's state (only masters and granted workers pin and unpin). */
export class ClusterAccessDeniedError extends IpfsKitError {
  static override readonly code = 'ERR_CLUSTER_ACCESS_DENIED'
}

/** A CID that the cluster's pinset does not hold. */
export class ClusterPinNotFoundError extends IpfsKitError {
  static override readonly code = 'ERR_CLUSTER_PIN_NOT_FOUND'
}

/** A member could not hand its replicas over before leaving (no other member could take them in time). */
export class ClusterHandoverError extends IpfsKitError {
  static override readonly code = 'ERR_CLUSTER_HANDOVER'
}

/** The cluster's configuration (`cluster.json` or the init options) does not check. */
export class InvalidClusterConfigError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_CLUSTER_CONFIG'
}

/** A CAR file (`dag import`) is not one, or is truncated or malformed: nothing of it is kept. */
export class InvalidCarError extends IpfsKitError {
  static override readonly code = 'ERR_INVALID_CAR'
}

/** A block a pin holds cannot be removed (`block rm`): unpin it first. */
export class PinnedBlockError extends IpfsKitError {
  static override readonly code = 'ERR_PINNED_BLOCK'
}

/** A Pinning Service API request id that names no pin request (HTTP 404 `NOT_FOUND`). */
export class PinRequestNotFoundError extends IpfsKitError {
  static override readonly code = 'ERR_PIN_REQUEST_NOT_FOUND'
}

/** The Pinning Service API holds as many pin requests as it may (PINNING_SERVICE_MAX_REQUESTS). */
export class PinRequestLimitError extends IpfsKitError {
  static override readonly code = 'ERR_PIN_REQUEST_LIMIT'
}
