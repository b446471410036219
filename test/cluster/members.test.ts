import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import type { ClusterAlert, ClusterInit } from '../../src/cluster/types.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, tempDir, waitFor } from '../helpers.ts'

/** Short timers: the tests wait on behaviour, never on a clock. */
const FAST: ClusterInit = {
  heartbeatIntervalMs: 300,
  heartbeatTtlMs: 1500,
  checkIntervalMs: 200,
  pingTimeoutMs: 1000,
  recoveryGraceMs: 500,
  reconcileIntervalMs: 1000
}
const LONG = 60_000

const id = (kit: IPFSKit): string => kit.peer.peerId.toString()

describe('a cluster of kits in one process (master, two workers, a leecher)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let master: IPFSKit
  let w1: IPFSKit
  let w2: IPFSKit
  let leecher: IPFSKit
  const alerts: ClusterAlert[] = []

  before(async () => {
    dir = await tempDir()
    master = await localKit('master', dir.path, { cluster: FAST })
    const boot = [master.peer.getMultiaddrs()[0]!.toString()]
    const join = { ...FAST, address: master.cluster.address }
    w1 = await localKit('worker', dir.path, { bootstrapPeers: boot, cluster: join })
    w2 = await localKit('worker', dir.path, { bootstrapPeers: boot, cluster: join })
    leecher = await localKit('leecher', dir.path, { bootstrapPeers: boot, cluster: join })
    master.cluster.on('alert', (a) => alerts.push(a))
    await waitFor(
      () => master.cluster.peers().filter((p) => p.state === 'alive').length === 4,
      'four members',
      LONG
    )
  })
  after(async () => {
    for (const kit of [leecher, w2, w1, master]) await kit?.stop()
    await dir?.cleanup()
  })

  it('the creating master is the only writer; a worker cannot pin until granted', async () => {
    assert.equal(master.cluster.writer, true)
    assert.equal(w1.cluster.writer, false)
    const { Hash } = await w1.ipfsAddString(`from a worker ${Math.random()}`)
    await assert.rejects(w1.cluster.pin(Hash), { name: 'ClusterAccessDeniedError' })
  })

  it('a pin reaches its replication factor, and every member sees the same pinset', async () => {
    const { Hash } = await master.ipfsAddString(`rf2 ${Math.random()}`)
    const pin = await master.cluster.pin(Hash, {
      replicationFactorMin: 2,
      replicationFactorMax: 2,
      name: 'two'
    })
    assert.equal(pin.allocations.length, 2)
    assert.ok(!pin.allocations.includes(id(leecher)))
    await waitFor(async () => (await master.cluster.status(Hash)).summary === 'pinned', 'pinned on two', LONG)
    const status = await master.cluster.status(Hash)
    for (const peer of pin.allocations) assert.equal(status.peerMap[peer]?.status, 'pinned')
    for (const kit of [w1, w2, leecher]) {
      await waitFor(() => kit.cluster.get(Hash) != null, 'the pin replicated', LONG)
      assert.deepEqual(kit.cluster.get(Hash)?.allocations, pin.allocations)
    }
  })

  it('a pin for everyone is held by masters and workers, never by the leecher', async () => {
    const { Hash } = await master.ipfsAddString(`everywhere ${Math.random()}`)
    await master.cluster.pin(Hash)
    await waitFor(
      async () => {
        const s = await master.cluster.status(Hash)
        return [master, w1, w2].every((k) => s.peerMap[id(k)]?.status === 'pinned')
      },
      'pinned on master and workers',
      LONG
    )
    const s = await master.cluster.status(Hash)
    assert.equal(s.peerMap[id(leecher)]?.status, 'remote')
    assert.equal(await leecher.helia.pins.isPinned(CID.parse(Hash).toV1()), false)
  })

  it('unpin removes the pin from the pinset and from the holders', async () => {
    const { Hash } = await master.ipfsAddString(`unpin ${Math.random()}`)
    const pin = await master.cluster.pin(Hash, { replicationFactorMin: 1, replicationFactorMax: 1 })
    await waitFor(async () => (await master.cluster.status(Hash)).summary === 'pinned', 'pinned', LONG)
    await master.cluster.unpin(Hash)
    assert.equal(master.cluster.get(Hash), undefined)
    await assert.rejects(master.cluster.status(Hash), { name: 'ClusterPinNotFoundError' })
    const holder = [master, w1, w2].find((k) => id(k) === pin.allocations[0])!
    await waitFor(() => !holder.cluster.ls().some((p) => p.cid === Hash), 'the unpin replicated', LONG)
    await waitFor(() => holder.cluster.localStatus(Hash).status === 'remote', 'unpinned on the holder', LONG)
  })

  it('a worker that becomes a leecher hands its replicas over first', async () => {
    const { Hash } = await master.ipfsAddString(`handover ${Math.random()}`)
    await master.cluster.pin(Hash, {
      replicationFactorMin: 1,
      replicationFactorMax: 1,
      userAllocations: [id(w2)]
    })
    await waitFor(() => w2.cluster.localStatus(Hash).status === 'pinned', 'pinned on w2', LONG)
    await w2.cluster.setRole('leecher', { timeoutMs: LONG })
    assert.equal(w2.cluster.role, 'leecher')
    const pin = master.cluster.get(Hash)!
    assert.ok(!pin.allocations.includes(id(w2)))
    const s = await master.cluster.status(Hash)
    assert.equal(s.summary, 'pinned')
    await w2.cluster.setRole('worker')
  })

  it('a member that dies is alerted and its replicas restored on one other member', async () => {
    const { Hash } = await master.ipfsAddString(`recovery ${Math.random()}`, { pin: false })
    await master.cluster.pin(Hash, {
      replicationFactorMin: 2,
      replicationFactorMax: 2,
      userAllocations: [id(w1), id(w2)]
    })
    await waitFor(async () => (await master.cluster.status(Hash)).summary === 'pinned', 'pinned', LONG)
    const before = master.cluster.getMetrics().repins
    await w1.stop()
    await waitFor(() => alerts.some((a) => a.peer === id(w1)), 'an alert for w1', LONG)
    await waitFor(() => !master.cluster.get(Hash)!.allocations.includes(id(w1)), 're-allocated', LONG)
    const pin = master.cluster.get(Hash)!
    assert.deepEqual(new Set(pin.allocations), new Set([id(w2), id(master)]))
    await waitFor(() => master.cluster.localStatus(Hash).status === 'pinned', 'repinned on the master', LONG)
    assert.equal(master.cluster.localStatus(Hash).pins, 1)
    assert.equal(master.cluster.getMetrics().repins, before + 1)
    assert.equal(w2.cluster.localStatus(Hash).pins, 1)
  })
})
