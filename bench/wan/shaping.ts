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
 *
 * @packageDocumentation
 */

import { hostAddress } from './spec.ts'
import {
  BRIDGE,
  DELAY_QUEUE,
  type DelayBackend,
  HOST_IF,
  type HostLink,
  MIN_QUEUE_PACKETS,
  type TestbedHost
} from './types.ts'

/** Bytes of a full Ethernet frame: the unit of queue lengths. */
const FRAME_BYTES = 1514
/** Queue of a netem with no rate above it, packets (it holds the packets of the delay). */
const NETEM_UNCAPPED_LIMIT = 100_000

/** The hosts of a testbed of `links` under `prefix`. */
export function planHosts(prefix: string, links: readonly HostLink[]): TestbedHost[] {
  return links.map((link, i) => ({
    index: i + 1,
    name: link.name,
    netns: `${prefix}-h${i + 1}`,
    address: hostAddress(i + 1),
    link
  }))
}

/** `ip -batch` (root namespace): every namespace, and a veth pair made straight inside two of them. */
export function namespaceBatch(switchNs: string, hosts: readonly TestbedHost[]): string {
  const lines = [`netns add ${switchNs}`, ...hosts.map((h) => `netns add ${h.netns}`)]
  for (const h of hosts) {
    // the switch's end is named after the host's namespace: one name per port, ≤ 15 bytes
    lines.push(`link add ${HOST_IF} netns ${h.netns} type veth peer name ${h.netns} netns ${switchNs}`)
  }
  return `${lines.join('\n')}\n`
}

/** `ip -batch` of the switch namespace: loopback, the bridge, every port on it. */
export function switchBatch(hosts: readonly TestbedHost[]): string {
  const lines = ['link set lo up', `link add ${BRIDGE} type bridge stp_state 0`]
  for (const h of hosts) {
    // no GSO bursts: shaping and loss act on real frames
    lines.push(`link set ${h.netns} gso_max_segs 1 gso_max_size ${FRAME_BYTES}`)
    lines.push(`link set ${h.netns} master ${BRIDGE}`, `link set ${h.netns} up`)
  }
  lines.push(`link set ${BRIDGE} up`)
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
    `ip link set ${HOST_IF} addrgenmode none gso_max_segs 1 gso_max_size ${FRAME_BYTES}`,
    `f=/proc/sys/net/ipv6/conf/${HOST_IF}/disable_ipv6; if [ -w $f ]; then echo 1 > $f; fi`,
    `ip addr add ${host.address}/16 dev ${HOST_IF}`,
    `ip link set ${HOST_IF} up`
  ]
  if (ethtool) lines.push(`ethtool -K ${HOST_IF} tso off gso off gro off`)
  if (shaped) lines.push('tc -batch -')
  return lines.join('\n')
}

/** The `ethtool` script of the switch: offloads off on every port. */
export function switchEthtoolScript(hosts: readonly TestbedHost[]): string {
  return hosts.map((h) => `ethtool -K ${h.netns} tso off gso off gro off`).join('\n')
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

/** The delay line's ports file: each port's delay and jitter. */
export function delayLinePorts(hosts: readonly TestbedHost[]): {
  ports: Record<string, { delayMs: number; jitterMs: number }>
} {
  return {
    ports: Object.fromEntries(
      hosts.map((h) => [h.netns, { delayMs: h.link.delayMs, jitterMs: h.link.jitterMs }])
    )
  }
}
