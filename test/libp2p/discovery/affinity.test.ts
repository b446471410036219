import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AFFINITY_ANNOUNCEMENT_WEIGHT } from '../../../src/constants.ts'
import { ContentAffinity } from '../../../src/libp2p/discovery/affinity.ts'
import { cidOf, newPeerIds } from './fixtures.ts'

const T0 = 1_700_000_000_000

describe('ContentAffinity', () => {
  it('ranks peers relative to the requested CID, not by a global count', async () => {
    const [busy, niche, minor] = await newPeerIds(3)
    const affinity = new ContentAffinity()
    const bigRoot = await cidOf('big dag root')
    const smallRoot = await cidOf('small dag root')
    // `busy` served 100 blocks of the big DAG
    affinity.recordServed(busy!, bigRoot, { now: T0 })
    for (let i = 0; i < 99; i++) {
      affinity.recordServed(busy!, await cidOf(`big block ${i}`), { root: bigRoot, now: T0 + i })
    }
    // `niche` served 3 blocks of the small DAG, `minor` one
    for (let i = 0; i < 3; i++) {
      affinity.recordServed(niche!, await cidOf(`small block ${i}`), { root: smallRoot, now: T0 + i })
    }
    affinity.recordServed(minor!, await cidOf('small block 0'), { root: smallRoot, now: T0 })

    // a sibling in the small DAG, known through a link found while walking it
    const nextSmall = await cidOf('small block 3')
    affinity.linkToRoot(nextSmall, smallRoot)
    const small = affinity.candidatesFor(nextSmall)
    assert.deepEqual(
      small.map((c) => c.peerId.toString()),
      [niche!.toString(), minor!.toString()]
    )
    assert.equal(small[0]?.affinity, 1)
    assert.ok(
      Math.abs((small[1]?.affinity ?? 0) - 1 / 3) < 1e-9,
      'share relative to the busiest peer of the DAG'
    )

    // a block of the big DAG, root passed by the caller
    const big = affinity.candidatesFor(await cidOf('big block 100'), { root: bigRoot })
    assert.deepEqual(
      big.map((c) => c.peerId.toString()),
      [busy!.toString()]
    )
    // unrelated content: nobody
    assert.deepEqual(affinity.candidatesFor(await cidOf('unrelated')), [])
  })

  it('links content announced together, and peers that served part of an announcement', async () => {
    const [announcer, fetcher] = await newPeerIds(2)
    const affinity = new ContentAffinity()
    const [x, y, z] = await Promise.all(['x', 'y', 'z'].map(cidOf))
    affinity.recordAnnouncement(announcer!, [x!, y!, z!], T0)
    const forY = affinity.candidatesFor(y!)
    assert.deepEqual(
      forY.map((c) => c.peerId.toString()),
      [announcer!.toString()]
    )
    assert.ok(Math.abs((forY[0]?.affinity ?? 0) - AFFINITY_ANNOUNCEMENT_WEIGHT) < 1e-9)

    // `fetcher` served x: it becomes a candidate for z, announced together with x
    affinity.recordServed(fetcher!, x!, { now: T0 + 1 })
    const forZ = affinity.scoresFor(z!)
    assert.ok((forZ.get(announcer!.toString()) ?? 0) > 0)
    assert.ok((forZ.get(fetcher!.toString()) ?? 0) > 0)
    // for x itself, `fetcher` also shares x's own DAG group: highest affinity
    assert.equal(affinity.candidatesFor(x!)[0]?.peerId.toString(), fetcher!.toString())

    affinity.forgetPeer(announcer!)
    assert.equal(affinity.scoresFor(y!).has(announcer!.toString()), false)
  })

  it('stays bounded', async () => {
    const peers = await newPeerIds(4)
    const affinity = new ContentAffinity({ maxGroups: 2, maxPeersPerGroup: 2, maxLinks: 3 })
    const root = await cidOf('root')
    peers.forEach((peer, i) => {
      for (let n = 0; n <= i; n++) affinity.recordServed(peer, root, { now: T0 })
    })
    assert.equal(affinity.candidatesFor(root).length, 2)
    for (const text of ['r1', 'r2', 'r3']) affinity.recordServed(peers[0]!, await cidOf(text), { now: T0 })
    assert.equal(affinity.groupCount, 2)
    assert.ok(affinity.linkCount <= 3)
  })
})
