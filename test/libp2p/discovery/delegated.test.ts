/**
 * HTTP delegated routers as a provider source, against real HTTP servers on 127.0.0.1 that
 * answer well, answer garbage, or never answer; then as a source of `EnhancedDHTDiscovery` that
 * leads a seeker with an empty DHT to a real provider it fetches from.
 */

import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { LoopbackOnlyError } from '../../../src/errors.ts'
import { DelegatedRouters } from '../../../src/libp2p/discovery/delegated.ts'
import { delegatedRouterUrlProblem } from '../../../src/libp2p/discovery/delegated-url.ts'
import { EnhancedDHTDiscovery } from '../../../src/libp2p/discovery/enhanced-dht-discovery.ts'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { ContentRoutingManager } from '../../../src/libp2p/routing/index.ts'
import { kitLogger } from '../../../src/logger.ts'
import { cidOf, newPeerId, sha256Bytes } from './fixtures.ts'

type Answer = (req: IncomingMessage, res: ServerResponse) => void

/** An HTTP server on 127.0.0.1 whose every request `answer` handles; counts requests. */
async function router(
  answer: Answer
): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0
  const server: Server = createServer((req, res) => {
    requests++
    answer(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

const json =
  (body: unknown, status = 200): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(typeof body === 'string' ? body : JSON.stringify(body))
  }

const peerRecord = (id: PeerId, addrs: string[]): Record<string, unknown> => ({
  Schema: 'peer',
  ID: id.toString(),
  Addrs: addrs,
  Protocols: ['transport-bitswap']
})

const servers: Array<{ close: () => Promise<void> }> = []
after(async () => {
  await Promise.all(servers.map(async (s) => s.close()))
})

async function serve(answer: Answer): ReturnType<typeof router> {
  const s = await router(answer)
  servers.push(s)
  return s
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('delegated router URLs', () => {
  it('takes http(s) base URLs, refuses other schemes, and only loopback ones on the local profile', () => {
    assert.equal(delegatedRouterUrlProblem('https://delegated-ipfs.dev', { loopbackOnly: false }), undefined)
    assert.equal(delegatedRouterUrlProblem('http://10.0.0.1:8080/', { loopbackOnly: false }), undefined)
    assert.match(
      delegatedRouterUrlProblem('ftp://x.org', { loopbackOnly: false }) ?? '',
      /not an http or https/
    )
    assert.match(delegatedRouterUrlProblem('not a url', { loopbackOnly: false }) ?? '', /not a URL/)
    assert.match(delegatedRouterUrlProblem('https://a.org/?q=1', { loopbackOnly: false }) ?? '', /query/)
    for (const ok of ['http://127.0.0.1:1', 'http://127.5.0.1', 'http://[::1]:8080', 'http://localhost:9']) {
      assert.equal(delegatedRouterUrlProblem(ok, { loopbackOnly: true }), undefined, ok)
    }
    for (const bad of ['https://delegated-ipfs.dev', 'http://10.0.0.1', 'http://[2001:db8::1]']) {
      assert.match(delegatedRouterUrlProblem(bad, { loopbackOnly: true }) ?? '', /local profile/, bad)
    }
  })

  it('a peer refuses a bad URL, and one off the machine on the local profile; public defaults to the public router, local to none', () => {
    assert.throws(
      () => new IPFSLibp2pPeer({ profile: 'public', delegatedRouters: ['ftp://x.org'] }),
      (err: Error) => err.name === 'InvalidParametersError' && /ftp:\/\/x\.org/.test(err.message)
    )
    assert.throws(
      () => new IPFSLibp2pPeer({ profile: 'local', delegatedRouters: ['https://delegated-ipfs.dev'] }),
      (err: Error) => err instanceof LoopbackOnlyError
    )
    assert.deepEqual(new IPFSLibp2pPeer({ profile: 'local' }).settings.delegatedRouters, [])
    assert.deepEqual(new IPFSLibp2pPeer({ profile: 'public' }).settings.delegatedRouters, [
      'https://delegated-ipfs.dev'
    ])
    assert.deepEqual(
      new IPFSLibp2pPeer({ profile: 'local', delegatedRouters: ['http://127.0.0.1:1'] }).settings
        .delegatedRouters,
      ['http://127.0.0.1:1']
    )
  })
})

describe('DelegatedRouters', () => {
  const logger = kitLogger()

  it('yields the providers of a good router (JSON and NDJSON), with provenance delegated, and scores it up', async () => {
    const [a, b] = [await newPeerId(), await newPeerId()]
    const cid = await cidOf('good')
    const seen: string[] = []
    const good = await serve((req, res) => {
      seen.push(`${req.url} ${req.headers.accept}`)
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' })
      res.end(
        `${JSON.stringify(peerRecord(a, ['/ip4/127.0.0.1/tcp/4001']))}\n${JSON.stringify(peerRecord(b, []))}\n`
      )
    })
    const plain = await serve(json({ Providers: [peerRecord(a, ['/ip4/127.0.0.1/tcp/4002'])] }))
    const routers = new DelegatedRouters([good.url, plain.url], { logger })
    await routers.start()
    try {
      const got = await collect(routers.findProviders(cid))
      assert.equal(
        seen[0],
        `/routing/v1/providers/${cid.toString()} application/x-ndjson, application/json;q=0.8`
      )
      assert.deepEqual(new Set(got.map((p) => p.provenance)), new Set(['delegated']))
      assert.deepEqual(
        got.map((p) => `${p.id} ${p.multiaddrs.join(',')}`).sort(),
        [`${a} /ip4/127.0.0.1/tcp/4001`, `${a} /ip4/127.0.0.1/tcp/4002`, `${b} `].sort()
      )
      const [s1, s2] = routers.stats()
      assert.equal(s1?.successes, 1)
      assert.equal(s1?.providersFound, 2)
      assert.equal(s2?.providersFound, 1)
      assert.equal(s1?.failures, 0)
      assert.ok((s1?.score ?? 0) > 0.5, `score ${s1?.score}`)
    } finally {
      await routers.stop()
    }
  })

  it('a 404 is an empty answer, no failure', async () => {
    const none = await serve(json('not found', 404))
    const routers = new DelegatedRouters([none.url], { logger })
    await routers.start()
    assert.deepEqual(await collect(routers.findProviders(await cidOf('404'))), [])
    const [s] = routers.stats()
    assert.deepEqual([s?.empty, s?.failures, s?.backoffLevel], [1, 0, 0])
    await routers.stop()
  })

  it('garbage (unparseable JSON, records with bad peer ids or multiaddrs, a 500) is a failure, and the router is backed off: not asked again until then', async () => {
    const cid = await cidOf('garbage')
    const good = await newPeerId()
    const unparseable = await serve(json('{"Providers": [ {"Schema": "peer", "ID": '))
    const badRecords = await serve(
      json({
        Providers: [
          { Schema: 'peer', ID: 'not-a-peer-id', Addrs: [] },
          { Schema: 'peer', ID: good.toString(), Addrs: ['/ip4/999.1.1.1/tcp/1'] },
          { Schema: 'peer', Addrs: [] }
        ]
      })
    )
    const broken = await serve(json({ error: 'boom' }, 500))
    const routers = new DelegatedRouters(
      [unparseable.url, badRecords.url, broken.url],
      { logger },
      {
        backoffBaseMs: 60_000,
        backoffMaxMs: 120_000
      }
    )
    await routers.start()
    try {
      assert.deepEqual(await collect(routers.findProviders(cid)), [], 'nothing valid came')
      for (const s of routers.stats()) {
        assert.equal(s.failures, 1, `${s.url}: ${JSON.stringify(s)}`)
        assert.equal(s.backoffLevel, 1)
        assert.ok(s.nextAttemptAt != null && s.nextAttemptAt > Date.now())
        assert.ok(s.score < 0.5, `${s.url} score ${s.score}`)
      }
      assert.equal(routers.stats()[1]?.invalidRecords, 3)
      // in backoff: a second lookup asks none of them
      assert.deepEqual(await collect(routers.findProviders(await cidOf('garbage 2'))), [])
      for (const s of routers.stats()) {
        assert.equal(s.queries, 1)
        assert.equal(s.skipped, 1)
      }
      assert.deepEqual([unparseable.requests(), badRecords.requests(), broken.requests()], [1, 1, 1])
    } finally {
      await routers.stop()
    }
  })

  it('backoff doubles per failure in a row and is bounded; a good answer resets it', async () => {
    let fail = true
    const p = await newPeerId()
    const flaky = await serve((req, res) => {
      if (fail) json('garbage{', 200)(req, res)
      else json({ Providers: [peerRecord(p, [])] })(req, res)
    })
    const routers = new DelegatedRouters([flaky.url], { logger }, { backoffBaseMs: 0, backoffMaxMs: 0 })
    await routers.start()
    try {
      for (let i = 1; i <= 3; i++) {
        await collect(routers.findProviders(await cidOf(`flaky ${i}`)))
        assert.equal(routers.stats()[0]?.backoffLevel, i)
      }
      fail = false
      assert.equal((await collect(routers.findProviders(await cidOf('flaky ok')))).length, 1)
      assert.deepEqual([routers.stats()[0]?.backoffLevel, routers.stats()[0]?.successes], [0, 1])
    } finally {
      await routers.stop()
    }
    // the delay doubles from the base up to the cap; asked again once it has passed
    let clock = 1_000_000
    const bounded = new DelegatedRouters(
      [flaky.url],
      { logger, now: () => clock },
      { backoffBaseMs: 1000, backoffMaxMs: 4000 }
    )
    await bounded.start()
    fail = true
    try {
      const delays: number[] = []
      for (let i = 0; i < 5; i++) {
        await collect(bounded.findProviders(await cidOf(`bounded ${i}`)))
        const next = bounded.stats()[0]?.nextAttemptAt
        assert.ok(next != null)
        delays.push(next - clock)
        clock = next - 1
        await collect(bounded.findProviders(await cidOf(`bounded skipped ${i}`)))
        assert.equal(bounded.stats()[0]?.queries, i + 1, 'not asked while in backoff')
        clock = next
      }
      assert.deepEqual(delays, [1000, 2000, 4000, 4000, 4000])
      assert.equal(bounded.stats()[0]?.skipped, 5)
    } finally {
      await bounded.stop()
    }
  })

  it('a router that hangs does not hold back a good one, and fails at its timeout; our own abort is no failure', async () => {
    const p = await newPeerId()
    const cid = await cidOf('hang')
    const hanging: ServerResponse[] = []
    const hang = await serve((_req, res) => {
      hanging.push(res)
    })
    const good = await serve(json({ Providers: [peerRecord(p, ['/ip4/127.0.0.1/tcp/4003'])] }))
    const routers = new DelegatedRouters([hang.url, good.url], { logger }, { timeoutMs: 1500 })
    await routers.start()
    try {
      const it = routers.findProviders(cid)
      const first = await it.next()
      assert.equal(first.done, false)
      assert.equal(first.value?.id.toString(), p.toString())
      assert.equal(routers.stats()[0]?.inFlight, 1, 'the hanging router is still being waited for')
      assert.equal(routers.stats()[0]?.failures, 0)
      // the caller stops listening: the hanging lookup still runs to its timeout
      await it.return(undefined)
      await routers.idle()
      const [h, g] = routers.stats()
      assert.deepEqual([h?.failures, h?.timeouts, h?.lastError], [1, 1, 'no answer in time'])
      assert.deepEqual([g?.successes, g?.failures], [1, 0])

      // a lookup we abort ourselves records nothing (the hanging router is in backoff: a fresh set)
      const again = new DelegatedRouters([hang.url], { logger }, { timeoutMs: 60_000 })
      await again.start()
      const controller = new AbortController()
      const pending = collect(again.findProviders(cid, { signal: controller.signal }))
      while (hanging.length < 2) await new Promise((resolve) => setTimeout(resolve, 10))
      controller.abort()
      assert.deepEqual(await pending, [])
      await again.idle()
      assert.deepEqual([again.stats()[0]?.failures, again.stats()[0]?.queries], [0, 1])
      await again.stop()
    } finally {
      await routers.stop()
    }
  })
})

describe('DelegatedRouters bounds', () => {
  it('sends at most maxInFlight lookups to one router: a lookup that finds it busy skips it', async () => {
    const held: ServerResponse[] = []
    const slow = await serve((_req, res) => {
      held.push(res)
    })
    const routers = new DelegatedRouters(
      [slow.url],
      { logger: kitLogger() },
      { maxInFlight: 2, timeoutMs: 60_000 }
    )
    await routers.start()
    const controller = new AbortController()
    try {
      const cids = [await cidOf('busy 1'), await cidOf('busy 2'), await cidOf('busy 3')]
      // each lookup counts itself in flight before its first await: started in order, the third is the one skipped
      const lookups = cids.map(async (cid) =>
        collect(routers.findProviders(cid, { signal: controller.signal }))
      )
      while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 10))
      assert.deepEqual(await lookups[2], [], 'the third lookup ends at once: the router is busy')
      const [s] = routers.stats()
      assert.deepEqual([s?.queries, s?.inFlight, s?.skipped], [2, 2, 1])
      controller.abort()
      await Promise.all(lookups)
      await routers.idle()
      assert.deepEqual([routers.stats()[0]?.inFlight, routers.stats()[0]?.failures], [0, 0])
    } finally {
      await routers.stop()
    }
  })
})

describe('EnhancedDHTDiscovery with a delegated router', () => {
  it('finds a provider that no DHT knows through the router, dials it at the addresses the router gave, and fetches', async () => {
    const provider = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
    await provider.start()
    const bytes = new TextEncoder().encode('found through a delegated router')
    const { sha256 } = await import('multiformats/hashes/sha2')
    const raw = await import('multiformats/codecs/raw')
    const cid = CID.create(1, raw.code, await sha256.digest(bytes))
    await provider.helia.blockstore.put(cid, bytes)
    const asked: string[] = []
    const good = await serve((req, res) => {
      asked.push(req.url ?? '')
      json({
        Providers: [
          peerRecord(
            provider.peerId,
            provider.getMultiaddrs().map((m) => m.decapsulateCode(421).toString())
          )
        ]
      })(req, res)
    })
    const garbage = await serve(json('<html>'))
    const seeker = new IPFSLibp2pPeer({
      role: 'leecher',
      profile: 'local',
      delegatedRouters: [garbage.url, good.url]
    })
    const discovery = new EnhancedDHTDiscovery(seeker)
    const routing = new ContentRoutingManager(discovery, seeker)
    await routing.start()
    try {
      assert.equal(seeker.host.getConnections().length, 0, 'the seeker knows no one')
      const got = await routing.retrieveContent(cid, { signal: AbortSignal.timeout(20_000) })
      assert.deepEqual(sha256Bytes(got), sha256Bytes(bytes))
      assert.ok(asked.includes(`/routing/v1/providers/${cid.toString()}`))
      assert.ok(seeker.host.getConnections(provider.peerId).length > 0, 'dialled the provider')
      await discovery.delegated?.idle()
      const m = discovery.getMetrics()
      assert.ok(m.providersFound.delegated >= 1)
      const [bad, ok] = m.delegatedRouters
      assert.equal(bad?.url, garbage.url)
      assert.equal(bad?.failures, 1)
      assert.equal(ok?.successes, 1)
      assert.deepEqual(
        discovery.providers.get(cid).map((r) => [r.id.toString(), r.provenance]),
        [[provider.peerId.toString(), 'delegated']]
      )
    } finally {
      await routing.stop()
      await discovery.stop()
      await seeker.stop()
      await provider.stop()
    }
  })
})
