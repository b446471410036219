/**
 * Hostile pubsub peers on the content-announce topic, all on 127.0.0.1: one announces content it
 * does not have, one floods the topic with malformed announcements.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { unixfs } from '@helia/unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { ANNOUNCE_RATE_LIMIT_PER_MINUTE, CONTENT_ANNOUNCE_TOPIC } from '../../src/constants.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { registerLibp2pWithIpfsKit } from '../../src/kit/integration.ts'
import type { LibP2PIntegration } from '../../src/libp2p/integration/index.ts'
import { IPFSLibp2pPeer } from '../../src/libp2p/peer/index.ts'
import { localKit, pseudoRandomBytes, tempDir, waitFor } from '../helpers.ts'
import { verifyEveryBlock } from './fixtures/stores.ts'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const enc = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

describe('hostile pubsub peers', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let victim: IPFSKit
  let integration: LibP2PIntegration
  let honest: IPFSLibp2pPeer
  const peers: IPFSLibp2pPeer[] = []

  async function joined(peer: IPFSLibp2pPeer): Promise<void> {
    await peer.connect(victim.peer.getMultiaddrs()[0]!)
    await waitFor(
      () =>
        peer.host.services.pubsub
          .getSubscribers(CONTENT_ANNOUNCE_TOPIC)
          .some((p) => p.equals(victim.peer.peerId)) &&
        victim.peer.host.services.pubsub
          .getSubscribers(CONTENT_ANNOUNCE_TOPIC)
          .some((p) => p.equals(peer.peerId)),
      'both sides to see each other on the announce topic'
    )
  }

  async function startPeer(): Promise<IPFSLibp2pPeer> {
    // workers join the announce topic on start
    const peer = new IPFSLibp2pPeer({
      role: 'worker',
      profile: 'local',
      listenAddrs: ['/ip4/127.0.0.1/tcp/0']
    })
    await peer.start()
    peers.push(peer)
    return peer
  }

  before(async () => {
    dir = await tempDir('ipfs-kit-rel-pubsub-')
    victim = await localKit('worker', dir.path)
    integration = await registerLibp2pWithIpfsKit(victim, victim.peer)
    honest = await startPeer()
    await victim.ipfsSwarmConnect(honest.getMultiaddrs()[0]!.toString())
  })

  after(async () => {
    await victim?.stop()
    await Promise.all(peers.map((p) => p.stop()))
    await dir?.cleanup()
  })

  it('a peer that announces content it does not have: the fetch fails over to a real provider, the liar loses reputation', async () => {
    const liar = await startPeer()
    await joined(liar)
    const file = pseudoRandomBytes(600 * 1024, 21)
    const cid = await unixfs(honest.helia).addBytes(file)
    assert.equal(await liar.helia.blockstore.has(cid), false, 'the liar does not have it')
    await liar.host.services.pubsub.publish(
      CONTENT_ANNOUNCE_TOPIC,
      enc({ v: 1, cids: [cid.toString()], addrs: liar.getMultiaddrs().map(String), ts: Date.now() })
    )
    const discovery = integration.discovery
    await waitFor(
      () => discovery.providers.get(cid, { provenance: 'pubsub' }).some((r) => r.id.equals(liar.peerId)),
      'the lie to reach provider tracking (it is well-formed)'
    )
    const before = discovery.reputation.score(liar.peerId)

    // the kit's own read (routed through discovery and routing): the liar is the only record
    const got = await victim.ipfsCat(cid, { signal: AbortSignal.timeout(30_000) })
    assert.equal(sha(got), sha(file), 'the content, from the honest peer')
    const after = discovery.reputation.score(liar.peerId)
    assert.ok(after < before, `the liar's reputation dropped (${before} → ${after})`)
    assert.ok(after < discovery.reputation.score(honest.peerId), 'the liar ranks below the honest peer')
    assert.ok(discovery.backoff.level(liar.peerId) >= 1, 'the liar is backed off')
    assert.equal(discovery.providers.has(cid, liar.peerId), false, 'its record is gone')
    await verifyEveryBlock(victim.repo.blockstore)
  })

  it('malformed announcements at a high rate: rejected, rate limited, counted; none reaches provider tracking', async () => {
    const flooder = await startPeer()
    await joined(flooder)
    const other = await startPeer()
    const real = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('named in the flood')))
    const addrs = flooder.getMultiaddrs().map(String)
    const bad: Uint8Array[] = [
      new Uint8Array([0xff, 0xfe, 0x00]),
      new TextEncoder().encode('{"v":1,'),
      enc(null),
      enc([1, 2, 3]),
      enc({ v: 2, cids: [real.toString()], addrs, ts: 1 }),
      enc({ v: 1, cids: [], addrs, ts: 1 }),
      enc({ v: 1, cids: ['not-a-cid'], addrs, ts: 1 }),
      enc({ v: 1, cids: [real.toString()], addrs: ['/not/a/multiaddr'], ts: 1 }),
      enc({ v: 1, cids: [real.toString()], addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${other.peerId}`], ts: 1 }),
      enc({ v: 1, cids: [real.toString()], addrs, size: -1, ts: 1 }),
      enc({ v: 1, cids: [real.toString()], addrs, metadata: { nested: { a: 1 } }, ts: 1 }),
      enc({ v: 1, cids: Array.from({ length: 65 }, () => real.toString()), addrs, ts: 1 }),
      enc({ v: 1, cids: [real.toString()], addrs, metadata: { pad: 'x'.repeat(20_000) }, ts: 1 })
    ]
    const metricsBefore = integration.router.getMetrics().announcements
    const scoreBefore = integration.discovery.reputation.score(flooder.peerId)
    const total = 3 * ANNOUNCE_RATE_LIMIT_PER_MINUTE
    const pubsub = flooder.host.services.pubsub
    for (let i = 0; i < total; i++) await pubsub.publish(CONTENT_ANNOUNCE_TOPIC, bad[i % bad.length]!)
    await waitFor(
      () => {
        const m = integration.router.getMetrics().announcements
        return (
          m.rejectedMalformed +
            m.rejectedRateLimited -
            metricsBefore.rejectedMalformed -
            metricsBefore.rejectedRateLimited >=
          total
        )
      },
      'every flooded message to be judged',
      20_000
    )
    const m = integration.router.getMetrics().announcements
    const malformed = m.rejectedMalformed - metricsBefore.rejectedMalformed
    const limited = m.rejectedRateLimited - metricsBefore.rejectedRateLimited
    console.log(
      `flood of ${total}: ${malformed} rejected as malformed, ${limited} ignored over the rate limit`
    )
    assert.ok(
      malformed >= 1 && malformed <= ANNOUNCE_RATE_LIMIT_PER_MINUTE,
      'malformed ones are rejected, up to the rate'
    )
    assert.ok(limited >= total - ANNOUNCE_RATE_LIMIT_PER_MINUTE, 'the rest is over the rate limit')
    assert.equal(m.received, metricsBefore.received, 'no flooded message was accepted')
    assert.equal(integration.discovery.providers.has(real, flooder.peerId), false)
    assert.equal(
      integration.discovery.providers.get(real).length,
      0,
      'nothing about the named CID is tracked'
    )
    assert.ok(
      integration.discovery.reputation.score(flooder.peerId) < scoreBefore,
      'the flooder loses reputation'
    )

    // the channel still works for others: a well-formed announcement from another peer is taken
    const good = pseudoRandomBytes(10_000, 22)
    const goodCid = await unixfs(other.helia).addBytes(good)
    await joined(other)
    await other.host.services.pubsub.publish(
      CONTENT_ANNOUNCE_TOPIC,
      enc({ v: 1, cids: [goodCid.toString()], addrs: other.getMultiaddrs().map(String), ts: Date.now() })
    )
    await waitFor(() => integration.discovery.providers.has(goodCid, other.peerId), 'the honest announcement')
    assert.equal(sha(await victim.ipfsCat(goodCid, { signal: AbortSignal.timeout(20_000) })), sha(good))
  })
})
