/**
 * `/api/v0/key/import` as Kubo takes it (the key file as the multipart body, `format`/`f`,
 * `ipns-base`, `allow-any-key-type`) and what the real `kubo-rpc-client` sends: its
 * `key.import(name, pem, password)` puts the key in `?pem=…&password=…` with no body, which Kubo
 * refuses (`file argument 'key' is required`, go-ipfs-cmds' parseRequest for Kubo's required
 * `FileArg("key")`); so do we, with Kubo's message, a hint, and no key made.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import { base36 } from 'multiformats/bases/base36'
import { tempDir } from '../helpers.ts'
import { type ApiNode, apiNode } from './helpers.ts'

interface KeyOut {
  Name: string
  Id: string
}

describe('HTTP RPC key/import: Kubo’s shape, and kubo-rpc-client’s', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: ApiNode
  let client: KuboRPCClient

  before(async () => {
    dir = await tempDir()
    node = await apiNode(dir.path)
    client = create({ url: `${node.url}/api/v0` })
  })

  after(async () => {
    await node?.stop()
    await dir?.cleanup()
  })

  /** `key/import` with `query`, the key file (if any) as the multipart body, as Kubo's CLI sends it. */
  async function importKey(
    query: string,
    file?: Uint8Array | string
  ): Promise<{ status: number; body: KeyOut & { Message?: string } }> {
    let body: FormData | undefined
    if (file != null) {
      body = new FormData()
      body.append('key', new Blob([file]), 'key')
    }
    const res = await fetch(`${node.url}/api/v0/key/import?${query}`, { method: 'POST', body })
    return { status: res.status, body: (await res.json()) as KeyOut & { Message?: string } }
  }

  it("Kubo's shape: a libp2p protobuf key or a cleartext PKCS#8 PEM as the body; format or f; ipns-base", async () => {
    // `ipfs key export` bytes (libp2p-protobuf-cleartext, the default format)
    const ed = await generateKeyPair('Ed25519')
    const edId = peerIdFromPrivateKey(ed)
    const byProtobuf = await importKey('arg=proto', privateKeyToProtobuf(ed))
    assert.equal(byProtobuf.status, 200, byProtobuf.body.Message)
    assert.deepEqual(byProtobuf.body, { Name: 'proto', Id: edId.toCID().toString(base36) })
    // `openssl genpkey -algorithm ED25519 > ed25519.pem; ipfs key import test-openssl -f pem-pkcs8-cleartext ed25519.pem`
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    const byPem = await importKey('arg=openssl&f=pem-pkcs8-cleartext&ipns-base=b58mh', pem)
    assert.equal(byPem.status, 200, byPem.body.Message)
    assert.match(byPem.body.Id, /^12D3KooW/)
    const pem2 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    const byLongName = await importKey('arg=openssl2&format=pem-pkcs8-cleartext&ipns-base=k', pem2)
    assert.equal(byLongName.status, 200, byLongName.body.Message)
    assert.match(byLongName.body.Id, /^k51qzi5uqu5/)
    // the client sees them as any other key, by the same ids
    const list = await client.key.list()
    assert.deepEqual(
      list.map((k) => k.name),
      ['self', 'openssl', 'openssl2', 'proto']
    )
    assert.equal(list.find((k) => k.name === 'proto')?.id, edId.toCID().toString(base36))
    assert.deepEqual(await client.key.rm('openssl2'), { name: 'openssl2', id: byLongName.body.Id })
  })

  it("refuses what Kubo refuses: no key file, a PEM under the default format, an unknown format, 'self', a name taken", async () => {
    const noFile = await importKey('arg=none')
    assert.equal(noFile.status, 400)
    assert.equal(noFile.body.Message, "file argument 'key' is required")
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    // Kubo: a failed Run is a 500, with a hint to pass the PEM format
    const pemAsProtobuf = await importKey('arg=pem-as-protobuf', pem)
    assert.equal(pemAsProtobuf.status, 500)
    assert.match(pemAsProtobuf.body.Message ?? '', /for a PEM file pass --format pem-pkcs8-cleartext/)
    const unknown = await importKey('arg=x&format=pem-pkcs1', pem)
    assert.equal(unknown.status, 400)
    assert.match(unknown.body.Message ?? '', /unrecognized key format "pem-pkcs1"/)
    const self = await importKey('arg=self&f=pem-pkcs8-cleartext', pem)
    assert.match(self.body.Message ?? '', /cannot import key with name 'self'/)
    assert.equal((await importKey('arg=taken&f=pem-pkcs8-cleartext', pem)).status, 200)
    const again = await importKey('arg=taken&f=pem-pkcs8-cleartext', pem)
    assert.match(again.body.Message ?? '', /already exists.*"taken"/)
    assert.ok(!(await client.key.list()).some((k) => ['none', 'pem-as-protobuf', 'x'].includes(k.name)))
  })

  it('allow-any-key-type takes an ECDSA key; the short names of key/gen and key/rename (t, s, f)', async () => {
    const ecdsa = privateKeyToProtobuf(await generateKeyPair('ECDSA'))
    const refused = await importKey('arg=ec', ecdsa)
    assert.match(refused.body.Message ?? '', /not allowed to be imported, only RSA or Ed25519/)
    const allowed = await importKey('arg=ec&allow-any-key-type=true', ecdsa)
    assert.equal(allowed.status, 200, allowed.body.Message)
    const post = async (path: string): Promise<Record<string, unknown>> =>
      (await (await fetch(`${node.url}/api/v0/${path}`, { method: 'POST' })).json()) as Record<
        string,
        unknown
      >
    const rsa = await post('key/gen?arg=short-rsa&t=rsa&s=2048')
    assert.equal(rsa.Name, 'short-rsa')
    assert.match(String(rsa.Id), /^k2k4r8/, 'an RSA key id (its public key is hashed, not inlined)')
    assert.match(
      String((await post('key/gen?arg=short-rsa2&t=rsa&s=1024')).Message),
      /rsa keys must be from 2048 to 8192 bits, not 1024/
    )
    const renamed = await post('key/rename?arg=short-rsa&arg=ec&f=true')
    assert.deepEqual(renamed, { Was: 'short-rsa', Now: 'ec', Id: rsa.Id, Overwrite: true })
  })

  it("kubo-rpc-client's key.import (?pem=&password=, no body): refused as Kubo refuses it, with a hint; no key made", async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    await assert.rejects(
      client.key.import('from-client', pem, 'a password'),
      (err: Error) =>
        /^file argument 'key' is required: the key came as \?pem=/.test(err.message) &&
        /send the key file as the multipart body/.test(err.message)
    )
    assert.ok(!(await client.key.list()).some((k) => k.name === 'from-client'))
  })
})
