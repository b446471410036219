/**
 * Cache keys. An entry is keyed by the CID's multihash, so every CID naming the same bytes (CIDv0
 * and CIDv1, `raw` and `dag-pb` codecs) shares one entry, as in Helia's blockstores.
 *
 * @packageDocumentation
 */

import { base32 } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'

/**
 * The cache key of a CID: its multihash bytes in lowercase RFC 4648 base32 without the multibase
 * prefix, safe as a file name on every file system (e.g. `ciqbed3k6ya5i3qqwljochwxdrk5exzqilbckapgqtj7qwmaa7xufby`).
 *
 * @example
 * ```ts
 * cacheKey(CID.parse('Qm…')) === cacheKey(CID.parse('Qm…').toV1()) // true
 * ```
 */
export function cacheKey(cid: CID): string {
  return base32.baseEncode(cid.multihash.bytes)
}

/**
 * The shard folder of a key: its next-to-last two characters (as go-ds-flatfs), because every
 * sha2-256 key starts with the same characters and the very last one carries only 2 bits.
 */
export function shardOf(key: string): string {
  return key.slice(-3, -1)
}
