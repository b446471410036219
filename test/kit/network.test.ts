import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { IPFSKit } from '../../src/kit/index.ts'
import type { PubsubMessage } from '../../src/kit/types.ts'
import { localKit, pseudoRandomBytes, tempDir, waitFor } from '../helpers.ts'

describe('two kits on loopback', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let a: IPFSKit
  let b: IPFSKit
  before(async () => {
    dir = await tempDir()
    a = await localKit('worker', dir.path)
    b = await localKit('leecher', dir.path)
    const addr = a.peer.getMultiaddrs()[0]!.toString()
    assert.match(addr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    assert.equal(await b.ipfsSwarmConnect(addr), a.peer.peerId.toString())
  })
  after(async () => {
    await b?.stop()
    await a?.stop()
    await dir?.cleanup()
  })

  it('add on A, cat on B over bitswap', async () => {
    const bytes = pseudoRandomBytes(3 * 1024 * 1024 + 123, 42)
    const added = await a.ipfsAddBytes(bytes)
    assert.equal(await b.helia.blockstore.has(added.cid), false)
    const got = await b.ipfsCat(added.Hash, { signal: AbortSignal.timeout(30_000) })
    assert.equal(got.byteLength, bytes.byteLength)
    assert.deepEqual(got, bytes)
    // the blocks are now local to B
    assert.equal(await b.helia.blockstore.has(added.cid), true)
  })

  it('swarm peers shows the connection on both sides', async () => {
    const peersOfB = await b.ipfsSwarmPeers()
    assert.ok(peersOfB.some((p) => p.Peer === a.peer.peerId.toString() && p.Direction === 'outbound'))
    const peersOfA = await a.ipfsSwarmPeers()
    assert.ok(peersOfA.some((p) => p.Peer === b.peer.peerId.toString() && p.Direction === 'inbound'))
  })

  it('a pubsub message published on A arrives on B', async () => {
    const topic = 'ipfs-kit-test/topic'
    const received: PubsubMessage[] = []
    await b.ipfsPubsubSubscribe(topic, (m) => {
      received.push(m)
    })
    await a.ipfsPubsubSubscribe(topic, () => {})
    await waitFor(
      async () => (await a.ipfsPubsubPeers(topic)).includes(b.peer.peerId.toString()),
      'B to join the topic on A'
    )
    await a.ipfsPubsubPublish(topic, JSON.stringify({ task_cid: 'Qm123', n: 1 }))
    await waitFor(() => received.length > 0, 'the message on B')
    const msg = received[0]!
    assert.equal(msg.from, a.peer.peerId.toString())
    assert.deepEqual(msg.topicIDs, [topic])
    assert.deepEqual(JSON.parse(new TextDecoder().decode(msg.data)), { task_cid: 'Qm123', n: 1 })
    assert.ok((await b.ipfsPubsubLs()).includes(topic))
    await b.ipfsPubsubUnsubscribe(topic)
    assert.ok(!(await b.ipfsPubsubLs()).includes(topic))
  })

  it('an unreachable peer is a DialError, and the kit keeps working', async () => {
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const dead = `/ip4/127.0.0.1/tcp/1/p2p/${stranger.toString()}`
    await assert.rejects(a.ipfsSwarmConnect(dead, { signal: AbortSignal.timeout(5_000) }), {
      name: 'DialError'
    })
    await assert.rejects(a.ipfsSwarmConnect('not-a-multiaddr'), { name: 'InvalidMultiaddrError' })
    assert.ok((await a.ipfsAddString('still alive')).Hash.startsWith('Qm'))
  })
})
