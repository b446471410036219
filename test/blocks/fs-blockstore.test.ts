import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { collectBytes } from '../../src/blocks/bytes.ts'
import { RepoBlockstore } from '../../src/blocks/fs-blockstore.ts'
import { pseudoRandomBytes, tempDir } from '../helpers.ts'

async function rawBlock(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes))
}

describe('RepoBlockstore (blockstore-fs, whole-file reads)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    dir = await tempDir('ipfs-kit-fs-blockstore-')
  })
  after(async () => {
    await dir?.cleanup()
  })

  it('hands a block over in one piece, with the bytes that were stored', async () => {
    const store = new RepoBlockstore(dir.path)
    await store.open()
    const bytes = pseudoRandomBytes(1024 * 1024 + 7, 3)
    const cid = await rawBlock(bytes)
    await store.put(cid, bytes)
    const parts: Uint8Array[] = []
    for await (const part of store.get(cid)) parts.push(part)
    assert.equal(parts.length, 1, 'one piece, not a stream of 64 KiB chunks')
    assert.equal(
      createHash('sha256').update(parts[0]!).digest('hex'),
      createHash('sha256').update(bytes).digest('hex')
    )
    await store.close()
  })

  it('keeps blockstore-fs layout: each reads what the other wrote', async () => {
    const ours = new RepoBlockstore(dir.path)
    const theirs = new FsBlockstore(dir.path)
    await ours.open()
    await theirs.open()
    const a = pseudoRandomBytes(300_000, 4)
    const b = pseudoRandomBytes(5_000, 5)
    const cidA = await rawBlock(a)
    const cidB = await rawBlock(b)
    await ours.put(cidA, a)
    await theirs.put(cidB, b)
    assert.deepEqual(new Uint8Array(await collectBytes(theirs.get(cidA))), a)
    assert.deepEqual(new Uint8Array(await collectBytes(ours.get(cidB))), b)
    assert.equal(await ours.has(cidA), true)
    await ours.close()
    await theirs.close()
  })

  it('a missing block is a NotFoundError (what Helia looks for), an aborted read an AbortError', async () => {
    const store = new RepoBlockstore(dir.path)
    await store.open()
    const missing = await rawBlock(new TextEncoder().encode('never stored'))
    await assert.rejects(collectBytes(store.get(missing)), { name: 'NotFoundError' })
    const bytes = pseudoRandomBytes(10_000, 6)
    const cid = await rawBlock(bytes)
    await store.put(cid, bytes)
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(collectBytes(store.get(cid, { signal: controller.signal })), { name: 'AbortError' })
    await store.close()
  })

  it('has: true for a block held, false for one not held, an AbortError when aborted', async () => {
    const store = new RepoBlockstore(join(dir.path, 'has'))
    await store.open()
    const bytes = pseudoRandomBytes(1000, 9)
    const cid = await rawBlock(bytes)
    assert.equal(await store.has(cid), false)
    await store.put(cid, bytes)
    assert.equal(await store.has(cid), true)
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(store.has(cid, { signal: controller.signal }), { name: 'AbortError' })
    await store.close()
  })

  it('writes: many of one block at once, a shard folder removed under it, no temp file left', async () => {
    const path = join(dir.path, 'writes')
    const store = new RepoBlockstore(path)
    await store.open()
    const bytes = pseudoRandomBytes(300_000, 8)
    const cid = await rawBlock(bytes)
    await Promise.all(Array.from({ length: 8 }, () => store.put(cid, bytes)))
    assert.deepEqual(new Uint8Array(await collectBytes(store.get(cid))), bytes)
    // the folder the store made once goes away: the next write makes it again
    const { dir: shard } = new NextToLast().encode(cid)
    await rm(join(path, shard), { recursive: true })
    await store.put(cid, bytes)
    assert.deepEqual(new Uint8Array(await collectBytes(store.get(cid))), bytes)
    const files = await readdir(join(path, shard))
    assert.deepEqual(files, [new NextToLast().encode(cid).file], 'no temp file is left')
    const listed = []
    for await (const pair of store.getAll())
      listed.push(Buffer.from(pair.cid.multihash.bytes).toString('hex'))
    assert.deepEqual(listed, [Buffer.from(cid.multihash.bytes).toString('hex')])
    await store.close()
  })
})
