import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  assertOneError,
  initLocal,
  killAll,
  type LiveProcess,
  ok,
  removeAll,
  requireBuild,
  run,
  start,
  tempDir
} from './helpers.ts'

const TOPIC = 'cli-test-topic'
const ANNOUNCE_TOPIC = 'ipfs-kit/content-announce'
const TCP_ADDR = /Swarm listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)\n/

describe('ipfs-kit CLI: daemon, swarm, pubsub, network fetch', () => {
  const dirs: string[] = []
  /** A: worker daemon with content; B: one-shot client and subscriber; C: worker, one-shot; D: publisher */
  const repo = { a: '', b: '', c: '', d: '' }
  const id = { a: '', b: '' }
  let daemonA: LiveProcess | undefined
  let addrA = ''
  let cidA = ''

  before(async () => {
    requireBuild()
    const work = await tempDir()
    dirs.push(work)
    for (const k of ['a', 'b', 'c', 'd'] as const) repo[k] = join(work, k)
    id.a = await initLocal(repo.a, '--role', 'worker')
    id.b = await initLocal(repo.b)
    await initLocal(repo.c, '--role', 'worker')
    await initLocal(repo.d)
    cidA = (await ok(['--repo', repo.a, 'add', '-q'], { input: 'served by the daemon\n' })).trim()
  })

  after(async () => {
    killAll()
    await removeAll(dirs)
  })

  it('daemon prints its peer id, listen addresses and "Daemon is ready"', async () => {
    daemonA = start(['--repo', repo.a, 'daemon'])
    await daemonA.waitFor(/^Daemon is ready$/m)
    assert.match(daemonA.stdout(), new RegExp(`^PeerID: ${id.a}$`, 'm'))
    addrA = (await daemonA.waitFor(TCP_ADDR))[1] ?? ''
    assert.ok(addrA.endsWith(`/p2p/${id.a}`), addrA)
  })

  it('a one-shot command on a repo the daemon holds goes through its HTTP API; id still works', async () => {
    const cid = (await ok(['--repo', repo.a, 'add', '-q'], { input: 'x' })).trim()
    assert.match(await ok(['--repo', repo.a, 'pin', 'ls']), new RegExp(`^${cid} recursive$`, 'm'))
    const idA = JSON.parse(await ok(['--repo', repo.a, 'id'])) as { ID: string }
    assert.equal(idA.ID, id.a)
  })

  it('swarm connect and swarm peers reach the daemon', async () => {
    assert.equal(await ok(['--repo', repo.b, 'swarm', 'connect', addrA]), `connect ${id.a} success\n`)
    const peers = await ok(['--repo', repo.b, 'swarm', 'peers', '--connect', addrA])
    assert.match(peers, new RegExp(`/p2p/${id.a}$`, 'm'))
    assertOneError(await run(['--repo', repo.b, 'swarm', 'connect', '/not/a/multiaddr']), /multiaddr/)
    assertOneError(await run(['--repo', repo.b, '--offline', 'swarm', 'peers']), /needs the network/)
  })

  it('cat fetches content the repo lacks from a --connect peer, then holds it', async () => {
    assertOneError(await run(['--repo', repo.b, 'cat', cidA]), /missing from the local repo.*--connect/)
    assert.equal(await ok(['--repo', repo.b, 'cat', cidA, '--connect', addrA]), 'served by the daemon\n')
    // now held locally: no network needed
    assert.equal(await ok(['--repo', repo.b, '--offline', 'cat', cidA]), 'served by the daemon\n')
  })

  it('pubsub peers and pubsub ls', async () => {
    const peers = await ok(['--repo', repo.b, 'pubsub', 'peers', ANNOUNCE_TOPIC, '--connect', addrA])
    assert.equal(peers, `${id.a}\n`)
    // a worker joins the announce topic on start; a leecher joins none
    assert.equal(await ok(['--repo', repo.c, 'pubsub', 'ls']), `${ANNOUNCE_TOPIC}\n`)
    const json = JSON.parse(await ok(['--repo', repo.b, '--json', 'pubsub', 'ls'])) as { Strings: string[] }
    assert.deepEqual(json.Strings, [])
  })

  it('pubsub sub prints what pubsub pub (argument or stdin) sends, and exits 0 on SIGINT', async () => {
    const sub = start(['--repo', repo.b, 'pubsub', 'sub', TOPIC, '--connect', addrA])
    try {
      const subAddr =
        (await sub.waitFor(/Listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)\n/, 'stderr'))[1] ?? ''
      await sub.waitFor(new RegExp(`Subscribed to ${TOPIC}`), 'stderr')
      assert.ok(subAddr.endsWith(`/p2p/${id.b}`), subAddr)
      const r = await run(['--repo', repo.d, 'pubsub', 'pub', TOPIC, 'first message', '--connect', subAddr])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, '', 'the publisher saw the subscriber')
      await ok(['--repo', repo.d, 'pubsub', 'pub', TOPIC, '--connect', subAddr], {
        input: 'second, from stdin\n'
      })
      await sub.waitFor(/^first message\nsecond, from stdin\n$/, 'stdout', 60_000)
      // a repo held by a one-shot command (no API) is still one clear error
      assertOneError(
        await run(['--repo', repo.b, 'pin', 'ls']),
        new RegExp(`the command \`ipfs-kit pubsub sub\` \\(process ${sub.pid}\\b[^)]*\\) holds the repo`)
      )
    } finally {
      assert.equal(await sub.stop('SIGINT'), 0, sub.stderr())
    }
    assert.ok(!existsSync(join(repo.b, 'repo.lock')), 'the subscriber released the repo')
  })

  it('daemon shuts down cleanly on SIGTERM and releases the repo', async () => {
    assert.ok(daemonA)
    assert.equal(await daemonA.stop('SIGTERM'), 0, daemonA.stderr())
    assert.match(daemonA.stdout(), /Received SIGTERM, shutting down\.\.\.\nDaemon stopped\n$/)
    assert.equal(daemonA.stderr(), '')
    assert.equal(await ok(['--repo', repo.a, 'cat', cidA]), 'served by the daemon\n')
  })

  it('daemon --init creates a repo (profile local) and stops on SIGINT', async () => {
    const fresh = join(dirs[0] ?? '', 'fresh')
    const daemon = start(['--repo', fresh, 'daemon', '--init', '--profile', 'local'])
    try {
      await daemon.waitFor(/^Daemon is ready$/m)
      assert.match(daemon.stdout(), /initialized ipfs-kit node at /)
      assert.match(daemon.stdout(), TCP_ADDR)
      assert.doesNotMatch(daemon.stdout(), /0\.0\.0\.0/)
    } finally {
      assert.equal(await daemon.stop('SIGINT'), 0, daemon.stderr())
    }
    assert.match(daemon.stdout(), /Received SIGINT/)
  })
})
