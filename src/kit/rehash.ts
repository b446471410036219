/**
 * Adds with a hash function other than sha2-256. The UnixFS importer hashes every block with
 * sha2-256 and offers no other; this store sits between it and the real one and writes each
 * block again under the chosen hash: a raw leaf as it is, a dag-pb node with its links pointing
 * at the children's new CIDs and their new cumulative sizes (`Tsize`), as Kubo's importer would
 * have made them. The importer writes every child before its parent, so each link's new CID is
 * known when the parent arrives.
 *
 * @packageDocumentation
 */

import * as dagPb from '@ipld/dag-pb'
import type { AbortOptions } from '@libp2p/interface'
import type { WritableStorage } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { InvalidParametersError } from '../errors.ts'

/** A block as written under the chosen hash. */
export interface Rehashed {
  cid: CID
  /** the block and every block below it, in bytes (Kubo's `Size`, a link's `Tsize`) */
  size: number
}

/**
 * A sink for the importer that writes every block to `inner` under `hasher` (CIDv1), and
 * remembers, for each CID the importer made, the CID and size it became.
 */
export class RehashingSink {
  readonly #inner: WritableStorage
  readonly #hasher: MultihashHasher
  readonly #done = new Map<string, Rehashed>()

  constructor(inner: WritableStorage, hasher: MultihashHasher) {
    this.#inner = inner
    this.#hasher = hasher
  }

  async put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<CID> {
    const key = cid.toString()
    if (this.#done.has(key)) return cid
    let block = bytes
    let size = bytes.byteLength
    if (cid.code === dagPb.code) {
      const node = dagPb.decode(bytes)
      const Links = node.Links.map((link) => {
        const child = this.#done.get(link.Hash.toString())
        if (child == null) {
          throw new InvalidParametersError(
            `cannot rehash ${cid}: its child ${link.Hash} was not written first`
          )
        }
        size += child.size
        return { Hash: child.cid, Name: link.Name, Tsize: child.size }
      })
      // the same node, links in the same order: only their CIDs and sizes change
      block = dagPb.encode(node.Data === undefined ? { Links } : { Data: node.Data, Links })
      size += block.byteLength - bytes.byteLength
    } else if (cid.code !== raw.code) {
      throw new InvalidParametersError(
        `cannot rehash ${cid}: codec 0x${cid.code.toString(16)} is not dag-pb or raw`
      )
    }
    const digest = await this.#hasher.digest(block)
    const out = CID.createV1(cid.code, digest)
    await this.#inner.put(out, block, options)
    this.#done.set(key, { cid: out, size })
    return cid
  }

  /** The CID and size that the importer's `cid` became. */
  translated(cid: CID): Rehashed {
    const found = this.#done.get(cid.toString())
    if (found == null) throw new InvalidParametersError(`${cid} was not written through this add`)
    return found
  }
}
