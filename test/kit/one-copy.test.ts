import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { base58btc } from 'multiformats/bases/base58'
import type { CID } from 'multiformats/cid'
import { collectBytes } from '../../src/blocks/bytes.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, pseudoRandomBytes, tempDir, waitFor } from '../helpers.ts'

const KiB = 1024
const MiB = 1024 * KiB
/** the seeker's disk budget for unpinned fetched blocks */
const BUDGET = 2 * MiB

/** Files under `dir` (recursively), skipping folders named in `skip`, with their sizes. */
async function filesUnder(dir: string, skip: string[] = []): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = []
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!skip.includes(entry.name)) out.push(...(await filesUnder(path, skip)))
    } else {
      // a block evicted meanwhile is simply gone
      const size = await stat(path).then(
        (st) => st.size,
        () => undefined
      )
      if (size != null) out.push({ path, size })
    }
  }
  return out
}

/** The blockstore's block files (`blocks/<shard>/<key>.data`). */
async function blockFiles(kit: IPFSKit): Promise<Array<{ path: string; size: number }>> {
  return (await filesUnder(join(kit.repo.path, 'blocks'))).filter((f) => f.path.endsWith('.data'))
}

/** Every block of a UnixFS DAG, by walking it on `holder` (which has it all). */
async function dagBlocks(holder: IPFSKit, root: CID): Promise<CID[]> {
  const out: CID[] = [root]
  if (root.code !== dagPb.code) return out
  const node = dagPb.decode(await collectBytes(holder.repo.blockstore.get(root)))
  for (const link of node.Links) out.push(...(await dagBlocks(holder, link.Hash)))
  return out
}

describe('one copy on disk: fetched blocks live in the blockstore, bounded by the disk budget', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let provider: IPFSKit
  let seeker: IPFSKit
  before(async () => {
    dir = await tempDir()
    provider = await localKit('worker', dir.path)
    // a small memory tier, so that blocks leave it (which used to write them to disk again)
    seeker = await localKit('leecher', dir.path, { diskCacheBytes: BUDGET, memoryCacheBytes: 512 * KiB })
    await seeker.ipfsSwarmConnect(provider.peer.getMultiaddrs()[0]!.toString())
  })
  after(async () => {
    await seeker?.stop()
    await provider?.stop()
    await dir?.cleanup()
  })

  it('a fetched block is written once, indexed by the cache, and counted by repo stat', async () => {
    const bytes = pseudoRandomBytes(MiB, 301)
    const added = await provider.ipfsAddBytes(bytes)
    const blocks = await dagBlocks(provider, added.cid)
    const before = await seeker.ipfsRepoStat()

    assert.deepEqual(await seeker.ipfsCat(added.Hash, { signal: AbortSignal.timeout(30_000) }), bytes)
    const cache = await seeker.getCache()
    await waitFor(
      () => cache.getStats().disk!.items >= blocks.length,
      'the fetched blocks indexed by the cache'
    )
    // and read again through the filesystem's tiers (memory evictions used to be copied to disk)
    const fs = seeker.getFilesystem({ useLibp2p: true })
    assert.deepEqual(await fs.cat(added.cid, { signal: AbortSignal.timeout(30_000) }), bytes)
    assert.deepEqual(await fs.cat(added.cid, { signal: AbortSignal.timeout(30_000) }), bytes)

    const files = await blockFiles(seeker)
    assert.equal(files.length, blocks.length, 'one block file per block of the DAG')
    const copies = await filesUnder(seeker.repo.cachePath, ['index'])
    assert.deepEqual(copies, [], 'the cache keeps no block files of its own')
    const stats = cache.getStats().disk!
    assert.equal(stats.items, blocks.length)
    assert.equal(
      stats.bytes,
      files.reduce((n, f) => n + f.size, 0)
    )
    const after = await seeker.ipfsRepoStat()
    assert.equal(Number(after.NumObjects) - Number(before.NumObjects), blocks.length)
    assert.ok(Number(after.RepoSize) - Number(before.RepoSize) >= bytes.byteLength)
  })

  it('unpinned fetched blocks are evicted beyond the budget; pinned ones stay', async () => {
    const pinnedBytes = pseudoRandomBytes(MiB, 302)
    const pinned = await provider.ipfsAddBytes(pinnedBytes)
    await seeker.ipfsPinAdd(pinned.Hash, { signal: AbortSignal.timeout(30_000) })
    const pinnedBlocks = await dagBlocks(provider, pinned.cid)

    const big = pseudoRandomBytes(6 * MiB, 303)
    const fetched = await provider.ipfsAddBytes(big)
    assert.deepEqual(await seeker.ipfsCat(fetched.Hash, { signal: AbortSignal.timeout(60_000) }), big)

    let pinnedSize = 0
    for (const cid of pinnedBlocks)
      pinnedSize += (await collectBytes(provider.repo.blockstore.get(cid))).byteLength
    const unpinnedOnDisk = async (): Promise<number> =>
      (await blockFiles(seeker)).reduce((n, f) => n + f.size, 0) - pinnedSize
    await waitFor(async () => (await unpinnedOnDisk()) <= BUDGET, 'unpinned blocks on disk within the budget')
    const cache = await seeker.getCache()
    assert.ok(cache.getStats().disk!.bytes <= BUDGET)
    assert.ok(cache.getStats().disk!.evictions > 0, 'blocks were evicted')
    // a pinned block is never removed by an eviction
    for (const cid of pinnedBlocks) assert.equal(await seeker.repo.blockstore.has(cid), true)
    assert.deepEqual(await seeker.ipfsCat(pinned.Hash), pinnedBytes)
  })

  it('gc frees the unpinned fetched blocks, and the cache forgets them', async () => {
    const cache = await seeker.getCache()
    const removed = await seeker.ipfsGc()
    assert.ok(removed.length > 0)
    for (const cid of removed) assert.equal(cache.has(cid), false, `${cid} forgotten by the cache`)
    const left = await blockFiles(seeker)
    // what is left is pinned or in the MFS tree (its root folder at least): the cache indexes
    // no block that is gone
    let held = 0
    for await (const _ of seeker.repo.blockstore.getAll()) held++
    assert.equal(left.length, held)
    const mfs = await seeker.files.localBlocks()
    for await (const { cid } of seeker.repo.blockstore.getAll()) {
      const kept = (await seeker.helia.pins.isPinned(cid)) || mfs.has(base58btc.encode(cid.multihash.bytes))
      assert.equal(kept, true, `${cid} is pinned or in MFS`)
    }
    assert.ok(cache.getStats().disk!.items <= held)
  })
})
