import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { FaultyBlockstore } from '../../../bench/faults.ts'
import { ipfsKit } from '../../../src/kit/index.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes, tempDir, waitFor } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

describe('reputation and backoff from real requests', () => {
  const stores = [new FaultyBlockstore(), new FaultyBlockstore(), new FaultyBlockstore()]
  let providers: IPFSLibp2pPeer[] = []
  let seeker: IPFSLibp2pPeer
  let discovery: EnhancedDHTDiscovery
  let router: ContentRoutingManager
  const cids: CID[] = []

  before(async () => {
    providers = stores.map(
      (blockstore) => new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore })
    )
    await Promise.all(providers.map((p) => p.start()))
    // the same 40 one-block files on every provider
    for (let i = 0; i < 40; i++) {
      const bytes = pseudoRandomBytes(4096, 1000 + i)
      const [cid] = await Promise.all(providers.map((p) => addOn(p, bytes)))
      cids.push(cid!)
    }
    seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    await seeker.start()
    for (const p of providers) await seeker.connect(p.getMultiaddrs()[0]!)
    discovery = new EnhancedDHTDiscovery(seeker, { backoff: { baseMs: 300, maxMs: 2_000, jitter: 0 } })
    router = new ContentRoutingManager(discovery, seeker)
    await router.start()
  })
  after(async () => {
    await router?.stop()
    await discovery?.stop()
    await stopAll([seeker, ...providers])
  })

  it('a provider that fails every request falls below the others, backs off, and recovers', async () => {
    const bad = providers[0]!
    stores[0]!.setFault({ kind: 'silent' })
    let next = 0
    // ask the failing peer first every time (it stays preferred unless backed off)
    for (let i = 0; i < 4; i++) {
      const cid = cids[next++]!
      const got = await router.fetchBlock(cid, {
        preferredPeers: [bad.peerId],
        signal: AbortSignal.timeout(20_000)
      })
      assert.notEqual(got.peer.toString(), bad.peerId.toString(), 'the block came from a working provider')
    }
    const badStats = discovery.getPeerStats(bad.peerId)!
    const goodScores = providers.slice(1).map((p) => discovery.reputation.score(p.peerId))
    // (failures decay with time, so one failure a moment ago is just under 1)
    assert.ok(badStats.failures > 0.9, `failures were recorded (${badStats.failures})`)
    for (const s of goodScores)
      assert.ok(badStats.score < s, `failing peer ${badStats.score} < working peer ${s}`)
    // (its level, not whether the backoff still runs: a loaded machine may take longer than the
    // backoff between the failure and this line)
    assert.ok(discovery.backoff.level(bad.peerId) >= 1, 'the failing peer was backed off')
    const lowScore = badStats.score

    // it starts answering again
    stores[0]!.setFault({ kind: 'none' })
    await waitFor(() => !discovery.backoff.isBackedOff(bad.peerId), 'the backoff to expire', 60_000)
    let servedByBad = 0
    for (let i = 0; i < 12 && servedByBad < 3; i++) {
      const got = await router.fetchBlock(cids[next++]!, {
        preferredPeers: [bad.peerId],
        signal: AbortSignal.timeout(20_000)
      })
      if (got.peer.equals(bad.peerId)) servedByBad++
    }
    assert.ok(servedByBad >= 3, 'the recovered peer serves again')
    assert.equal(discovery.backoff.level(bad.peerId), 0, 'backoff reset on success')
    assert.ok(discovery.reputation.score(bad.peerId) > lowScore, 'its score recovers')
  })
})

describe('reputation persistence', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    await dir?.cleanup()
  })

  it('survives a restart of the node', async () => {
    const repo = join(dir.path, 'repo')
    const stranger = new IPFSLibp2pPeer({ profile: 'local' })
    await stranger.start()
    const strangerId = stranger.peerId
    await stranger.stop()

    const kit = await ipfsKit({ repo, profile: 'local', role: 'worker' })
    const first = new EnhancedDHTDiscovery(kit.peer)
    await first.start()
    const cid = (await kit.ipfsAddString('x')).cid
    for (let i = 0; i < 5; i++)
      first.recordOutcome(strangerId, { kind: 'success', latencyMs: 40, bytes: 100_000 }, cid)
    first.recordOutcome(strangerId, { kind: 'corrupt', latencyMs: 10 }, cid)
    const before = first.getPeerStats(strangerId)!
    await first.stop()
    await kit.stop()

    const again = await ipfsKit({ repo })
    try {
      const second = new EnhancedDHTDiscovery(again.peer)
      await second.start()
      const after = second.getPeerStats(strangerId)
      assert.ok(after != null, 'the peer is known after the restart')
      assert.equal(after.verificationFailures, 1)
      assert.equal(after.observations, before.observations)
      assert.ok(Math.abs(after.score - before.score) < 0.05, `${after.score} ≈ ${before.score}`)
      await second.stop()
    } finally {
      await again.stop()
    }
  })
})
