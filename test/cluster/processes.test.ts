import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ClusterAlert, ClusterPeer, ClusterPin, ClusterPinStatus } from '../../src/cluster/types.ts'
import { killAll, removeAll, requireBuild, tempDir } from '../cli/helpers.ts'
import { addUnpinned, FAST_CLUSTER, type Member, rpc, startMember, until } from './helpers.ts'

const status = async (m: Member, cid: string, local = false): Promise<ClusterPinStatus> =>
  (await rpc<{ Statuses: ClusterPinStatus[] }>(m, 'cluster/pin/status', { arg: cid, local: String(local) }))
    .Statuses[0]!
const pinOf = async (m: Member, cid: string): Promise<ClusterPin | undefined> =>
  (await rpc<{ Pins: ClusterPin[] }>(m, 'cluster/pin/ls')).Pins.find((p) => p.cid === cid)
const peersOf = async (m: Member): Promise<ClusterPeer[]> =>
  (await rpc<{ Peers: ClusterPeer[] }>(m, 'cluster/peers')).Peers

describe('a cluster of 5 daemons (1 master, 3 workers, 1 leecher), each its own process', () => {
  let dir = ''
  let master: Member
  let workers: Member[] = []
  let leecher: Member
  const all = (): Member[] => [master, ...workers, leecher]

  before(async () => {
    requireBuild()
    dir = await tempDir('ipfs-kit-cluster-')
    master = await startMember(dir, 'master', 'master', FAST_CLUSTER)
    const { Address } = await rpc<{ Address: string }>(master, 'cluster/id')
    const join = { ...FAST_CLUSTER, address: Address }
    workers = await Promise.all(
      [1, 2, 3].map((i) => startMember(dir, `worker${i}`, 'worker', join, master.swarm))
    )
    leecher = await startMember(dir, 'leecher', 'leecher', join, master.swarm)
    await until(
      async () => (await peersOf(master)).filter((p) => p.state === 'alive').length === 5,
      'five members alive on the master'
    )
  })
  after(async () => {
    for (const m of all()) {
      if (m == null) continue
      if (m.daemon.child.signalCode === 'SIGSTOP') process.kill(m.daemon.pid, 'SIGCONT')
      await m.daemon.stop('SIGTERM', 20_000).catch(() => m.daemon.stop('SIGKILL'))
    }
    killAll()
    await removeAll([dir])
  })

  it('a pin reaches its replication factor; the leecher holds none', async () => {
    const cid = await addUnpinned(master, `rf ${Math.random()}`)
    const pin = await rpc<ClusterPin>(master, 'cluster/pin/add', {
      arg: cid,
      'replication-min': '2',
      'replication-max': '3',
      name: 'three'
    })
    assert.equal(pin.allocations.length, 3)
    assert.ok(!pin.allocations.includes(leecher.id))
    await until(async () => {
      const s = await status(master, cid)
      return pin.allocations.every((p) => s.peerMap[p]?.status === 'pinned')
    }, 'pinned on its three allocations')
    const s = await status(master, cid)
    assert.equal(s.summary, 'pinned')
    assert.equal(s.peerMap[leecher.id]?.status, 'remote')
    // the state is the same on every member
    for (const m of all()) await until(async () => (await pinOf(m, cid)) != null, `the pin on ${m.repo}`)
  })

  it('a member killed with SIGKILL is detected and its replicas restored elsewhere, with no duplicate repin', async () => {
    const victim = workers[0]!
    const cids: string[] = []
    for (let i = 0; i < 4; i++) {
      const cid = await addUnpinned(master, `kill ${i} ${Math.random()}`)
      await rpc(master, 'cluster/pin/add', {
        arg: cid,
        'replication-min': '2',
        'replication-max': '2',
        'user-allocations': victim.id
      })
      cids.push(cid)
    }
    for (const cid of cids) {
      await until(async () => (await status(master, cid)).summary === 'pinned', `${cid} pinned`)
      assert.ok((await pinOf(master, cid))?.allocations.includes(victim.id))
    }
    process.kill(victim.daemon.pid, 'SIGKILL')
    await until(
      async () =>
        (await rpc<{ Alerts: ClusterAlert[] }>(master, 'cluster/alerts')).Alerts.some(
          (a) => a.peer === victim.id
        ),
      'an alert for the killed member'
    )
    const live = all().filter((m) => m !== victim)
    for (const cid of cids) {
      await until(async () => {
        const p = await pinOf(master, cid)
        return p != null && !p.allocations.includes(victim.id) && p.allocations.length === 2
      }, `${cid} re-allocated`)
      await until(async () => (await status(master, cid)).summary === 'pinned', `${cid} pinned again`)
      const pin = (await pinOf(master, cid))!
      // every live member pinned it at most once, and only its allocations ever did
      for (const m of live) {
        const local = (await status(m, cid, true)).peerMap[m.id]!
        const holds = pin.allocations.includes(m.id)
        assert.equal(local.pins, holds ? 1 : 0, `${m.role} ${m.id} pinned ${cid} ${local.pins} time(s)`)
      }
    }
    workers = workers.filter((w) => w !== victim)
  })

  it('a partitioned member (SIGSTOP, then SIGCONT) rejoins and converges', async () => {
    const frozen = workers[0]!
    const cid = await addUnpinned(master, `partition ${Math.random()}`)
    await rpc(master, 'cluster/pin/add', {
      arg: cid,
      'replication-min': '1',
      'replication-max': '1',
      'user-allocations': frozen.id
    })
    await until(
      async () => (await status(frozen, cid, true)).peerMap[frozen.id]?.status === 'pinned',
      'pinned on it'
    )
    process.kill(frozen.daemon.pid, 'SIGSTOP')
    await until(
      async () =>
        (await rpc<{ Alerts: ClusterAlert[] }>(master, 'cluster/alerts')).Alerts.some(
          (a) => a.peer === frozen.id
        ),
      'an alert for the frozen member'
    )
    await until(async () => !(await pinOf(master, cid))?.allocations.includes(frozen.id), 'its replica moved')
    // written while it is away
    const later = await addUnpinned(master, `while away ${Math.random()}`)
    await rpc(master, 'cluster/pin/add', { arg: later })
    process.kill(frozen.daemon.pid, 'SIGCONT')
    await until(
      async () => (await peersOf(master)).find((p) => p.id === frozen.id)?.state === 'alive',
      'the member alive again on the master'
    )
    await until(async () => {
      const mine = (await rpc<{ Pins: ClusterPin[] }>(frozen, 'cluster/pin/ls')).Pins
      const theirs = (await rpc<{ Pins: ClusterPin[] }>(master, 'cluster/pin/ls')).Pins
      const key = (ps: ClusterPin[]) =>
        JSON.stringify(
          ps.map((p) => [p.cid, [...p.allocations].sort()]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
        )
      return key(mine) === key(theirs)
    }, 'the same pinset as the master')
    await until(
      async () => (await status(frozen, later, true)).peerMap[frozen.id]?.status === 'pinned',
      'the new pin held'
    )
    // it no longer holds the replica that moved
    await until(
      async () => (await status(frozen, cid, true)).peerMap[frozen.id]?.status === 'remote',
      'the old one released'
    )
  })

  it('the leecher never received a replica', async () => {
    const { Pins } = await rpc<{ Pins: ClusterPin[] }>(master, 'cluster/pin/ls')
    assert.ok(Pins.length > 0)
    for (const p of Pins) {
      assert.ok(!p.allocations.includes(leecher.id))
      const local = (await status(leecher, p.cid, true)).peerMap[leecher.id]!
      assert.equal(local.status, 'remote')
      assert.equal(local.pins, 0)
    }
    const own = await rpc<{ Keys?: Record<string, unknown> }>(leecher, 'pin/ls', { type: 'recursive' }).catch(
      () => ({ Keys: {} })
    )
    for (const p of Pins) assert.ok(!Object.hasOwn(own.Keys ?? {}, p.cid), `${p.cid} pinned on the leecher`)
  })
})
