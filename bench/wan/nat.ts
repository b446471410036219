/**
 * Peers behind NAT routers on the testbed (issue 16): the spec of a public master (relay server)
 * with a public helper (an AutoNAT server for the master's verdict) and two hosts behind two
 * different NAT routers, our peer on each (bench/wan/nat-node.ts), and the event-driven waits
 * the test (test/wan/nat.test.ts) and the bench's `nat` scenario share.
 *
 * The switch's subnet is a global-looking one ({@link NAT_SUBNET}): libp2p's AutoNAT and DCUtR
 * skip private addresses (10.0.0.0/8 included), so on the usual 10.77/16 nothing would be
 * verified or punched. Nothing leaves the testbed either way: no namespace on the switch has a
 * route out, and a router's only route out is the switch.
 *
 * @packageDocumentation
 */

import { fileURLToPath } from 'node:url'
import { type Child, startChild, tsFlags } from '../common.ts'
import type { NatConn, NatNodeReady, NatNodeSpec, NatNodeState } from './nat-node.ts'
import type { Testbed } from './testbed.ts'
import type { TestbedSpec } from './types.ts'

/** The switch's /16 in the NAT scenarios: global-looking, so AutoNAT and DCUtR use the addresses. */
export const NAT_SUBNET = '11.77'
/**
 * kad-dht prefix of the NAT scenarios' peers: the public one, so that the `public` profile
 * behaves as on the Internet (private addresses neither announced nor taken as dialable; a
 * private prefix makes our peer count them dialable, and a peer behind NAT would call itself
 * reachable). The namespaces keep every packet inside the testbed, and no peer knows any
 * bootstrap peer but the master.
 */
export const NAT_DHT_PREFIX = '/ipfs'
/** How long a NAT node may take to start (2 cores shared with other processes), ms. */
export const NAT_START_MS = 60_000

const natNodeScript = fileURLToPath(new URL('./nat-node.ts', import.meta.url))

/** Options of {@link natSpec}. */
export interface NatSpecInit {
  /** one-way delay of every access link, ms @default 5 */
  delayMs?: number
  /** two more public hosts, `c` and `d`, for a direct (no NAT) baseline @default false */
  direct?: boolean
}

/**
 * The NAT testbed: `master` and `helper` on the switch, `a` behind router `home-a`, `b` behind
 * `home-b` (and `c`, `d` on the switch with `direct`).
 */
export function natSpec(init: NatSpecInit = {}): TestbedSpec {
  return {
    subnet: NAT_SUBNET,
    defaults: { delayMs: init.delayMs ?? 5 },
    hosts: [
      { name: 'master' },
      { name: 'helper' },
      { name: 'a', nat: 'home-a' },
      { name: 'b', nat: 'home-b' },
      ...(init.direct === true ? [{ name: 'c' }, { name: 'd' }] : [])
    ]
  }
}

/** Our peer running in a host, driven over its standard input and output. */
export interface NatNode {
  host: string
  id: string
  child: Child
  /** send a command; the answer is its `{"re":<cmd>,…}` line */
  request<T = Record<string, unknown>>(command: Record<string, unknown>, timeoutMs?: number): Promise<T>
  state(): Promise<NatNodeState>
  /**
   * Wait until `check` holds for the node's state, reading the state again on each event the node
   * prints (never on a timer); throws after `timeoutMs` with `what` and the last state.
   */
  until(what: string, check: (s: NatNodeState) => boolean, timeoutMs: number): Promise<NatNodeState>
  /** the next event line of `kind` for which `match` holds (events printed before this call are not seen) */
  nextEvent(
    kind: string,
    match: (ev: Record<string, unknown>) => boolean,
    timeoutMs: number
  ): Promise<Record<string, unknown>>
}

/** Start our peer in `host` (a name of the testbed); resolves once it runs. */
export async function startNatNode(
  bed: Testbed,
  host: string,
  init: Omit<NatNodeSpec, 'address' | 'dhtPrefix'>,
  options: { debugDcutr?: boolean } = {}
): Promise<NatNode> {
  const h = bed.host(host)
  const spec: NatNodeSpec = { ...init, address: h.address, dhtPrefix: NAT_DHT_PREFIX }
  // DEBUG goes through `env` in the host: `ip netns exec` keeps the environment
  const env = options.debugDcutr === true ? ['env', 'DEBUG=libp2p:dcutr*'] : []
  const [cmd, argv] = bed.argv(h, env.length > 0 ? env[0]! : process.execPath, [
    ...(env.length > 0 ? [env[1]!, process.execPath] : []),
    ...tsFlags(),
    natNodeScript,
    JSON.stringify(spec)
  ])
  const child = await startChild(cmd, argv, (line) => line.startsWith('{"ready":true'), {
    what: `${host}: nat-node`,
    timeoutMs: NAT_START_MS
  })
  const ready = JSON.parse(child.lines.at(-1)!) as NatNodeReady
  const request = async <T>(command: Record<string, unknown>, timeoutMs = 30_000): Promise<T> => {
    const answer = child.nextLine((l) => l.startsWith(`{"re":"${String(command.cmd)}"`), timeoutMs)
    child.send(JSON.stringify(command))
    const parsed = JSON.parse(await answer) as T & { error?: string }
    if (parsed.error != null && (command.cmd !== 'fetch' || !('ok' in parsed))) {
      throw new Error(`${host}: ${String(command.cmd)} failed: ${parsed.error}`)
    }
    return parsed
  }
  const state = (): Promise<NatNodeState> => request<NatNodeState>({ cmd: 'state' })
  const nextEvent = async (
    kind: string,
    match: (ev: Record<string, unknown>) => boolean,
    timeoutMs: number
  ): Promise<Record<string, unknown>> => {
    const line = await child.nextLine((l) => {
      if (!l.startsWith(`{"ev":"${kind}"`)) return false
      return match(JSON.parse(l) as Record<string, unknown>)
    }, timeoutMs)
    return JSON.parse(line) as Record<string, unknown>
  }
  const until = async (
    what: string,
    check: (s: NatNodeState) => boolean,
    timeoutMs: number
  ): Promise<NatNodeState> => {
    const deadline = performance.now() + timeoutMs
    let last: NatNodeState | undefined
    for (;;) {
      const left = deadline - performance.now()
      if (left <= 0) break
      // listen before reading the state: an event between the two is not missed
      const next = child.nextLine((l) => l.startsWith('{"ev":'), left)
      next.catch(() => {})
      last = await state()
      if (check(last)) return last
      try {
        await next
      } catch {
        break
      }
    }
    throw new Error(`${host}: ${what} not reached in ${timeoutMs} ms; last state: ${JSON.stringify(last)}`)
  }
  return { host, id: ready.id, child, request, state, until, nextEvent }
}

/** The master's addresses for the others' bootstrap: every listen address on its host. */
export function masterAddrs(bed: Testbed, masterId: string, transports: NatNodeSpec['transports']): string[] {
  const ip = bed.host('master').address
  const quic = `/ip4/${ip}/udp/4001/quic-v1/p2p/${masterId}`
  return transports === 'quic' ? [quic] : [`/ip4/${ip}/tcp/4001/p2p/${masterId}`, quic]
}

/** A connection that is direct (not through a relay) and not limited. */
export function isDirect(c: NatConn): boolean {
  return !c.limited && !c.addr.includes('/p2p-circuit')
}

/** Our `/p2p-circuit` address through `relayId`, if we announce one. */
export function circuitAddr(s: NatNodeState, relayId: string): string | undefined {
  return s.addrs.find((a) => a.includes(`/p2p/${relayId}/p2p-circuit/`))
}
