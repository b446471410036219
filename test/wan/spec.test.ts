/**
 * The WAN testbed's spec and the commands made from it, without root: what a spec resolves to,
 * which specs are refused, and what the kernel is told for each kind of link.
 */

import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import {
  delayLinePorts,
  hostScript,
  iptablesRules,
  namespaceBatch,
  planHosts,
  planRouters,
  queuePackets,
  routerRules,
  routerScript,
  shapeBatch,
  switchBatch
} from '../../bench/wan/shaping.ts'
import {
  hostAddress,
  InvalidSpecError,
  readSpec,
  resolveSpec,
  specCapMbit,
  specLoss,
  specRttMs,
  specSubnet
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
      [{ hosts: [{ count: 1001 }] }, /at most 1000/],
      [{ hosts: [{ nat: 'Home A' }] }, /hosts\[0\]\.nat: a router's name must match/],
      [{ hosts: [{ nat: 7 }] }, /hosts\[0\]\.nat: a router's name must match/],
      [{ hosts: [{ name: 'r' }, { nat: 'r' }] }, /"r" names both a host and a NAT router/],
      [{ defaults: { nat: 'r' }, hosts: [{}] }, /defaults: unknown field "nat"/],
      [{ hosts: [{ count: 254, nat: 'r' }] }, /254 hosts behind NAT router "r": at most 253/],
      [{ hosts: [{ count: 999, nat: 'r' }, { nat: 's' }] }, /at most 1000 in all/],
      [{ hosts: Array.from({ length: 255 }, (_, i) => ({ nat: `r${i}` })) }, /255 NAT routers: at most 254/],
      [{ subnet: '192.168', hosts: [{}] }, /subnet: .*not 192\.168/],
      [{ subnet: '127.0', hosts: [{}] }, /subnet: /],
      [{ subnet: '10.77.0', hosts: [{}] }, /subnet: /],
      [{ subnet: 1077, hosts: [{}] }, /subnet: /],
      [{ subnet: '11.77', routers: [], hosts: [{}] }, /unknown field "routers"/]
    ]
    for (const [spec, message] of refused) {
      assert.throws(
        () => resolveSpec(spec as never),
        (err: Error) => err.name === 'InvalidSpecError' && message.test(err.message)
      )
    }
  })

  it('puts hosts behind NAT routers: one router per name, in the order first named', () => {
    const links = resolveSpec({
      subnet: '11.77',
      defaults: { delayMs: 5 },
      hosts: [
        { name: 'pub' },
        { name: 'a', nat: 'home-b' },
        { count: 2, nat: 'home-a' },
        { name: 'c', nat: 'home-b' }
      ]
    })
    assert.deepEqual(
      links.map((l) => [l.name, l.nat, l.delayMs]),
      [
        ['pub', undefined, 5],
        ['a', 'home-b', 5],
        ['h3', 'home-a', 5],
        ['h4', 'home-a', 5],
        ['c', 'home-b', 5]
      ]
    )
    const hosts = planHosts('t', links, '11.77')
    assert.deepEqual(
      hosts.map((h) => [h.netns, h.address, h.router, h.gateway]),
      [
        ['t-h1', '11.77.0.1', undefined, undefined],
        ['t-h2', '192.168.1.2', 'home-b', '192.168.1.1'],
        ['t-h3', '192.168.2.2', 'home-a', '192.168.2.1'],
        ['t-h4', '192.168.2.3', 'home-a', '192.168.2.1'],
        ['t-h5', '192.168.1.3', 'home-b', '192.168.1.1']
      ]
    )
    const routers = planRouters('t', links, '11.77')
    assert.deepEqual(routers, [
      {
        index: 1,
        name: 'home-b',
        netns: 't-n1',
        address: '11.77.0.6',
        lanAddress: '192.168.1.1',
        lanSubnet: '192.168.1.0/24',
        hosts: ['a', 'c']
      },
      {
        index: 2,
        name: 'home-a',
        netns: 't-n2',
        address: '11.77.0.7',
        lanAddress: '192.168.2.1',
        lanSubnet: '192.168.2.0/24',
        hosts: ['h3', 'h4']
      }
    ])
    assert.equal(specSubnet({}), '10.77')
    assert.equal(specSubnet({ subnet: '11.77' }), '11.77')
    assert.equal(planHosts('t', resolveSpec({ hosts: [{}] }))[0]!.address, '10.77.0.1')
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

  describe('behind NAT routers', () => {
    const links = resolveSpec({
      subnet: '11.77',
      hosts: [
        { name: 'pub', delayMs: 10 },
        { name: 'a', nat: 'ra', delayMs: 20, lossPct: 1 }
      ]
    })
    const natHosts = planHosts('t', links, '11.77')
    const routers = planRouters('t', links, '11.77')
    const router = routers[0]!

    it('makes a router namespace with a leg on the switch and one on a LAN bridge of its own', () => {
      const ns = namespaceBatch('t-sw', natHosts, routers).trim().split('\n')
      assert.ok(ns.includes('netns add t-n1'))
      assert.ok(ns.includes('link add wan0 netns t-n1 type veth peer name t-n1 netns t-sw'))
      assert.ok(ns.includes('link add lan0 netns t-n1 type veth peer name t-l1 netns t-sw'))
      const sw = switchBatch(natHosts, routers).trim().split('\n')
      assert.ok(sw.includes('link add lan1 type bridge stp_state 0'))
      assert.ok(sw.includes('link set t-h1 master br0'), 'a public host is on the switch')
      assert.ok(sw.includes('link set t-h2 master lan1'), 'a host behind the router is on its LAN only')
      assert.ok(sw.includes('link set t-n1 master br0'))
      assert.ok(sw.includes('link set t-l1 master lan1'))
      assert.ok(sw.includes('link set lan1 up'))
    })

    it('gives a host behind a router a LAN address and a default route through it, nothing else', () => {
      const script = hostScript(natHosts[1]!, false, false)
      assert.match(script, /ip addr add 192\.168\.1\.2\/24 dev wan0/)
      assert.match(script, /ip route add default via 192\.168\.1\.1 dev wan0/)
      assert.match(hostScript(natHosts[0]!, false, false), /ip addr add 11\.77\.0\.1\/16 dev wan0/)
    })

    it('masquerades what the LAN sends out and forwards in only what answers it', () => {
      const script = routerScript(router, true)
      assert.match(script, /ip addr add 11\.77\.0\.3\/16 dev wan0/)
      assert.match(script, /ip addr add 192\.168\.1\.1\/24 dev lan0/)
      assert.match(script, /ip_forward/)
      assert.match(script, /ethtool -K lan0 tso off gso off gro off/)
      assert.doesNotMatch(script, /route/, 'the router has no route out of the testbed either')
      assert.deepEqual(routerRules(router).trim().split('\n'), [
        '*nat',
        '-A POSTROUTING -s 192.168.1.0/24 -o wan0 -j MASQUERADE',
        'COMMIT',
        '*filter',
        ':FORWARD DROP [0:0]',
        '-A FORWARD -i lan0 -o wan0 -s 192.168.1.0/24 -j ACCEPT',
        '-A FORWARD -i wan0 -o lan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
        '-A INPUT -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
        '-A INPUT -i wan0 -j DROP',
        'COMMIT'
      ])
    })

    it("keeps a host's link on its own port: loss and delay as on the switch, none on the router's", () => {
      const rules = iptablesRules(natHosts, true)
      assert.match(rules, /--physdev-in t-h2 -m statistic --mode random --probability 0\.010000 -j DROP/)
      assert.deepEqual(delayLinePorts(natHosts, routers).ports, {
        't-h1': { delayMs: 10, jitterMs: 0 },
        't-h2': { delayMs: 20, jitterMs: 0 },
        't-n1': { delayMs: 0, jitterMs: 0 },
        't-l1': { delayMs: 0, jitterMs: 0 }
      })
    })
  })
})
