/**
 * `dag`, `refs`, `block rm`, `pin update` and `pin ls --type` through the real
 * `kubo-rpc-client`, unchanged, against our API server (in process, kits on temp repos,
 * profile local); `dag/stat` (which the client lacks) over plain HTTP.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { tempDir } from '../helpers.ts'
import { type ApiNode, apiNode, concat } from './helpers.ts'

const encoder = new TextEncoder()

async function all<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of source) out.push(x)
  return out
}

/** A CARv1 read independently of our writer: roots, and every block checked against its CID. */
async function readCar(
  bytes: Uint8Array
): Promise<{ roots: CID[]; blocks: Array<{ cid: CID; bytes: Uint8Array }> }> {
  const reader = await CarBlockIterator.fromBytes(bytes)
  const blocks: Array<{ cid: CID; bytes: Uint8Array }> = []
  for await (const block of reader) {
    assert.ok(
      equals((await sha256.digest(block.bytes)).digest, block.cid.multihash.digest),
      `${block.cid} verifies`
    )
    blocks.push({ cid: block.cid, bytes: block.bytes })
  }
  return { roots: await reader.getRoots(), blocks }
}

describe('kubo-rpc-client: dag, refs, block rm, pin update, pin ls --type', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let a: ApiNode
  let b: ApiNode
  let clientA: KuboRPCClient
  let clientB: KuboRPCClient
  /** a UnixFS file, and a dag-cbor node that links to it */
  let file: CID
  let root: CID

  before(async () => {
    dir = await tempDir()
    a = await apiNode(dir.path)
    b = await apiNode(dir.path)
    clientA = create({ url: `${a.url}/api/v0` })
    clientB = create({ url: `${b.url}/api/v0` })
    file = (await clientA.add('a file under a dag node\n', { pin: false })).cid
    root = await clientA.dag.put({ name: 'root', file, list: [1, 'two', { deep: file }] })
  })

  after(async () => {
    await a?.stop()
    await b?.stop()
    await dir?.cleanup()
  })

  it('dag.put: dag-cbor by default, dag-json and raw bytes with their codecs; CIDs as computed from the spec', async () => {
    const value = { hello: 'world', n: 1 }
    const cbor = await clientA.dag.put(value)
    assert.equal(
      cbor.toString(),
      CID.createV1(dagCbor.code, await sha256.digest(dagCbor.encode(value))).toString()
    )
    const json = await clientA.dag.put(value, { storeCodec: 'dag-json' })
    assert.equal(
      json.toString(),
      CID.createV1(dagJson.code, await sha256.digest(dagJson.encode(value))).toString()
    )
    // bytes in one codec, stored in another: the same node as the object put
    const transcoded = await clientA.dag.put(encoder.encode('{"n":1,"hello":"world"}'), {
      inputCodec: 'dag-json',
      storeCodec: 'dag-cbor'
    })
    assert.equal(transcoded.toString(), cbor.toString())
    const raw = await clientA.dag.put(encoder.encode('raw bytes'), { inputCodec: 'raw', storeCodec: 'raw' })
    assert.equal(raw.code, 0x55)
    assert.deepEqual(await clientA.block.get(raw), encoder.encode('raw bytes'))
    await assert.rejects(
      clientA.dag.put(encoder.encode('{not json'), { inputCodec: 'dag-json' }),
      /not valid dag-json/
    )
    await assert.rejects(
      clientA.dag.put(value, { storeCodec: 'dag-cbor', hashAlg: 'md5' }),
      /unsupported hash/
    )
  })

  it('dag.get and dag.resolve follow paths through links', async () => {
    const { value } = await clientA.dag.get(root)
    assert.equal((value as { name: string }).name, 'root')
    const resolved = await clientA.dag.resolve(`${root}/list/2/deep`)
    assert.equal(resolved.cid.toString(), file.toString())
    assert.equal(resolved.remainderPath, '')
    const inside = await clientA.dag.resolve(`/ipfs/${root}/list/1`)
    assert.equal(inside.cid.toString(), root.toString())
    assert.equal(inside.remainderPath, 'list/1')
    assert.equal((await clientA.dag.get(root, { path: '/list/1' })).value, 'two')
    await assert.rejects(clientA.dag.resolve(`${root}/nothing/here`), /no link named "nothing"/)
    // the server's own dag/get: the node at the path, dag-json by default
    const res = await fetch(`${a.url}/api/v0/dag/get?arg=${root}/list/2`, { method: 'POST' })
    assert.equal(await res.text(), `{"deep":{"/":"${file}"}}`)
  })

  it("dag/stat: Kubo's summary, each DAG and what they share", async () => {
    const other = await clientA.dag.put({ other: file })
    const res = await fetch(`${a.url}/api/v0/dag/stat?arg=${root}&arg=${other}&progress=false`, {
      method: 'POST'
    })
    assert.equal(res.status, 200)
    const stat = (await res.json()) as {
      UniqueBlocks: number
      TotalSize: number
      SharedSize: number
      Ratio: number
      DagStats: Array<{ Cid: string; Size: number; NumBlocks: number }>
    }
    const fileSize = (await clientA.block.stat(file)).size
    const rootSize = (await clientA.block.stat(root)).size
    const otherSize = (await clientA.block.stat(other)).size
    assert.deepEqual(stat.DagStats, [
      { Cid: root.toString(), Size: rootSize + fileSize, NumBlocks: 2 },
      { Cid: other.toString(), Size: otherSize + fileSize, NumBlocks: 2 }
    ])
    assert.equal(stat.UniqueBlocks, 3)
    assert.equal(stat.TotalSize, rootSize + otherSize + fileSize)
    assert.equal(stat.SharedSize, fileSize)
    assert.ok(Math.abs(stat.Ratio - (stat.TotalSize + fileSize) / stat.TotalSize) < 1e-9)
  })

  it('dag.export gives a CARv1 that dag.import takes on another node: same CIDs, roots pinned', async () => {
    const car = await concat(clientA.dag.export(root))
    const read = await readCar(car)
    assert.deepEqual(read.roots.map(String), [root.toString()])
    assert.deepEqual(
      read.blocks.map((x) => x.cid.toString()),
      [root.toString(), file.toString()]
    )
    const imported = await all(clientB.dag.import([car]))
    assert.deepEqual(
      imported.map((r) => [r.root.cid.toString(), r.root.pinErrorMsg]),
      [[root.toString(), '']]
    )
    const pins = await all(clientB.pin.ls({ paths: [root] }))
    assert.deepEqual(
      pins.map((p) => [p.cid.toString(), p.type]),
      [[root.toString(), 'recursive']]
    )
    assert.deepEqual(
      (await all(clientB.refs(root, { recursive: true }))).map((r) => r.ref),
      [file.toString(), file.toString()]
    )
    assert.deepEqual(await concat(clientB.cat(file)), encoder.encode('a file under a dag node\n'))
  })

  it('dag.import refuses a CAR with a block that does not match its CID, and keeps nothing of it', async () => {
    const value = await clientA.dag.put({ corrupt: 'me', child: await clientA.dag.put({ leaf: true }) })
    const car = await concat(clientA.dag.export(value))
    // the last block's last byte
    car[car.byteLength - 2] = (car[car.byteLength - 2] ?? 0) ^ 0xff
    const before = (await all(clientB.refs.local())).length
    await assert.rejects(all(clientB.dag.import([car])), /does not match its CID/)
    assert.equal((await all(clientB.refs.local())).length, before)
    await assert.rejects(all(clientB.dag.import([encoder.encode('not a car')])), /not a CAR file/)
  })

  it('refs: one level, recursive with --unique, --edges and --format; refs.local lists every block', async () => {
    assert.deepEqual(
      (await all(clientA.refs(root))).map((r) => r.ref),
      [file.toString(), file.toString()]
    )
    assert.deepEqual(
      (await all(clientA.refs(root, { recursive: true, unique: true }))).map((r) => r.ref),
      [file.toString()]
    )
    assert.deepEqual(
      (await all(clientA.refs(root, { edges: true, unique: true }))).map((r) => r.ref),
      [`${root} -> ${file}`]
    )
    assert.deepEqual(
      (await all(clientA.refs(root, { format: '<linkname>: <dst>' }))).map((r) => r.ref),
      [`file: ${file}`, `list/2/deep: ${file}`]
    )
    await assert.rejects(
      all(clientA.refs(root, { edges: true, format: '<src>' })),
      /format argument with edges/
    )
    const local = (await all(clientA.refs.local())).map((r) => r.ref)
    // the repo keys blocks by multihash: listed as raw CIDv1, as Kubo
    assert.ok(local.includes(CID.createV1(0x55, root.multihash).toString()))
    assert.ok(local.includes(CID.createV1(0x55, file.multihash).toString()))
  })

  it("block.rm removes a block, refuses a pinned one with Kubo's message, and reports a missing one", async () => {
    const loose = await clientA.block.put(encoder.encode('a loose block'))
    const pinned = await clientA.block.put(encoder.encode('a pinned block'), { pin: true })
    const results = await all(clientA.block.rm([loose, pinned]))
    assert.deepEqual(
      results.map((r) => [r.cid.toString(), r.error?.message]),
      [
        [pinned.toString(), 'pinned: recursive'],
        [loose.toString(), undefined]
      ]
    )
    const [missing] = await all(clientA.block.rm(loose))
    assert.match(missing?.error?.message ?? '', /could not find/)
    const [forced] = await all(clientA.block.rm(loose, { force: true }))
    assert.equal(forced?.error, undefined)
    await clientA.pin.add(root)
    const [indirect] = await all(clientA.block.rm(file))
    assert.equal(indirect?.error?.message, `pinned via ${root}`)
  })

  it('pin.update moves a recursive pin; pin.ls({ type }) lists direct, recursive and indirect pins', async () => {
    const v1 = await clientA.dag.put({ version: 1, file })
    const v2 = await clientA.dag.put({ version: 2, file })
    await clientA.pin.add(v1)
    const direct = await clientA.dag.put({ direct: true })
    await clientA.pin.add(direct, { recursive: false })
    assert.deepEqual((await clientA.pin.update(v1, v2)).map(String), [v1.toString(), v2.toString()])
    const ls = async (type: 'direct' | 'recursive' | 'indirect' | 'all'): Promise<string[]> =>
      (await all(clientA.pin.ls({ type }))).map((p) => `${p.cid} ${p.type}`)
    const recursive = await ls('recursive')
    assert.ok(recursive.includes(`${v2} recursive`))
    assert.ok(!recursive.some((l) => l.startsWith(v1.toString())))
    assert.deepEqual(await ls('direct'), [`${direct} direct`])
    assert.ok((await ls('indirect')).includes(`${file} indirect`))
    const everything = await ls('all')
    assert.ok(everything.includes(`${v2} recursive`) && everything.includes(`${direct} direct`))
    assert.equal(everything.filter((l) => l.startsWith(file.toString())).length, 1, 'each pin once')
    // keeps the old pin with unpin: false
    await clientA.pin.update(v2, v1, { unpin: false })
    assert.ok((await ls('recursive')).includes(`${v2} recursive`))
    await assert.rejects(clientA.pin.update(direct, v1), /not recursively pinned/)
  })
})
