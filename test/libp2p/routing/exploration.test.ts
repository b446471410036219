/**
 * Exploration and proven peers: a seeker learns about the connected holders of a DAG from the
 * answers to its root's want-have, and with exploration also through side requests (no
 * retrieval waits for them); once they are proven the blocks of a DAG spread over them by load.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import type { AttemptEvent } from '../../../src/libp2p/routing/hedged-fetcher.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

/** 4 leaves of 1 MiB (Helia's chunk size, which `addOn` keeps) and a root */
const FILE_BYTES = 4 * 1024 * 1024
/** blocks of the 12 files: 5 each */
const BLOCKS = 60

async function seekerWith(
  providers: IPFSLibp2pPeer[],
  exploreProbability: number
): Promise<{
  seeker: IPFSLibp2pPeer
  discovery: EnhancedDHTDiscovery
  router: ContentRoutingManager
  attempts: AttemptEvent[]
}> {
  const attempts: AttemptEvent[] = []
  const seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
  await seeker.start()
  for (const p of providers) await seeker.connect(p.getMultiaddrs()[0]!)
  const discovery = new EnhancedDHTDiscovery(seeker)
  const router = new ContentRoutingManager(discovery, seeker, {
    exploreProbability,
    // no hedges (a loaded machine would otherwise hedge now and then): who serves is then up to
    // the ranking and exploration alone
    minHedgeDelayMs: 4_000,
    onAttempt: (e) => attempts.push(e)
  })
  await router.start()
  return { seeker, discovery, router, attempts }
}

describe('exploration of connected peers', () => {
  const providers: IPFSLibp2pPeer[] = []
  const files: Array<{ cid: string; bytes: Uint8Array }> = []
  const nodes: Array<{ stop(): Promise<void> }> = []

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const p = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
      await p.start()
      providers.push(p)
    }
    for (let i = 0; i < 12; i++) {
      const bytes = pseudoRandomBytes(FILE_BYTES, 7_100 + i)
      const [cid] = await Promise.all(providers.map((p) => addOn(p, bytes)))
      files.push({ cid: cid!.toString(), bytes })
    }
  })
  after(async () => {
    for (const n of nodes.reverse()) await n.stop()
    await stopAll(providers)
  })

  for (const exploreProbability of [0, 1]) {
    it(`exploreProbability ${exploreProbability}: ${exploreProbability === 0 ? 'no side requests, and the blocks still spread over the holders that answered the root' : 'every holder gets a record and the blocks spread over them'}`, async () => {
      const { seeker, discovery, router, attempts } = await seekerWith(providers, exploreProbability)
      nodes.push(seeker, discovery, router)
      for (const { cid, bytes } of files) {
        const got = await router.retrieveContent(cid, { timeout: 20_000 })
        assert.deepEqual(got, bytes)
        // forget the blocks, so that each retrieval fetches again
        for (const block of await blocksOf(seeker)) await seeker.helia.blockstore.delete(block)
      }
      // let side requests end
      await new Promise((resolve) => setTimeout(resolve, 300))
      const served = (peer: PeerId): number =>
        attempts.filter((a) => a.peer.equals(peer) && a.explore !== true).length
      const observed = providers.map((p) => discovery.reputation.observations(p.peerId))
      const explored = attempts.filter((a) => a.explore === true)
      console.log(
        `exploreProbability ${exploreProbability}: ${explored.length} side requests; requests per provider ${providers.map((p) => served(p.peerId)).join(', ')}; observations ${observed.join(', ')}`
      )
      const servers = providers.filter((p) => served(p.peerId) > 0).length
      if (exploreProbability === 0) {
        assert.equal(explored.length, 0, 'no side requests')
        // without side requests the holders are still learnt: each answers the want-have of a
        // DAG's root lookup, and is recorded as a provider of the root though the root came from
        // one of them (test/libp2p/routing/session-spread.test.ts)
        assert.ok(
          servers >= 2,
          `the blocks went to ${servers} providers, not one (${providers.map((p) => served(p.peerId))})`
        )
        assert.equal(
          observed.reduce((n, o) => n + o, 0),
          BLOCKS,
          `one outcome per block, ${BLOCKS} in all: no block was asked twice without a hedge`
        )
      } else {
        assert.ok(explored.length > 0, 'side requests were sent')
        for (const p of providers) {
          assert.ok(discovery.reputation.observations(p.peerId) >= 1, `${p.peerId} got a record`)
        }
        // proven, they share the blocks of the later DAGs by load
        assert.ok(servers >= 2, `blocks went to ${servers} providers, not one`)
      }
    })
  }
})

async function blocksOf(peer: IPFSLibp2pPeer): Promise<Array<import('multiformats/cid').CID>> {
  const out = []
  for await (const { cid } of peer.helia.blockstore.getAll()) out.push(cid)
  return out
}
