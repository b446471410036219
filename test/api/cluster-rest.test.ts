/**
 * IPFS Cluster's REST API subset, used by the real client from npm (`@nftstorage/ipfs-cluster`)
 * against a master daemon with a worker daemon (separate processes), so allocations are real;
 * and its bearer token, on a server that requires one.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Cluster } from '@nftstorage/ipfs-cluster'
import { repoToken } from '../../src/api/auth.ts'
import type { RestMetric } from '../../src/api/cluster-rest-shapes.ts'
import { ApiServer } from '../../src/api/server.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { tempDir as cliTempDir, killAll, removeAll, requireBuild } from '../cli/helpers.ts'
import { addUnpinned, FAST_CLUSTER, type Member, rpc, startMember, until } from '../cluster/helpers.ts'
import { localKit, tempDir } from '../helpers.ts'

/** The HTTP status of a client call that failed (the client puts the response on its error). */
async function failedStatus(call: Promise<unknown>): Promise<number> {
  try {
    await call
  } catch (err) {
    const res = (err as { response?: Response }).response
    assert.ok(res != null, `not an HTTP failure: ${(err as Error).message}`)
    return res.status
  }
  assert.fail('the call succeeded')
}

describe('@nftstorage/ipfs-cluster against a master daemon and a worker daemon', () => {
  let dir = ''
  let master: Member
  let worker: Member
  let cluster: Cluster

  /** Whether a member holds a CID in its own pinset (its local pins). */
  const pinnedOn = async (m: Member, cid: string): Promise<boolean> => {
    const res = await fetch(`${m.url}/api/v0/pin/ls?arg=${cid}`, { method: 'POST' })
    return res.ok && JSON.stringify(await res.json()).includes(cid)
  }

  before(async () => {
    requireBuild()
    dir = await cliTempDir('ipfs-kit-cluster-rest-')
    master = await startMember(dir, 'master', 'master', FAST_CLUSTER)
    const { Address } = await rpc<{ Address: string }>(master, 'cluster/id')
    worker = await startMember(dir, 'worker', 'worker', { ...FAST_CLUSTER, address: Address }, master.swarm)
    await until(async () => {
      const peers = await rpc<{ Peers: { state: string }[] }>(master, 'cluster/peers')
      return peers.Peers.filter((p) => p.state === 'alive').length === 2
    }, 'the worker alive on the master')
    // the client resolves paths against its base URL: the trailing slash matters
    cluster = new Cluster(`${master.url}/cluster/`)
  })
  after(async () => {
    for (const m of [worker, master]) {
      if (m == null) continue
      await m.daemon.stop('SIGTERM', 20_000).catch(() => m.daemon.stop('SIGKILL'))
    }
    killAll()
    await removeAll([dir])
  })

  it('version, info and peerList describe the master and its members', async () => {
    assert.match(await cluster.version(), /^\d+\.\d+\.\d+/)
    const info = await cluster.info()
    assert.equal(info.id, master.id)
    assert.equal(info.ipfs.id, master.id)
    assert.ok(info.addresses.some((a) => a.endsWith(`/p2p/${master.id}`)))
    assert.deepEqual([...info.clusterPeers].sort(), [master.id, worker.id].sort())
    assert.equal(typeof info.rpcProtocolVersion, 'string')
    const peers = await cluster.peerList()
    assert.deepEqual(peers.map((p) => p.id).sort(), [master.id, worker.id].sort())
    assert.ok(peers.every((p) => p.error === '' && p.addresses.length > 0))
    assert.ok((await cluster.metricNames()).includes('freespace'))
  })

  it('add: a file is imported on the master and pinned on its allocation, the worker', async () => {
    const text = `hello cluster ${Math.random()}`
    const added = await cluster.add(new File([text], 'hello.txt'), {
      name: 'hello.txt',
      replicationFactorMin: 1,
      replicationFactorMax: 1,
      userAllocations: [worker.id]
    })
    assert.match(added.cid, /^bafk/, 'CIDv1 with raw leaves, the client’s defaults')
    assert.equal(added.name, 'hello.txt')
    const pin = await cluster.allocation(added.cid)
    assert.equal(pin.cid, added.cid)
    assert.deepEqual(pin.allocations, [worker.id])
    assert.equal(pin.name, 'hello.txt')
    assert.equal(pin.replicationFactorMin, 1)
    assert.equal(pin.replicationFactorMax, 1)
    assert.equal(pin.mode, 'recursive')
    assert.equal(pin.type, 2)
    await until(
      async () => (await cluster.status(added.cid)).peerMap[worker.id]?.status === 'pinned',
      'pinned on the worker'
    )
    const status = await cluster.status(added.cid)
    assert.equal(status.cid, added.cid)
    assert.equal(status.peerMap[master.id]?.status, 'remote')
    assert.equal(status.peerMap[worker.id]?.ipfsPeerId, worker.id)
    assert.ok(status.peerMap[worker.id]!.timestamp.getTime() > 0)
    assert.ok(await pinnedOn(worker, added.cid))
    assert.ok(!(await pinnedOn(master, added.cid)), 'the master is not an allocation')
    const local = await cluster.status(added.cid, { local: true })
    assert.deepEqual(Object.keys(local.peerMap), [master.id])
  })

  it('addDirectory wraps the files; the folder is pinned on every member', async () => {
    const entries = await cluster.addDirectory([new File(['a'], 'a.txt'), new File(['b'], 'b.txt')])
    assert.equal(entries.length, 3)
    assert.deepEqual(
      entries.slice(0, 2).map((e) => e.name),
      ['a.txt', 'b.txt']
    )
    const root = entries.at(-1)!.cid
    await until(async () => {
      const s = await cluster.status(root)
      return s.peerMap[master.id]?.status === 'pinned' && s.peerMap[worker.id]?.status === 'pinned'
    }, 'the folder pinned everywhere')
    // a path under it pins the block it names
    const child = await cluster.pin(`/ipfs/${root}/a.txt`, { name: 'child' })
    assert.equal(child.cid, entries[0]!.cid)
    assert.equal(child.name, 'child')
  })

  it('addCAR imports a CAR and pins its root', async () => {
    const cid = await addUnpinned(master, `car ${Math.random()}`)
    const car = await fetch(`${master.url}/api/v0/dag/export?arg=${cid}`, { method: 'POST' })
    assert.equal(car.status, 200)
    const added = await cluster.addCAR(new Blob([await car.arrayBuffer()]), { name: 'from a car' })
    assert.equal(added.cid, cid)
    assert.equal((await cluster.allocation(cid)).name, 'from a car')
    await until(async () => (await cluster.status(cid)).peerMap[worker.id]?.status === 'pinned', 'pinned')
  })

  it('pin, statusAll with filters, recover and unpin', async () => {
    const cid = await addUnpinned(master, `pin ${Math.random()}`)
    const expireAt = new Date(Date.now() + 3_600_000)
    const pin = await cluster.pin(cid, {
      name: 'pinned',
      metadata: { app: 'test' },
      replicationFactorMin: 1,
      replicationFactorMax: 2,
      expireAt
    })
    assert.equal(pin.cid, cid)
    assert.equal(pin.name, 'pinned')
    assert.deepEqual(pin.metadata, { app: 'test' })
    assert.equal(pin.replicationFactorMax, 2)
    assert.equal(pin.expireAt.getTime(), expireAt.getTime())
    assert.deepEqual([...pin.allocations].sort(), [master.id, worker.id].sort())
    await until(async () => {
      const s = await cluster.status(cid)
      return Object.values(s.peerMap).every((p) => p.status === 'pinned')
    }, 'pinned on both')
    const all = await cluster.statusAll()
    assert.ok(all.some((s) => s.cid === cid))
    assert.deepEqual(
      (await cluster.statusAll({ cids: [cid] })).map((s) => s.cid),
      [cid]
    )
    assert.ok((await cluster.statusAll({ filter: ['pinned'] })).some((s) => s.cid === cid))
    assert.ok(!(await cluster.statusAll({ filter: ['pin_error'] })).some((s) => s.cid === cid))
    const recovered = await cluster.recover(cid)
    assert.equal(recovered.cid, cid)
    assert.deepEqual(Object.keys(recovered.peerMap).sort(), [master.id, worker.id].sort())
    const removed = await cluster.unpin(cid)
    assert.equal(removed.cid, cid)
    const after = await cluster.status(cid)
    assert.ok(Object.values(after.peerMap).every((p) => p.status === 'unpinned'))
    assert.equal(await failedStatus(cluster.allocation(cid)), 404)
    assert.equal(await failedStatus(cluster.unpin(cid)), 404)
    await until(async () => !(await pinnedOn(worker, cid)), 'unpinned on the worker')
  })

  it('bad input is a 400 in IPFS Cluster’s error shape; other routes answer as IPFS Cluster’s', async () => {
    assert.equal(await failedStatus(cluster.pin('not-a-cid')), 400)
    assert.equal(await failedStatus(cluster.status('not-a-cid')), 400)
    const bad = await fetch(`${master.url}/cluster/pins?filter=bogus`)
    assert.equal(bad.status, 400)
    const body = (await bad.json()) as { code: number; message: string }
    assert.equal(body.code, 400)
    assert.match(body.message, /bogus/)
    assert.equal((await fetch(`${master.url}/cluster/id`, { method: 'DELETE' })).status, 405)
    assert.equal((await fetch(`${master.url}/cluster/nothing`)).status, 404)
    const alerts = await fetch(`${master.url}/cluster/health/alerts`)
    assert.equal(alerts.status, 200)
    assert.ok(Array.isArray(await alerts.json()))
    const allocations = await fetch(`${master.url}/cluster/allocations`)
    assert.equal(allocations.status, 200)
    const lines = (await allocations.text()).split('\n').filter((l) => l !== '')
    assert.ok(lines.length > 0)
    for (const l of lines) assert.equal(typeof (JSON.parse(l) as { cid: string }).cid, 'string')
  })

  it('monitor/metrics/{name}: the latest freespace and ping of every member, as IPFS Cluster’s Metric', async () => {
    assert.deepEqual((await cluster.metricNames()).slice(0, 2), ['freespace', 'ping'])
    const metrics = async (name: string): Promise<RestMetric[]> => {
      const res = await fetch(`${master.url}/cluster/monitor/metrics/${name}`)
      assert.equal(res.status, 200)
      return (await res.json()) as RestMetric[]
    }
    const free = await metrics('freespace')
    assert.deepEqual(free.map((m) => m.peer).sort(), [master.id, worker.id].sort())
    for (const m of free) {
      assert.equal(m.name, 'freespace')
      assert.ok(m.valid, `${m.peer}'s metric is valid`)
      assert.match(m.value, /^\d+$/)
      assert.ok(Number(m.value) > 0, 'a repo on a disk with room')
      assert.equal(m.weight, Number(m.value))
      // ns since the epoch, expiring after it was received
      assert.ok(m.received_at > 1e18 && m.expire > m.received_at)
    }
    const ping = await metrics('ping')
    assert.deepEqual(ping.map((m) => m.peer).sort(), [master.id, worker.id].sort())
    assert.deepEqual(await metrics('no-such-metric'), [])
  })
})

describe('IPFS Cluster REST API: the API token', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let kit: IPFSKit
  let api: ApiServer
  let url = ''

  before(async () => {
    dir = await tempDir()
    kit = await localKit('master', dir.path, { cluster: FAST_CLUSTER })
    api = new ApiServer({ kit }, { listen: '/ip4/127.0.0.1/tcp/0', requireToken: true })
    url = `${(await api.start()).url}/cluster/`
  })
  after(async () => {
    await api?.stop()
    await kit?.stop()
    await dir?.cleanup()
  })

  it('a server that requires the token refuses the client without it, and serves it with it', async () => {
    assert.equal(await failedStatus(new Cluster(url).info()), 401)
    const token = await repoToken(kit.repo.path)
    const info = await new Cluster(url, { headers: { Authorization: `Bearer ${token}` } }).info()
    assert.equal(info.id, kit.peer.peerId.toString())
  })
})
