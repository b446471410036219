/**
 * The real `ipfs-kit daemon` process (the built binary), driven by the real
 * `kubo-rpc-client` and by our own CLI, which goes through the daemon's API while the
 * daemon holds the repo.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import type { IPFSKit } from '../../src/kit/index.ts'
import {
  initLocal,
  killAll,
  type LiveProcess,
  ok,
  removeAll,
  requireBuild,
  start,
  tempDir
} from '../cli/helpers.ts'
import { localKit, waitFor } from '../helpers.ts'
import { concat } from './helpers.ts'

describe('ipfs-kit daemon serves the HTTP API', () => {
  const dirs: string[] = []
  let repo = ''
  let peerId = ''
  let daemon: LiveProcess | undefined
  let client: KuboRPCClient
  let apiAddr = ''
  let other: IPFSKit | undefined

  before(async () => {
    requireBuild()
    const work = await tempDir()
    dirs.push(work)
    repo = join(work, 'daemon')
    peerId = (await initLocal(repo, '--role', 'worker')).trim()
    daemon = start(['--repo', repo, 'daemon'])
    await daemon.waitFor(/^Daemon is ready$/m, 'stdout', 30_000)
    apiAddr =
      (await daemon.waitFor(/^RPC API server listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+)$/m))[1] ?? ''
    const port = apiAddr.split('/').at(-1)
    client = create({ url: `http://127.0.0.1:${port}/api/v0` })
    other = await localKit('worker', work)
  })

  after(async () => {
    await other?.stop()
    if (daemon != null) await daemon.stop('SIGTERM').catch(() => undefined)
    killAll()
    await removeAll(dirs)
  })

  it('prints the API address and the dashboard URL, and writes <repo>/api', async () => {
    assert.ok(daemon)
    const port = apiAddr.split('/').at(-1)
    assert.match(daemon.stdout(), new RegExp(`^Dashboard: http://127\\.0\\.0\\.1:${port}/$`, 'm'))
    assert.equal(await readFile(join(repo, 'api'), 'utf8'), apiAddr)
    const page = await fetch(`http://127.0.0.1:${port}/`)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /ipfs-kit dashboard/)
  })

  it('kubo-rpc-client: id, add, cat, pin ls', async () => {
    const id = await client.id()
    assert.equal(id.id.toString(), peerId)
    const { cid } = await client.add('added through the daemon\n')
    assert.equal(new TextDecoder().decode(await concat(client.cat(cid))), 'added through the daemon\n')
    const pins: string[] = []
    for await (const p of client.pin.ls({ paths: [cid] })) pins.push(`${p.cid} ${p.type}`)
    assert.deepEqual(pins, [`${cid} recursive`])
  })

  it('kubo-rpc-client: swarm connect and peers, pubsub round trip with another node', async () => {
    assert.ok(other)
    const addr = other.peer.getMultiaddrs()[0]
    assert.ok(addr)
    await client.swarm.connect(addr)
    const peers = await client.swarm.peers()
    assert.ok(peers.some((p) => p.peer.toString() === other?.repo.config.Identity.PeerID))
    const topic = 'daemon-topic'
    const got: string[] = []
    await client.pubsub.subscribe(topic, (m) => got.push(new TextDecoder().decode(m.data)))
    await waitFor(
      async () => (await other!.ipfsPubsubPeers(topic)).includes(peerId),
      'the daemon subscribed',
      15_000
    )
    await other.ipfsPubsubPublish(topic, 'to the daemon')
    await waitFor(() => got.length > 0, 'the message at the client', 60_000)
    assert.deepEqual(got, ['to the daemon'])
    // and the other way: the daemon publishes, the other node receives
    const back: string[] = []
    await other.ipfsPubsubSubscribe(topic, (m) => {
      back.push(new TextDecoder().decode(m.data))
    })
    await waitFor(
      async () => (await client.pubsub.peers(topic)).length > 0,
      'the other node subscribed',
      15_000
    )
    await client.pubsub.publish(topic, new TextEncoder().encode('from the daemon'))
    await waitFor(() => back.length > 0, 'the message at the other node', 60_000)
    await client.pubsub.unsubscribe(topic)
  })

  it('the CLI goes through the daemon while it holds the repo: add, cat, ls, get, pin ls, swarm peers', async () => {
    const cid = (await ok(['--repo', repo, 'add', '-q'], { input: 'CLI via the API\n' })).trim()
    assert.match(cid, /^Qm/)
    assert.equal(await ok(['--repo', repo, 'cat', cid]), 'CLI via the API\n')
    assert.match(await ok(['--repo', repo, 'pin', 'ls']), new RegExp(`^${cid} recursive$`, 'm'))
    const folder = join(dirs[0] ?? '', 'folder')
    await mkdir(join(folder, 'sub'), { recursive: true })
    await writeFile(join(folder, 'a.txt'), 'file a\n')
    await writeFile(join(folder, 'sub', 'b.txt'), 'file b\n')
    const added = await ok(['--repo', repo, 'add', '-r', folder])
    const root = /^added (\S+) folder$/m.exec(added)?.[1]
    assert.ok(root, added)
    assert.match(await ok(['--repo', repo, 'ls', root]), /^\S+ 7 a\.txt\n\S+ \d+ sub\/\n$/)
    const out = join(dirs[0] ?? '', 'got')
    await ok(['--repo', repo, 'get', root, '-o', out])
    assert.equal(await readFile(join(out, 'sub', 'b.txt'), 'utf8'), 'file b\n')
    assert.match(
      await ok(['--repo', repo, 'swarm', 'peers']),
      new RegExp(`/p2p/${other?.repo.config.Identity.PeerID}$`, 'm')
    )
  })

  it('stops on SIGTERM, removes <repo>/api and releases the repo', async () => {
    assert.ok(daemon)
    assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr())
    assert.match(daemon.stdout(), /Daemon stopped\n$/)
    assert.ok(!existsSync(join(repo, 'api')))
    assert.ok(!existsSync(join(repo, 'repo.lock')))
    daemon = undefined
  })
})
