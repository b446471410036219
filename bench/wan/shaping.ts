/**
 * What the testbed tells the kernel, as text: the `ip -batch` lines of the switch, the script
 * run inside each host, the `tc -batch` lines of a link's shaping, the `iptables-restore` rules
 * of loss and delay. Pure functions, so they are tested without root.
 *
 * - rate: `htb` on the egress of both ends of a host's veth, upload on the host's `wan0`, download
 *   on its port in the switch; under it a `pfifo` of `queueMs` at that rate (or netem).
 * - delay and jitter: `netem` on the same two egresses where the kernel has it (one-way delay
 *   A → B = dA on A's upload + dB on B's download); otherwise the NFQUEUE delay line in the switch.
 * - loss: `iptables -m statistic` in the switch's FORWARD chain, on packets from and to the port.
 * - NAT: a router namespace per router the spec names, its `wan0` a port of the switch's bridge,
 *   its `lan0` a port of a bridge of its own in the switch (`lan<r>`) where the ports of the
 *   hosts behind it are too. So a host behind a router keeps its own link (its port, its shaping,
 *   its delay and loss, as on the switch) and the model holds unchanged; the router's legs are
 *   not shaped. The router masquerades what leaves by `wan0` and forwards in only what answers it.
 *
 * @packageDocumentation
 */

import { hostAddress, lanAddress, routerNames } from './spec.ts'
import {
  BRIDGE,
  DELAY_QUEUE,
  type DelayBackend,
  HOST_IF,
  type HostLink,
  LAN_IF,
  LAN_PREFIX_LENGTH,
  MIN_QUEUE_PACKETS,
  SUBNET,
  type TestbedHost,
  type TestbedRouter
} from './types.ts'

/** Bytes of a full Ethernet frame: the unit of queue lengths. */
const FRAME_BYTES = 1514
/** Queue of a netem with no rate above it, packets (it holds the packets of the delay). */
const NETEM_UNCAPPED_LIMIT = 100_000

/**
 * The hosts of a testbed of `links` under `prefix`: a host on the switch gets the switch address
 * of its index, a host behind NAT router r the next address of r's LAN.
 */
export function planHosts(prefix: string, links: readonly HostLink[], subnet = SUBNET): TestbedHost[] {
  const routers = routerNames(links)
  const behind = new Map<string, number>()
  return links.map((link, i) => {
    const host: TestbedHost = {
      index: i + 1,
      name: link.name,
      netns: `${prefix}-h${i + 1}`,
      address: hostAddress(i + 1, subnet),
      link
    }
    if (link.nat == null) return host
    const n = (behind.get(link.nat) ?? 0) + 1
    behind.set(link.nat, n)
    const r = routers.indexOf(link.nat) + 1
    return { ...host, address: lanAddress(r, n), router: link.nat, gateway: lanAddress(r) }
  })
}

/** The NAT routers of a testbed of `links`: router r is `<prefix>-n<r>`, at switch address (hosts + r). */
export function planRouters(prefix: string, links: readonly HostLink[], subnet = SUBNET): TestbedRouter[] {
  return routerNames(links).map((name, i) => ({
    index: i + 1,
    name,
    netns: `${prefix}-n${i + 1}`,
    address: hostAddress(links.length + i + 1, subnet),
    lanAddress: lanAddress(i + 1),
    lanSubnet: `${lanAddress(i + 1, -1)}/${LAN_PREFIX_LENGTH}`,
    hosts: links.filter((l) => l.nat === name).map((l) => l.name)
  }))
}

/** The switch's port of a router's LAN leg: `<prefix>-l<r>` (its WAN leg's port is named after its namespace). */
export function lanPort(router: TestbedRouter): string {
  return router.netns.replace(/-n([0-9]+)$/, '-l$1')
}

/** The bridge of a router's LAN in the switch: `lan<r>`. */
export function lanBridge(router: TestbedRouter): string {
  return `lan${router.index}`
}

/**
 * `ip -batch` (root namespace): every namespace, and veth pairs made straight inside two of them:
 * one per host (`wan0` ↔ its port), two per router (`wan0` and `lan0` ↔ their ports).
 */
export function namespaceBatch(
  switchNs: string,
  hosts: readonly TestbedHost[],
  routers: readonly TestbedRouter[] = []
): string {
  const lines = [
    `netns add ${switchNs}`,
    ...hosts.map((h) => `netns add ${h.netns}`),
    ...routers.map((r) => `netns add ${r.netns}`)
  ]
  for (const h of hosts) {
    // the switch's end is named after the host's namespace: one name per port, ≤ 15 bytes
    lines.push(`link add ${HOST_IF} netns ${h.netns} type veth peer name ${h.netns} netns ${switchNs}`)
  }
  for (const r of routers) {
    lines.push(`link add ${HOST_IF} netns ${r.netns} type veth peer name ${r.netns} netns ${switchNs}`)
    lines.push(`link add ${LAN_IF} netns ${r.netns} type veth peer name ${lanPort(r)} netns ${switchNs}`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * `ip -batch` of the switch namespace: loopback, the bridge, one bridge per router's LAN, every
 * port on its bridge (a host behind a router on its router's LAN, with the router's `lan0`).
 */
export function switchBatch(hosts: readonly TestbedHost[], routers: readonly TestbedRouter[] = []): string {
  const lines = ['link set lo up', `link add ${BRIDGE} type bridge stp_state 0`]
  for (const r of routers) lines.push(`link add ${lanBridge(r)} type bridge stp_state 0`)
  const port = (name: string, bridge: string): void => {
    // no GSO bursts: shaping and loss act on real frames
    lines.push(`link set ${name} gso_max_segs 1 gso_max_size ${FRAME_BYTES}`)
    lines.push(`link set ${name} master ${bridge}`, `link set ${name} up`)
  }
  for (const h of hosts) {
    const router = routers.find((r) => r.name === h.router)
    port(h.netns, router == null ? BRIDGE : lanBridge(router))
  }
  for (const r of routers) {
    port(r.netns, BRIDGE)
    port(lanPort(r), lanBridge(r))
  }
  lines.push(`link set ${BRIDGE} up`, ...routers.map((r) => `link set ${lanBridge(r)} up`))
  return `${lines.join('\n')}\n`
}

/** Options of the shaping of one direction of a link. */
export interface ShapeInit {
  dev: string
  rateMbit: number
  delayMs: number
  jitterMs: number
  backend: DelayBackend
  queueMs: number
}

/** Packets a queue of `queueMs` holds at `rateMbit` (at least {@link MIN_QUEUE_PACKETS}). */
export function queuePackets(rateMbit: number, queueMs: number): number {
  return Math.max(MIN_QUEUE_PACKETS, Math.ceil((rateMbit * 1e6 * queueMs) / 1000 / 8 / FRAME_BYTES))
}

/** `tc -batch` lines that shape one egress (none if the direction is not shaped). */
export function shapeBatch(s: ShapeInit): string[] {
  const netem = s.backend === 'netem' && (s.delayMs > 0 || s.jitterMs > 0)
  const delay = `delay ${s.delayMs}ms${s.jitterMs > 0 ? ` ${s.jitterMs}ms` : ''}`
  if (s.rateMbit > 0) {
    const queue = queuePackets(s.rateMbit, s.queueMs)
    // a netem leaf also holds what is in flight during its delay
    const inFlight = Math.ceil((s.rateMbit * 1e6 * (s.delayMs + s.jitterMs)) / 1000 / 8 / FRAME_BYTES)
    return [
      `qdisc add dev ${s.dev} root handle 1: htb default 1`,
      `class add dev ${s.dev} parent 1: classid 1:1 htb rate ${s.rateMbit}mbit ceil ${s.rateMbit}mbit`,
      netem
        ? `qdisc add dev ${s.dev} parent 1:1 handle 10: netem ${delay} limit ${queue + inFlight}`
        : `qdisc add dev ${s.dev} parent 1:1 handle 10: pfifo limit ${queue}`
    ]
  }
  return netem ? [`qdisc add dev ${s.dev} root netem ${delay} limit ${NETEM_UNCAPPED_LIMIT}`] : []
}

/**
 * The `sh -e` script run inside a host (`ip netns exec`): loopback up, IPv4 only on `wan0` (no
 * IPv6 address, IPv6 off: link-local traffic would bypass iptables), no offloads, its address,
 * its upload shaping (`tc -batch` from standard input, given as `tcInput`).
 */
export function hostScript(host: TestbedHost, ethtool: boolean, shaped: boolean): string {
  const lines = [
    'ip link set lo up',
    ...legScript(HOST_IF, ethtool),
    // behind a router: its LAN, and the only route out of it is the router
    `ip addr add ${host.address}/${host.router == null ? 16 : LAN_PREFIX_LENGTH} dev ${HOST_IF}`,
    `ip link set ${HOST_IF} up`
  ]
  if (host.gateway != null) lines.push(`ip route add default via ${host.gateway} dev ${HOST_IF}`)
  if (shaped) lines.push('tc -batch -')
  return lines.join('\n')
}

/** One interface of a host or router: no IPv6 (link-local traffic would bypass iptables), no offloads. */
function legScript(dev: string, ethtool: boolean): string[] {
  const lines = [
    `ip link set ${dev} addrgenmode none gso_max_segs 1 gso_max_size ${FRAME_BYTES}`,
    `f=/proc/sys/net/ipv6/conf/${dev}/disable_ipv6; if [ -w $f ]; then echo 1 > $f; fi`
  ]
  if (ethtool) lines.push(`ethtool -K ${dev} tso off gso off gro off`)
  return lines
}

/**
 * The `sh -e` script run inside a NAT router: its switch address on `wan0` (the switch's /16, no
 * default route: nothing leaves the testbed), its LAN's first address on `lan0`, forwarding on,
 * then `iptables-restore` from standard input ({@link routerRules}).
 */
export function routerScript(router: TestbedRouter, ethtool: boolean): string {
  return [
    'ip link set lo up',
    ...legScript(HOST_IF, ethtool),
    ...legScript(LAN_IF, ethtool),
    `ip addr add ${router.address}/16 dev ${HOST_IF}`,
    `ip addr add ${router.lanAddress}/${LAN_PREFIX_LENGTH} dev ${LAN_IF}`,
    `ip link set ${HOST_IF} up`,
    `ip link set ${LAN_IF} up`,
    'echo 1 > /proc/sys/net/ipv4/ip_forward',
    'iptables-restore'
  ].join('\n')
}

/**
 * `iptables-restore` input of a NAT router: what its LAN sends out by `wan0` leaves from the
 * router's address (MASQUERADE: Linux keeps the source port when it is free), and `wan0` forwards
 * to the LAN only what belongs to a connection (or UDP flow) the LAN started: a home router
 * without port forwarding. Nothing else is forwarded, between LANs neither, and the router
 * itself answers nothing from outside (no RST, no ICMP port unreachable).
 */
export function routerRules(router: TestbedRouter): string {
  return [
    '*nat',
    `-A POSTROUTING -s ${router.lanSubnet} -o ${HOST_IF} -j MASQUERADE`,
    'COMMIT',
    '*filter',
    ':FORWARD DROP [0:0]',
    `-A FORWARD -i ${LAN_IF} -o ${HOST_IF} -s ${router.lanSubnet} -j ACCEPT`,
    `-A FORWARD -i ${HOST_IF} -o ${LAN_IF} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    // unsolicited packets die silently, before conntrack keeps them: a kept one would take the
    // (router port, remote) pair that the LAN's own packets to that remote map to, and make the
    // NAT pick another port for them (a hole punch's first packets are such packets)
    `-A INPUT -i ${HOST_IF} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    `-A INPUT -i ${HOST_IF} -j DROP`,
    'COMMIT',
    ''
  ].join('\n')
}

/** The `ethtool` script of the switch: offloads off on every port. */
export function switchEthtoolScript(
  hosts: readonly TestbedHost[],
  routers: readonly TestbedRouter[] = []
): string {
  const ports = [...hosts.map((h) => h.netns), ...routers.flatMap((r) => [r.netns, lanPort(r)])]
  return ports.map((p) => `ethtool -K ${p} tso off gso off gro off`).join('\n')
}

/** iptables' probability for a loss in percent (6 decimals, as iptables keeps it). */
function probability(lossPct: number): string {
  return (lossPct / 100).toFixed(6)
}

/**
 * `iptables-restore --noflush` input of the switch: loss on packets entering the bridge from a
 * port (the host's upload) and leaving on it (its download), then every bridged packet to the
 * delay line's queue if `delayLine` (after the loss rules: a lost packet is never held).
 */
export function iptablesRules(hosts: readonly TestbedHost[], delayLine: boolean): string {
  const lines = ['*filter']
  for (const h of hosts) {
    if (h.link.lossPct <= 0) continue
    const p = probability(h.link.lossPct)
    for (const dir of ['--physdev-in', '--physdev-out']) {
      lines.push(
        `-A FORWARD -m physdev ${dir} ${h.netns} -m statistic --mode random --probability ${p} -j DROP`
      )
    }
  }
  if (delayLine) {
    lines.push(`-A FORWARD -m physdev --physdev-is-bridged -j NFQUEUE --queue-num ${DELAY_QUEUE}`)
  }
  lines.push('COMMIT')
  return `${lines.join('\n')}\n`
}

/** The delay line's ports file: each port's delay and jitter (a router's ports have none). */
export function delayLinePorts(
  hosts: readonly TestbedHost[],
  routers: readonly TestbedRouter[] = []
): {
  ports: Record<string, { delayMs: number; jitterMs: number }>
} {
  const none = { delayMs: 0, jitterMs: 0 }
  return {
    ports: Object.fromEntries([
      ...hosts.map((h) => [h.netns, { delayMs: h.link.delayMs, jitterMs: h.link.jitterMs }]),
      ...routers.flatMap((r) => [
        [r.netns, none],
        [lanPort(r), none]
      ])
    ])
  }
}
