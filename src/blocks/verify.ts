import { equals } from 'multiformats/bytes'
import type { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { BlockVerificationError } from '../errors.ts'

const HASHERS = new Map<number, MultihashHasher>([
  [sha256.code, sha256],
  [sha512.code, sha512],
  [identity.code, identity as unknown as MultihashHasher]
])

/** The hasher for a CID's multihash, or a {@link BlockVerificationError} if we have none. */
export function hasherFor(cid: CID): MultihashHasher {
  const hasher = HASHERS.get(cid.multihash.code)
  if (hasher == null) {
    throw new BlockVerificationError(
      `cannot verify ${cid}: hash function 0x${cid.multihash.code.toString(16)} is not supported`
    )
  }
  return hasher
}

/** True if `bytes` hash to `cid`'s multihash. */
export async function blockMatches(cid: CID, bytes: Uint8Array): Promise<boolean> {
  const digest = await hasherFor(cid).digest(bytes)
  return equals(digest.digest, cid.multihash.digest)
}

/** Throw a {@link BlockVerificationError} unless `bytes` hash to `cid`. */
export async function verifyBlock(cid: CID, bytes: Uint8Array, source = 'block'): Promise<void> {
  if (!(await blockMatches(cid, bytes))) {
    throw new BlockVerificationError(
      `${source} for ${cid} does not match its CID (${bytes.byteLength} bytes)`
    )
  }
}
