/**
 * A DAG held by several connected peers is fetched from all of them. The root's lookup asks
 * every connected peer whether it has the root (want-have); the first to answer sends the root
 * block and the fetch of the root ends there, but the other answers still come, and each is
 * recorded as a provider of the root. The leaves' fetches take the root's providers as
 * candidates, so the leaves spread over them by load instead of all going to the first.
 * (A second want-have for the root a moment later would not do: a bitswap server does not
 * answer the same want again within a few seconds.)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import type { AttemptEvent } from '../../../src/libp2p/routing/hedged-fetcher.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes, waitFor } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

const PROVIDERS = 4

describe("a DAG's blocks spread over every connected peer that has its root", () => {
  const providers: IPFSLibp2pPeer[] = []
  let seeker: IPFSLibp2pPeer
  let discovery: EnhancedDHTDiscovery
  let router: ContentRoutingManager
  let cid: CID
  // 128 leaves of 256 KiB
  const bytes = pseudoRandomBytes(32 * 1024 * 1024, 2026)
  const attempts: AttemptEvent[] = []

  before(async () => {
    for (let i = 0; i < PROVIDERS; i++) {
      const p = new IPFSLibp2pPeer({
        role: 'worker',
        profile: 'local',
        listenAddrs: ['/ip4/127.0.0.1/tcp/0']
      })
      await p.start()
      providers.push(p)
    }
    seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local', listenAddrs: ['/ip4/127.0.0.1/tcp/0'] })
    await seeker.start()
    for (const p of providers) cid = await addOn(p, bytes)
    discovery = new EnhancedDHTDiscovery(seeker)
    router = new ContentRoutingManager(discovery, seeker, { onAttempt: (e) => attempts.push(e) })
    await router.start()
    for (const p of providers) await seeker.connect(p.getMultiaddrs()[0]!)
  })
  after(async () => {
    await stopAll([router, discovery, seeker, ...providers])
  })

  it(`${PROVIDERS} providers of a 32 MiB file, all connected: each is recorded for the root and asked for leaves`, async () => {
    const got = await router.retrieveContent(cid, { timeout: 120_000 })
    assert.equal(got.byteLength, bytes.byteLength)
    assert.ok(Buffer.from(got).equals(bytes), 'the file comes back as added')
    // every provider answered the root's want-have, though the root came from one of them
    await waitFor(
      () => discovery.providers.get(cid).length === PROVIDERS,
      `all ${PROVIDERS} providers recorded for the root`,
      10_000
    )
    const asked = new Map<string, number>()
    for (const a of attempts) {
      if (a.cid.equals(cid) || a.explore === true) continue
      const key = a.peer.toString()
      asked.set(key, (asked.get(key) ?? 0) + 1)
    }
    const counts = providers.map((p) => asked.get(p.peerId.toString()) ?? 0)
    assert.ok(
      counts.filter((n) => n > 0).length >= PROVIDERS - 1,
      `leaves were asked of at least ${PROVIDERS - 1} of the ${PROVIDERS} providers (requests per provider: ${counts.join(', ')})`
    )
    const leaves = counts.reduce((s, n) => s + n, 0)
    assert.ok(
      Math.max(...counts) < 0.75 * leaves,
      `no provider was asked for three quarters of the leaves (requests per provider: ${counts.join(', ')})`
    )
  })
})
