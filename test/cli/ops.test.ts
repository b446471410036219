/**
 * Config, network and operations commands through the real CLI, against two daemons on
 * 127.0.0.1 (A serves content, B fetches it), plus a repo with no daemon for the one-shot path.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
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

const TCP_ADDR = /Swarm listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)\n/
const API_ADDR = /RPC API server listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+)\n/
const FILE_BYTES = 300_000

interface Bw {
  TotalIn: number
  TotalOut: number
  RateIn: number
  RateOut: number
}

describe('ipfs-kit CLI: config, bootstrap, routing, swarm, ping, bitswap, stats, repo, shutdown', () => {
  const dirs: string[] = []
  const repo = { a: '', b: '', c: '' }
  const id = { a: '', b: '' }
  const daemon: { a?: LiveProcess; b?: LiveProcess } = {}
  let addrA = ''
  let apiA = ''
  let cid = ''
  const kit = (r: string, ...args: string[]): string[] => ['--repo', r, ...args]

  before(async () => {
    requireBuild()
    const work = await tempDir()
    dirs.push(work)
    for (const k of ['a', 'b', 'c'] as const) repo[k] = join(work, k)
    id.a = await initLocal(repo.a, '--role', 'worker')
    id.b = await initLocal(repo.b, '--role', 'worker')
    await initLocal(repo.c)
    const bytes = new Uint8Array(FILE_BYTES).map((_, i) => (i * 7919) % 251)
    cid = (await ok(kit(repo.a, 'add', '-q'), { input: bytes })).trim()
    daemon.a = start(kit(repo.a, 'daemon'))
    daemon.b = start(kit(repo.b, 'daemon'))
    await daemon.a.waitFor(/^Daemon is ready$/m)
    await daemon.b.waitFor(/^Daemon is ready$/m)
    addrA = (await daemon.a.waitFor(TCP_ADDR))[1] ?? ''
    apiA = (await daemon.a.waitFor(API_ADDR))[1] ?? ''
  })

  after(async () => {
    await daemon.a?.stop().catch(() => undefined)
    await daemon.b?.stop().catch(() => undefined)
    killAll()
    await removeAll(dirs)
  })

  it('config: get, set with --json and --bool, show; bad input is one error line and changes nothing', async () => {
    assert.equal(await ok(kit(repo.c, 'config', 'Kit.Role')), 'leecher\n')
    assert.deepEqual(JSON.parse(await ok(kit(repo.c, '--enc', 'json', 'config', 'Kit.Role'))), {
      Key: 'Kit.Role',
      Value: 'leecher'
    })
    assert.equal(await ok(kit(repo.c, 'config', '--json', 'Discovery.MDNS.Enabled', 'true')), '')
    assert.equal(await ok(kit(repo.c, 'config', 'Discovery.MDNS.Enabled')), 'true\n')
    await ok(kit(repo.c, 'config', '--bool', 'Discovery.MDNS.Enabled', 'false'))
    assert.deepEqual(JSON.parse(await ok(kit(repo.c, 'config', 'Discovery'))), { MDNS: { Enabled: false } })
    await ok(kit(repo.c, 'config', 'Kit.Role', 'worker'))
    assert.equal(await ok(kit(repo.c, 'config', 'Kit.Role')), 'worker\n')
    const before = await readFile(join(repo.c, 'config'), 'utf8')
    assertOneError(await run(kit(repo.c, 'config', 'Foo.Bar')), /no key "Foo\.Bar"/)
    assertOneError(
      await run(kit(repo.c, 'config', 'Kit.Role', 'boss')),
      /Kit\.Role must be master, worker or leecher/
    )
    assertOneError(
      await run(kit(repo.c, 'config', 'Discovery.MDNS.Enabled', 'false')),
      /takes a boolean.*--bool/
    )
    assertOneError(await run(kit(repo.c, 'config', '--json', 'Bootstrap', '[1')), /not JSON/)
    assertOneError(await run(kit(repo.c, 'config', 'Identity.PrivKey')), /private key/)
    assertOneError(await run(kit(repo.c, 'config', 'Identity.PeerID', 'x')), /identity/)
    assert.equal(await readFile(join(repo.c, 'config'), 'utf8'), before)
    const shown = JSON.parse(await ok(kit(repo.c, 'config', 'show'))) as { Identity: Record<string, unknown> }
    assert.deepEqual(Object.keys(shown.Identity), ['PeerID'])
  })

  it('config replace: a good file replaces the config, keeping the identity; a bad one is refused whole', async () => {
    const shown = JSON.parse(await ok(kit(repo.c, 'config', 'show'))) as {
      Kit: { Role: string }
      Bootstrap: string[]
    }
    shown.Kit.Role = 'master'
    const good = join(dirs[0] as string, 'good.json')
    await writeFile(good, JSON.stringify(shown))
    assert.equal(await ok(kit(repo.c, 'config', 'replace', good)), '')
    assert.equal(await ok(kit(repo.c, 'config', 'Kit.Role')), 'master\n')
    // the private key is still there: the repo opens (an offline command needs it)
    assert.equal(await ok(kit(repo.c, '--enc', 'json', 'repo', 'version')), '{"Version":"1"}\n')
    const before = await readFile(join(repo.c, 'config'), 'utf8')
    const bad = join(dirs[0] as string, 'bad.json')
    for (const [text, pattern] of [
      [JSON.stringify({ ...shown, Kit: { Role: 'boss', Profile: 'local' } }), /Kit\.Role/],
      [JSON.stringify({ ...shown, Swarm: { ConnMgr: {} } }), /keys this node does not know: Swarm/],
      [JSON.stringify({ ...shown, Bootstrap: ['/not/an/addr'] }), /Bootstrap/],
      ['{"Kit":', /not JSON/]
    ] as const) {
      await writeFile(bad, text)
      assertOneError(await run(kit(repo.c, 'config', 'replace', bad)), pattern)
    }
    assertOneError(
      await run(kit(repo.c, 'config', 'replace', join(dirs[0] as string, 'missing.json'))),
      /cannot read/
    )
    assert.equal(await readFile(join(repo.c, 'config'), 'utf8'), before)
  })

  it('bootstrap list, add, rm, rm --all (a running daemon writes the change to its repo)', async () => {
    assert.equal(await ok(kit(repo.b, 'bootstrap', 'list')), '')
    assert.equal(await ok(kit(repo.b, 'bootstrap', 'add', addrA)), `added ${addrA}\n`)
    assert.equal(await ok(kit(repo.b, 'bootstrap', 'add', addrA)), '')
    assert.deepEqual(JSON.parse(await ok(kit(repo.b, '--enc', 'json', 'bootstrap', 'list'))), {
      Peers: [addrA]
    })
    const onDisk = JSON.parse(await readFile(join(repo.b, 'config'), 'utf8')) as { Bootstrap: string[] }
    assert.deepEqual(onDisk.Bootstrap, [addrA])
    assertOneError(await run(kit(repo.b, 'bootstrap', 'add', '/ip4/127.0.0.1/tcp/1')), /must end with \/p2p/)
    assert.equal(await ok(kit(repo.b, 'bootstrap', 'rm', addrA)), `removed ${addrA}\n`)
    await ok(kit(repo.b, 'bootstrap', 'add', addrA))
    assert.equal(await ok(kit(repo.b, 'bootstrap', 'rm', '--all')), `removed ${addrA}\n`)
    assert.equal(await ok(kit(repo.b, 'bootstrap', 'list')), '')
  })

  it("id shows the running daemon's addresses and protocols; id <peer> a connected peer", async () => {
    const own = JSON.parse(await ok(kit(repo.a, 'id'))) as {
      ID: string
      Addresses: string[]
      Protocols: string[]
    }
    assert.equal(own.ID, id.a)
    assert.ok(own.Addresses.includes(addrA), JSON.stringify(own.Addresses))
    assert.ok(own.Protocols.includes('/ipfs/bitswap/1.2.0'))
    assert.equal(await ok(kit(repo.b, 'swarm', 'connect', addrA)), `connect ${id.a} success\n`)
    const peer = JSON.parse(await ok(kit(repo.b, 'id', id.a))) as {
      ID: string
      Addresses: string[]
      PublicKey: string
    }
    assert.equal(peer.ID, id.a)
    assert.notEqual(peer.PublicKey, '')
    assert.ok(peer.Addresses.some((a) => a.startsWith('/ip4/127.0.0.1/')))
    assertOneError(await run(kit(repo.b, 'id', 'not-a-peer')), /not a peer id/)
  })

  it('swarm addrs, swarm addrs local, ping, routing findpeer', async () => {
    const addrs = await ok(kit(repo.b, 'swarm', 'addrs'))
    assert.match(addrs, new RegExp(`^${id.a} \\(\\d+\\)\\n\\t/ip4/127\\.0\\.0\\.1/tcp/`, 'm'))
    const json = JSON.parse(await ok(kit(repo.b, '--enc', 'json', 'swarm', 'addrs'))) as {
      Addrs: Record<string, string[]>
    }
    assert.ok((json.Addrs[id.a] ?? []).length > 0)
    const local = (await ok(kit(repo.a, 'swarm', 'addrs', 'local', '--id'))).trim().split('\n')
    assert.ok(local.includes(addrA), local.join(' '))
    assert.ok(
      (await ok(kit(repo.a, 'swarm', 'addrs', 'local'))).split('\n').every((a) => !a.includes('/p2p/'))
    )
    const pings = (await ok(kit(repo.b, 'ping', '-n', '2', id.a))).trim().split('\n')
    assert.equal(pings[0], `PING ${id.a}.`)
    assert.equal(pings.filter((l) => /^Pong received: time=\d+\.\d\d ms$/.test(l)).length, 2)
    assert.match(pings.at(-1) ?? '', /^Average latency: \d+\.\d\dms$/)
    const lines = (await ok(kit(repo.b, '--enc', 'json', 'ping', '-n', '1', id.a))).trim().split('\n')
    assert.ok(lines.map((l) => JSON.parse(l) as { Success: boolean }).every((l) => l.Success))
    assertOneError(await run(kit(repo.b, 'ping', '-n', '0', id.a)), /greater than 0/)
    assertOneError(await run(kit(repo.b, 'ping', id.b)), /self/)
    const found = (await ok(kit(repo.b, 'routing', 'findpeer', id.a))).trim().split('\n')
    assert.ok(found.includes(addrA.replace(`/p2p/${id.a}`, '')), found.join(' '))
  })

  it('stats bw counts libp2p bytes: a fetched file raises it by at least its size; --peer, --proto', async () => {
    const bw = async (...extra: string[]): Promise<Bw> =>
      JSON.parse(await ok(kit(repo.b, '--enc', 'json', 'stats', 'bw', ...extra))) as Bw
    const before = await bw()
    const peerBefore = await bw('--peer', id.a)
    const fetched = await run(kit(repo.b, 'cat', cid))
    assert.equal(fetched.code, 0, fetched.stderr)
    assert.equal(fetched.stdout.byteLength, FILE_BYTES)
    const after = await bw()
    assert.ok(after.TotalIn - before.TotalIn >= FILE_BYTES, `${before.TotalIn} → ${after.TotalIn}`)
    const peerAfter = await bw('--peer', id.a)
    assert.ok(
      peerAfter.TotalIn - peerBefore.TotalIn >= FILE_BYTES,
      `${peerBefore.TotalIn} → ${peerAfter.TotalIn}`
    )
    const blocks = await bw('--proto', '/ipfs-kit/blocks/1.0.0')
    const bitswap = await bw('--proto', '/ipfs/bitswap/1.2.0')
    assert.ok(blocks.TotalIn + bitswap.TotalIn >= FILE_BYTES)
    // A sent what B received
    const sent = JSON.parse(await ok(kit(repo.a, '--enc', 'json', 'stats', 'bw'))) as Bw
    assert.ok(sent.TotalOut >= FILE_BYTES)
    assert.match(
      await ok(kit(repo.b, 'stats', 'bw')),
      /^Bandwidth\nTotalIn: [\d.]+ [kMG]?B\nTotalOut: .*\nRateIn: .*\/s\nRateOut: .*\/s\n$/
    )
    assertOneError(await run(kit(repo.b, 'stats', 'bw', '--peer', 'nope')), /not a peer id/)
  })

  it('bitswap stat and stats bitswap count the blocks exchanged; bitswap wantlist', async () => {
    const b = JSON.parse(await ok(kit(repo.b, '--enc', 'json', 'bitswap', 'stat'))) as Record<string, unknown>
    assert.ok((b.BlocksReceived as number) >= 2, JSON.stringify(b))
    assert.ok((b.DataReceived as number) >= FILE_BYTES)
    assert.ok((b.Peers as string[]).includes(id.a))
    const a = JSON.parse(await ok(kit(repo.a, '--enc', 'json', 'stats', 'bitswap'))) as Record<string, number>
    assert.ok((a.BlocksSent ?? 0) >= 2 && (a.DataSent ?? 0) >= FILE_BYTES, JSON.stringify(a))
    for (const key of ['ProvideBufLen', 'Wantlist', 'DupBlksReceived', 'DupDataReceived'])
      assert.ok(key in b, key)
    assert.match(await ok(kit(repo.b, 'bitswap', 'stat')), /^bitswap status\n(.|\n)*\tblocks received: \d+\n/)
    const wants = JSON.parse(await ok(kit(repo.b, '--enc', 'json', 'bitswap', 'wantlist'))) as {
      Keys: unknown[]
    }
    assert.ok(Array.isArray(wants.Keys))
    const asked = await ok(kit(repo.a, 'bitswap', 'wantlist', '--peer', id.b))
    assert.ok(
      asked.split('\n').every((l) => l === '' || /^(Qm|baf)\w+$/.test(l)),
      asked
    )
  })

  it('routing provide and findprovs; swarm disconnect', async () => {
    const own = (await ok(kit(repo.b, 'add', '-q'), { input: 'provided by b\n' })).trim()
    assert.equal(await ok(kit(repo.b, 'routing', 'provide', own)), '')
    assert.equal(await ok(kit(repo.b, 'routing', 'provide', '-r', own)), '')
    const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    assertOneError(await run(kit(repo.b, 'routing', 'provide', missing)), /not held here/)
    assert.match(await ok(kit(repo.a, 'routing', 'findprovs', '-n', '1', own)), new RegExp(`^${id.b}$`, 'm'))
    assert.equal(await ok(kit(repo.b, 'swarm', 'disconnect', `/p2p/${id.a}`)), `disconnect ${id.a} success\n`)
    assertOneError(await run(kit(repo.b, 'swarm', 'disconnect', `/p2p/${id.b}`)), /not connected/)
    assertOneError(await run(kit(repo.b, 'swarm', 'disconnect', id.a)), /multiaddr/)
  })

  it('repo gc, repo version, stats repo, commands, log level', async () => {
    const removed = await ok(kit(repo.b, 'repo', 'gc'))
    assert.match(removed, new RegExp(`^removed ${cid}$`, 'm'))
    assert.equal(await ok(kit(repo.b, 'repo', 'version')), 'ipfs-kit repo version fs-repo@1\n')
    const stat = JSON.parse(await ok(kit(repo.b, '--enc', 'json', 'stats', 'repo'))) as Record<
      string,
      unknown
    >
    for (const key of ['RepoSize', 'StorageMax', 'NumObjects', 'RepoPath', 'Version'])
      assert.ok(key in stat, key)
    assert.match(
      await ok(kit(repo.b, 'stats', 'repo', '--size-only')),
      /^RepoSize: +\d+\nStorageMax: +\d+\n$/
    )
    const names = (await ok(['commands'])).trim().split('\n')
    for (const c of [
      'ipfs-kit',
      'ipfs-kit config show',
      'ipfs-kit swarm addrs local',
      'ipfs-kit log level'
    ]) {
      assert.ok(names.includes(c), c)
    }
    const tree = JSON.parse(await ok(['--enc', 'json', 'commands'])) as {
      Name: string
      Subcommands: Array<{ Name: string; Options: Array<{ Names: string[] }> }>
    }
    assert.equal(tree.Name, 'ipfs-kit')
    const ping = tree.Subcommands.find((c) => c.Name === 'ping')
    assert.deepEqual(ping?.Options, [{ Names: ['count', 'n'] }])
    assert.equal(
      await ok(kit(repo.b, 'log', 'level', 'kit:routing', 'error')),
      "Changed log level of 'kit:routing' to 'error'\n"
    )
    assertOneError(await run(kit(repo.b, 'log', 'level', 'all', 'loud')), /not a log level/)
  })

  it('--api reaches a daemon whose repo is elsewhere; --timeout fails with one line', async () => {
    const elsewhere = join(dirs[0] as string, 'no-repo-here')
    const remote = JSON.parse(await ok(['--repo', elsewhere, '--api', apiA, 'id'])) as { ID: string }
    assert.equal(remote.ID, id.a)
    assert.equal(await ok(['--repo', elsewhere, '--api', apiA, 'config', 'Kit.Role']), 'worker\n')
    assertOneError(await run(['--repo', elsewhere, '--api', '/ip4/127.0.0.1/tcp/1', 'id']), /does not answer/)
    const r = await run(kit(repo.b, '--timeout', '1ms', 'ping', '-n', '5', id.a))
    assertOneError(r, /timed out after 1 ms/)
  })

  it('shutdown: the daemon stops cleanly, removes its api file and exits 0; without a daemon it is an error', async () => {
    assertOneError(await run(kit(repo.c, 'shutdown')), /running daemon/)
    assert.ok(existsSync(join(repo.b, 'api')))
    assert.equal(await ok(kit(repo.b, 'shutdown')), '')
    const b = daemon.b as LiveProcess
    await b.waitFor(/^Daemon stopped$/m, 'stdout', 30_000)
    // no signal sent: the request alone ends the process (bounded wait)
    for (let i = 0; i < 300 && b.child.exitCode == null; i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(b.child.exitCode, 0)
    assert.equal(existsSync(join(repo.b, 'api')), false)
  })
})
