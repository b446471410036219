/**
 * The README's routing guarantees, observed on the providers' side of the wire (their bitswap
 * network's decoded messages):
 * - hedged requests: the next provider is asked once the first is past its own timeout, and the
 *   one that lost gets a bitswap CANCEL;
 * - a want lost on the way is asked again, after the longest hedge delay (4 s), then at
 *   doubling intervals, each time after a CANCEL;
 * - concurrent readers of one block share one fetch: the provider is asked once.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import { FaultyBlockstore } from '../../../bench/faults.ts'
import { ROUTING_HEDGE_MAX_DELAY_MS } from '../../../src/constants.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { bitswapOf, type OutgoingBitswapMessage } from '../../../src/libp2p/routing/bitswap-access.ts'
import type { AttemptEvent } from '../../../src/libp2p/routing/hedged-fetcher.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes, waitFor } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

interface SeenEntry {
  at: number
  from: PeerId
  cancel: boolean
  wantType: string | undefined
}

/** Every want-list entry for `cid` that `provider`'s bitswap network decodes, as it arrives. */
function wantsSeenBy(provider: IPFSLibp2pPeer, cid: CID): SeenEntry[] {
  const seen: SeenEntry[] = []
  const network = bitswapOf(provider.helia).bitswap.network!
  network.addEventListener('bitswap:message', (evt) => {
    const entries = (evt.detail.message.wantlist?.entries ?? []) as Array<{
      cid: Uint8Array
      cancel?: boolean
      wantType?: string
    }>
    for (const e of entries) {
      if (equals(CID.decode(e.cid).multihash.bytes, cid.multihash.bytes)) {
        seen.push({ at: Date.now(), from: evt.detail.peer, cancel: e.cancel === true, wantType: e.wantType })
      }
    }
  })
  return seen
}

const wantBlocks = (seen: SeenEntry[]): SeenEntry[] =>
  seen.filter((e) => !e.cancel && e.wantType !== 'WantHave')

describe('hedging, re-asks and shared fetches, seen on the wire', () => {
  const slowStore = new FaultyBlockstore()
  let slow: IPFSLibp2pPeer
  let fast: IPFSLibp2pPeer
  const nodes: Array<{ stop(): Promise<void> } | undefined> = []
  const files: Array<{ cid: CID; bytes: Uint8Array }> = []

  before(async () => {
    slow = new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore: slowStore })
    fast = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
    await Promise.all([slow.start(), fast.start()])
    for (let i = 0; i < 3; i++) {
      const bytes = pseudoRandomBytes(64 * 1024, 3_300 + i)
      const [cid] = await Promise.all([addOn(slow, bytes), addOn(fast, bytes)])
      files.push({ cid: cid!, bytes })
    }
  })
  after(async () => {
    slowStore.setFault({ kind: 'none' })
    await stopAll(nodes.reverse())
    await stopAll([slow, fast])
  })

  async function seeker(init: { connect: IPFSLibp2pPeer[] }): Promise<{
    peer: IPFSLibp2pPeer
    discovery: EnhancedDHTDiscovery
    router: ContentRoutingManager
    attempts: AttemptEvent[]
  }> {
    const peer = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    const attempts: AttemptEvent[] = []
    const discovery = new EnhancedDHTDiscovery(peer)
    // bitswap only: these are bitswap's wire rules (ipfs-kit peers also speak our block stream)
    const router = new ContentRoutingManager(discovery, peer, {
      onAttempt: (e) => attempts.push(e),
      blockStream: false
    })
    nodes.push(peer, discovery, router)
    await router.start()
    for (const p of init.connect) await peer.connect(p.getMultiaddrs()[0]!)
    return { peer, discovery, router, attempts }
  }

  it('asks the next provider once the first is past its timeout, and sends the loser a CANCEL', async () => {
    const { cid, bytes } = files[0]!
    slowStore.setFault({ kind: 'slow', delayMs: 5_000 })
    const s = await seeker({ connect: [slow, fast] })
    const atSlow = wantsSeenBy(slow, cid)
    const got = await s.router.fetchBlock(cid, {
      preferredPeers: [slow.peerId, fast.peerId],
      signal: AbortSignal.timeout(60_000)
    })
    assert.deepEqual(got.block.byteLength > 0, true)
    assert.ok(got.peer.equals(fast.peerId), 'the hedge won')
    const forCid = s.attempts.filter((a) => a.cid.equals(cid))
    assert.ok(forCid[0]!.peer.equals(slow.peerId) && !forCid[0]!.hedge, 'the slow provider was asked first')
    assert.ok(
      forCid.some((a) => a.peer.equals(fast.peerId) && a.hedge),
      'the fast provider was asked as a hedge'
    )
    await waitFor(() => atSlow.some((e) => e.cancel), 'the CANCEL to reach the losing provider', 30_000)
    assert.equal(wantBlocks(atSlow).length, 1, 'the loser was asked once')
    assert.ok(
      atSlow.findIndex((e) => e.cancel) > atSlow.findIndex((e) => !e.cancel),
      'the CANCEL came after the want'
    )
    assert.equal(s.discovery.reputation.stats(slow.peerId)?.failures ?? 0, 0, 'losing the race is no failure')
    void bytes
  })

  it(`a want lost on the way is asked again after ${ROUTING_HEDGE_MAX_DELAY_MS} ms, then at doubling intervals`, async () => {
    const { cid, bytes } = files[1]!
    slowStore.setFault({ kind: 'none' })
    const s = await seeker({ connect: [slow] })
    // the network loses the seeker's first two want-blocks for the CID (other messages pass)
    const network = bitswapOf(s.peer.helia).bitswap.wantList.network!
    const send = network.sendMessage.bind(network)
    const sent: Array<{ at: number; cancel: boolean; lost: boolean }> = []
    network.sendMessage = async (peer, message: OutgoingBitswapMessage, options) => {
      for (const entry of message.wantlist.values()) {
        if (!equals(CID.decode(entry.cid).multihash.bytes, cid.multihash.bytes)) continue
        if (entry.cancel) sent.push({ at: Date.now(), cancel: true, lost: false })
        else if (entry.wantType === 'WantBlock') {
          const lost = sent.filter((x) => !x.cancel).length < 2
          sent.push({ at: Date.now(), cancel: false, lost })
          if (lost) return
        }
      }
      await send(peer, message, options)
    }
    const atProvider = wantsSeenBy(slow, cid)
    const got = await s.router.retrieveContent(cid, { timeout: 120_000, preferredPeers: [slow.peerId] })
    assert.deepEqual(got, bytes)
    const wants = sent.filter((x) => !x.cancel)
    assert.equal(wants.length, 3, 'two lost wants, then one that arrived')
    const [w0, w1, w2] = wants
    assert.ok(w1!.at - w0!.at >= ROUTING_HEDGE_MAX_DELAY_MS, `first re-ask after ${w1!.at - w0!.at} ms`)
    assert.ok(
      w2!.at - w1!.at >= 2 * ROUTING_HEDGE_MAX_DELAY_MS,
      `second re-ask after ${w2!.at - w1!.at} ms: doubled`
    )
    for (const w of [w1!, w2!]) {
      assert.ok(
        sent.some((x) => x.cancel && x.at <= w.at && x.at >= w.at - ROUTING_HEDGE_MAX_DELAY_MS),
        'a CANCEL went just before each re-ask'
      )
    }
    assert.equal(wantBlocks(atProvider).length, 1, 'the provider got only the want that was not lost')
  })

  it('concurrent readers of one block share one fetch: the provider is asked once', async () => {
    const { cid, bytes } = files[2]!
    slowStore.setFault({ kind: 'slow', delayMs: 1_000 })
    const s = await seeker({ connect: [slow] })
    const atProvider = wantsSeenBy(slow, cid)
    const readers = await Promise.all(
      Array.from({ length: 10 }, async () =>
        s.router.fetchBlock(cid, { preferredPeers: [slow.peerId], signal: AbortSignal.timeout(60_000) })
      )
    )
    for (const r of readers) assert.equal(r.block.byteLength, readers[0]!.block.byteLength)
    assert.equal(s.attempts.filter((a) => a.cid.equals(cid)).length, 1, 'one request went out')
    assert.equal(wantBlocks(atProvider).length, 1, 'the provider was asked once')
    const whole = await s.router.retrieveContent(cid, { timeout: 30_000 })
    assert.deepEqual(whole, bytes)
  })
})
