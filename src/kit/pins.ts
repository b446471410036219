/**
 * Pin lookups Helia's `Pins` does not answer: whether a CID is held by another pin, and which.
 *
 * @packageDocumentation
 */
import type { Helia } from '@helia/interface'
import type { AbortOptions } from '@libp2p/interface'
import * as cborg from 'cborg'
import type { Datastore } from 'interface-datastore'
import { Key } from 'interface-datastore'
import { base36 } from 'multiformats/bases/base36'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import { strictDepthFirstWalker } from './walker.ts'

/**
 * Helia 7's record of a pinned block (its `/pinned-block/<base36 multihash>` key in the
 * datastore, CBOR): how many pins hold the block and their CIDs. Helia's own format on disk,
 * so it is as stable as the repos it wrote.
 */
interface PinnedBlockRecord {
  pinCount: number
  pinnedBy: Uint8Array[]
}

const PINNED_BLOCK_PREFIX = '/pinned-block/'

async function pinnedBlockRecord(
  datastore: Datastore,
  cid: CID,
  options: AbortOptions
): Promise<PinnedBlockRecord | undefined> {
  const key = new Key(`${PINNED_BLOCK_PREFIX}${base36.encode(cid.multihash.bytes)}`)
  try {
    const record = cborg.decode(await datastore.get(key, options)) as PinnedBlockRecord
    return record.pinCount > 0 ? record : undefined
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return undefined
    throw err
  }
}

async function isRecursivePin(helia: Helia, cid: CID, options: AbortOptions): Promise<boolean> {
  try {
    return (await helia.pins.get(cid, options)).depth > 0
  } catch {
    return false
  }
}

/**
 * The recursive pin that holds `cid` though `cid` is not a pin itself (Kubo's "indirect
 * through …"), or undefined. The pinned-block record names candidates; each is checked to
 * still be a recursive pin, and if none is, the recursive pins' DAGs are walked (local
 * blocks only).
 */
export async function indirectPinOf(
  helia: Helia,
  datastore: Datastore,
  cid: CID,
  options: AbortOptions = {}
): Promise<CID | undefined> {
  const record = await pinnedBlockRecord(datastore, cid, options)
  if (record == null) return undefined
  for (const bytes of record.pinnedBy) {
    let root: CID
    try {
      root = CID.decode(bytes)
    } catch {
      continue
    }
    if (!equals(root.multihash.bytes, cid.multihash.bytes) && (await isRecursivePin(helia, root, options))) {
      return root
    }
  }
  // the record's list can be stale: find a recursive pin whose DAG holds the block
  const walker = strictDepthFirstWalker()({ blockstore: helia.blockstore, getCodec: helia.getCodec })
  for await (const pin of helia.pins.ls(options)) {
    if (pin.depth === 0) continue
    try {
      for await (const node of walker.walk(pin.cid, {
        ...options,
        depth: pin.depth,
        offline: true
      } as never)) {
        if (node.depth > 0 && equals(node.block.cid.multihash.bytes, cid.multihash.bytes)) return pin.cid
      }
    } catch {
      // a pin whose blocks are not all here: `pin verify` reports it
    }
  }
  return undefined
}

/**
 * Every block under the recursive pins among `pins` that is held here and is not itself one of
 * `pins` (Kubo's indirect pins), each once; a branch walked under one pin is not walked again,
 * and a block that is missing is passed over (never fetched).
 */
export async function indirectPins(
  helia: Helia,
  pins: ReadonlyArray<{ cid: CID; Type: string }>,
  options: AbortOptions = {}
): Promise<CID[]> {
  const key = (cid: CID): string => base36.encode(cid.multihash.bytes)
  const listed = new Set(pins.map((p) => key(p.cid)))
  const walked = new Set<string>()
  const out: CID[] = []
  const walker = strictDepthFirstWalker({ skipMissing: true })({
    blockstore: helia.blockstore,
    getCodec: helia.getCodec
  })
  for (const pin of pins) {
    if (pin.Type !== 'recursive') continue
    const walk = walker.walk(pin.cid, {
      signal: options.signal,
      offline: true,
      includeChild: (child: CID) => {
        if (walked.has(key(child))) return false
        walked.add(key(child))
        return true
      }
    } as never)
    for await (const node of walk) {
      const cid = node.block.cid
      // a missing block is visited with no bytes: not held, so not listed
      if (node.depth === 0 || node.block.bytes.byteLength === 0 || listed.has(key(cid))) continue
      listed.add(key(cid))
      out.push(cid)
    }
  }
  return out
}
