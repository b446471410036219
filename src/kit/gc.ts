/**
 * Helia's `gc` with one more root: a block is kept if a pin holds it or `keep` says so (the
 * MFS tree). The same steps as Helia's own (under its blockstore's write lock, one
 * `deleteMany` over every unpinned block), as Helia's `gc` takes no such predicate.
 *
 * @packageDocumentation
 */
import type { Helia } from '@helia/interface'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import drain from 'it-drain'
import type { Mortice } from 'mortice'
import type { CID } from 'multiformats/cid'

/** Remove every block no pin holds and `keep` does not name; the CIDs removed. */
export async function collectGarbage(
  helia: Pick<Helia, 'blockstore' | 'pins'>,
  keep: (cid: CID) => boolean,
  options: AbortOptions = {}
): Promise<CID[]> {
  const storage = helia.blockstore as unknown as { lock: Mortice; unwrap(): Blockstore }
  const release = await storage.lock.writeLock({ signal: options.signal })
  const removed: CID[] = []
  try {
    const blockstore = storage.unwrap()
    await drain(
      blockstore.deleteMany(
        (async function* () {
          for await (const { cid } of blockstore.getAll(options)) {
            if (keep(cid) || (await helia.pins.isPinned(cid, options))) continue
            removed.push(cid)
            yield cid
          }
        })(),
        options
      )
    )
  } finally {
    release()
  }
  return removed
}
