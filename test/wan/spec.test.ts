/**
 * The WAN testbed's spec and the commands made from it, without root: what a spec resolves to,
 * which specs are refused, and what the kernel is told for each kind of link.
 */

import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { hostScript, iptablesRules, planHosts, queuePackets, shapeBatch } from '../../bench/wan/shaping.ts'
import {
  hostAddress,
  InvalidSpecError,
  readSpec,
  resolveSpec,
  specCapMbit,
  specLoss,
  specRttMs
} from '../../bench/wan/testbed.ts'

describe('WAN spec', () => {
  it('applies defaults field by field, expands counts and names hosts', () => {
    const hosts = resolveSpec({
      defaults: { delayMs: 20, upMbit: 10 },
      hosts: [
        { name: 'seeker', delayMs: 2 },
        { count: 2, lossPct: 1 },
        { name: 'far', count: 2, delayMs: 80 }
      ]
    })
    assert.deepEqual(
      hosts.map((h) => [h.name, h.delayMs, h.upMbit, h.lossPct]),
      [
        ['seeker', 2, 10, 0],
        ['h2', 20, 10, 1],
        ['h3', 20, 10, 1],
        ['far-1', 80, 10, 0],
        ['far-2', 80, 10, 0]
      ]
    )
  })

  it('refuses what cannot be a testbed, saying where', () => {
    const refused: Array<[unknown, RegExp]> = [
      [{}, /"hosts" array/],
      [{ hosts: [] }, /no host/],
      [{ hosts: [{ delayMs: -1 }] }, /hosts\[0\]\.delayMs: must be a number >= 0/],
      [{ hosts: [{ lossPct: 101 }] }, /lossPct: at most 100/],
      [{ hosts: [{ delay: 5 }] }, /unknown field "delay"/],
      [{ hosts: [{ name: 'a' }, { name: 'a' }] }, /two hosts are named "a"/],
      [{ hosts: [{ name: 'A B' }] }, /name: must match/],
      [{ hosts: [{ count: 1.5 }] }, /count: a whole number/],
      [{ defaults: { name: 'x' }, hosts: [{}] }, /defaults: unknown field "name"/],
      [{ hosts: [{ count: 1001 }] }, /at most 1000/]
    ]
    for (const [spec, message] of refused) {
      assert.throws(
        () => resolveSpec(spec as never),
        (err: Error) => err.name === 'InvalidSpecError' && message.test(err.message)
      )
    }
  })

  it('reads the example spec', async () => {
    const path = new URL('../../bench/wan/example.spec.json', import.meta.url).pathname
    const hosts = await readSpec(path)
    assert.equal(hosts.length, 20)
    assert.ok(JSON.parse(await readFile(path, 'utf8')).hosts.length > 0)
    await assert.rejects(readSpec('/nonexistent/spec.json'), InvalidSpecError)
  })

  it('states the model: RTT 2 (dA + dB), cap min(upA, downB), loss 1 − (1 − lA)(1 − lB)', () => {
    const a = { delayMs: 10, upMbit: 100, downMbit: 0, lossPct: 10 }
    const b = { delayMs: 40, upMbit: 5, downMbit: 20, lossPct: 10 }
    assert.equal(specRttMs(a, b), 100)
    assert.equal(specCapMbit(a, b), 20)
    assert.equal(specCapMbit(b, a), 5)
    assert.equal(specCapMbit({}, {}), 0)
    assert.ok(Math.abs(specLoss(a, b) - 0.19) < 1e-12)
  })

  it('gives every host its own private address, never .0 or .255', () => {
    assert.equal(hostAddress(1), '10.77.0.1')
    assert.equal(hostAddress(254), '10.77.0.254')
    assert.equal(hostAddress(255), '10.77.1.1')
    const all = new Set(Array.from({ length: 1000 }, (_, i) => hostAddress(i + 1)))
    assert.equal(all.size, 1000)
    for (const a of all) assert.match(a, /^10\.77\.\d+\.([1-9]|[1-9]\d|1\d\d|2[0-4]\d|25[0-4])$/)
  })
})

describe('WAN shaping commands', () => {
  const hosts = planHosts(
    't',
    resolveSpec({ hosts: [{ name: 'a' }, { name: 'b', delayMs: 25, jitterMs: 2, lossPct: 1, upMbit: 20 }] })
  )

  it('names namespaces and ports after the prefix', () => {
    assert.deepEqual(
      hosts.map((h) => [h.netns, h.address]),
      [
        ['t-h1', '10.77.0.1'],
        ['t-h2', '10.77.0.2']
      ]
    )
  })

  it('shapes a rate with htb and a queue of queueMs; delay with netem only where netem is the backend', () => {
    const link = { dev: 'wan0', rateMbit: 20, delayMs: 25, jitterMs: 2, queueMs: 100 }
    const fifo = shapeBatch({ ...link, backend: 'nfqueue' })
    assert.deepEqual(fifo, [
      'qdisc add dev wan0 root handle 1: htb default 1',
      'class add dev wan0 parent 1: classid 1:1 htb rate 20mbit ceil 20mbit',
      `qdisc add dev wan0 parent 1:1 handle 10: pfifo limit ${queuePackets(20, 100)}`
    ])
    assert.equal(queuePackets(20, 100), 166)
    assert.equal(queuePackets(0.1, 100), 16)
    const netem = shapeBatch({ ...link, backend: 'netem' })
    assert.match(netem[2]!, /^qdisc add dev wan0 parent 1:1 handle 10: netem delay 25ms 2ms limit \d+$/)
    assert.deepEqual(shapeBatch({ ...link, rateMbit: 0, backend: 'netem' }), [
      'qdisc add dev wan0 root netem delay 25ms 2ms limit 100000'
    ])
    assert.deepEqual(shapeBatch({ ...link, rateMbit: 0, backend: 'nfqueue' }), [])
  })

  it('drops both ways on a lossy port, then queues every bridged packet to the delay line', () => {
    const rules = iptablesRules(hosts, true).trim().split('\n')
    assert.deepEqual(rules, [
      '*filter',
      '-A FORWARD -m physdev --physdev-in t-h2 -m statistic --mode random --probability 0.010000 -j DROP',
      '-A FORWARD -m physdev --physdev-out t-h2 -m statistic --mode random --probability 0.010000 -j DROP',
      '-A FORWARD -m physdev --physdev-is-bridged -j NFQUEUE --queue-num 0',
      'COMMIT'
    ])
    assert.equal(iptablesRules(hosts, false).includes('NFQUEUE'), false)
  })

  it('turns IPv6 and offloads off in a host, and reads its tc lines from stdin only when shaped', () => {
    const script = hostScript(hosts[1]!, true, true)
    assert.match(script, /addrgenmode none/)
    assert.match(script, /disable_ipv6/)
    assert.match(script, /ethtool -K wan0 tso off gso off gro off/)
    assert.match(script, /ip addr add 10\.77\.0\.2\/16 dev wan0/)
    assert.match(script, /tc -batch -$/)
    assert.equal(hostScript(hosts[0]!, false, false).includes('tc'), false)
    assert.doesNotMatch(script, /route/, 'no route out of the testbed')
  })
})
