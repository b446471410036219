/**
 * Issue 16, tests 1 and 2: our peers behind NAT on the WAN testbed (bench/wan), each a process of
 * its own in its host (bench/wan/nat-node.ts, the `public` profile with QUIC, AutoNAT v2, the
 * circuit relay v2 client, DCUtR; no mDNS; no bootstrap peer but the master):
 *
 * - `master` (a master: relay server) and `helper` (a public peer whose AutoNAT server gives the
 *   master its verdict) on the switch, `a` behind router `home-a`, `b` behind router `home-b`
 *   (MASQUERADE, forwarding in only what answers the LAN: bench/wan/shaping.ts);
 * - test 1 with every transport (TCP, WebSockets, QUIC), test 2 with QUIC only (listen and dial).
 *
 * What holds, and is asserted: the testbed's NATs let the LAN out and nothing in, and a UDP hole
 * punch between the two LANs works (so the testbed does not stand in DCUtR's way); AutoNAT makes
 * the master `public`, while `a` and `b` are `private`, the address their router gives them seen
 * by peers but never verified; both hold a reservation on the master's relay (a `/p2p-circuit`
 * address); a peer behind NAT fetches 16 MiB from a public peer through its router (CIDs and
 * bytes checked); `b` reaches `a` through the relay, and fetches 16 MiB from it over the relayed
 * connection (CIDs and bytes checked): the master relays without limits here
 * (`Swarm.RelayService.ConnectionDataLimit: 0`, `ConnectionDurationLimit: "0s"`), so the relay
 * sends no limit and the connection is not `limited` (bitswap runs on it). That is what a user
 * behind NAT gets today, with a relay that allows it.
 *
 * What does not, and why (asserted as it is, so that this test fails the day it changes): DCUtR
 * cannot make that relayed connection direct with js-libp2p 3 as it is. Its CONNECT message
 * carries `addressManager.getAddresses()`, the *verified* addresses only (@libp2p/dcutr 3.0.28,
 * dcutr.js), and the address a NAT gives a peer is never verified (AutoNAT's dial-back cannot
 * pass the NAT): so each side receives nothing but private and relayed addresses and gives up
 * ("had no dialable multiaddrs"), over TCP as over QUIC. Were the observed address sent, QUIC
 * would still fail (@chainsafe/libp2p-quic 2.1.1 dials from one client socket, whose port the NAT
 * keeps, but that socket takes no incoming connection, and both sides of a punch dial: by hand,
 * the punches crossed both NATs and both dials timed out), and so would TCP (each dial from a
 * new port, so not the mapping the master saw; by hand, with one dial port, the SYNs made a
 * simultaneous open, then Noise failed with both sides initiators: libp2p 3.3.11's dial queue
 * drops DCUtR's `initiator: false`). bench/wan/README.md, "NAT traversal", has the details;
 * upstream marks JS hole punching known-failing over TCP and QUIC (libp2p/test-plans PR 864;
 * js-libp2p issue 2620). So the 16 MiB transfer between `a` and `b` ends on the relayed connection,
 * not on a direct one as the issue asks; with a relay's default limits (a master grants 1 MiB and
 * 2 minutes) it would have no connection to run on at all.
 *
 * Needs network namespaces: as root it makes them; otherwise it runs itself again inside
 * `unshare --user --map-root-user --net --mount`, and is skipped only when that is refused too.
 * Everything is removed in `after`.
 */

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Child, killAll, MiB, seededSha, startChild, tsFlags } from '../../bench/common.ts'
import {
  circuitAddr,
  isDirect,
  masterAddrs,
  type NatNode,
  NO_RELAY_LIMITS,
  natSpec,
  startNatNode
} from '../../bench/wan/nat.ts'
import type { NatFetchDone } from '../../bench/wan/nat-node.ts'
import { prefixNamespaces, stateDir, Testbed } from '../../bench/wan/testbed.ts'
import { namespaceAccess, UNSHARE } from './namespaces.ts'

/** Set in the copy of this test that runs inside `unshare`. */
const INNER = 'IPFS_KIT_WAN_NAT_INNER'
/** Bound of every wait on the peers (events, not polls), ms. */
const WAIT_MS = 30_000
const FILE_BYTES = 16 * MiB

const probeScript = fileURLToPath(new URL('../../bench/wan/probe.ts', import.meta.url))

const access = namespaceAccess()

/** Tests 1 and 2: the same scenario over every transport, and over QUIC only. */
function natSuite(transports: 'all' | 'quic', n: number): void {
  const title =
    transports === 'all'
      ? 'test 1: two peers behind two NATs and a public master (TCP, WebSockets, QUIC)'
      : 'test 2: the same over QUIC only'
  describe(title, { skip: access.skip, timeout: 300_000 }, () => {
    // unique per run: concurrent runs and other users' testbeds are never touched
    const prefix = `kn${n}${(process.pid % 36 ** 4).toString(36)}`
    let bed: Testbed | undefined
    const nodes: Record<'master' | 'helper' | 'a' | 'b', NatNode | undefined> = {
      master: undefined,
      helper: undefined,
      a: undefined,
      b: undefined
    }
    const probes: Child[] = []
    const node = (name: keyof typeof nodes): NatNode => nodes[name]!
    const onlyQuic = (addr: string): boolean => addr.includes('/udp/') && addr.includes('/quic-v1')

    before(async () => {
      bed = await Testbed.up(natSpec(), { prefix, signal: AbortSignal.timeout(30_000) })
      // the master relays without limits (`Swarm.RelayService.ConnectionDataLimit: 0`,
      // `ConnectionDurationLimit: "0s"`): the relayed connection carries the 16 MiB
      nodes.master = await startNatNode(bed, 'master', {
        role: 'master',
        transports,
        bootstrap: [],
        relayService: NO_RELAY_LIMITS
      })
      const bootstrap = masterAddrs(bed, node('master').id, transports)
      const [helper, a, b] = await Promise.all([
        startNatNode(bed, 'helper', { role: 'worker', transports, bootstrap }),
        startNatNode(bed, 'a', { role: 'worker', transports, bootstrap }, { debugDcutr: true }),
        startNatNode(bed, 'b', { role: 'worker', transports, bootstrap }, { debugDcutr: true })
      ])
      Object.assign(nodes, { helper, a, b })
    })

    after(async () => {
      await killAll([...probes, ...Object.values(nodes).map((n) => n?.child)])
      // by prefix, from the state file: also when `up` failed half-way; routers included
      await Testbed.down(prefix)
      assert.deepEqual(await prefixNamespaces(prefix), [], 'no namespace of the test is left')
      assert.equal(existsSync(stateDir(prefix)), false, 'no state is left')
    })

    if (transports === 'all') {
      it('NAT routers: the LAN gets out, nothing gets in, the LANs cannot reach each other; a UDP punch passes', async (t) => {
        const b = bed!
        const serve = async (host: string): Promise<number> => {
          const [cmd, argv] = b.argv(host, process.execPath, [
            ...tsFlags(),
            probeScript,
            'serve',
            b.host(host).address
          ])
          const child = await startChild(cmd, argv, (l) => l.startsWith('{"ready":true'), {
            what: `${host}: probe`,
            timeoutMs: 30_000
          })
          probes.push(child)
          return (JSON.parse(child.lines.at(-1)!) as { port: number }).port
        }
        const [helperPort, bPort] = await Promise.all([serve('helper'), serve('b')])
        const connect = async (from: string, to: string, port: number) => {
          const { stdout } = await b.exec(
            from,
            process.execPath,
            [...tsFlags(), probeScript, 'connect', to, String(port), '2000'],
            { signal: AbortSignal.timeout(30_000) }
          )
          return JSON.parse(stdout.trim().split('\n').at(-1)!) as { connected: boolean; seenAs?: string }
        }
        const out = await connect('a', b.host('helper').address, helperPort)
        assert.equal(out.connected, true, 'a (behind home-a) reaches a public host')
        assert.match(out.seenAs ?? '', new RegExp(`^${b.router('home-a').address.replace(/\./g, '\\.')}:`))
        t.diagnostic(
          `a's connection seen by helper from ${out.seenAs} (home-a is ${b.router('home-a').address})`
        )
        const bPrivate = b.host('b').address
        const bPublic = b.router('home-b').address
        const [inLan, inRouter, lanToLan, lanToRouter] = await Promise.all([
          connect('helper', bPrivate, bPort),
          connect('helper', bPublic, bPort),
          connect('a', bPrivate, bPort),
          connect('a', bPublic, bPort)
        ])
        assert.equal(inLan.connected, false, 'no route into a LAN')
        assert.equal(inRouter.connected, false, 'the router forwards nothing in')
        assert.equal(lanToLan.connected, false, 'LAN to LAN: no route')
        assert.equal(lanToRouter.connected, false, 'LAN to the other router: nothing in')
        // and a public host that knows the way (a route through home-b) is dropped by its filter
        await b.exec('helper', 'ip', ['route', 'add', b.router('home-b').lanSubnet, 'via', bPublic])
        assert.equal(
          (await connect('helper', bPrivate, bPort)).connected,
          false,
          'home-b forwards nothing unsolicited'
        )
        await b.exec('helper', 'ip', ['route', 'del', b.router('home-b').lanSubnet])
        // a UDP hole punch: both send to the other's router at once; the NATs keep the ports
        const punch = (from: 'a' | 'b', to: 'a' | 'b', port: number, peerPort: number) =>
          b.exec(
            from,
            process.execPath,
            [
              ...tsFlags(),
              probeScript,
              'punch',
              b.host(from).address,
              String(port),
              b.publicAddress(to),
              String(peerPort),
              '3000'
            ],
            { signal: AbortSignal.timeout(30_000) }
          )
        const [pa, pb] = (
          await Promise.all([punch('a', 'b', 41001, 41002), punch('b', 'a', 41002, 41001)])
        ).map((r) => JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { received: number; from: string[] })
        t.diagnostic(
          `UDP punch: a received ${pa!.received} from ${pa!.from}, b ${pb!.received} from ${pb!.from}`
        )
        assert.ok(pa!.received > 0 && pb!.received > 0, 'a UDP hole punch through both NATs passes')
        assert.deepEqual(pa!.from, [`${bPublic}:41002`], "b's datagrams come from its router, port kept")
      })
    }

    it('AutoNAT: the master is public; a and b are private, their routers’ address observed but never verified', async (t) => {
      const master = await node('master').until(
        'reachability public',
        (s) => s.reachability === 'public',
        WAIT_MS
      )
      t.diagnostic(`master verified: ${master.known.filter((k) => k.verified).map((k) => k.addr)}`)
      assert.ok(
        master.known.some(
          (k) =>
            k.verified && k.type === 'transport' && k.addr.startsWith(`/ip4/${bed!.host('master').address}/`)
        ),
        'AutoNAT verified a listen address of the master'
      )
      for (const [name, router] of [
        ['a', 'home-a'],
        ['b', 'home-b']
      ] as const) {
        const routerIp = bed!.router(router).address
        const s = await node(name).until(
          `the router's address observed`,
          (st) => st.known.some((k) => k.type === 'observed' && k.addr.startsWith(`/ip4/${routerIp}/`)),
          WAIT_MS
        )
        assert.equal(s.reachability, 'private', `${name} is behind ${router}`)
        const observed = s.known.filter((k) => k.addr.startsWith(`/ip4/${routerIp}/`))
        assert.ok(
          observed.every((k) => !k.verified),
          `${name}: ${JSON.stringify(observed)} is never verified`
        )
        assert.ok(
          s.addrs.every((a) => !a.startsWith(`/ip4/${routerIp}/`) && !a.startsWith('/ip4/192.168.')),
          `${name} announces neither its LAN address nor an unverified one: ${s.addrs}`
        )
      }
    })

    it("both hold a reservation on the master's relay: a /p2p-circuit address through it", async (t) => {
      const masterId = node('master').id
      for (const name of ['a', 'b'] as const) {
        const s = await node(name).until(
          'a relay reservation',
          (st) => circuitAddr(st, masterId) != null,
          WAIT_MS
        )
        const addr = circuitAddr(s, masterId)!
        t.diagnostic(`${name}: ${addr}`)
        assert.ok(addr.startsWith(`/ip4/${bed!.host('master').address}/`))
        if (transports === 'quic') assert.ok(onlyQuic(addr), `over QUIC: ${addr}`)
      }
    })

    it('a peer behind NAT fetches 16 MiB from a public peer through its router (CIDs and bytes checked)', async (t) => {
      const seed = `nat-${prefix}`
      const { cid } = await node('helper').request<{ cid: string }>(
        { cmd: 'add', seed, bytes: FILE_BYTES },
        60_000
      )
      const helperAddr = (await node('helper').state()).addrs.find((a) => !a.includes('/p2p-circuit'))
      assert.ok(helperAddr != null, 'the helper announces a direct address')
      await node('a').request({ cmd: 'connect', addr: helperAddr, timeoutMs: 10_000 })
      const got = await node('a').request<NatFetchDone>(
        { cmd: 'fetch', cid, from: node('helper').id, timeoutMs: 60_000 },
        70_000
      )
      assert.equal(got.ok, true, got.error)
      assert.equal(got.bytes, FILE_BYTES)
      assert.equal(got.sha, await seededSha(seed, FILE_BYTES), 'the bytes are the file')
      assert.ok(got.conns.some(isDirect), `a direct connection: ${JSON.stringify(got.conns)}`)
      if (transports === 'quic')
        assert.ok(
          got.conns.every((c) => onlyQuic(c.addr)),
          JSON.stringify(got.conns)
        )
      t.diagnostic(`16 MiB in ${got.ms.toFixed(0)} ms over ${got.conns.map((c) => c.addr.split('/p2p/')[0])}`)
    })

    it('b fetches 16 MiB from a over the relayed connection (no limits on the master); DCUtR cannot make it direct (no public address is offered)', async (t) => {
      const masterId = node('master').id
      const seed = `nat-relayed-${prefix}`
      const { cid } = await node('a').request<{ cid: string }>(
        { cmd: 'add', seed, bytes: FILE_BYTES },
        60_000
      )
      const aState = await node('a').until(
        'a relay reservation',
        (st) => circuitAddr(st, masterId) != null,
        WAIT_MS
      )
      // DCUtR's answer on b (it handles the upgrade a starts, as the inbound side of the relayed connection)
      const refused = node('b').nextEvent(
        'dcutr',
        (ev) => /had no dialable multiaddrs/.test(String(ev.line)),
        WAIT_MS
      )
      refused.catch(() => {})
      const conn = await node('b').request<{ addr: string; limited: boolean }>({
        cmd: 'connect',
        addr: circuitAddr(aState, masterId),
        timeoutMs: 10_000
      })
      assert.match(conn.addr, /\/p2p-circuit\//)
      assert.equal(conn.limited, false, 'a relayed connection without limits (the master sends none)')
      if (transports === 'quic') assert.ok(onlyQuic(conn.addr), conn.addr)
      const line = String((await refused).line)
      t.diagnostic(line)
      // what a offered: its relayed address only, never its router's (the observed, unverified one)
      assert.ok(!line.includes(`/ip4/${bed!.router('home-a').address}/`), line)
      assert.ok(line.includes('/p2p-circuit'), line)
      const got = await node('b').request<NatFetchDone>(
        { cmd: 'fetch', cid, from: node('a').id, timeoutMs: 90_000 },
        100_000
      )
      assert.equal(got.ok, true, got.error)
      assert.equal(got.bytes, FILE_BYTES)
      assert.equal(got.sha, await seededSha(seed, FILE_BYTES), 'the bytes are the file')
      t.diagnostic(`16 MiB relayed in ${got.ms.toFixed(0)} ms over ${got.conns.map((c) => c.addr)}`)
      // the transfer ended on the relayed connection (not limited), the only one b has to a
      assert.ok(got.conns.length > 0, 'still connected through the relay')
      assert.ok(
        got.conns.some((c) => c.addr === conn.addr && !c.limited),
        `on the relayed connection: ${JSON.stringify(got.conns)}`
      )
      assert.ok(
        got.conns.every((c) => !isDirect(c)),
        `js-libp2p 3's DCUtR made a direct connection: turn this into the issue's assertion (the 16 MiB transfer ends on it): ${JSON.stringify(got.conns)}`
      )
    })
  })
}

if (access.how === 'unshare' && process.env[INNER] == null) {
  describe('NAT traversal on the testbed (rootless, in a user namespace)', () => {
    it('passes inside unshare --user --map-root-user --net --mount', { timeout: 600_000 }, async (t) => {
      const test = fileURLToPath(import.meta.url)
      const child = spawn(
        'unshare',
        [
          ...UNSHARE,
          'sh',
          '-c',
          'mount -t tmpfs tmpfs /run && exec "$@"',
          'inner',
          process.execPath,
          '--import',
          'tsx',
          '--test',
          test
        ],
        {
          env: { ...process.env, [INNER]: '1', NODE_TEST_CONTEXT: undefined },
          stdio: ['ignore', 'pipe', 'pipe']
        }
      )
      let output = ''
      child.stdout.on('data', (d: Buffer) => {
        output += d.toString()
      })
      child.stderr.on('data', (d: Buffer) => {
        output += d.toString()
      })
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
      assert.equal(code, 0, `the NAT test failed inside unshare:\n${output}`)
      assert.match(output, /^ℹ pass [1-9]/m, `the NAT test ran no test inside unshare:\n${output}`)
      assert.match(output, /^ℹ fail 0$/m)
      for (const line of output.split('\n').filter((l) => /^ +ℹ /.test(l))) t.diagnostic(line.trim().slice(2))
    })
  })
} else {
  natSuite('all', 1)
  natSuite('quic', 2)
}
