/**
 * Keys and IPNS through the real `kubo-rpc-client` (`key.*`, `name.publish`, `name.resolve`,
 * `resolve`, `routing.get|put`) against our API server, and between kits on loopback: a
 * record published while offline reaches a peer once the node is online again and stays
 * resolvable there after the publisher is gone.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import { repoToken } from '../../src/api/auth.ts'
import { ipfsKit, ipnsName } from '../../src/kit/index.ts'
import { tempDir, waitFor } from '../helpers.ts'
import { type ApiNode, apiNode, concat } from './helpers.ts'

describe('kubo-rpc-client: key, name, resolve, routing', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: ApiNode
  let client: KuboRPCClient
  let cid = ''

  before(async () => {
    dir = await tempDir()
    node = await apiNode(dir.path)
    client = create({ url: `${node.url}/api/v0` })
    cid = (await node.kit.ipfsAddString('published through the client\n')).Hash
  })

  after(async () => {
    await node?.stop()
    await dir?.cleanup()
  })

  it('key.gen, key.list, key.rename, key.rm', async () => {
    const gen = await client.key.gen('site')
    assert.equal(gen.name, 'site')
    assert.match(gen.id, /^k51qzi5uqu5/)
    const list = await client.key.list()
    assert.deepEqual(
      list.map((k) => k.name),
      ['self', 'site']
    )
    assert.equal(list[0]?.id, ipnsName((await node.kit.keys.list())[0]!.id))
    const renamed = await client.key.rename('site', 'www')
    assert.deepEqual(renamed, { was: 'site', now: 'www', id: gen.id, overwrite: false })
    const removed = await client.key.rm('www')
    assert.deepEqual(removed, { name: 'www', id: gen.id })
    await assert.rejects(client.key.rm('www'), /no key named "www"/)
    await assert.rejects(client.key.gen('self'), /cannot create key with name 'self'/)
  })

  it('name.publish, name.resolve and resolve', async () => {
    await client.key.gen('blog')
    const pub = await client.name.publish(`/ipfs/${cid}`, { key: 'blog', lifetime: '2h', ttl: '1m' })
    const blogId = (await client.key.list()).find((k) => k.name === 'blog')?.id
    assert.equal(pub.name, blogId)
    assert.match(pub.value, /^\/ipfs\/bafy/)
    const resolved: string[] = []
    for await (const path of client.name.resolve(`/ipns/${pub.name}`)) resolved.push(path)
    assert.deepEqual(resolved, [pub.value])
    assert.equal(await client.resolve(`/ipns/${pub.name}`), pub.value)
    assert.equal(
      new TextDecoder().decode(await concat(client.cat(pub.value))),
      'published through the client\n'
    )
    await assert.rejects(client.name.publish(`/ipfs/${cid}`, { key: 'nope' }), /no key named "nope"/)
    await assert.rejects(
      client.name.publish(`/ipfs/${cid}`, { lifetime: 'soon' }),
      /lifetime.*not a duration/
    )
  })

  it('routing.get returns the record; routing.put takes it back and refuses one signed by another key', async () => {
    const self = ipnsName((await node.kit.keys.list())[0]!.id)
    await client.name.publish(cid)
    let record: Uint8Array | undefined
    for await (const event of client.routing.get(`/ipns/${self}`)) {
      if (event.name === 'VALUE') record = event.value
    }
    assert.ok(record != null && record.byteLength > 100)
    const events = []
    for await (const event of client.routing.put(`/ipns/${self}`, record)) events.push(event.name)
    assert.deepEqual(events, ['VALUE'])
    const blog = ipnsName((await node.kit.keys.list()).find((k) => k.name === 'blog')!.id)
    await assert.rejects(async () => {
      for await (const _ of client.routing.put(`/ipns/${blog}`, record)) {
        // refused before any event
      }
    }, /not a valid IPNS record/)
  })

  it('key/import takes a key file as Kubo sends it; key/export only with the repo token', async () => {
    const body = new FormData()
    const exported = await node.kit.keys.export('blog')
    body.append('file', new Blob([exported]))
    const imported = await fetch(`${node.url}/api/v0/key/import?arg=copy`, { method: 'POST', body })
    assert.equal(imported.status, 200)
    const { Name, Id } = (await imported.json()) as { Name: string; Id: string }
    assert.equal(Name, 'copy')
    assert.equal(Id, ipnsName((await node.kit.keys.list()).find((k) => k.name === 'blog')!.id))
    const refused = await fetch(`${node.url}/api/v0/key/export?arg=copy`, { method: 'POST' })
    assert.equal(refused.status, 401)
    const token = await repoToken(node.kit.repo.path)
    const allowed = await fetch(`${node.url}/api/v0/key/export?arg=copy`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` }
    })
    assert.equal(allowed.status, 200)
    assert.deepEqual(new Uint8Array(await allowed.arrayBuffer()), exported)
  })
})

describe('IPNS between kits on loopback', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  before(async () => {
    dir = await tempDir()
  })

  after(async () => {
    await dir?.cleanup()
  })

  it('a name published offline reaches a peer when its node comes online, and resolves there after it stops', async () => {
    const repoA = join(dir.path, 'a')
    const offline = await ipfsKit({ repo: repoA, profile: 'local', offline: true })
    const { Hash } = await offline.ipfsAddString('published offline\n')
    const { name, value } = await offline.names.publish(Hash, { allowOffline: true })
    // offline, the repo's record is the answer even with nocache
    assert.equal(await offline.names.resolve(ipnsName(name), { nocache: true }), value)
    await offline.stop()

    const b = await ipfsKit({ repo: join(dir.path, 'b'), profile: 'local', role: 'worker' })
    try {
      const addrB = b.peer.getMultiaddrs()[0]?.toString() ?? ''
      // A's daemon starts with B as its bootstrap peer: it sends its valid records to the DHT once
      const a = await ipfsKit({ repo: repoA, profile: 'local', bootstrapPeers: [addrB] })
      try {
        await waitFor(
          async () =>
            b.names.resolve(`/ipns/${ipnsName(name)}`, { offline: true }).then(
              (v) => v === value,
              () => false
            ),
          'the record on B'
        )
      } finally {
        await a.stop()
      }
      // A is gone: B holds the record itself
      assert.equal(await b.names.resolve(`/ipns/${ipnsName(name)}`), value)
    } finally {
      await b.stop()
    }
  })
})
