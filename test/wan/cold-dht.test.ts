/**
 * Scenario 4 (cold DHT over latency) without a testbed: the hosts its spec makes, where the
 * providers are, and the rows it makes from retrievals.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { coldDhtFigures, coldDhtSpec, placeProviders } from '../../bench/wan/cold-dht.ts'
import type { DhtLookupLine } from '../../bench/wan/dht-seeker.ts'
import { resolveSpec, specRttMs } from '../../bench/wan/testbed.ts'

describe('cold DHT scenario', () => {
  it('makes 25 DHT hosts whose RTTs span 20–200 ms, and a seeker host', () => {
    const hosts = resolveSpec(coldDhtSpec())
    assert.equal(hosts.length, 26)
    assert.equal(hosts.at(-1)?.name, 'seeker')
    const dht = hosts.slice(0, -1)
    const rtts = dht.flatMap((a, i) => dht.slice(i + 1).map((b) => specRttMs(a, b)))
    // one-way delays 5, 7, …, 48, 50 ms
    assert.equal(Math.min(...rtts), 2 * (5 + 7))
    assert.equal(Math.max(...rtts), 2 * (48 + 50))
    for (const r of rtts) assert.ok(r >= 20 && r <= 200, `RTT ${r}`)
    assert.equal(new Set(dht.map((h) => h.delayMs)).size, 25, 'every DHT host has its own delay')
  })

  it('puts the providers on distinct hosts while there are hosts enough, and refuses too many files', () => {
    const placed = placeProviders(10, 25, 4)
    assert.equal(new Set(placed.map(([h]) => h)).size, 10)
    for (const [h, node] of placed) assert.ok(h >= 0 && h < 25 && node === 0)
    const crowded = placeProviders(5, 3, 2)
    assert.equal(new Set(crowded.map(([h, n]) => `${h}.${n}`)).size, 5)
    assert.throws(() => placeProviders(7, 3, 2), RangeError)
  })

  it('makes 10 rows of ours against kad-dht, a failure counting as the timeout', () => {
    const line = (
      seeker: DhtLookupLine['seeker'],
      pass: DhtLookupLine['pass'],
      ms: number,
      firstProviderMs?: number
    ): DhtLookupLine => ({
      seeker,
      pass,
      round: 0,
      file: 0,
      ok: firstProviderMs != null,
      ms,
      firstProviderMs,
      rootQueries: 1,
      otherQueries: 0,
      trace: []
    })
    const lines = [
      line('ours', 'first', 1000, 200),
      line('ours', 'first', 3000, 400),
      line('kad-dht', 'first', 2000, 100),
      line('kad-dht', 'first', 500),
      line('ours', 'repeat', 300, 1),
      line('kad-dht', 'repeat', 900, 150)
    ]
    const o = { hosts: 25, nodesPerHost: 4, files: 10, rounds: 1, timeoutMs: 60_000, bootstrapPeers: 3 }
    const rows = coldDhtFigures(lines, o)
    assert.equal(rows.length, 10)
    for (const r of rows) {
      assert.equal(r.item, 4)
      assert.equal(r.target, null)
      assert.match(r.figure, /10 CIDs each provided by 1 of 100 kad-dht nodes on 25 hosts/)
    }
    const get = (prefix: string): (typeof rows)[number] => {
      const r = rows.find((x) => x.figure.startsWith(prefix))
      assert.ok(r, prefix)
      return r
    }
    assert.equal(get('success rate, first').ours, 100)
    assert.equal(get('success rate, first').baseline, 50)
    // kad-dht's failed lookup found no provider: it counts as the timeout
    assert.equal(get('time to first provider p95, first').baseline, 60_000)
    assert.equal(get('time to first provider p50, first').ours, 200)
    assert.equal(get('time to content p95, first').ours, 3000)
    assert.equal(get('time to content p50, repeated').ours, 300)
    assert.equal(get('time to content p50, repeated').ratio, 300 / 900)
  })
})
