/**
 * Block verification: a block's bytes, hashed with the CID's multihash function, must give the
 * CID's digest. sha2-256, sha2-512 and identity are built in; more hashers can be passed in.
 * The blockstore, the cache and the routing layer all check blocks with this.
 *
 * @packageDocumentation
 */

import { equals } from 'multiformats/bytes'
import type { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { BlockVerificationError, InvalidCIDError, UnsupportedHasherError } from '../errors.ts'
import { sha256Here, wasHashedHere } from './hasher.ts'

const SHA256_BYTES = 32

const BUILT_IN: readonly MultihashHasher[] = [sha256, sha512, identity]

/** Checks blocks against their CIDs with a fixed set of hash functions. */
export class BlockVerifier {
  private readonly hashers = new Map<number, MultihashHasher>()

  /** @param hashers hash functions beyond the built-in sha2-256, sha2-512 and identity */
  constructor(hashers: readonly MultihashHasher[] = []) {
    for (const hasher of [...BUILT_IN, ...hashers]) {
      this.hashers.set(hasher.code, hasher)
    }
  }

  /**
   * Whether `bytes` hash to `cid`'s multihash. The digest must be the hash function's whole
   * output: a truncated one is refused, since a short prefix (zero bytes, at the extreme)
   * matches bytes an attacker chose.
   *
   * @throws UnsupportedHasherError if no hasher is known for the CID's multihash code
   * @throws InvalidCIDError if the CID's digest is shorter than its hash function's output
   */
  async matches(cid: CID, bytes: Uint8Array): Promise<boolean> {
    const { code, digest } = cid.multihash
    const hasher = this.hashers.get(code)
    if (hasher == null) {
      throw new UnsupportedHasherError(
        `cannot verify ${cid}: multihash code 0x${code.toString(16)} is not supported; pass its hasher in \`hashers\``
      )
    }
    // an array this process hashed already (an add's leaf, a fetched block checked by the router)
    // is not hashed again; and what is hashed here is recorded, so the next check is free
    if (code === sha256.code && digest.byteLength === SHA256_BYTES && wasHashedHere(cid, bytes)) return true
    const computed = code === sha256.code ? sha256Here(bytes) : (await hasher.digest(bytes)).digest
    if (code !== identity.code && digest.byteLength !== computed.byteLength) {
      throw new InvalidCIDError(
        `cannot verify ${cid}: its ${digest.byteLength}-byte digest is not the ${computed.byteLength} bytes its hash function gives (truncated digests are refused)`
      )
    }
    return equals(computed, digest)
  }

  /**
   * Resolve if `bytes` hash to `cid`, throw otherwise.
   *
   * @throws BlockVerificationError if they do not
   * @throws UnsupportedHasherError if no hasher is known for the CID's multihash code
   */
  async verify(cid: CID, bytes: Uint8Array): Promise<void> {
    if (!(await this.matches(cid, bytes))) {
      throw new BlockVerificationError(
        `the ${bytes.byteLength} bytes given for ${cid} do not hash to it; the block is corrupt or belongs to another CID`
      )
    }
  }
}

const defaultVerifier = new BlockVerifier()

/** True if `bytes` hash to `cid`'s multihash (built-in hashers only). */
export async function blockMatches(cid: CID, bytes: Uint8Array): Promise<boolean> {
  return defaultVerifier.matches(cid, bytes)
}

/**
 * Resolve if `bytes` are the block named by `cid` (built-in hashers only).
 *
 * @param source what the bytes are, for the error message (`'stored block'`, …)
 * @throws BlockVerificationError if they are not
 * @throws UnsupportedHasherError if the CID's hash function is not built in
 */
export async function verifyBlock(cid: CID, bytes: Uint8Array, source?: string): Promise<void> {
  if (source == null) return defaultVerifier.verify(cid, bytes)
  if (!(await defaultVerifier.matches(cid, bytes))) {
    throw new BlockVerificationError(
      `${source} for ${cid} does not match its CID (${bytes.byteLength} bytes)`
    )
  }
}
