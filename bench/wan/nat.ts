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
import {
  type BenchFigure,
  type Child,
  killAll,
  median,
  note,
  row,
  seededSha,
  startChild,
  tsFlags
} from '../common.ts'
import type { NatConn, NatFetchDone, NatNodeReady, NatNodeSpec, NatNodeState } from './nat-node.ts'
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
/** The master's relay service without limits (the config's `Swarm.RelayService`, Kubo's names). */
export const NO_RELAY_LIMITS: NonNullable<NatNodeSpec['relayService']> = {
  ConnectionDataLimit: 0,
  ConnectionDurationLimit: '0s'
}
/** How long a NAT node may take to start (2 cores shared with other processes), ms. */
export const NAT_START_MS = 60_000

const natNodeScript = fileURLToPath(new URL('./nat-node.ts', import.meta.url))

/** Options of {@link natSpec}. */
export interface NatSpecInit {
  /** one-way delay of every access link, ms @default 5 */
  delayMs?: number
  /** one more public host, `c`, for a direct (no NAT) baseline @default false */
  direct?: boolean
}

/**
 * The NAT testbed: `master` and `helper` on the switch, `a` behind router `home-a`, `b` behind
 * `home-b` (and `c` on the switch with `direct`).
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
      ...(init.direct === true ? [{ name: 'c' }] : [])
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
  const node = [process.execPath, ...tsFlags(), natNodeScript, JSON.stringify(spec)]
  // libp2p's DCUtR log, through `env` in the host (`ip netns exec` runs one command)
  const command = options.debugDcutr === true ? ['env', 'DEBUG=libp2p:dcutr*', ...node] : node
  const [cmd, argv] = bed.argv(h, command[0]!, command.slice(1))
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

/* ----------------------------------------------------------------------------------------- */
/* the bench's `nat` scenario                                                                 */

/** Options of {@link runNat}. */
export interface NatBenchInit {
  /** files fetched, one after the other @default 3 */
  files: number
  /** size of each, bytes @default 1 MiB */
  bytes: number
  /** a fetch not done by then failed, ms @default 60 000 */
  timeoutMs: number
}

/** One fetch of the scenario. */
interface NatFetch {
  path: 'nat' | 'direct'
  file: number
  ok: boolean
  ms: number
  error?: string
  /** the connections to the provider when it ended */
  conns: NatConn[]
}

/** The `nat` scenario's options from the environment (`BENCH_WAN_NAT_*`). */
export function natEnv(positive: (name: string, fallback: number) => number): NatBenchInit {
  return {
    files: positive('BENCH_WAN_NAT_FILES', 3),
    bytes: positive('BENCH_WAN_NAT_KIB', 1024) * 1024,
    timeoutMs: positive('BENCH_WAN_NAT_TIMEOUT_MS', 60_000)
  }
}

/** The `nat` scenario's testbed: {@link natSpec} with `c` for the direct baseline, 10 ms per link. */
export function natBenchSpec(): TestbedSpec {
  return natSpec({ delayMs: 10, direct: true })
}

/**
 * The `nat` scenario: the same files on `a` (behind `home-a`) and on `helper` (public); `b`
 * (behind `home-b`) fetches them from `a` through the master's relay, which relays without
 * limits ({@link NO_RELAY_LIMITS}), and `c` (public) fetches them from `helper` over a direct
 * connection. DCUtR runs on `a` and `b` as the `public` profile has it, but cannot make the
 * relayed connection direct with js-libp2p 3 (see the notes). Rows: time to content of the first
 * fetch and of the later ones, and the share of fetches that returned the file, against the
 * direct pair.
 */
export async function runNat(
  bed: Testbed,
  init: NatBenchInit
): Promise<{ figures: Array<BenchFigure & { item: number }>; notes: string[]; trace: unknown }> {
  const started: NatNode[] = []
  try {
    const master = await startNatNode(bed, 'master', {
      role: 'master',
      transports: 'all',
      bootstrap: [],
      relayService: NO_RELAY_LIMITS
    })
    started.push(master)
    const bootstrap = masterAddrs(bed, master.id, 'all')
    const [helper, a, b, c] = await Promise.all(
      (['helper', 'a', 'b', 'c'] as const).map((h) =>
        startNatNode(bed, h, { role: 'worker', transports: 'all', bootstrap }, { debugDcutr: true })
      )
    )
    started.push(helper!, a!, b!, c!)
    const cids: string[] = []
    for (let i = 0; i < init.files; i++) {
      const seed = `wan-nat-${i}`
      const [onA, onHelper] = await Promise.all(
        [a!, helper!].map((n) => n.request<{ cid: string }>({ cmd: 'add', seed, bytes: init.bytes }, 60_000))
      )
      if (onA!.cid !== onHelper!.cid)
        throw new Error(`file ${i}: ${onA!.cid} on a, ${onHelper!.cid} on helper`)
      cids.push(onA!.cid)
    }
    const relayed = await a!.until('a relay reservation', (s) => circuitAddr(s, master.id) != null, 30_000)
    const helperState = await helper!.until(
      'a verified address',
      (s) => s.addrs.some((x) => !x.includes('/p2p-circuit')),
      30_000
    )
    await b!.request({ cmd: 'connect', addr: circuitAddr(relayed, master.id), timeoutMs: 10_000 })
    await c!.request({
      cmd: 'connect',
      addr: helperState.addrs.find((x) => !x.includes('/p2p-circuit')),
      timeoutMs: 10_000
    })
    const fetches: NatFetch[] = []
    for (const [i, cid] of cids.entries()) {
      for (const [path, seeker, provider] of [
        ['nat', b!, a!],
        ['direct', c!, helper!]
      ] as const) {
        const got = await seeker.request<NatFetchDone>(
          { cmd: 'fetch', cid, from: provider.id, timeoutMs: init.timeoutMs },
          init.timeoutMs + 10_000
        )
        const sound =
          got.ok && got.bytes === init.bytes && got.sha === (await seededSha(`wan-nat-${i}`, init.bytes))
        fetches.push({
          path,
          file: i,
          ok: sound,
          ms: sound ? got.ms : init.timeoutMs,
          ...(got.error == null ? {} : { error: got.error }),
          conns: got.conns
        })
        note(
          `nat: ${path} file ${i}: ${sound ? `${got.ms.toFixed(0)} ms` : `failed (${got.error ?? 'wrong bytes'})`}`
        )
      }
    }
    // both sides' DCUtR log (every line a child printed is kept in `lines`)
    const dcutr = [...a!.child.lines, ...b!.child.lines]
      .filter((l) => l.startsWith('{"ev":"dcutr"'))
      .map((l) => String((JSON.parse(l) as { line: string }).line))
    return natRows(fetches, init, dcutr)
  } finally {
    await killAll(started.map((n) => n.child))
  }
}

function natRows(
  fetches: NatFetch[],
  init: NatBenchInit,
  dcutr: string[]
): { figures: Array<BenchFigure & { item: number }>; notes: string[]; trace: unknown } {
  const of = (path: NatFetch['path']): NatFetch[] => fetches.filter((f) => f.path === path)
  const nat = of('nat')
  const direct = of('direct')
  const size = `${(init.bytes / 1024).toFixed(0)} KiB`
  const pct = (fs: NatFetch[], p: (f: NatFetch) => boolean): number => (100 * fs.filter(p).length) / fs.length
  const later = (fs: NatFetch[]): number[] => fs.filter((f) => f.file > 0).map((f) => f.ms)
  const baselineName = 'the same fetches between two public peers, direct connection'
  const path = 'through the relay (no limit)'
  const figures: Array<BenchFigure & { item: number }> = [
    {
      item: 6,
      ...row({
        figure: `time to content across two NATs ${path}, first fetch, ${size}`,
        ours: nat[0]?.ms ?? init.timeoutMs,
        baseline: direct[0]?.ms ?? init.timeoutMs,
        baselineName,
        unit: 'ms',
        better: 'lower',
        goal: 'report'
      })
    },
    {
      item: 6,
      ...row({
        figure: `time to content across two NATs ${path}, later fetches p50, ${size}, ${Math.max(0, init.files - 1)} files`,
        ours: later(nat).length === 0 ? Number.NaN : median(later(nat)),
        baseline: later(direct).length === 0 ? Number.NaN : median(later(direct)),
        baselineName,
        unit: 'ms',
        better: 'lower',
        goal: 'report'
      })
    },
    {
      item: 6,
      ...row({
        figure: `fetches across two NATs ${path} that returned the file, ${init.files} files`,
        ours: pct(nat, (f) => f.ok),
        baseline: pct(direct, (f) => f.ok),
        baselineName,
        unit: '%',
        better: 'higher',
        goal: 'report'
      })
    }
  ]
  const notes: string[] = []
  const upgraded = nat.filter((f) => f.conns.some(isDirect)).length
  const refused = dcutr.some((l) => /had no dialable multiaddrs/.test(l))
  notes.push(
    `nat: no "direct after DCUtR" figure: ${upgraded} of ${nat.length} fetches across the NATs ended on a ` +
      'direct connection. js-libp2p 3 cannot hole punch between two of our peers behind NAT: DCUtR ' +
      'offers verified addresses only, and a NAT-given one is never verified' +
      (refused ? ' (here: "had no dialable multiaddrs")' : '') +
      '; over QUIC and TCP the punch fails even with the address (bench/wan/README.md, "NAT ' +
      'traversal"). Upstream marks JS hole punching known-failing for TCP and QUIC ' +
      '(libp2p/test-plans PR 864; js-libp2p issue 2620). The fetches across the NATs ran on the ' +
      "relayed connection; with a relay's default limits (128 KiB, 2 min; a master grants 1 MiB) they could not."
  )
  const errors = [...new Set(nat.filter((f) => !f.ok).map((f) => f.error ?? 'wrong bytes'))]
  if (errors.length > 0) notes.push(`nat: failures across the NATs: ${errors.join('; ')}`)
  return { figures, notes, trace: { fetches, dcutr: dcutr.slice(0, 40) } }
}
