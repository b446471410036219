import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { base32upper } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'
import type { IPFSKit } from '../../src/kit/index.ts'
import { ipfsKit } from '../../src/kit/index.ts'
import { localKit, pseudoRandomBytes, tempDir } from '../helpers.ts'

/** The blockstore file of `cid` under `dir` (`<shard>/<base32 multihash>.data`). */
async function blockFile(dir: string, cid: CID): Promise<string> {
  const name = `${base32upper.encode(cid.multihash.bytes)}.data`
  for (const shard of await readdir(dir)) {
    const names: string[] = await readdir(join(dir, shard)).catch(() => [])
    if (names.includes(name)) return join(dir, shard, name)
  }
  throw new Error(`no file for ${cid} under ${dir}`)
}

async function concat(stream: AsyncIterable<Buffer | Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of stream) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

describe('IPFSFileSystem', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let kit: IPFSKit
  let root: string
  const big = pseudoRandomBytes(5 * 256 * 1024 + 100, 5)
  before(async () => {
    dir = await tempDir()
    kit = await localKit('worker', dir.path, { offline: true })
    const site = join(dir.path, 'site')
    await mkdir(join(site, 'docs'), { recursive: true })
    await writeFile(join(site, 'index.html'), '<h1>home</h1>')
    await writeFile(join(site, 'docs', 'big.bin'), big)
    root = (await kit.ipfsAddFile(site)).Hash
  })
  after(async () => {
    await kit?.stop()
    await dir?.cleanup()
  })

  it('reads by CID, /ipfs/ path and sub path; lists, stats, walks', async () => {
    const fs = kit.getFilesystem()
    assert.equal(new TextDecoder().decode(await fs.cat(`/ipfs/${root}/index.html`)), '<h1>home</h1>')
    assert.deepEqual(await fs.cat(`${root}/docs/big.bin`), big)
    const ls = await fs.ls(`/ipfs/${root}`)
    assert.deepEqual(
      ls.map((e) => [e.name, e.type]),
      [
        [`/ipfs/${root}/docs`, 'directory'],
        [`/ipfs/${root}/index.html`, 'file']
      ]
    )
    const info = await fs.info(`/ipfs/${root}/docs/big.bin`)
    assert.equal(info.type, 'file')
    assert.equal(info.size, big.byteLength)
    assert.equal(await fs.exists(`/ipfs/${root}/docs/big.bin`), true)
    assert.equal(await fs.exists(`/ipfs/${root}/nope.txt`), false)
    const walked = []
    for await (const entry of fs.walk(`/ipfs/${root}`)) walked.push(entry)
    assert.deepEqual(walked, [
      [`/ipfs/${root}`, ['docs'], ['index.html']],
      [`/ipfs/${root}/docs`, [], ['big.bin']]
    ])
    assert.deepEqual(await concat(fs.open(`${root}/docs/big.bin`)), big)
    await assert.rejects(fs.cat(root), { name: 'NotAFileError' })
    await assert.rejects(fs.cat('not-a-cid'), { name: 'InvalidCIDError' })
  })

  it('range reads read only the blocks they need', async () => {
    const fs = kit.getFilesystem()
    const offset = 2 * 256 * 1024 + 10
    const part = await fs.cat(`${root}/docs/big.bin`, { offset, length: 1000 })
    assert.deepEqual(part, big.subarray(offset, offset + 1000))
    const s = fs.getStats()
    const blocks =
      s.blocksFromMemory +
      s.blocksFromDisk +
      s.blocksFromBlockstore +
      s.blocksFromLibp2p +
      s.blocksFromNetwork
    // the folder root, the docs folder, the file root and one leaf of six
    assert.ok(blocks <= 4, `read ${blocks} blocks for a 1000-byte range`)
  })

  it('get writes to disk and put adds from disk', async () => {
    const fs = kit.getFilesystem()
    const out = join(dir.path, 'out')
    await fs.get(`/ipfs/${root}/docs`, out)
    assert.deepEqual(new Uint8Array(await readFile(join(out, 'big.bin'))), big)
    const cid = await fs.put(join(dir.path, 'site', 'index.html'))
    assert.equal(new TextDecoder().decode(await fs.cat(cid)), '<h1>home</h1>')
  })

  it('reads through the cache: a second read is a memory hit', async () => {
    const fs = kit.getFilesystem()
    await fs.cat(`${root}/index.html`)
    const before = fs.getStats()
    await fs.cat(`${root}/index.html`)
    const afterRead = fs.getStats()
    assert.equal(
      afterRead.blocksFromBlockstore,
      before.blocksFromBlockstore,
      'no block read from the blockstore again'
    )
    assert.ok(afterRead.blocksFromMemory > before.blocksFromMemory)
  })
})

describe('the disk tier across a restart of the kit', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    await dir?.cleanup()
  })

  it('keeps what peers served; a block changed on disk is dropped and fetched again, never returned', async () => {
    const repo = join(dir.path, 'repo')
    const provider = await ipfsKit({ repo: join(dir.path, 'provider'), profile: 'local', role: 'worker' })
    const bytes = pseudoRandomBytes(100_000, 9)
    const { cid } = await provider.ipfsAddBytes(bytes)
    try {
      const first = await ipfsKit({ repo, profile: 'local', role: 'leecher' })
      await first.ipfsSwarmConnect(provider.peer.getMultiaddrs()[0]!.toString())
      assert.deepEqual(await first.getFilesystem({ useLibp2p: true }).cat(cid), bytes)
      await (await first.getCache()).drain()
      await first.stop()

      // offline: the block is on disk once, in the blockstore, and the disk tier still indexes
      // it after the restart
      const again = await ipfsKit({ repo, offline: true })
      const cache = await again.getCache()
      const disk = cache.disk
      assert.ok(disk != null, 'a disk tier')
      assert.ok(disk.has(cid), 'the disk tier kept the block')
      const fs = again.getFilesystem()
      assert.deepEqual(await fs.cat(cid), bytes)
      assert.equal(fs.getStats().blocksFromDisk, 1, 'read from the disk tier')

      // corrupt the block on disk: it is detected and dropped, never returned
      const file = await blockFile(join(repo, 'blocks'), cid)
      const onDisk = await readFile(file)
      onDisk[10] = (onDisk[10] ?? 0) ^ 0xff
      await writeFile(file, onDisk)
      await cache.memory.clear()
      await assert.rejects(
        again.getFilesystem().cat(cid),
        { name: 'NotFoundError' },
        'offline, with the only copy corrupt: not found'
      )
      assert.ok(again.repo.blockstore.corruption().found >= 1, 'the corrupt block was counted')
      assert.equal(disk.has(cid), false, 'and dropped from the disk tier')
      await again.stop()

      // online again: fetched again from the peer, correct
      const third = await ipfsKit({ repo })
      await third.ipfsSwarmConnect(provider.peer.getMultiaddrs()[0]!.toString())
      assert.deepEqual(await third.getFilesystem({ useLibp2p: true }).cat(cid), bytes)
      await third.stop()
    } finally {
      await provider.stop()
    }
  })
})
