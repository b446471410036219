/**
 * `/routing/v1` (IPFS HTTP Routing v1) on the daemon's HTTP server: two real nodes on
 * 127.0.0.1, the router connected to the provider; asked with plain `fetch` (JSON, NDJSON,
 * errors, cache and CORS headers) and with Helia's own client,
 * `@helia/delegated-routing-v1-http-api-client`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { delegatedRoutingV1HttpApiClient } from '@helia/delegated-routing-v1-http-api-client'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { kitLogger } from '../../src/logger.ts'
import { tempDir } from '../helpers.ts'
import { type ApiNode, apiNode, connect } from './helpers.ts'

interface Rec {
  Schema: string
  ID: string
  Addrs: string[]
  Protocols: string[]
}

async function rawCid(text: string): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

describe('/routing/v1 on the daemon', () => {
  let dirs: Array<Awaited<ReturnType<typeof tempDir>>> = []
  let router: ApiNode
  let provider: ApiNode
  let own: CID
  let theirs: CID

  before(async () => {
    dirs = [await tempDir(), await tempDir()]
    router = await apiNode(dirs[0]!.path)
    provider = await apiNode(dirs[1]!.path)
    own = (await router.kit.ipfsAddBytes(new TextEncoder().encode('held by the router'), { cidVersion: 1 }))
      .cid
    theirs = (
      await provider.kit.ipfsAddBytes(new TextEncoder().encode('held by the provider'), { cidVersion: 1 })
    ).cid
    await connect(router.kit, provider.kit)
  })

  after(async () => {
    await router?.stop()
    await provider?.stop()
    for (const d of dirs) await d.cleanup()
  })

  const get = async (path: string, accept?: string): Promise<Response> =>
    fetch(`${router.url}${path}`, {
      headers: accept == null ? {} : { accept },
      signal: AbortSignal.timeout(20_000)
    })

  it('answers a CID the node holds with itself as provider (JSON), with the cache and CORS headers of the spec', async () => {
    const res = await get(`/routing/v1/providers/${own}`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.match(
      res.headers.get('cache-control') ?? '',
      /^public, max-age=300,.*stale-while-revalidate=172800/
    )
    assert.equal(res.headers.get('access-control-allow-origin'), '*')
    assert.equal(res.headers.get('vary'), 'Accept')
    assert.ok(!Number.isNaN(Date.parse(res.headers.get('last-modified') ?? '')))
    const body = (await res.json()) as { Providers: Rec[] }
    const self = body.Providers[0]
    assert.equal(self?.Schema, 'peer')
    assert.equal(self?.ID, router.kit.peer.host.peerId.toString())
    assert.deepEqual(self?.Protocols, ['transport-bitswap'])
    const listening = router.kit.peer.getMultiaddrs().map((m) => m.decapsulateCode(421).toString())
    assert.ok(
      self!.Addrs.length > 0 && self!.Addrs.every((a) => listening.includes(a)),
      self!.Addrs.join(' ')
    )
  })

  it('finds a provider it does not hold the block of (a connected peer that has it), and streams NDJSON when asked', async () => {
    const res = await get(`/routing/v1/providers/${theirs}`, 'application/x-ndjson')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson')
    const lines = (await res.text()).trim().split('\n')
    const records = lines.map((l) => JSON.parse(l) as Rec)
    const rec = records.find((r) => r.ID === provider.kit.peer.host.peerId.toString())
    assert.ok(rec != null, `the provider is in ${lines.join(' | ')}`)
    const addrs = provider.kit.peer.getMultiaddrs().map((m) => m.decapsulateCode(421).toString())
    assert.ok(
      rec.Addrs.some((a) => addrs.includes(a)),
      `its addresses: ${rec.Addrs.join(' ')}`
    )
    assert.ok(
      !records.some((r) => r.ID === router.kit.peer.host.peerId.toString()),
      'not itself: it lacks the block'
    )
  })

  it('is a 404 (short max-age) for a CID nobody has, and a 400 for a bad CID or peer id', async () => {
    const none = await get(`/routing/v1/providers/${await rawCid('nobody has this')}`)
    assert.equal(none.status, 404)
    assert.match(none.headers.get('cache-control') ?? '', /^public, max-age=15,/)
    await none.text()
    for (const path of ['/routing/v1/providers/not-a-cid', '/routing/v1/peers/not-a-peer']) {
      const res = await get(path)
      assert.equal(res.status, 400, path)
      await res.text()
    }
    const unknown = await get('/routing/v1/nothing-here')
    assert.equal(unknown.status, 400)
    await unknown.text()
    const put = await fetch(`${router.url}/routing/v1/providers`, { method: 'PUT', body: '{}' })
    assert.equal(put.status, 501)
    await put.text()
    const pre = await fetch(`${router.url}/routing/v1/providers/${own}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' }
    })
    assert.equal(pre.status, 204)
    assert.equal(pre.headers.get('access-control-allow-origin'), '*')
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /GET/)
  })

  it('answers /peers from the peer store (either form of peer id), itself included, 404 for a peer it cannot find', async () => {
    const id = provider.kit.peer.host.peerId
    for (const form of [id.toString(), id.toCID().toString()]) {
      const res = await get(`/routing/v1/peers/${form}`)
      assert.equal(res.status, 200, form)
      const { Peers } = (await res.json()) as { Peers: Rec[] }
      assert.equal(Peers[0]?.ID, id.toString())
      assert.ok((Peers[0]?.Addrs.length ?? 0) > 0)
      assert.ok(Peers[0]?.Protocols.includes('/ipfs/bitswap/1.2.0'), Peers[0]?.Protocols.join(' '))
    }
    const self = (await (await get(`/routing/v1/peers/${router.kit.peer.host.peerId}`)).json()) as {
      Peers: Rec[]
    }
    assert.equal(self.Peers[0]?.ID, router.kit.peer.host.peerId.toString())
    const { generateKeyPair } = await import('@libp2p/crypto/keys')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const res = await get(`/routing/v1/peers/${stranger}`)
    assert.equal(res.status, 404)
    await res.text()
  })

  it("serves Helia's delegated routing client: providers and peers", async () => {
    const client = delegatedRoutingV1HttpApiClient({ url: router.url, cacheTTL: 0 })({ logger: kitLogger() })
    await client.start()
    try {
      const found = []
      for await (const p of client.getProviders(theirs, { signal: AbortSignal.timeout(20_000) }))
        found.push(p)
      const rec = found.find((p) => peerIdFromString(p.ID.toString()).equals(provider.kit.peer.host.peerId))
      assert.ok(rec != null, 'the provider')
      assert.ok(rec.Addrs.length > 0)
      const dialable = rec.Addrs.map((a) => multiaddr(a.toString()).toString())
      const addrs = provider.kit.peer.getMultiaddrs().map((m) => m.decapsulateCode(421).toString())
      assert.ok(dialable.some((a) => addrs.includes(a)))
      const peers = []
      for await (const p of client.getPeers(provider.kit.peer.host.peerId.toCID(), {
        signal: AbortSignal.timeout(20_000)
      }))
        peers.push(p)
      assert.equal(peers.length, 1)
      assert.ok(peerIdFromString(peers[0]!.ID.toString()).equals(provider.kit.peer.host.peerId))
      const none = []
      for await (const p of client.getProviders(await rawCid('nobody, again'), {
        signal: AbortSignal.timeout(20_000)
      }))
        none.push(p)
      assert.deepEqual(none, [])
    } finally {
      await client.stop()
    }
  })
})
