/**
 * The trustless gateway: a plain Helia node (Helia's own packages, none of ours) with
 * its trustless-gateway block broker pointed at our gateway fetches a file; raw and
 * CAR responses checked with independent decoders; plain responses for browsers.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { withHTTP } from '@helia/http'
import { unixfs } from '@helia/unixfs'
import * as dagCbor from '@ipld/dag-cbor'
import { createHeliaLight, type Helia } from 'helia'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { pseudoRandomBytes, tempDir } from '../helpers.ts'
import { type ApiNode, apiNode, concat } from './helpers.ts'

/** A CARv1 read independently of our writer: header via @ipld/dag-cbor, every block hashed. */
async function readCar(
  bytes: Uint8Array
): Promise<{ roots: CID[]; blocks: Array<{ cid: CID; bytes: Uint8Array }> }> {
  let offset = 0
  const next = (): Uint8Array => {
    const [length, used] = varint.decode(bytes, offset)
    const out = bytes.subarray(offset + used, offset + used + length)
    offset += used + length
    return out
  }
  const header = dagCbor.decode<{ version: number; roots: CID[] }>(next())
  assert.equal(header.version, 1)
  const blocks: Array<{ cid: CID; bytes: Uint8Array }> = []
  while (offset < bytes.byteLength) {
    const section = next()
    const cid = CID.decodeFirst(section)[0]
    const data = section.subarray(cid.bytes.byteLength)
    assert.deepEqual((await sha256.digest(data)).digest, cid.multihash.digest, `block ${cid} verifies`)
    blocks.push({ cid, bytes: data })
  }
  return { roots: header.roots, blocks }
}

describe('trustless gateway', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: ApiNode
  let helia: Helia | undefined
  const file = pseudoRandomBytes(3 * 256 * 1024 + 4321, 21)
  let fileCid: CID
  let folderCid: CID

  before(async () => {
    dir = await tempDir()
    node = await apiNode(dir.path)
    fileCid = (await node.kit.ipfsAddBytes(file, { cidVersion: 1 })).cid
    const added = await node.kit.ipfsAddAll(
      [
        { path: 'docs/readme.md', content: [new TextEncoder().encode('# readme\n')] },
        { path: 'docs/<b>.txt', content: [new TextEncoder().encode('escaped?')] },
        { path: 'docs/data.bin', content: [file] }
      ],
      { cidVersion: 1 }
    )
    folderCid = added.at(-1)!.cid
  })

  after(async () => {
    await helia?.stop()
    await node?.stop()
    await dir?.cleanup()
  })

  it('a plain Helia node with its trustless-gateway broker fetches a file and a file in a folder', async () => {
    // Helia 7.1's routing never ends a lookup when it has only fallback routers (with no
    // default router its provider queue never goes idle), so give it one that finds nothing
    const noRouter = {
      name: 'none',
      async *findProviders() {}
    }
    helia = withHTTP(createHeliaLight({ routers: [noRouter] }), {
      delegatedRouters: [],
      recursiveGateways: [node.url],
      allowInsecure: true,
      allowLocal: true
    })
    await helia.start()
    const fs = unixfs(helia)
    assert.deepEqual(await concat(fs.cat(fileCid, { signal: AbortSignal.timeout(30_000) })), file)
    const inFolder = await concat(
      fs.cat(folderCid, { path: 'readme.md', signal: AbortSignal.timeout(30_000) })
    )
    assert.equal(new TextDecoder().decode(inFolder), '# readme\n')
    const served = node.api.activity
      .recent()
      .filter((r) => r.kind === 'gateway-raw' && r.outcome === 'success')
    assert.ok(served.length >= 5, `raw blocks served: ${served.length}`)
  })

  it('?format=raw and Accept: application/vnd.ipld.raw give the block', async () => {
    const block = await node.kit.helia.blockstore.get(fileCid)
    const bytes = await concat(block as AsyncIterable<Uint8Array>).catch(() => block as unknown as Uint8Array)
    for (const req of [
      fetch(`${node.url}/ipfs/${fileCid}?format=raw`),
      fetch(`${node.url}/ipfs/${fileCid}`, { headers: { accept: 'application/vnd.ipld.raw' } })
    ]) {
      const res = await req
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.raw')
      const got = new Uint8Array(await res.arrayBuffer())
      assert.deepEqual(got, bytes)
      assert.deepEqual((await sha256.digest(got)).digest, fileCid.multihash.digest)
    }
  })

  it('?format=car gives a CARv1 of the whole DAG (and of a path, with the path blocks first)', async () => {
    const res = await fetch(`${node.url}/ipfs/${fileCid}`, {
      headers: { accept: 'application/vnd.ipld.car' }
    })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.car; version=1/)
    const car = await readCar(new Uint8Array(await res.arrayBuffer()))
    assert.deepEqual(car.roots.map(String), [fileCid.toString()])
    assert.equal(car.blocks[0]?.cid.toString(), fileCid.toString())
    assert.equal(car.blocks.length, 5, 'root + 4 leaves')
    const leaves = Buffer.concat(car.blocks.slice(1).map((b) => b.bytes))
    assert.deepEqual(new Uint8Array(leaves), file)

    const sub = await fetch(`${node.url}/ipfs/${folderCid}/data.bin?format=car`)
    const subCar = await readCar(new Uint8Array(await sub.arrayBuffer()))
    assert.equal(subCar.blocks[0]?.cid.toString(), folderCid.toString(), 'the folder block comes first')
    assert.equal(subCar.blocks.length, 1 + 5)
    const scoped = await readCar(
      new Uint8Array(
        await (await fetch(`${node.url}/ipfs/${fileCid}?format=car&dag-scope=block`)).arrayBuffer()
      )
    )
    assert.equal(scoped.blocks.length, 1)
  })

  it('plain GET: file bytes with a content type, ranges, an escaped folder listing, errors', async () => {
    const md = await fetch(`${node.url}/ipfs/${folderCid}/readme.md`)
    assert.equal(md.status, 200)
    assert.match(md.headers.get('content-type') ?? '', /^text\/markdown/)
    assert.equal(md.headers.get('content-security-policy'), 'sandbox')
    assert.equal(await md.text(), '# readme\n')
    const range = await fetch(`${node.url}/ipfs/${fileCid}`, { headers: { range: 'bytes=100-199' } })
    assert.equal(range.status, 206)
    assert.deepEqual(new Uint8Array(await range.arrayBuffer()), file.subarray(100, 200))
    const redirect = await fetch(`${node.url}/ipfs/${folderCid}`, { redirect: 'manual' })
    assert.equal(redirect.status, 301)
    const listing = await fetch(`${node.url}/ipfs/${folderCid}/`)
    const html = await listing.text()
    assert.match(listing.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(html, /readme\.md/)
    assert.match(html, /&#60;b&#62;\.txt/)
    assert.doesNotMatch(html, /<b>\.txt/)
    assert.equal((await fetch(`${node.url}/ipfs/not-a-cid`)).status, 400)
    assert.equal((await fetch(`${node.url}/ipfs/${folderCid}/missing.txt`)).status, 404)
    const head = await fetch(`${node.url}/ipfs/${fileCid}`, { method: 'HEAD' })
    assert.equal(head.headers.get('content-length'), String(file.byteLength))
  })
})
