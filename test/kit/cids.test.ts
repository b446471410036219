import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import type { CID } from 'multiformats/cid'
import { collectBytes } from '../../src/blocks/bytes.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, pseudoRandomBytes, tempDir } from '../helpers.ts'

// Debian's ipfs-cid (an independent implementation of Kubo's layout), installed by .ci/run
const IPFS_CID = '/usr/bin/ipfs_cid'

describe('Kubo-identical CIDs', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let kit: IPFSKit
  before(async () => {
    dir = await tempDir()
    kit = await localKit('worker', dir.path, { offline: true })
  })
  after(async () => {
    await kit?.stop()
    await dir?.cleanup()
  })

  it('hello world', async () => {
    const r = await kit.ipfsAddString('hello world\n')
    assert.equal(r.Hash, 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')
    assert.equal(r.Size, 20)
    assert.equal(r.cid.version, 0)
  })

  it('the empty folder', async () => {
    const empty = join(dir.path, 'empty')
    await mkdir(empty)
    const r = await kit.ipfsAddFile(empty)
    assert.equal(r.Hash, 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn')
    assert.equal(r.Name, 'empty')
  })

  it('CIDv1 implies raw leaves, as in Kubo', async () => {
    const r = await kit.ipfsAddString('hello world\n', { cidVersion: 1 })
    assert.equal(r.Hash, 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4')
    await assert.rejects(kit.ipfsAddString('x', { cidVersion: 0, rawLeaves: true }), {
      name: 'InvalidParametersError'
    })
  })

  it('multi-level files match an independent implementation of the Kubo layout', async (t) => {
    assert.ok(existsSync(IPFS_CID), `${IPFS_CID} is missing: .ci/run installs Debian's ipfs-cid`)
    // 1 chunk, 2 chunks, and > 174 chunks (two levels of the balanced DAG)
    for (const size of [1000, 256 * 1024 + 1, 174 * 256 * 1024 + 5000]) {
      const file = join(dir.path, `f-${size}.bin`)
      await writeFile(file, pseudoRandomBytes(size, size))
      const expected = JSON.parse(
        execFileSync(IPFS_CID, [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      ) as {
        CIDv0: string
      }
      const r = await kit.ipfsAddFile(file)
      t.diagnostic(`${size} bytes -> ${r.Hash}`)
      assert.equal(r.Hash, expected.CIDv0, `CID of ${size} bytes`)
      assert.deepEqual(await kit.ipfsCat(r.Hash), new Uint8Array(pseudoRandomBytes(size, size)))
    }
  })

  it('folders list their entries, root last, and read back through paths', async () => {
    const root = join(dir.path, 'site')
    await mkdir(join(root, 'sub'), { recursive: true })
    await writeFile(join(root, 'index.html'), '<h1>hi</h1>')
    await writeFile(join(root, 'sub', 'a.txt'), 'a')
    await writeFile(join(root, '.hidden'), 'secret')
    const results = await kit.ipfsAddPath(root)
    assert.deepEqual(
      results.map((r) => r.Name),
      ['site/index.html', 'site/sub/a.txt', 'site/sub', 'site']
    )
    const rootCid = results.at(-1)!.Hash
    assert.equal(new TextDecoder().decode(await kit.ipfsCat(`/ipfs/${rootCid}/sub/a.txt`)), 'a')
    const ls = await kit.ipfsLs(rootCid)
    assert.deepEqual(
      ls.map((e) => [e.Name, e.Type]),
      [
        ['index.html', 'file'],
        ['sub', 'directory']
      ]
    )
    const out = join(dir.path, 'out')
    await kit.ipfsGet(rootCid, out)
    const { readFile } = await import('node:fs/promises')
    assert.equal(await readFile(join(out, 'index.html'), 'utf8'), '<h1>hi</h1>')
    assert.equal(await readFile(join(out, 'sub', 'a.txt'), 'utf8'), 'a')
    assert.equal(existsSync(join(out, '.hidden')), false)
  })

  it("every entry's Size is Kubo's: its block and every block below it, as stored", async () => {
    const root = join(dir.path, 'sizes')
    await mkdir(join(root, 'many'), { recursive: true })
    await writeFile(join(root, 'big.bin'), pseudoRandomBytes(3 * 256 * 1024 + 17, 21))
    await writeFile(join(root, 'empty'), '')
    await symlink('big.bin', join(root, 'link'))
    for (let i = 0; i < 40; i++) await writeFile(join(root, 'many', `f${i}`), `${i}`)
    const dagSize = async (cid: CID): Promise<number> => {
      const bytes = await collectBytes(kit.helia.blockstore.get(cid))
      if (cid.code !== dagPb.code) return bytes.byteLength
      return dagPb.decode(bytes).Links.reduce((sum, l) => sum + (l.Tsize ?? 0), bytes.byteLength)
    }
    for (const options of [{}, { cidVersion: 1 as const }, { wrapWithDirectory: true }]) {
      const results = await kit.ipfsAddPath(root, options)
      assert.ok(results.length > 40)
      for (const r of results)
        assert.equal(r.Size, await dagSize(r.cid), `${r.Name} ${JSON.stringify(options)}`)
    }
  })

  it('range reads', async () => {
    const bytes = pseudoRandomBytes(600 * 1024, 7)
    const r = await kit.ipfsAddBytes(bytes)
    const part = await kit.ipfsCat(r.cid, { offset: 300 * 1024 - 10, length: 100 })
    assert.deepEqual(part, bytes.subarray(300 * 1024 - 10, 300 * 1024 + 90))
  })

  it('JSON round trip, and values JSON cannot hold are refused', async () => {
    const r = await kit.ipfsAddJson({ task: 1, items: ['a', 'b'] })
    assert.deepEqual(JSON.parse(new TextDecoder().decode(await kit.ipfsCat(r.Hash))), {
      task: 1,
      items: ['a', 'b']
    })
    const circular: Record<string, unknown> = {}
    circular.self = circular
    await assert.rejects(kit.ipfsAddJson(circular), { name: 'InvalidParametersError' })
    await assert.rejects(kit.ipfsAddJson(10n), { name: 'InvalidParametersError' })
    await assert.rejects(kit.ipfsAddJson(undefined), { name: 'InvalidParametersError' })
  })
})
