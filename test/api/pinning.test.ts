/**
 * The IPFS Pinning Service API on a cluster master, checked with plain `fetch` requests written
 * from the spec (ipfs/pinning-services-api-spec, `ipfs-pinning-service.yaml`), not with our
 * code: every endpoint, the filters and pagination as Kubo's client (boxo) sends them, the
 * bearer token, the `Failure` shape, a pin reaching `pinned` on a real worker, and request ids
 * that outlive a restart.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { repoToken } from '../../src/api/auth.ts'
import { ApiServer } from '../../src/api/server.ts'
import type { ClusterInit } from '../../src/cluster/types.ts'
import { ipfsKit } from '../../src/index.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, tempDir, waitFor } from '../helpers.ts'

/** Short timers (the tests wait on behaviour, never on a clock); a pin that cannot be had fails soon. */
const FAST: ClusterInit = {
  heartbeatIntervalMs: 300,
  heartbeatTtlMs: 1500,
  checkIntervalMs: 200,
  pingTimeoutMs: 1000,
  recoveryGraceMs: 500,
  reconcileIntervalMs: 1000,
  pinTimeoutMs: 4000,
  pinRetryMs: 600_000
}
const LONG = 60_000
/** RFC 3339 as the spec's `date-time` (section 5.6). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
const STATUSES = ['queued', 'pinning', 'pinned', 'failed']
const ALL = STATUSES.join(',')

interface PinStatus {
  requestid: string
  status: string
  created: string
  pin: { cid: string; name?: string; origins?: string[]; meta?: Record<string, string> }
  delegates: string[]
  info?: Record<string, string>
}
interface PinResults {
  count: number
  results: PinStatus[]
}
interface Failure {
  error: { reason: string; details?: string }
}

describe('the Pinning Service API on a master (a master and a worker in one process)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let masterRepo = ''
  let master: IPFSKit
  let worker: IPFSKit
  let api: ApiServer
  let base = ''
  let token = ''

  const startMaster = async (): Promise<void> => {
    master = await ipfsKit({ repo: masterRepo, profile: 'local', role: 'master', cluster: FAST })
    api = new ApiServer({ kit: master }, { listen: '/ip4/127.0.0.1/tcp/0' })
    base = `${(await api.start()).url}/pinning`
  }

  /** A request with the token (as Kubo's client sends it). */
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = { Authorization: `Bearer ${token}` }
  ): Promise<{ status: number; json: unknown; type: string | null }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(LONG)
    })
    const text = await res.text()
    return {
      status: res.status,
      json: text === '' ? undefined : JSON.parse(text),
      type: res.headers.get('content-type')
    }
  }
  const list = async (query: string): Promise<PinResults> => {
    const r = await call('GET', `/pins?${query}`)
    assert.equal(r.status, 200, JSON.stringify(r.json))
    return r.json as PinResults
  }
  const add = async (pin: Record<string, unknown>): Promise<PinStatus> => {
    const r = await call('POST', '/pins', pin)
    assert.equal(r.status, 202, JSON.stringify(r.json))
    return r.json as PinStatus
  }
  const get = async (id: string): Promise<PinStatus> => {
    const r = await call('GET', `/pins/${id}`)
    assert.equal(r.status, 200, JSON.stringify(r.json))
    return r.json as PinStatus
  }
  const content = async (text: string): Promise<string> =>
    (await master.ipfsAddString(`${text} ${Math.random()}`, { pin: false, cidVersion: 1 })).Hash
  const assertFailure = (r: { status: number; json: unknown }, status: number, reason: string): void => {
    assert.equal(r.status, status, JSON.stringify(r.json))
    const f = r.json as Failure
    assert.equal(f.error.reason, reason)
    assert.equal(typeof f.error.details, 'string')
  }
  const assertPinStatus = (s: PinStatus): void => {
    assert.equal(typeof s.requestid, 'string')
    assert.ok(s.requestid.length > 0)
    assert.ok(STATUSES.includes(s.status), s.status)
    assert.match(s.created, RFC3339)
    assert.equal(typeof s.pin.cid, 'string')
    assert.ok(s.delegates.length >= 1 && s.delegates.length <= 20)
    for (const d of s.delegates) assert.match(d, /^\/ip4\/127\.0\.0\.1\/(tcp|udp)\/\d+.*\/p2p\/\w+$/)
  }

  before(async () => {
    dir = await tempDir()
    masterRepo = join(dir.path, 'master')
    await startMaster()
    worker = await localKit('worker', dir.path, {
      bootstrapPeers: [master.peer.getMultiaddrs()[0]!.toString()],
      cluster: { ...FAST, address: master.cluster.address }
    })
    await waitFor(
      () => master.cluster.peers().filter((p) => p.state === 'alive').length === 2,
      'the worker alive on the master',
      LONG
    )
    token = await repoToken(master.repo.path)
  })
  after(async () => {
    await api?.stop()
    await worker?.stop()
    await master?.stop()
    await dir?.cleanup()
  })

  it('refuses a request without the right bearer token: 401 in the Failure shape', async () => {
    const refused: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer wrong' },
      { Authorization: `Basic ${token}` }
    ]
    for (const headers of refused) {
      const r = await call('GET', '/pins', undefined, headers)
      assertFailure(r, 401, 'UNAUTHORIZED')
      assert.match(r.type ?? '', /^application\/json/)
    }
    assertFailure(await call('POST', '/pins', { cid: 'bafkqaaa' }, {}), 401, 'UNAUTHORIZED')
    assertFailure(await call('DELETE', '/pins/x', undefined, {}), 401, 'UNAUTHORIZED')
  })

  it('refuses a bad Pin with 400 BAD_REQUEST', async () => {
    const bad: unknown[] = [
      { cid: 'not-a-cid' },
      {},
      { cid: 42 },
      { cid: 'bafkqaaa', name: 'x'.repeat(256) },
      { cid: 'bafkqaaa', origins: ['not a multiaddr'] },
      { cid: 'bafkqaaa', origins: 'x' },
      { cid: 'bafkqaaa', meta: { a: 1 } },
      '{not json',
      '[]'
    ]
    for (const body of bad) assertFailure(await call('POST', '/pins', body), 400, 'BAD_REQUEST')
    assert.equal((await list(`status=${ALL}&limit=1000`)).count, 0, 'nothing was kept')
  })

  it('POST /pins answers 202 with a PinStatus, and the pin reaches pinned on the worker', async () => {
    const cid = await content('first')
    const origin = `${worker.peer.getMultiaddrs()[0]!.toString()}`
    const s = await add({ cid, name: 'first.txt', origins: [origin], meta: { app_id: 'one' } })
    assertPinStatus(s)
    assert.deepEqual(s.pin, { cid, name: 'first.txt', origins: [origin], meta: { app_id: 'one' } })
    assert.ok(s.status === 'queued' || s.status === 'pinning' || s.status === 'pinned')
    await waitFor(async () => (await get(s.requestid)).status === 'pinned', 'the request pinned', LONG)
    // pinned on the real members that hold it, the worker among them
    const status = await master.cluster.status(cid)
    assert.equal(status.peerMap[worker.peer.peerId.toString()]?.status, 'pinned')
    assert.equal(status.peerMap[master.peer.peerId.toString()]?.status, 'pinned')
    const again = await get(s.requestid)
    assert.equal(again.created, s.created)
    assert.deepEqual(again.pin, s.pin)
    assert.match(again.info?.status_details ?? '', /pinned on 2 of 2/)
  })

  it('GET /pins/{requestid} and DELETE of an unknown id are 404 NOT_FOUND; other methods 405', async () => {
    assertFailure(await call('GET', '/pins/00000000-0000-0000-0000-000000000000'), 404, 'NOT_FOUND')
    assertFailure(await call('DELETE', '/pins/nope'), 404, 'NOT_FOUND')
    assertFailure(await call('POST', '/pins/nope', { cid: 'bafkqaaa' }), 404, 'NOT_FOUND')
    assertFailure(await call('PUT', '/pins'), 405, 'METHOD_NOT_ALLOWED')
    assertFailure(await call('GET', '/elsewhere'), 404, 'NOT_FOUND')
    assertFailure(await call('GET', '/pins/%E0%A4%A'), 400, 'BAD_REQUEST')
  })

  it('lists newest first, counts every match, and pages with before (as Kubo does)', async () => {
    const made: PinStatus[] = []
    for (const name of ['alpha-1', 'Alpha-2', 'beta']) {
      made.push(
        await add({ cid: await content(name), name, meta: { app_id: name.startsWith('b') ? 'b' : 'a' } })
      )
    }
    const all = await list(`status=${ALL}&limit=1000`)
    assert.equal(all.count, all.results.length)
    assert.ok(all.count >= 4)
    const created = all.results.map((r) => Date.parse(r.created))
    for (let i = 1; i < created.length; i++) assert.ok(created[i - 1]! > created[i]!, 'newest first, unique')
    assert.deepEqual(
      all.results.slice(0, 3).map((r) => r.requestid),
      made.map((m) => m.requestid).reverse()
    )
    for (const r of all.results) assertPinStatus(r)
    // pages of 2: count > results tells there is more; `before` = the oldest `created` of a page
    const seen: string[] = []
    let query = `status=${ALL}&limit=2`
    for (let page = 0; page < 100; page++) {
      const r = await list(query)
      assert.ok(r.results.length <= 2)
      seen.push(...r.results.map((x) => x.requestid))
      if (r.count === r.results.length) break
      assert.ok(r.count > r.results.length)
      query = `status=${ALL}&limit=2&before=${encodeURIComponent(r.results.at(-1)!.created)}`
    }
    assert.deepEqual(
      seen,
      all.results.map((r) => r.requestid)
    )
    // the default limit is 10; `after` keeps the newer ones
    assert.equal((await list(`status=${ALL}`)).results.length, Math.min(10, all.count))
    const newer = await list(`status=${ALL}&after=${encodeURIComponent(made[0]!.created)}`)
    assert.deepEqual(
      newer.results.map((r) => r.requestid),
      [made[2]!.requestid, made[1]!.requestid]
    )
    // a nanosecond `before`, as Go's RFC3339Nano prints it, compares exactly
    const ns = made[1]!.created.replace(/Z$/, '000001Z')
    const upTo = await list(`status=${ALL}&before=${encodeURIComponent(ns)}&limit=1`)
    assert.equal(upTo.results[0]?.requestid, made[1]!.requestid)
  })

  it('filters by cid (repeated or comma-separated), name with each match, meta and status', async () => {
    const all = await list(`status=${ALL}&limit=1000`)
    const byName = (n: string) => all.results.find((r) => r.pin.name === n)!
    const [a1, a2, b] = [byName('alpha-1'), byName('Alpha-2'), byName('beta')]
    const ids = (r: PinResults) => r.results.map((x) => x.requestid).sort()
    assert.deepEqual(ids(await list(`status=${ALL}&cid=${a1.pin.cid}`)), [a1.requestid])
    assert.deepEqual(
      ids(await list(`status=${ALL}&cid=${a1.pin.cid},${b.pin.cid}`)),
      [a1.requestid, b.requestid].sort()
    )
    assert.deepEqual(
      ids(await list(`status=${ALL}&cid=${a1.pin.cid}&cid=${b.pin.cid}`)),
      [a1.requestid, b.requestid].sort()
    )
    assert.deepEqual(ids(await list(`status=${ALL}&name=alpha-1`)), [a1.requestid])
    assert.deepEqual(ids(await list(`status=${ALL}&name=ALPHA-2&match=iexact`)), [a2.requestid])
    assert.deepEqual(
      ids(await list(`status=${ALL}&name=lpha&match=partial`)),
      [a1.requestid, a2.requestid].sort()
    )
    assert.deepEqual(ids(await list(`status=${ALL}&name=Alpha&match=partial`)), [a2.requestid])
    assert.deepEqual(
      ids(await list(`status=${ALL}&name=ALPHA&match=ipartial`)),
      [a1.requestid, a2.requestid].sort()
    )
    const meta = encodeURIComponent(JSON.stringify({ app_id: 'b' }))
    assert.deepEqual(ids(await list(`status=${ALL}&meta=${meta}`)), [b.requestid])
    // status: wait until all are pinned, then pinned lists them, queued lists none of them
    await waitFor(
      async () => (await list(`status=pinned&limit=1000`)).count === all.count,
      'every request pinned',
      LONG
    )
    assert.equal((await list('status=queued,pinning,failed')).count, 0)
    // no status filter: only pinned ones (the spec)
    assert.equal((await list('limit=1000')).count, all.count)
  })

  it('refuses bad filters with 400 BAD_REQUEST', async () => {
    for (const q of [
      'limit=0',
      'limit=1001',
      'limit=ten',
      'status=done',
      'before=yesterday',
      'after=2020-07-27',
      'meta=notjson',
      'meta=%5B%5D',
      'cid=not-a-cid',
      'match=fuzzy',
      `cid=${Array.from({ length: 11 }, () => 'bafkqaaa').join(',')}`
    ]) {
      assertFailure(await call('GET', `/pins?${q}`), 400, 'BAD_REQUEST')
    }
  })

  it('the same CID twice is two requests; the cluster unpins it only with the last', async () => {
    const cid = await content('twice')
    const one = await add({ cid })
    const two = await add({ cid })
    assert.notEqual(one.requestid, two.requestid)
    assert.notEqual(one.created, two.created)
    assert.ok(master.cluster.get(cid) != null)
    const del = await call('DELETE', `/pins/${one.requestid}`)
    assert.equal(del.status, 202)
    assert.equal(del.json, undefined)
    assertFailure(await call('GET', `/pins/${one.requestid}`), 404, 'NOT_FOUND')
    assert.ok(master.cluster.get(cid) != null, 'still pinned for the other request')
    assert.equal((await call('DELETE', `/pins/${two.requestid}`)).status, 202)
    assert.equal(master.cluster.get(cid), undefined, 'unpinned with the last request')
    assertFailure(await call('DELETE', `/pins/${two.requestid}`), 404, 'NOT_FOUND')
  })

  it('a CID the cluster pinned before is adopted: removing the request leaves the cluster pin', async () => {
    const cid = await content('adopted')
    await master.cluster.pin(cid, { replicationFactorMin: 1, replicationFactorMax: 1, name: 'own' })
    const s = await add({ cid, name: 'request' })
    assert.equal(master.cluster.get(cid)?.name, 'own', 'the cluster pin keeps its options')
    assert.equal((await call('DELETE', `/pins/${s.requestid}`)).status, 202)
    assert.equal(master.cluster.get(cid)?.name, 'own')
    await master.cluster.unpin(cid)
  })

  it('POST /pins/{requestid} replaces: a new request id, the old one gone', async () => {
    const oldCid = await content('old')
    const newCid = await content('new')
    const old = await add({ cid: oldCid, name: 'v1' })
    const r = await call('POST', `/pins/${old.requestid}`, { cid: newCid, name: 'v2' })
    assert.equal(r.status, 202, JSON.stringify(r.json))
    const s = r.json as PinStatus
    assertPinStatus(s)
    assert.notEqual(s.requestid, old.requestid)
    assert.deepEqual(s.pin, { cid: newCid, name: 'v2' })
    assert.ok(Date.parse(s.created) > Date.parse(old.created))
    assertFailure(await call('GET', `/pins/${old.requestid}`), 404, 'NOT_FOUND')
    assert.equal(master.cluster.get(oldCid), undefined, 'the old CID unpinned')
    assert.ok(master.cluster.get(newCid) != null)
    assertFailure(await call('POST', `/pins/${s.requestid}`, { cid: 'nope' }), 400, 'BAD_REQUEST')
    assert.equal((await get(s.requestid)).requestid, s.requestid, 'a refused replace keeps the request')
  })

  it('a CID no member can fetch ends failed, with the reason in info', async () => {
    // an identity-free sha2-256 CID of bytes nobody has
    const missing = (
      await master.ipfsAddString(`nowhere ${Math.random()}`, { onlyHash: true, cidVersion: 1 })
    ).Hash
    const s = await add({ cid: missing, name: 'missing' })
    await waitFor(async () => (await get(s.requestid)).status === 'failed', 'the request failed', LONG)
    const failed = await get(s.requestid)
    assert.ok((failed.info?.errors ?? '').length > 0, JSON.stringify(failed.info))
    assert.deepEqual(
      (await list('status=failed')).results.map((r) => r.requestid),
      [s.requestid]
    )
    assert.equal((await call('DELETE', `/pins/${s.requestid}`)).status, 202)
  })

  it('request ids, created times and pins outlive a restart of the master', async () => {
    const before = await list(`status=${ALL}&limit=1000`)
    assert.ok(before.count > 0)
    await api.stop()
    await master.stop()
    await startMaster()
    token = await repoToken(master.repo.path)
    const afterRestart = await list(`status=${ALL}&limit=1000`)
    assert.deepEqual(
      afterRestart.results.map((r) => [r.requestid, r.created, r.pin]),
      before.results.map((r) => [r.requestid, r.created, r.pin])
    )
    const first = before.results.at(-1)!
    assertPinStatus(await get(first.requestid))
  })
})
