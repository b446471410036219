/**
 * Corrupt blocks are treated as missing: a read removes the bad copy and fetches the block
 * again from a peer, a re-add rewrites it, and `repo verify` / `pin verify` report and repair.
 */
import assert from 'node:assert/strict'
import { readFile, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { NextToLast } from 'blockstore-fs/sharding'
import { CID } from 'multiformats/cid'
import { isErrorNamed } from '../../src/errors.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, pseudoRandomBytes, suiteKit, tempDir } from '../helpers.ts'

const CHUNK = 256 * 1024

/** The file that holds a block in a kit's repo. */
function blockFile(kit: IPFSKit, cid: CID): string {
  const { dir, file } = new NextToLast().encode(cid)
  return join(kit.repo.path, 'blocks', dir, file)
}

async function flipByte(kit: IPFSKit, cid: CID, at = 100): Promise<void> {
  const path = blockFile(kit, cid)
  const bytes = await readFile(path)
  bytes[at] = (bytes[at] ?? 0) ^ 0xff
  await writeFile(path, bytes)
}

/** The leaves of a file added with default options (a root with links to 256 KiB leaves). */
async function leavesOf(kit: IPFSKit, root: CID): Promise<CID[]> {
  const node = dagPb.decode(await readFile(blockFile(kit, root)))
  return node.Links.map((l) => l.Hash)
}

async function sameOnDisk(kit: IPFSKit, cid: CID, other: IPFSKit): Promise<boolean> {
  const [a, b] = await Promise.all([readFile(blockFile(kit, cid)), readFile(blockFile(other, cid))])
  return a.equals(b)
}

describe('corrupt blocks are healed', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let holder: IPFSKit
  let kit: IPFSKit
  before(async () => {
    dir = await tempDir()
    holder = await localKit('worker', dir.path)
    kit = await localKit('worker', dir.path)
    await kit.ipfsSwarmConnect(holder.peer.getMultiaddrs()[0]!.toString())
  })
  after(async () => {
    await kit?.stop()
    await holder?.stop()
    await dir?.cleanup()
  })

  it('a read of a flipped or truncated block fetches it again from a connected peer', async () => {
    const bytes = pseudoRandomBytes(6 * CHUNK, 7)
    const added = await kit.ipfsAddBytes(bytes)
    await holder.ipfsAddBytes(bytes)
    const [first, second] = await leavesOf(kit, added.cid)
    await flipByte(kit, first!)
    await truncate(blockFile(kit, second!), 1000)
    assert.deepEqual(await kit.ipfsCat(added.Hash, { signal: AbortSignal.timeout(60_000) }), bytes)
    // the first test on this kit: both bad blocks found and healed
    assert.deepEqual(kit.repo.blockstore.corruption(), { found: 2, healed: 2 })
    // the good copies are on disk now
    assert.ok(await sameOnDisk(kit, first!, holder))
    assert.ok(await sameOnDisk(kit, second!, holder))
  })

  it('repo verify removes bad blocks, fetches pinned ones again, and says what it did', async () => {
    const pinned = await kit.ipfsAddBytes(pseudoRandomBytes(3 * CHUNK, 8))
    await holder.ipfsAddBytes(pseudoRandomBytes(3 * CHUNK, 8))
    const unpinned = await kit.ipfsAddBytes(pseudoRandomBytes(3 * CHUNK, 9), { pin: false })
    const [good] = await leavesOf(kit, pinned.cid)
    const [cacheOnly] = await leavesOf(kit, unpinned.cid)
    await flipByte(kit, good!)
    await flipByte(kit, cacheOnly!)
    const bad: Array<{ Cid?: string; Action?: string }> = []
    let checked = 0
    for await (const p of kit.ipfsRepoVerify()) {
      checked = p.Progress
      if (p.Cid != null) bad.push(p)
    }
    assert.ok(checked >= 8)
    const action = (cid: CID): string | undefined =>
      bad.find((b) => CID.parse(b.Cid!).multihash.bytes.every((x, i) => x === cid.multihash.bytes[i]))?.Action
    assert.equal(bad.length, 2)
    assert.equal(action(good!), 'healed')
    assert.equal(action(cacheOnly!), 'removed')
    assert.ok(await sameOnDisk(kit, good!, holder))
    assert.equal(await kit.repo.blockstore.has(cacheOnly!), false)
    // a second pass finds nothing
    for await (const p of kit.ipfsRepoVerify()) assert.equal(p.Cid, undefined)
  })

  it('pin verify fetches a pinned block that went missing, and reports one no peer has', async () => {
    const shared = await kit.ipfsAddBytes(pseudoRandomBytes(3 * CHUNK, 10))
    await holder.ipfsAddBytes(pseudoRandomBytes(3 * CHUNK, 10))
    const alone = await kit.ipfsAddBytes(pseudoRandomBytes(3 * CHUNK, 11))
    const [missing] = await leavesOf(kit, shared.cid)
    const [lost] = await leavesOf(kit, alone.cid)
    await unlink(blockFile(kit, missing!))
    await flipByte(kit, lost!)
    const results = new Map<string, { Ok: boolean; BadNodes?: Array<{ Cid: string; Err: string }> }>()
    for await (const r of kit.ipfsPinVerify({ fetchTimeoutMs: 5000 })) results.set(r.Cid, r)
    assert.equal(results.get(shared.Hash)?.Ok, true)
    assert.ok(await sameOnDisk(kit, missing!, holder))
    const broken = results.get(alone.Hash)
    assert.equal(broken?.Ok, false)
    assert.deepEqual(
      broken?.BadNodes?.map((b) => b.Cid),
      [lost!.toString()]
    )
    // the bad copy is gone: a block nobody has is missing, never wrong
    assert.equal(await kit.repo.blockstore.has(lost!), false)
    await kit.ipfsPinRm(alone.Hash)
  })
})

describe('corrupt blocks offline', () => {
  const suite = suiteKit()

  it('re-adding a file rewrites its damaged blocks', async () => {
    const bytes = pseudoRandomBytes(5 * CHUNK + 11, 12)
    const added = await suite.kit.ipfsAddBytes(bytes)
    const leaves = await leavesOf(suite.kit, added.cid)
    await flipByte(suite.kit, leaves[1]!)
    await truncate(blockFile(suite.kit, leaves[3]!), 10)
    await suite.kit.ipfsAddBytes(bytes)
    assert.deepEqual(await suite.kit.ipfsCat(added.Hash), bytes)
    for await (const p of suite.kit.ipfsRepoVerify()) assert.equal(p.Cid, undefined, p.Msg)
  })

  it('a read of a bad block with no peer to ask fails with CorruptBlockError and removes it', async () => {
    const bytes = pseudoRandomBytes(3 * CHUNK, 13)
    const added = await suite.kit.ipfsAddBytes(bytes)
    const [leaf] = await leavesOf(suite.kit, added.cid)
    await flipByte(suite.kit, leaf!)
    await assert.rejects(suite.kit.ipfsCat(added.Hash), (err) => isErrorNamed(err, 'CorruptBlockError'))
    assert.equal(await suite.kit.repo.blockstore.has(leaf!), false)
    // then it is a missing block, as any other
    await assert.rejects(suite.kit.ipfsCat(added.Hash), (err) => isErrorNamed(err, 'NotFoundError'))
    let lost: string | undefined
    for await (const r of suite.kit.ipfsPinVerify()) if (r.Cid === added.Hash) lost = r.BadNodes?.[0]?.Cid
    assert.equal(lost, leaf!.toString())
  })
})
