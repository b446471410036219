/**
 * The real `kubo-rpc-client` package, unchanged, against our API server (in process, on
 * kits with temp repos, profile local).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import * as dagPb from '@ipld/dag-pb'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { encode as varint } from 'uint8-varint'
import { pseudoRandomBytes, tempDir, waitFor } from '../helpers.ts'
import { type ApiNode, apiNode, concat, connect } from './helpers.ts'

const run = promisify(execFile)

/** Debian's `ipfs-cid` package: an independent implementation of Kubo's `ipfs add` layout. */
const IPFS_CID = '/usr/bin/ipfs_cid'
/** `ipfs add` of an empty file, as Kubo prints it */
const EMPTY_FILE_V0 = 'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH'
/** `echo 'hello world' | ipfs add` */
const HELLO_WORLD_V0 = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
/** `echo 'hello world' | ipfs add --cid-version=1` (one raw leaf) */
const HELLO_WORLD_V1 = 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4'
/** Kubo's default chunker (`size-262144`) and links per node of its balanced layout. */
const CHUNK = 262_144
const MAX_LINKS = 174

/** A UnixFS `Data` message of type File, encoded by hand (fields in order, as Go writes them). */
function unixfsFile(data: Uint8Array, blockSizes: number[]): Uint8Array {
  const fileSize = data.byteLength + blockSizes.reduce((a, b) => a + b, 0)
  const head = data.byteLength > 0 ? [0x08, 0x02, 0x12, ...varint(data.byteLength)] : [0x08, 0x02]
  const tail = [0x18, ...varint(fileSize), ...blockSizes.flatMap((size) => [0x20, ...varint(size)])]
  return new Uint8Array(Buffer.concat([Uint8Array.from(head), data, Uint8Array.from(tail)]))
}

interface LayoutNode {
  cid: CID
  /** file bytes below it */
  size: number
  /** block bytes of it and everything below (a link's Tsize) */
  tsize: number
}

/**
 * The root CID of `ipfs add` (256 KiB chunks, balanced layout, 174 links per node) written
 * from the UnixFS spec, not with our importer: CIDv0 with UnixFS leaves, or CIDv1 with raw leaves
 * (what `--cid-version=1` implies).
 */
async function kuboLayout(bytes: Uint8Array, version: 0 | 1): Promise<string> {
  const block = async (data: Uint8Array, codec: number): Promise<CID> =>
    version === 0 ? CID.createV0(await sha256.digest(data)) : CID.createV1(codec, await sha256.digest(data))
  let level: LayoutNode[] = []
  for (let at = 0; at === 0 || at < bytes.byteLength; at += CHUNK) {
    const chunk = bytes.subarray(at, at + CHUNK)
    const leaf = version === 0 ? dagPb.encode({ Data: unixfsFile(chunk, []), Links: [] }) : chunk
    level.push({
      cid: await block(leaf, version === 0 ? dagPb.code : raw.code),
      size: chunk.byteLength,
      tsize: leaf.byteLength
    })
  }
  while (level.length > 1) {
    const up: LayoutNode[] = []
    for (let i = 0; i < level.length; i += MAX_LINKS) {
      const children = level.slice(i, i + MAX_LINKS)
      const node = dagPb.encode({
        Data: unixfsFile(
          new Uint8Array(0),
          children.map((c) => c.size)
        ),
        Links: children.map((c) => ({ Hash: c.cid, Name: '', Tsize: c.tsize }))
      })
      up.push({
        cid: await block(node, dagPb.code),
        size: children.reduce((a, c) => a + c.size, 0),
        tsize: node.byteLength + children.reduce((a, c) => a + c.tsize, 0)
      })
    }
    level = up
  }
  return level[0]!.cid.toString()
}

describe('HTTP RPC API with the real kubo-rpc-client', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let a: ApiNode
  let b: ApiNode
  let clientA: KuboRPCClient
  let clientB: KuboRPCClient

  before(async () => {
    dir = await tempDir()
    a = await apiNode(dir.path)
    b = await apiNode(dir.path)
    clientA = create({ url: `${a.url}/api/v0` })
    clientB = create({ url: `${b.url}/api/v0` })
  })

  after(async () => {
    await a?.stop()
    await b?.stop()
    await dir?.cleanup()
  })

  it('id and version', async () => {
    const id = await clientA.id()
    assert.equal(id.id.toString(), a.kit.repo.config.Identity.PeerID)
    assert.ok(id.addresses.length > 0)
    assert.ok(id.addresses.every((ma) => ma.toString().startsWith('/ip4/127.0.0.1/')))
    const version = await clientA.version()
    assert.match(String(version.version), /^\d+\.\d+\.\d+/)
  })

  it("add gives Kubo's CIDs: CIDv0 as Debian's ipfs_cid computes them, from empty to 200 chunks (two levels); CIDv1 raw leaves", async () => {
    const text = (t: string): Uint8Array => new TextEncoder().encode(t)
    const inputs: Array<{ name: string; bytes: Uint8Array }> = [
      { name: 'empty', bytes: new Uint8Array(0) },
      { name: 'hello world\\n', bytes: text('hello world\n') },
      { name: 'Hello from IPFS!', bytes: text('Hello from IPFS!') },
      { name: 'one full chunk', bytes: pseudoRandomBytes(CHUNK, 1) },
      { name: 'two chunks', bytes: pseudoRandomBytes(CHUNK + 1, 2) },
      { name: '1 MiB + 123', bytes: pseudoRandomBytes(1024 * 1024 + 123, 7) },
      // 175 chunks: the smallest file whose balanced DAG needs a second level
      { name: `${MAX_LINKS + 1} chunks`, bytes: pseudoRandomBytes(MAX_LINKS * CHUNK + 1, 3) },
      { name: '50 MiB (200 chunks)', bytes: pseudoRandomBytes(50 * 1024 * 1024, 4) }
    ]
    for (const [i, { name, bytes }] of inputs.entries()) {
      const file = join(dir.path, `ipfs-cid-input-${i}`)
      await writeFile(file, bytes)
      const { CIDv0 } = JSON.parse((await run(IPFS_CID, [file], { maxBuffer: 1024 * 1024 })).stdout) as {
        CIDv0: string
      }
      // kuboLayout agrees with ipfs_cid here, so its CIDv1 raw-leaves variant can be trusted
      assert.equal(await kuboLayout(bytes, 0), CIDv0, `${name}: the reference layout agrees with ipfs_cid`)
      const v0 = await clientA.add(bytes)
      assert.equal(v0.cid.toString(), CIDv0, `${name}: CIDv0`)
      const v1 = await clientA.add(bytes, { cidVersion: 1, rawLeaves: true })
      assert.equal(v1.cid.toString(), await kuboLayout(bytes, 1), `${name}: CIDv1 with raw leaves`)
    }
    // the same, from what Kubo prints: ipfs add; ipfs add --cid-version=1
    assert.equal((await clientA.add(new Uint8Array(0))).cid.toString(), EMPTY_FILE_V0)
    assert.equal((await clientA.add('hello world\n')).cid.toString(), HELLO_WORLD_V0)
    assert.equal((await clientA.add('hello world\n', { cidVersion: 1 })).cid.toString(), HELLO_WORLD_V1)
  })

  it('add reports progress; cat reads back, with offset and length; wrap-with-directory', async () => {
    const text = 'Hello from IPFS!'
    const v0 = await clientA.add(text)
    assert.equal(new TextDecoder().decode(await concat(clientA.cat(v0.cid))), text)

    const big = pseudoRandomBytes(1024 * 1024 + 123, 7)
    const progress: number[] = []
    const v1 = await clientA.add(big, { cidVersion: 1, rawLeaves: true, progress: (n) => progress.push(n) })
    assert.ok(progress.length > 0 && progress.at(-1) === big.byteLength, `progress ${progress.join(',')}`)
    assert.deepEqual(await concat(clientA.cat(v1.cid)), big)
    assert.deepEqual(
      await concat(clientA.cat(v1.cid, { offset: 1000, length: 5000 })),
      big.subarray(1000, 6000)
    )
    // across a chunk boundary
    assert.deepEqual(
      await concat(clientA.cat(v1.cid, { offset: CHUNK - 10, length: 20 })),
      big.subarray(CHUNK - 10, CHUNK + 10)
    )

    const wrapped = await clientA.add({ path: 'hello.txt', content: text }, { wrapWithDirectory: true })
    const entries = []
    for await (const e of clientA.ls(wrapped.cid)) entries.push(e)
    assert.deepEqual(
      entries.map((e) => [e.name, e.type, e.cid.toString()]),
      [['hello.txt', 'file', v0.cid.toString()]]
    )
  })

  it('addAll of a folder tree; ls; get streams a tar that GNU tar unpacks', async () => {
    const files = [
      { path: 'site/index.html', content: new TextEncoder().encode('<h1>hi</h1>') },
      { path: 'site/assets/data.bin', content: pseudoRandomBytes(300_000, 9) },
      { path: 'site/empty' }
    ]
    const results = []
    for await (const r of clientA.addAll(files)) results.push(r)
    const root = results.at(-1)
    assert.equal(root?.path, 'site')
    const names = []
    for await (const e of clientA.ls(root!.cid)) names.push(`${e.name}:${e.type}`)
    assert.deepEqual(names.sort(), ['assets:dir', 'empty:dir', 'index.html:file'])

    const out = join(dir.path, 'untar')
    await mkdir(out)
    const tarFile = join(dir.path, 'site.tar')
    await writeFile(tarFile, await concat(clientA.get(root!.cid)))
    await run('tar', ['-xf', tarFile, '-C', out])
    const top = root!.cid.toString()
    assert.equal(await readFile(join(out, top, 'index.html'), 'utf8'), '<h1>hi</h1>')
    assert.deepEqual(new Uint8Array(await readFile(join(out, top, 'assets', 'data.bin'))), files[1]?.content)
  })

  it('block put (verified), get, stat', async () => {
    const bytes = new TextEncoder().encode('a raw block')
    const cid = await clientA.block.put(bytes)
    const expected = CID.createV1(0x55, await sha256.digest(bytes))
    assert.equal(cid.toString(), expected.toString())
    assert.deepEqual(await clientA.block.get(cid), bytes)
    const stat = await clientA.block.stat(cid)
    assert.equal(stat.size, bytes.byteLength)
    const pb = await clientA.block.put(bytes, { format: 'v0' }).catch((e: Error) => e)
    assert.ok(pb instanceof Error, 'bytes that are not dag-pb are refused as dag-pb')
  })

  it('pin add, ls, rm', async () => {
    const { cid } = await clientA.add('pin me', { pin: false })
    const pinned = await clientA.pin.add(cid)
    assert.equal(pinned.toString(), cid.toString())
    const pins = []
    for await (const p of clientA.pin.ls({ paths: [cid] })) pins.push(p)
    assert.deepEqual(
      pins.map((p) => [p.cid.toString(), p.type]),
      [[cid.toString(), 'recursive']]
    )
    const all = []
    for await (const p of clientA.pin.ls()) all.push(p.cid.toString())
    assert.ok(all.includes(cid.toString()))
    assert.equal((await clientA.pin.rm(cid)).toString(), cid.toString())
    await assert.rejects(async () => {
      for await (const _ of clientA.pin.ls({ paths: [cid] })) void _
    }, /not pinned/)
  })

  it('swarm connect and peers; B cats what A added over the network; findprovs finds A', async () => {
    const addrA = (await clientA.id()).addresses[0]
    assert.ok(addrA)
    // typed as void by the client; Kubo (and we) answer with `Strings`
    await clientB.swarm.connect(addrA)
    const peers = await clientB.swarm.peers()
    assert.ok(peers.some((p) => p.peer.toString() === a.kit.repo.config.Identity.PeerID))
    const bytes = pseudoRandomBytes(600_000, 11)
    const { cid } = await clientA.add(bytes)
    assert.deepEqual(await concat(clientB.cat(cid, { timeout: 30_000 })), bytes)
    const provs: string[] = []
    for await (const ev of clientB.routing.findProvs(cid, { timeout: 10_000 })) {
      if (ev.name === 'PROVIDER') provs.push(...ev.providers.map((p) => p.id.toString()))
    }
    assert.ok(provs.includes(a.kit.repo.config.Identity.PeerID), `providers: ${provs.join(', ')}`)
  })

  it('pubsub: subscribe on B, publish on A, message round trip; ls and peers', async () => {
    await connect(b.kit, a.kit)
    const topic = 'api test topic/é'
    const got: Array<{ data: string; from: string; topic: string }> = []
    await clientB.pubsub.subscribe(topic, (msg) => {
      got.push({
        data: new TextDecoder().decode(msg.data),
        from: msg.type === 'signed' ? msg.from.toString() : '',
        topic: msg.topic
      })
    })
    assert.ok((await clientB.pubsub.ls()).includes(topic))
    await waitFor(async () => (await clientA.pubsub.peers(topic)).length > 0, 'A to see B subscribed', 60_000)
    assert.deepEqual(await clientA.pubsub.peers(topic), [b.kit.repo.config.Identity.PeerID])
    await clientA.pubsub.publish(topic, new TextEncoder().encode('hello over HTTP'))
    await waitFor(() => got.length > 0, 'the message', 60_000)
    assert.deepEqual(got[0], { data: 'hello over HTTP', from: a.kit.repo.config.Identity.PeerID, topic })
    await clientB.pubsub.unsubscribe(topic)
    await waitFor(async () => !(await clientB.pubsub.ls()).includes(topic), 'B to leave the topic', 60_000)
  })

  it('repo stat, stats bw, and errors in Kubo shape', async () => {
    const stat = await clientA.repo.stat()
    assert.ok(stat.numObjects > 0n)
    assert.ok(stat.repoSize > 0n)
    for await (const bw of clientA.stats.bw()) {
      assert.equal(typeof bw.totalIn, 'bigint')
      break
    }
    await assert.rejects(concat(clientA.cat('not-a-cid')), (err: Error) => {
      assert.match(err.message, /not a valid CID/)
      return true
    })
    const res = await fetch(`${a.url}/api/v0/cat?arg=not-a-cid`, { method: 'POST' })
    assert.equal(res.status, 400)
    const body = (await res.json()) as Record<string, unknown>
    assert.equal(body.Type, 'error')
    assert.equal(body.Code, 1)
    assert.match(String(body.Message), /not a valid CID/)
    const missing = await fetch(
      `${a.url}/api/v0/block/stat?arg=bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy&timeout=1s`,
      {
        method: 'POST'
      }
    )
    assert.equal(missing.status, 500)
    assert.equal(((await missing.json()) as { Code: number }).Code, 0)
    assert.equal((await fetch(`${a.url}/api/v0/id`)).status, 405)
    assert.equal((await fetch(`${a.url}/api/v0/no/such/command`, { method: 'POST' })).status, 404)
  })
})
