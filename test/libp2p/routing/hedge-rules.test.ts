/**
 * The hedging rules of issue 13, seen on the wire and in the router's counters:
 * - a request's deadline counts its place in the peer's queue of ours, so a provider that
 *   answers one block after the other is not hedged for the blocks waiting behind the first;
 * - a hedge never downgrades our own want: a peer asked for a block gets no want-have for it;
 * - a per-block lookup (DHT query, want-haves) is made only when the DAG's session has no
 *   provider left: a session provider that goes silent is overdue, and then the lookup finds
 *   another holder;
 * - a retrieval with a deadline makes no pass over the providers (another per-block lookup)
 *   while a request past its deadline is still open and younger than the longest deadline.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import type { PeerId } from '@libp2p/interface'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { base64 } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import { FaultyBlockstore } from '../../../bench/faults.ts'
import { collectBytes } from '../../../src/blocks/bytes.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { bitswapOf, type OutgoingBitswapMessage } from '../../../src/libp2p/routing/bitswap-access.ts'
import { type ContentRoutingInit, ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes } from '../../helpers.ts'
import { stopAll } from '../swarm.ts'

interface WireEvent {
  peer: PeerId
  key: string
  what: 'WantBlock' | 'WantHave' | 'Cancel' | 'Block'
}

/**
 * The seeker's side of the wire, in order: every want-list entry its bitswap network sends, and
 * every block it receives.
 */
function wireOf(seeker: IPFSLibp2pPeer): WireEvent[] {
  const log: WireEvent[] = []
  const wantList = bitswapOf(seeker.helia).bitswap.wantList
  const network = wantList.network!
  const send = network.sendMessage.bind(network)
  network.sendMessage = async (peer, message: OutgoingBitswapMessage, options) => {
    for (const e of message.wantlist.values()) {
      const key = base64.encode(CID.decode(e.cid).multihash.bytes)
      log.push({ peer, key, what: e.cancel ? 'Cancel' : e.wantType })
    }
    await send(peer, message, options)
  }
  wantList.addEventListener('block', (evt) => {
    log.push({ peer: evt.detail.sender, key: base64.encode(evt.detail.cid.multihash.bytes), what: 'Block' })
  })
  return log
}

/** Want-haves sent to a peer while our want-block for the same block was pending there. */
function downgrades(log: WireEvent[]): number {
  const pending = new Set<string>()
  let n = 0
  for (const e of log) {
    const k = `${e.peer}/${e.key}`
    if (e.what === 'WantBlock') pending.add(k)
    else if (e.what === 'WantHave' && pending.has(k)) n++
    else if (e.what !== 'WantHave') pending.delete(k)
  }
  return n
}

/** Add `bytes` on `peer` as Kubo would (CIDv0, 256 KiB chunks, dag-pb leaves). */
async function addKubo(peer: IPFSLibp2pPeer, bytes: Uint8Array): Promise<CID> {
  return unixfs(peer.helia).addBytes(bytes, {
    cidVersion: 0,
    rawLeaves: false,
    chunker: fixedSize({ chunkSize: 256 * 1024 })
  })
}

/** The blocks of a UnixFS DAG held by `store`. */
async function blocksOf(store: FaultyBlockstore, root: CID): Promise<CID[]> {
  const node = dagPb.decode(await collectBytes(store.get(root)))
  return [root, ...node.Links.map((l) => l.Hash)]
}

describe('hedging rules', () => {
  // the root's answer then comes well after the shortest deadline and the fetch's looks, when a
  // pass over the providers would be due if an open request did not hold it off
  const PER_BLOCK_MS = 600
  const nodes: Array<{ stop(): Promise<void> } | undefined> = []
  const storeA = new FaultyBlockstore()
  const storeB = new FaultyBlockstore()
  let a: IPFSLibp2pPeer
  let b: IPFSLibp2pPeer

  before(async () => {
    a = new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore: storeA })
    b = new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore: storeB })
    await Promise.all([a.start(), b.start()])
  })
  after(async () => {
    storeA.setFault({ kind: 'none' })
    storeB.setFault({ kind: 'none' })
    await stopAll(nodes.reverse())
    await stopAll([a, b])
  })

  async function seeker(
    connect: IPFSLibp2pPeer[],
    init: ContentRoutingInit = {}
  ): Promise<{ peer: IPFSLibp2pPeer; router: ContentRoutingManager }> {
    const peer = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    const discovery = new EnhancedDHTDiscovery(peer)
    // bitswap only: these are bitswap's wire rules (ipfs-kit peers also speak our block stream)
    const router = new ContentRoutingManager(discovery, peer, { ...init, blockStream: false })
    nodes.push(peer, discovery, router)
    await router.start()
    for (const p of connect) await peer.connect(p.getMultiaddrs()[0]!)
    return { peer, router }
  }

  it('a provider answering one block after the other: no hedge for the blocks queued behind, no want-have over a pending want, no per-block lookup', async () => {
    const bytes = pseudoRandomBytes(8 * 256 * 1024, 1_313)
    const root = await addKubo(a, bytes)
    const blocks = await blocksOf(storeA, root)
    assert.equal(blocks.length, 9)
    storeA.setFault({ kind: 'slow', delayMs: PER_BLOCK_MS })
    // the longest deadline out of the way: it is the bound for a silent peer, and on a starved
    // machine eight reads of PER_BLOCK_MS can take longer than the default 4 s of wall clock;
    // what this test checks is the deadline that counts a request's place in the queue
    const s = await seeker([a], { maxHedgeDelayMs: 30_000 })
    const wire = wireOf(s.peer)
    const got = await s.router.retrieveContent(root, { timeout: 60_000, preferredPeers: [a.peerId] })
    assert.deepEqual(got, bytes)
    const m = s.router.getMetrics()
    // the root and the first leaves are asked before the pace is known: allow two on a busy machine
    assert.ok(
      m.hedgeDeadlinesPassed <= 2,
      `${m.hedgeDeadlinesPassed} requests passed their deadline waiting in the provider's queue`
    )
    assert.equal(downgrades(wire), 0, 'a want-have went to a peer asked for the block')
    // the root's lookups only: its first (no session yet) and its second look (the very first
    // deadline, before the peer's pace is known, is the shortest); no pass over the providers
    // while the only one is still answering (it would be a third lookup)
    assert.equal(m.blockFetchPasses, 0, 'a pass over the providers while the only one was answering')
    assert.ok(m.blockLookups <= 2, `${m.blockLookups} per-block lookups`)
  })

  it('a session provider that goes silent: once overdue, the per-block lookup finds another holder', async () => {
    const bytes = pseudoRandomBytes(4 * 256 * 1024, 1_314)
    const [root] = await Promise.all([addKubo(a, bytes), addKubo(b, bytes)])
    storeA.setFault({ kind: 'none' })
    storeB.setFault({ kind: 'none' })
    const s = await seeker([a, b])
    // the root from A: A is the DAG's session provider; then A goes silent for the leaves
    await s.router.fetchBlock(root!, { preferredPeers: [a.peerId], signal: AbortSignal.timeout(30_000) })
    storeA.setFault({ kind: 'silent' })
    const got = await s.router.retrieveContent(root!, { timeout: 60_000, preferredPeers: [a.peerId] })
    assert.deepEqual(got, bytes)
    const m = s.router.getMetrics()
    assert.ok(m.hedgeDeadlinesPassed >= 1, 'the silent provider passed its deadline')
    assert.ok(m.blockLookups >= 1, 'and the lookup was made then')
    storeA.setFault({ kind: 'none' })
  })
})
