import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { FaultyBlockstore } from '../../../bench/faults.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import type { AttemptEvent } from '../../../src/libp2p/routing/hedged-fetcher.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { pseudoRandomBytes } from '../../helpers.ts'
import { addOn, stopAll } from '../swarm.ts'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('6 providers of a 20 MiB file: 3 slow, 1 corrupting', () => {
  const stores = Array.from({ length: 6 }, () => new FaultyBlockstore())
  const SLOW = [1, 2, 3]
  const CORRUPT = 4
  let providers: IPFSLibp2pPeer[] = []
  let seeker: IPFSLibp2pPeer
  let discovery: EnhancedDHTDiscovery
  let router: ContentRoutingManager
  let cid: CID
  const file = pseudoRandomBytes(20 * 1024 * 1024, 2024)
  const attempts: AttemptEvent[] = []

  before(async () => {
    providers = stores.map(
      (blockstore) => new IPFSLibp2pPeer({ role: 'worker', profile: 'local', blockstore })
    )
    await Promise.all(providers.map((p) => p.start()))
    const cids = await Promise.all(providers.map((p) => addOn(p, file)))
    cid = cids[0]!
    for (const i of SLOW) stores[i]!.setFault({ kind: 'slow', delayMs: 500 })
    stores[CORRUPT]!.setFault({ kind: 'corrupt' })
    seeker = new IPFSLibp2pPeer({ role: 'leecher', profile: 'local' })
    await seeker.start()
    for (const p of providers) await seeker.connect(p.getMultiaddrs()[0]!)
    discovery = new EnhancedDHTDiscovery(seeker)
    router = new ContentRoutingManager(discovery, seeker, { onAttempt: (e) => attempts.push(e) })
    await router.start()
  })
  after(async () => {
    await router?.stop()
    await discovery?.stop()
    await stopAll([seeker, ...providers])
  })

  it('retrieves the file correctly every time, learns who is bad, and stops asking the slow ones first', async () => {
    const slowIds = new Set(SLOW.map((i) => providers[i]!.peerId.toString()))
    const firstAskedSlow: number[] = []
    for (let round = 0; round < 4; round++) {
      // a bitswap server does not send the same block to the same peer twice within 5 s
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 5_500))
      // forget the blocks, keep what was learnt about the peers
      const held: CID[] = []
      for await (const { cid: c } of seeker.helia.blockstore.getAll()) held.push(c)
      // (deleting while getAll holds Helia's read lock would wait forever)
      for (const c of held) await seeker.helia.blockstore.delete(c)
      attempts.length = 0
      const got = await router.retrieveContent(cid, { timeout: 120_000 })
      assert.equal(got.byteLength, file.byteLength, `round ${round}: length`)
      assert.equal(sha(got), sha(file), `round ${round}: content`)
      const firsts = attempts.filter((a) => !a.hedge && a.explore !== true)
      firstAskedSlow.push(firsts.filter((a) => slowIds.has(a.peer.toString())).length / firsts.length)
    }
    console.log(
      'share of blocks first asked from a slow provider, per round:',
      firstAskedSlow.map((x) => x.toFixed(2)).join(' ')
    )

    const scores = providers.map((p) => discovery.reputation.score(p.peerId))
    console.log('scores:', scores.map((s) => s.toFixed(3)).join(' '))
    const corruptScore = scores[CORRUPT]!
    for (const [i, s] of scores.entries()) {
      if (i !== CORRUPT) assert.ok(corruptScore < s, `corrupt peer ${corruptScore} < peer ${i} ${s}`)
    }
    assert.ok(discovery.getMetrics().corruptBlocks >= 1, 'corrupt blocks were seen')
    // half the providers are slow: an uninformed choice asks one of them first half the time
    // (the mean of the last two rounds: one round on a loaded 2-core machine is noisy)
    const late = (firstAskedSlow.at(-1)! + firstAskedSlow.at(-2)!) / 2
    assert.ok(
      late <= 0.25,
      `in the last rounds at most 25% of first asks go to slow peers, not ~50% (${late})`
    )
  })
})
