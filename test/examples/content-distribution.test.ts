import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  type ExampleEvent,
  type ExampleProcess,
  killAll,
  removeAll,
  requireBuild,
  startExample,
  tcpAddr,
  tempDir
} from './helpers.ts'

/** The integration stats a fetcher printed (the last `stats` event). */
function statsOf(
  p: ExampleProcess
): ExampleEvent & { cacheMissesHandled: number; cacheMissesFailed: number } {
  const stats = p.all('stats').at(-1)
  assert.ok(stats != null, `no stats from ${p.pid}`)
  return stats as ExampleEvent & { cacheMissesHandled: number; cacheMissesFailed: number }
}

/** CID → `{ size, sha256 }` from `added` or `fetched` events. */
function digests(events: ExampleEvent[]): Map<string, { size: number; sha256: string }> {
  return new Map(events.map((e) => [e.cid as string, { size: e.size as number, sha256: e.sha256 as string }]))
}

describe('example: content distribution network (master, worker, leecher as separate processes)', () => {
  const dirs: string[] = []
  let work = ''

  before(async () => {
    requireBuild()
    work = await tempDir()
    dirs.push(work)
  })

  after(async () => {
    killAll()
    await removeAll(dirs)
  })

  it('a leecher connected only to the worker gets every file the master added, after the master is gone', async () => {
    const master = startExample('content-distribution', [
      '--role',
      'master',
      '--repo',
      join(work, 'master'),
      '--generate',
      '3',
      '--size',
      String(600 * 1024)
    ])
    const masterReady = await master.waitFor('ready')
    const added = digests(master.all('added'))
    assert.equal(added.size, 3)
    assert.deepEqual(
      master.all('announced').map((e) => e.cid),
      [...added.keys()],
      'every added CID is announced'
    )
    for (const { size } of added.values()) assert.equal(size, 600 * 1024)
    const cids = [...added.keys()]

    // the worker fetches from the master, announces, and keeps serving
    const worker = startExample('content-distribution', [
      '--role',
      'worker',
      '--repo',
      join(work, 'worker'),
      '--serve',
      '--connect',
      tcpAddr(masterReady),
      ...cids
    ])
    const workerReady = await worker.waitFor('ready')
    await worker.waitFor('serving', undefined, 40_000)
    assert.deepEqual(
      digests(worker.all('fetched')),
      added,
      'the worker processed exactly what the master added'
    )
    assert.deepEqual(
      worker.all('announced').map((e) => e.cid),
      cids,
      'the worker announces what it fetched'
    )
    assert.equal(worker.all('fetch-failed').length, 0)
    const workerStats = statsOf(worker)
    assert.ok(workerStats.cacheMissesHandled > 0, 'the worker served its reads as cache misses from peers')
    assert.equal(workerStats.cacheMissesFailed, 0)

    // the master leaves: from now on only the worker holds the content
    assert.deepEqual(await master.stop('SIGTERM'), { code: 0, signal: null })
    assert.equal(master.all('stopped').at(-1)?.ok, true)

    const leecher = startExample('content-distribution', [
      '--role',
      'leecher',
      '--repo',
      join(work, 'leecher'),
      '--connect',
      tcpAddr(workerReady),
      ...cids
    ])
    assert.deepEqual(await leecher.waitExit(40_000), { code: 0, signal: null }, leecher.stderr())
    assert.deepEqual(digests(leecher.all('fetched')), added, 'the leecher got every byte the master added')
    assert.equal(leecher.all('announced').length, 0, 'a leecher announces nothing')
    const leecherStats = statsOf(leecher)
    assert.ok(leecherStats.cacheMissesHandled > 0, 'the leecher served its reads as cache misses from peers')
    assert.equal(leecherStats.cacheMissesFailed, 0)
    assert.deepEqual(leecher.all('connected'), [{ event: 'connected', peer: workerReady.peerId }])

    assert.deepEqual(await worker.stop('SIGTERM'), { code: 0, signal: null })
    assert.equal(worker.all('stopped').at(-1)?.ok, true)
    assert.equal(
      [master, worker, leecher].flatMap((p) => p.all('non-json')).length,
      0,
      'every output line is JSON'
    )
  })
})
