/**
 * Smoke test of the WAN testbed (bench/wan): 3 hosts, host b's link shaped (25 ms one way, 20
 * Mbit/s both ways), host c's lossy (10%). Measured from inside the hosts: RTT a–b against the
 * spec's 2 (da + db), a–c undelayed, c's loss, b's upload cap, and a 1 MiB fetch by a plain Helia
 * node on a from our peer on b, each node a process of its own on its host's address only.
 *
 * Needs network namespaces: as root it makes them; otherwise it runs itself again inside
 * `unshare --user --map-root-user --net --mount` (a tmpfs on /run), and is skipped only when
 * that is refused too. The testbed is removed in `after`, whatever happened.
 */

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Child, killAll, median, seededSha, startChild, tsFlags } from '../../bench/common.ts'
import type { FetchDone, ProvideReady } from '../../bench/wan/node.ts'
import {
  prefixNamespaces,
  specCapMbit,
  specLoss,
  specRttMs,
  stateDir,
  Testbed,
  type TestbedSpec
} from '../../bench/wan/testbed.ts'
import { namespaceAccess, UNSHARE } from './namespaces.ts'

/** Set in the copy of this test that runs inside `unshare`. */
const INNER = 'IPFS_KIT_WAN_SMOKE_INNER'
const MiB = 1024 * 1024

const SPEC: TestbedSpec = {
  hosts: [{ name: 'a' }, { name: 'b', delayMs: 25, upMbit: 20, downMbit: 20 }, { name: 'c', lossPct: 10 }]
}

const probeScript = fileURLToPath(new URL('../../bench/wan/probe.ts', import.meta.url))
const nodeScript = fileURLToPath(new URL('../../bench/wan/node.ts', import.meta.url))

const access = namespaceAccess()

if (access.how === 'unshare' && process.env[INNER] == null) {
  describe('WAN testbed smoke (rootless, in a user namespace)', () => {
    it('passes inside unshare --user --map-root-user --net --mount', { timeout: 120_000 }, async (t) => {
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
        // without NODE_TEST_CONTEXT the inner runner reports as a runner of its own, not as our child
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
      assert.equal(code, 0, `the smoke test failed inside unshare:\n${output}`)
      assert.match(output, /^ℹ pass [1-9]/m, `the smoke test ran no test inside unshare:\n${output}`)
      assert.match(output, /^ℹ fail 0$/m)
      for (const line of output.split('\n').filter((l) => /^ +ℹ /.test(l))) t.diagnostic(line.trim().slice(2))
    })
  })
} else {
  describe('WAN testbed smoke: 3 hosts, one shaped link', { skip: access.skip, timeout: 60_000 }, () => {
    // unique per run: concurrent runs and other users' testbeds are never touched
    const prefix = `kws${(process.pid % 36 ** 5).toString(36)}`
    let bed: Testbed | undefined
    const children: Child[] = []
    const a = (): Testbed['hosts'][number] => bed!.host('a')
    const b = (): Testbed['hosts'][number] => bed!.host('b')
    const c = (): Testbed['hosts'][number] => bed!.host('c')

    /** Start a long-running process in a host; it prints a JSON line when it is ready. */
    async function startIn(host: string, script: string, args: string[]): Promise<Child> {
      const [cmd, argv] = bed!.argv(host, process.execPath, [...tsFlags(), script, ...args])
      const child = await startChild(cmd, argv, (line) => line.startsWith('{"ready":true'), {
        what: `${host}: ${script}`,
        timeoutMs: 30_000
      })
      children.push(child)
      return child
    }

    /** Run a one-shot script in a host and parse the JSON line it prints. */
    async function runIn<T>(host: string, script: string, args: string[]): Promise<T> {
      const { stdout } = await bed!.exec(host, process.execPath, [...tsFlags(), script, ...args], {
        signal: AbortSignal.timeout(30_000)
      })
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as T
    }

    let probePorts: { b: number; c: number } | undefined
    before(async () => {
      bed = await Testbed.up(SPEC, { prefix, signal: AbortSignal.timeout(30_000) })
      const [pb, pc] = await Promise.all([
        startIn('b', probeScript, ['serve', b().address]),
        startIn('c', probeScript, ['serve', c().address])
      ])
      const port = (child: Child): number => (JSON.parse(child.lines.at(-1)!) as { port: number }).port
      probePorts = { b: port(pb), c: port(pc) }
    })

    after(async () => {
      await killAll(children)
      // by prefix, from the state file: also when `up` failed half-way
      const report = await Testbed.down(prefix)
      assert.deepEqual(await prefixNamespaces(prefix), [], 'no namespace of the test is left')
      assert.equal(existsSync(stateDir(prefix)), false, 'no state is left')
      assert.ok(report.ms < 10_000, `teardown took ${report.ms} ms`)
    })

    it('delays per link: RTT a–b is 2 (da + db) within 20%, a–c is not delayed', async (t) => {
      const spec = specRttMs(a().link, b().link)
      const ab = await runIn<{ samplesMs: number[] }>('a', probeScript, [
        'rtt',
        b().address,
        String(probePorts!.b),
        '20'
      ])
      const ac = await runIn<{ samplesMs: number[] }>('a', probeScript, [
        'rtt',
        c().address,
        String(probePorts!.c),
        '20'
      ])
      const rttAB = median(ab.samplesMs)
      const rttAC = median(ac.samplesMs)
      t.diagnostic(`RTT a–b ${rttAB.toFixed(1)} ms (spec ${spec} ms), a–c ${rttAC.toFixed(2)} ms`)
      assert.ok(
        Math.abs(rttAB - spec) <= 0.2 * spec,
        `RTT a–b ${rttAB.toFixed(1)} ms, spec ${spec} ms (±20%)`
      )
      assert.ok(rttAC < 10, `RTT a–c ${rttAC.toFixed(1)} ms: c has no delay`)
    })

    it("loses c's share of packets: 10% of 2000 datagrams a → c (±4 points)", async (t) => {
      const loss = specLoss(a().link, c().link)
      const got = await runIn<{ sent: number; received: number }>('a', probeScript, [
        'udp',
        c().address,
        String(probePorts!.c),
        '2000'
      ])
      const measured = 1 - got.received / got.sent
      t.diagnostic(`loss a → c ${(measured * 100).toFixed(1)}% (spec ${(loss * 100).toFixed(1)}%)`)
      assert.ok(
        Math.abs(measured - loss) <= 0.04,
        `loss a → c ${(measured * 100).toFixed(1)}%, spec ${(loss * 100).toFixed(1)}%`
      )
    })

    it("caps b's upload: 4 MiB b → a at most 20 Mbit/s, and at least half of it", async (t) => {
      const cap = specCapMbit(b().link, a().link)
      const got = await runIn<{ bytes: number; steadyMbit: number }>('a', probeScript, [
        'bulk',
        b().address,
        String(probePorts!.b),
        String(4 * MiB)
      ])
      assert.equal(got.bytes, 4 * MiB)
      t.diagnostic(`b → a ${got.steadyMbit.toFixed(1)} Mbit/s past slow start (cap ${cap} Mbit/s)`)
      assert.ok(
        got.steadyMbit <= cap * 1.05,
        `b → a ${got.steadyMbit.toFixed(1)} Mbit/s over a ${cap} Mbit/s cap`
      )
      assert.ok(got.steadyMbit >= cap * 0.5, `b → a ${got.steadyMbit.toFixed(1)} Mbit/s, cap ${cap} Mbit/s`)
    })

    it('fetches 1 MiB from our peer on b to a plain Helia node on a, within the cap', async (t) => {
      const seed = `wan-smoke-${prefix}`
      const provider = await startIn('b', nodeScript, [
        JSON.stringify({ role: 'provide', impl: 'kit', address: b().address, seed, bytes: MiB })
      ])
      const ready = JSON.parse(provider.lines.at(-1)!) as ProvideReady
      assert.ok(
        ready.multiaddrs.every((ma) => ma.startsWith(`/ip4/${b().address}/tcp/`)),
        `listens on b's address only: ${ready.multiaddrs.join(' ')}`
      )
      const got = await runIn<FetchDone>('a', nodeScript, [
        JSON.stringify({
          role: 'fetch',
          impl: 'helia',
          address: a().address,
          from: ready.multiaddrs[0],
          cid: ready.cid,
          timeoutMs: 30_000
        })
      ])
      assert.equal(got.bytes, MiB)
      assert.equal(got.sha, await seededSha(seed, MiB), 'the bytes fetched are the file')
      const cap = specCapMbit(b().link, a().link)
      const mbit = (got.bytes * 8) / (got.fetchMs * 1000)
      t.diagnostic(
        `1 MiB in ${got.fetchMs.toFixed(0)} ms (${mbit.toFixed(1)} Mbit/s, cap ${cap}), connected in ${got.connectMs.toFixed(0)} ms`
      )
      assert.ok(mbit <= cap * 1.05, `1 MiB at ${mbit.toFixed(1)} Mbit/s over a ${cap} Mbit/s cap`)
      const rtt = specRttMs(a().link, b().link)
      assert.ok(got.connectMs >= rtt * 0.8, `connected in ${got.connectMs.toFixed(0)} ms, less than one RTT`)
    })
  })
}
