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

describe('ipfs-kit CLI: config, bootstrap, routing, swarm, ping, bitswap, stats, repo, shutdown', {
  concurrency: true
}, () => {
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
    ;[id.a, id.b] = await Promise.all([
      initLocal(repo.a, '--role', 'worker'),
      initLocal(repo.b, '--role', 'worker'),
      initLocal(repo.c)
    ])
    daemon.a = start(kit(repo.a, 'daemon'))
    daemon.b = start(kit(repo.b, 'daemon'))
    await daemon.a.waitFor(/^Daemon is ready$/m)
    await daemon.b.waitFor(/^Daemon is ready$/m)
    addrA = (await daemon.a.waitFor(TCP_ADDR))[1] ?? ''
    apiA = (await daemon.a.waitFor(API_ADDR))[1] ?? ''
    const bytes = new Uint8Array(FILE_BYTES).map((_, i) => (i * 7919) % 251)
    cid = (await ok(kit(repo.a, 'add', '-q'), { input: bytes })).trim()
  })

  after(async () => {
    await daemon.a?.stop().catch(() => undefined)
    await daemon.b?.stop().catch(() => undefined)
    killAll()
    await removeAll(dirs)
  })

  // the one-shot repo (C) and the daemons (A, B) share nothing: their tests run side by side
  describe('on a repo with no daemon (each command its own kit)', { concurrency: 1 }, () => {
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
      const shown = JSON.parse(await ok(kit(repo.c, 'config', 'show'))) as {
        Identity: Record<string, unknown>
      }
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

    it('shutdown without a daemon is an error', async () => {
      assertOneError(await run(kit(repo.c, 'shutdown')), /running daemon/)
    })
  })

  describe('through daemons A and B', { concurrency: 1 }, () => {
    it('bootstrap list, add, rm, rm --all (a running daemon writes the change to its repo)', async () => {
      assert.equal(await ok(kit(repo.b, 'bootstrap', 'list')), '')
      assert.equal(await ok(kit(repo.b, 'bootstrap', 'add', addrA)), `added ${addrA}\n`)
      assert.equal(await ok(kit(repo.b, 'bootstrap', 'add', addrA)), '')
      assert.deepEqual(JSON.parse(await ok(kit(repo.b, '--enc', 'json', 'bootstrap', 'list'))), {
        Peers: [addrA]
      })
      const onDisk = JSON.parse(await readFile(join(repo.b, 'config'), 'utf8')) as { Bootstrap: string[] }
      assert.deepEqual(onDisk.Bootstrap, [addrA])
      assertOneError(
        await run(kit(repo.b, 'bootstrap', 'add', '/ip4/127.0.0.1/tcp/1')),
        /must end with \/p2p/
      )
      assert.equal(await ok(kit(repo.b, 'bootstrap', 'rm', addrA)), `removed ${addrA}\n`)
      await ok(kit(repo.b, 'bootstrap', 'add', addrA))
      assert.equal(await ok(kit(repo.b, 'bootstrap', 'rm', '--all')), `removed ${addrA}\n`)
      assert.equal(await ok(kit(repo.b, 'bootstrap', 'list')), '')
    })

    it("id shows the running daemon's addresses and protocols; id <peer> a connected peer", async () => {
      const [ownOut, connected, notPeer] = await Promise.all([
        ok(kit(repo.a, 'id')),
        ok(kit(repo.b, 'swarm', 'connect', addrA)),
        run(kit(repo.b, 'id', 'not-a-peer'))
      ])
      const own = JSON.parse(ownOut) as {
        ID: string
        Addresses: string[]
        Protocols: string[]
      }
      assert.equal(own.ID, id.a)
      assert.ok(own.Addresses.includes(addrA), JSON.stringify(own.Addresses))
      assert.ok(own.Protocols.includes('/ipfs/bitswap/1.2.0'))
      assert.equal(connected, `connect ${id.a} success\n`)
      assertOneError(notPeer, /not a peer id/)
      const peer = JSON.parse(await ok(kit(repo.b, 'id', id.a))) as {
        ID: string
        Addresses: string[]
        PublicKey: string
      }
      assert.equal(peer.ID, id.a)
      assert.notEqual(peer.PublicKey, '')
      assert.ok(peer.Addresses.some((a) => a.startsWith('/ip4/127.0.0.1/')))
    })

    it('swarm addrs, swarm addrs local, ping, routing findpeer', async () => {
      const [addrs, addrsJson, localId, localOut, pingOut, pingJson, zero, self, findpeer] =
        await Promise.all([
          ok(kit(repo.b, 'swarm', 'addrs')),
          ok(kit(repo.b, '--enc', 'json', 'swarm', 'addrs')),
          ok(kit(repo.a, 'swarm', 'addrs', 'local', '--id')),
          ok(kit(repo.a, 'swarm', 'addrs', 'local')),
          ok(kit(repo.b, 'ping', '-n', '2', id.a)),
          ok(kit(repo.b, '--enc', 'json', 'ping', '-n', '1', id.a)),
          run(kit(repo.b, 'ping', '-n', '0', id.a)),
          run(kit(repo.b, 'ping', id.b)),
          ok(kit(repo.b, 'routing', 'findpeer', id.a))
        ])
      assert.match(addrs, new RegExp(`^${id.a} \\(\\d+\\)\\n\\t/ip4/127\\.0\\.0\\.1/tcp/`, 'm'))
      const json = JSON.parse(addrsJson) as {
        Addrs: Record<string, string[]>
      }
      assert.ok((json.Addrs[id.a] ?? []).length > 0)
      const local = localId.trim().split('\n')
      assert.ok(local.includes(addrA), local.join(' '))
      assert.ok(localOut.split('\n').every((a) => !a.includes('/p2p/')))
      const pings = pingOut.trim().split('\n')
      assert.equal(pings[0], `PING ${id.a}.`)
      assert.equal(pings.filter((l) => /^Pong received: time=\d+\.\d\d ms$/.test(l)).length, 2)
      assert.match(pings.at(-1) ?? '', /^Average latency: \d+\.\d\dms$/)
      const lines = pingJson.trim().split('\n')
      assert.ok(lines.map((l) => JSON.parse(l) as { Success: boolean }).every((l) => l.Success))
      assertOneError(zero, /greater than 0/)
      assertOneError(self, /self/)
      const found = findpeer.trim().split('\n')
      assert.ok(found.includes(addrA.replace(`/p2p/${id.a}`, '')), found.join(' '))
    })

    it('stats bw counts libp2p bytes: a fetched file raises it by at least its size; --peer, --proto', async () => {
      const bw = async (...extra: string[]): Promise<Bw> =>
        JSON.parse(await ok(kit(repo.b, '--enc', 'json', 'stats', 'bw', ...extra))) as Bw
      const [before, peerBefore] = await Promise.all([bw(), bw('--peer', id.a)])
      const fetched = await run(kit(repo.b, 'cat', cid))
      assert.equal(fetched.code, 0, fetched.stderr)
      assert.equal(fetched.stdout.byteLength, FILE_BYTES)
      const [after, peerAfter, blocks, bitswap, sentOut, text, badPeer] = await Promise.all([
        bw(),
        bw('--peer', id.a),
        bw('--proto', '/ipfs-kit/blocks/1.0.0'),
        bw('--proto', '/ipfs/bitswap/1.2.0'),
        ok(kit(repo.a, '--enc', 'json', 'stats', 'bw')),
        ok(kit(repo.b, 'stats', 'bw')),
        run(kit(repo.b, 'stats', 'bw', '--peer', 'nope'))
      ])
      assert.ok(after.TotalIn - before.TotalIn >= FILE_BYTES, `${before.TotalIn} → ${after.TotalIn}`)
      assert.ok(
        peerAfter.TotalIn - peerBefore.TotalIn >= FILE_BYTES,
        `${peerBefore.TotalIn} → ${peerAfter.TotalIn}`
      )
      assert.ok(blocks.TotalIn + bitswap.TotalIn >= FILE_BYTES)
      // A sent what B received
      const sent = JSON.parse(sentOut) as Bw
      assert.ok(sent.TotalOut >= FILE_BYTES)
      assert.match(
        text,
        /^Bandwidth\nTotalIn: [\d.]+ [kMG]?B\nTotalOut: .*\nRateIn: .*\/s\nRateOut: .*\/s\n$/
      )
      assertOneError(badPeer, /not a peer id/)
    })

    it('bitswap stat and stats bitswap count the blocks exchanged; bitswap wantlist', async () => {
      const [bOut, aOut, statText, wantsOut, asked] = await Promise.all([
        ok(kit(repo.b, '--enc', 'json', 'bitswap', 'stat')),
        ok(kit(repo.a, '--enc', 'json', 'stats', 'bitswap')),
        ok(kit(repo.b, 'bitswap', 'stat')),
        ok(kit(repo.b, '--enc', 'json', 'bitswap', 'wantlist')),
        ok(kit(repo.a, 'bitswap', 'wantlist', '--peer', id.b))
      ])
      const b = JSON.parse(bOut) as Record<string, unknown>
      assert.ok((b.BlocksReceived as number) >= 2, JSON.stringify(b))
      assert.ok((b.DataReceived as number) >= FILE_BYTES)
      assert.ok((b.Peers as string[]).includes(id.a))
      const a = JSON.parse(aOut) as Record<string, number>
      assert.ok((a.BlocksSent ?? 0) >= 2 && (a.DataSent ?? 0) >= FILE_BYTES, JSON.stringify(a))
      for (const key of ['ProvideBufLen', 'Wantlist', 'DupBlksReceived', 'DupDataReceived'])
        assert.ok(key in b, key)
      assert.match(statText, /^bitswap status\n(.|\n)*\tblocks received: \d+\n/)
      const wants = JSON.parse(wantsOut) as {
        Keys: unknown[]
      }
      assert.ok(Array.isArray(wants.Keys))
      assert.ok(
        asked.split('\n').every((l) => l === '' || /^(Qm|baf)\w+$/.test(l)),
        asked
      )
    })

    it('routing provide and findprovs; swarm disconnect', async () => {
      const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
      const [ownOut, notHeld] = await Promise.all([
        ok(kit(repo.b, 'add', '-q'), { input: 'provided by b\n' }),
        run(kit(repo.b, 'routing', 'provide', missing))
      ])
      assertOneError(notHeld, /not held here/)
      const own = ownOut.trim()
      const [provided, providedR] = await Promise.all([
        ok(kit(repo.b, 'routing', 'provide', own)),
        ok(kit(repo.b, 'routing', 'provide', '-r', own))
      ])
      assert.equal(provided, '')
      assert.equal(providedR, '')
      assert.match(
        await ok(kit(repo.a, 'routing', 'findprovs', '-n', '1', own)),
        new RegExp(`^${id.b}$`, 'm')
      )
      const [disconnected, notConnected, notAddr] = await Promise.all([
        ok(kit(repo.b, 'swarm', 'disconnect', `/p2p/${id.a}`)),
        run(kit(repo.b, 'swarm', 'disconnect', `/p2p/${id.b}`)),
        run(kit(repo.b, 'swarm', 'disconnect', id.a))
      ])
      assert.equal(disconnected, `disconnect ${id.a} success\n`)
      assertOneError(notConnected, /not connected/)
      assertOneError(notAddr, /multiaddr/)
    })

    it('repo gc, repo version, stats repo, commands, log level', async () => {
      const removed = await ok(kit(repo.b, 'repo', 'gc'))
      assert.match(removed, new RegExp(`^removed ${cid}$`, 'm'))
      const [version, statOut, sizeOnly, commands, commandsJson, logLevel, loud] = await Promise.all([
        ok(kit(repo.b, 'repo', 'version')),
        ok(kit(repo.b, '--enc', 'json', 'stats', 'repo')),
        ok(kit(repo.b, 'stats', 'repo', '--size-only')),
        ok(['commands']),
        ok(['--enc', 'json', 'commands']),
        ok(kit(repo.b, 'log', 'level', 'kit:routing', 'error')),
        run(kit(repo.b, 'log', 'level', 'all', 'loud'))
      ])
      assert.equal(version, 'ipfs-kit repo version fs-repo@1\n')
      const stat = JSON.parse(statOut) as Record<string, unknown>
      for (const key of ['RepoSize', 'StorageMax', 'NumObjects', 'RepoPath', 'Version'])
        assert.ok(key in stat, key)
      assert.match(sizeOnly, /^RepoSize: +\d+\nStorageMax: +\d+\n$/)
      const names = commands.trim().split('\n')
      for (const c of [
        'ipfs-kit',
        'ipfs-kit config show',
        'ipfs-kit swarm addrs local',
        'ipfs-kit log level'
      ]) {
        assert.ok(names.includes(c), c)
      }
      const tree = JSON.parse(commandsJson) as {
        Name: string
        Subcommands: Array<{ Name: string; Options: Array<{ Names: string[] }> }>
      }
      assert.equal(tree.Name, 'ipfs-kit')
      const ping = tree.Subcommands.find((c) => c.Name === 'ping')
      assert.deepEqual(ping?.Options, [{ Names: ['count', 'n'] }])
      assert.equal(logLevel, "Changed log level of 'kit:routing' to 'error'\n")
      assertOneError(loud, /not a log level/)
    })

    it('--api reaches a daemon whose repo is elsewhere; --timeout fails with one line', async () => {
      const elsewhere = join(dirs[0] as string, 'no-repo-here')
      const [remoteOut, role, silent, r] = await Promise.all([
        ok(['--repo', elsewhere, '--api', apiA, 'id']),
        ok(['--repo', elsewhere, '--api', apiA, 'config', 'Kit.Role']),
        run(['--repo', elsewhere, '--api', '/ip4/127.0.0.1/tcp/1', 'id']),
        run(kit(repo.b, '--timeout', '1ms', 'ping', '-n', '5', id.a))
      ])
      const remote = JSON.parse(remoteOut) as { ID: string }
      assert.equal(remote.ID, id.a)
      assert.equal(role, 'worker\n')
      assertOneError(silent, /does not answer/)
      assertOneError(r, /timed out after 1 ms/)
    })

    it('shutdown: the daemon stops cleanly, removes its api file and exits 0', async () => {
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
})
