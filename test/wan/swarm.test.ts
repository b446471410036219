/**
 * Scenario 2 (swarm download) without root: its testbed's spec, the seeker's TCP byte counters
 * (`ss` over real sockets on 127.0.0.1) and how a retrieval's link use is read from them.
 */

import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createConnection, createServer, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { sleep } from '../../bench/common.ts'
import type { RetrievalLine } from '../../bench/wan/seeker.ts'
import { linkUse, SWARM_PROVIDERS, swarmLimitMbit, swarmSpec } from '../../bench/wan/swarm.ts'
import { parseSs, receivedSince, sampleTcp, tcpSnapshot } from '../../bench/wan/tcp-bytes.ts'
import { resolveSpec } from '../../bench/wan/testbed.ts'

describe('WAN scenario 2 (swarm download)', () => {
  it('has 6 providers capped at 20–100 Mbit/s, no delay line, and a seeker that is not the limit', () => {
    const hosts = resolveSpec(swarmSpec())
    assert.equal(hosts.length, 7)
    assert.equal(hosts[0]!.name, 'seeker')
    const providers = hosts.slice(1)
    assert.deepEqual(
      providers.map((h) => [h.name, h.upMbit]),
      SWARM_PROVIDERS.map((p) => [p.name, p.upMbit])
    )
    for (const h of providers) assert.ok(h.upMbit >= 20 && h.upMbit <= 100, `${h.name}: ${h.upMbit}`)
    assert.equal(Math.min(...providers.map((h) => h.upMbit)), 20)
    assert.equal(Math.max(...providers.map((h) => h.upMbit)), 100)
    // no delay, jitter or loss anywhere: the testbed makes no delay line (bench/wan/build.ts), which
    // would cap the total under the caps' sum
    for (const h of hosts) assert.deepEqual([h.delayMs, h.jitterMs, h.lossPct], [0, 0, 0])
    const sum = providers.reduce((s, h) => s + h.upMbit, 0)
    assert.equal(swarmLimitMbit(), sum)
    assert.ok(hosts[0]!.downMbit >= 2 * sum, 'the seeker downloads far above the caps')
  })

  it('reads bytes received per socket from ss, and sums new sockets by remote address', () => {
    const ss = [
      'ESTAB 0 0 10.77.0.1:51522 10.77.0.2:44793 bbr wscale:10,10 bytes_sent:31062 bytes_received:3176291 segs_out:2527',
      'ESTAB 0 0 10.77.0.1:51538 10.77.0.2:44793 bbr bytes_sent:1978 bytes_received:2242',
      'ESTAB 0 0 10.77.0.1:37622 10.77.0.3:39677 cubic bytes_acked:22611 segs_in:1838',
      ''
    ].join('\n')
    const before = parseSs(ss)
    assert.equal(before.size, 2, 'a socket with nothing received has no bytes_received field')
    assert.deepEqual(before.get('10.77.0.1:51522 10.77.0.2:44793'), {
      remote: '10.77.0.2',
      received: 3176291
    })
    const after = parseSs(
      [
        'ESTAB 0 0 10.77.0.1:51522 10.77.0.2:44793 bytes_received:4176291',
        'ESTAB 0 0 10.77.0.1:51538 10.77.0.2:44793 bytes_received:2242',
        'ESTAB 0 0 10.77.0.1:40000 10.77.0.3:39677 bytes_received:500',
        'FIN-WAIT-1 0 0 10.77.0.1:40001 10.77.0.4:4001 bytes_received:7'
      ].join('\n')
    )
    assert.deepEqual(receivedSince(before, after), {
      '10.77.0.2': 1_000_000,
      '10.77.0.3': 500,
      '10.77.0.4': 7
    })
  })

  it('counts the bytes a real TCP socket received', async () => {
    const bytes = 1024 * 1024
    let serverSide: Socket | undefined
    let got = 0
    const all = Promise.withResolvers<void>()
    const server = createServer((socket) => {
      serverSide = socket
      socket.on('data', (d: Buffer) => {
        got += d.byteLength
        if (got >= bytes) all.resolve()
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    const client = createConnection({ host: '127.0.0.1', port })
    try {
      await once(client, 'connect')
      const before = await tcpSnapshot()
      client.write(Buffer.alloc(bytes, 7))
      await all.promise
      const after = await tcpSnapshot()
      const key = `127.0.0.1:${port} 127.0.0.1:${client.localPort}`
      assert.equal(after.get(key)?.received, bytes)
      assert.equal(after.get(key)?.remote, '127.0.0.1')
      assert.ok((receivedSince(before, after)['127.0.0.1'] ?? 0) >= bytes)
    } finally {
      client.destroy()
      serverSide?.destroy()
      server.close()
    }
  })

  it('keeps the bytes of a socket closed between two samples', async () => {
    const bytes = 512 * 1024
    let serverSide: Socket | undefined
    let got = 0
    const all = Promise.withResolvers<void>()
    const server = createServer((socket) => {
      serverSide = socket
      socket.on('data', (d: Buffer) => {
        got += d.byteLength
        if (got >= bytes) all.resolve()
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    const client = createConnection({ host: '127.0.0.1', port })
    await once(client, 'connect')
    const key = `127.0.0.1:${port} 127.0.0.1:${client.localPort}`
    const sampler = await sampleTcp(10)
    try {
      client.write(Buffer.alloc(bytes, 1))
      await all.promise
      // a sample sees the bytes, then the socket goes away before the last snapshot
      for (let i = 0; i < 500 && (sampler.samples.at(-1)?.received['127.0.0.1'] ?? 0) < bytes; i++) {
        await sleep(10)
      }
      client.destroy()
      serverSide?.destroy()
      for (let i = 0; i < 500 && (await tcpSnapshot()).has(key); i++) await sleep(10)
      assert.equal((await tcpSnapshot()).has(key), false, 'the socket is gone')
      const timeline = await sampler.stop()
      assert.ok((timeline.received['127.0.0.1'] ?? 0) >= bytes, JSON.stringify(timeline.received))
    } finally {
      await sampler.stop()
      client.destroy()
      server.close()
    }
  })

  it("reads each provider's share, use of its cap and finishing time from a retrieval's TCP timeline", () => {
    const addresses = new Map(SWARM_PROVIDERS.map((p, i) => [`10.77.0.${i + 2}`, p.name]))
    const fast = SWARM_PROVIDERS.find((p) => p.upMbit === 100)!
    const slow = SWARM_PROVIDERS.find((p) => p.upMbit === 20)!
    const at = (name: string): string => [...addresses].find(([, n]) => n === name)![0]
    // 2 s: the fast one sent 25 MB by 2 s (its cap: 100 % use), the slow one 2.5 MB, done at 1 s
    const line: RetrievalLine = {
      seeker: 'helia',
      n: 0,
      file: 0,
      ms: 2000,
      ok: true,
      tcp: {
        received: { [at(fast.name)]: 25_000_000, [at(slow.name)]: 2_500_000, '10.77.0.99': 1 },
        samples: [
          { ms: 1000, received: { [at(fast.name)]: 12_500_000, [at(slow.name)]: 2_500_000 } },
          { ms: 2000, received: { [at(fast.name)]: 25_000_000, [at(slow.name)]: 2_500_000 } }
        ]
      }
    }
    const use = linkUse(line, addresses)
    assert.deepEqual(
      Object.keys(use),
      SWARM_PROVIDERS.map((p) => p.name)
    )
    assert.equal(use[fast.name]!.use, 1)
    assert.equal(use[fast.name]!.doneMs, 2000)
    assert.equal(use[slow.name]!.use, 0.5)
    assert.equal(use[slow.name]!.doneMs, 1000)
    assert.ok(Math.abs(use[fast.name]!.share - 25 / 27.5) < 1e-6)
    const idle = SWARM_PROVIDERS.find((p) => p !== fast && p !== slow)!
    assert.deepEqual(use[idle.name], { bytes: 0, share: 0, use: 0, doneMs: 0 })
  })

  it('samples from one process of its own, not a spawn from this one per sample, stamped when taken', async () => {
    // the children of this process's main thread (libuv spawns from it), seen every millisecond
    const childrenFile = `/proc/${process.pid}/task/${process.pid}/children`
    const seen = new Set<string>()
    const look = (): void => {
      for (const pid of readFileSync(childrenFile, 'utf8').trim().split(/\s+/)) if (pid !== '') seen.add(pid)
    }
    const started = performance.now()
    const sampler = await sampleTcp(10)
    const watcher = setInterval(look, 1)
    try {
      for (let i = 0; i < 500 && sampler.samples.length < 10; i++) await sleep(10)
      assert.ok(sampler.samples.length >= 10, `${sampler.samples.length} samples`)
      // a spawn per sample would show a new `ss` child of this process every 10 ms
      assert.equal(seen.size, 1, `children seen while sampling: ${[...seen].join(', ')}`)
      const elapsed = performance.now() - started
      const ms = sampler.samples.map((s) => s.ms)
      for (let i = 1; i < ms.length; i++)
        assert.ok(ms[i]! >= ms[i - 1]!, `samples in order: ${ms.join(', ')}`)
      assert.ok(ms[0]! >= 0 && ms.at(-1)! <= elapsed + 5, `stamps within the sampling: ${ms.join(', ')}`)
    } finally {
      clearInterval(watcher)
      await sampler.stop()
    }
    // the loop is gone with its process group
    const loop = [...seen][0]!
    let alive = true
    for (let i = 0; i < 200 && alive; i++) {
      try {
        process.kill(Number(loop), 0)
        await sleep(10)
      } catch {
        alive = false
      }
    }
    assert.equal(alive, false, `the sampling loop ${loop} ended`)
  })
})
