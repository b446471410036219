/**
 * Issue 16, test 3: delegated routing on the WAN testbed (bench/wan), every node a process of its
 * own in a host of its own, nothing leaving the namespaces.
 *
 * - `router`: our daemon (`ipfs-kit daemon`, the CLI, on a `public` repo made private: no
 *   bootstrap peer, no mDNS, the testbed's DHT, no delegated router of its own), serving
 *   `/routing/v1` on its HTTP port.
 * - `provider`: our peer holding two seeded files; it connects to the router, which learns
 *   what it holds from that connection (a bitswap want-have when asked).
 * - `seeker`: our peer knowing no one (no bootstrap peer, an empty DHT, no connection), with the
 *   router as its delegated router: it finds the provider through the router, dials it at the
 *   addresses the router gave and fetches the file (bytes hashed against the seed's).
 * - `bad`: two HTTP servers that are no routers: one answers garbage, one never answers. A
 *   second seeker with both before the good router still fetches, without waiting for the one
 *   that hangs (the retrieval's end cancels its lookup, which is no failure), then looks the
 *   other file up to the end; the node's own stats (`getMetrics().delegatedRouters`) show both failed, their
 *   score fallen below an unknown router's, and the garbage one not asked again in its backoff.
 *
 * Needs network namespaces: as root it makes them; otherwise it runs itself again inside
 * `unshare --user --map-root-user --net --mount` (a tmpfs on /run), and is skipped only when
 * that is refused too. The testbed and the router's repo are removed in `after`.
 */

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Child, killAll, seededSha, startChild, tsFlags } from '../../bench/common.ts'
import { prefixNamespaces, stateDir, Testbed, type TestbedSpec } from '../../bench/wan/testbed.ts'
import { WAN_DHT_PREFIX } from '../../bench/wan/types.ts'
import { DAEMON_READY_LINE } from '../../src/constants.ts'
import type { BadRoutersReady, DelegatedNodeSpec, ProvideReady, SeekDone } from './fixtures/delegated-node.ts'
import { namespaceAccess, UNSHARE } from './namespaces.ts'

/** Set in the copy of this test that runs inside `unshare`. */
const INNER = 'IPFS_KIT_WAN_DELEGATED_INNER'
const MiB = 1024 * 1024

const SPEC: TestbedSpec = {
  defaults: { delayMs: 5 },
  hosts: [{ name: 'router' }, { name: 'provider' }, { name: 'seeker' }, { name: 'bad' }]
}

const fixture = fileURLToPath(new URL('./fixtures/delegated-node.ts', import.meta.url))
const cli = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url))

const access = namespaceAccess()

if (access.how === 'unshare' && process.env[INNER] == null) {
  describe('delegated routing on the WAN testbed (rootless, in a user namespace)', () => {
    it('passes inside unshare --user --map-root-user --net --mount', { timeout: 240_000 }, async (t) => {
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
      assert.equal(code, 0, `the delegated routing test failed inside unshare:\n${output}`)
      assert.match(output, /^ℹ pass [1-9]/m, `the test ran nothing inside unshare:\n${output}`)
      assert.match(output, /^ℹ fail 0$/m)
      for (const line of output.split('\n').filter((l) => /^ +ℹ /.test(l))) t.diagnostic(line.trim().slice(2))
    })
  })
} else {
  describe('delegated routing on the WAN testbed', { skip: access.skip, timeout: 180_000 }, () => {
    // unique per run: concurrent runs and other testbeds are never touched
    const prefix = `ikdel${(process.pid % 36 ** 3).toString(36)}`
    let bed: Testbed | undefined
    let repo: string | undefined
    const children: Child[] = []
    const host = (name: string): Testbed['hosts'][number] => bed!.host(name)

    async function startIn(name: string, script: string, args: string[], ready: (line: string) => boolean) {
      const [cmd, argv] = bed!.argv(name, process.execPath, [...tsFlags(), script, ...args])
      const child = await startChild(cmd, argv, ready, { what: `${name}: ${script}`, timeoutMs: 90_000 })
      children.push(child)
      return child
    }

    async function runIn<T>(name: string, spec: DelegatedNodeSpec): Promise<T> {
      const { stdout } = await bed!.exec(
        name,
        process.execPath,
        [...tsFlags(), fixture, JSON.stringify(spec)],
        {
          signal: AbortSignal.timeout(90_000)
        }
      )
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as T
    }

    const lastJson = <T>(child: Child): T => JSON.parse(child.lines.at(-1)!) as T

    let routerUrl = ''
    let provider: ProvideReady | undefined
    const files = [
      { seed: `delegated-a-${prefix}`, bytes: MiB },
      { seed: `delegated-b-${prefix}`, bytes: MiB }
    ]

    before(async () => {
      bed = await Testbed.up(SPEC, { prefix, signal: AbortSignal.timeout(30_000) })
      // the router: our daemon, from the CLI, on a repo of its own
      repo = await mkdtemp(join(tmpdir(), 'ikdel-router-'))
      const r = host('router').address
      await bed.exec(
        'router',
        process.execPath,
        [...tsFlags(), cli, '--repo', repo, 'init', '--profile', 'public', '--role', 'master'],
        { signal: AbortSignal.timeout(60_000) }
      )
      const configFile = join(repo, 'config')
      const config = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, Record<string, unknown>>
      config.Addresses = { ...config.Addresses, Swarm: [`/ip4/${r}/tcp/4001`], API: `/ip4/${r}/tcp/5001` }
      config.Bootstrap = [] as unknown as Record<string, unknown>
      config.Discovery = { MDNS: { Enabled: false } }
      config.Routing = { ...config.Routing, DHTProtocolPrefix: WAN_DHT_PREFIX, DelegatedRouters: [] }
      await writeFile(configFile, JSON.stringify(config, null, 2))
      const daemon = await startIn('router', cli, ['--repo', repo, 'daemon'], (l) => l === DAEMON_READY_LINE)
      const peerId = daemon.lines.find((l) => l.startsWith('PeerID: '))?.slice('PeerID: '.length)
      assert.ok(peerId != null, `the daemon printed its peer id: ${daemon.lines.join(' | ')}`)
      routerUrl = `http://${r}:5001`

      const p = await startIn(
        'provider',
        fixture,
        [
          JSON.stringify({
            role: 'provide',
            address: host('provider').address,
            files,
            connect: `/ip4/${r}/tcp/4001/p2p/${peerId}`
          } satisfies DelegatedNodeSpec)
        ],
        (l) => l.startsWith('{"ready":true')
      )
      provider = lastJson<ProvideReady>(p)
    })

    after(async () => {
      await killAll(children)
      const report = await Testbed.down(prefix)
      if (repo != null) await rm(repo, { recursive: true, force: true })
      assert.deepEqual(await prefixNamespaces(prefix), [], 'no namespace of the test is left')
      assert.equal(existsSync(stateDir(prefix)), false, 'no state is left')
      assert.ok(report.ms < 10_000, `teardown took ${report.ms} ms`)
    })

    it('a seeker that knows no provider finds one through our daemon’s /routing/v1 and fetches the file', async (t) => {
      const [cid] = provider!.cids
      const got = await runIn<SeekDone>('seeker', {
        role: 'seek',
        address: host('seeker').address,
        routers: [routerUrl],
        cids: [cid!],
        timeoutMs: 60_000
      })
      assert.equal(got.connectionsBefore, 0, 'the seeker knew no peer')
      assert.equal(got.dhtPeersBefore, 0, 'its DHT was empty')
      const fetched = got.fetches[0]!
      assert.equal(fetched.bytes, MiB)
      assert.equal(fetched.sha, await seededSha(files[0]!.seed, MiB), 'the bytes fetched are the file')
      assert.deepEqual(
        got.providers[cid!]?.find(([id]) => id === provider!.peerId),
        [provider!.peerId, 'delegated'],
        `the provider came from the router: ${JSON.stringify(got.providers)}`
      )
      assert.ok(got.metrics.providersFound.delegated >= 1)
      const [router] = got.metrics.delegatedRouters
      assert.equal(router?.url, routerUrl)
      assert.ok((router?.successes ?? 0) >= 1 && router?.failures === 0, JSON.stringify(router))
      t.diagnostic(`1 MiB through the delegated router in ${fetched.ms.toFixed(0)} ms`)
    })

    it('a router that answers garbage and one that hangs are penalised; retrieval goes on from the good one', async (t) => {
      const bad = await startIn(
        'bad',
        fixture,
        [JSON.stringify({ role: 'bad-routers', address: host('bad').address } satisfies DelegatedNodeSpec)],
        (l) => l.startsWith('{"ready":true')
      )
      const { garbage, hang } = lastJson<BadRoutersReady>(bad)
      const [a, b] = provider!.cids
      const timeoutMs = 8_000
      const got = await runIn<SeekDone>('seeker', {
        role: 'seek',
        address: host('seeker').address,
        routers: [garbage, hang, routerUrl],
        cids: [b!],
        // a lookup right after the fetch: the garbage router is in backoff then, and not asked
        lookups: [a!],
        timeoutMs: 60_000,
        delegated: { timeoutMs, backoffBaseMs: 600_000, backoffMaxMs: 600_000 }
      })
      assert.equal(
        got.fetches[0]?.sha,
        await seededSha(files[1]!.seed, MiB),
        'the bytes fetched are the file'
      )
      // the hanging router was asked during the fetch, and the fetch ended with no outcome of it
      // recorded: it did not wait for its timeout (which records a failure)
      const hangAtEnd = got.fetches[0]?.routersAtEnd[1]
      assert.ok((hangAtEnd?.queries ?? 0) >= 1, `asked during the fetch: ${JSON.stringify(hangAtEnd)}`)
      assert.deepEqual(
        [hangAtEnd?.failures, hangAtEnd?.successes, hangAtEnd?.empty],
        [0, 0, 0],
        `the fetch (${got.fetches[0]?.ms.toFixed(0)} ms) did not wait for the hanging router's ${timeoutMs} ms: ${JSON.stringify(hangAtEnd)}`
      )
      const [g, h, ok] = got.metrics.delegatedRouters
      assert.deepEqual([g?.url, h?.url, ok?.url], [garbage, hang, routerUrl])
      t.diagnostic(`garbage ${JSON.stringify(g)}`)
      t.diagnostic(`hang ${JSON.stringify(h)}`)
      t.diagnostic(`good ${JSON.stringify(ok)}`)
      assert.equal(g?.failures, 1, 'the garbage router failed')
      assert.equal(g?.queries, 1, 'and was not asked again in its backoff')
      assert.ok((g?.skipped ?? 0) >= 1, 'the lookup after the fetch skipped it')
      assert.ok((ok?.queries ?? 0) >= 2, 'while the good router was asked again')
      assert.ok(
        got.lookups[a!]?.some(([id]) => id === provider!.peerId),
        `the lookup found the provider: ${JSON.stringify(got.lookups)}`
      )
      assert.ok((g?.backoffLevel ?? 0) >= 1 && g?.nextAttemptAt != null)
      assert.ok(
        (h?.failures ?? 0) >= 1 && (h?.timeouts ?? 0) >= 1,
        'the hanging router failed at its timeout'
      )
      assert.equal(h?.lastError, 'no answer in time')
      for (const r of [g, h])
        assert.ok((r?.score ?? 1) < 0.5, `${r?.url} scored ${r?.score}, below an unknown router`)
      assert.ok((ok?.successes ?? 0) >= 1 && ok?.failures === 0 && (ok?.score ?? 0) > 0.5, JSON.stringify(ok))
    })
  })
}
