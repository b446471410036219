/**
 * The testbed's spec: reading and checking it, and the model it stands for.
 *
 * A spec is JSON ({@link TestbedSpec}): `defaults`, then `hosts` in order, each entry one host or
 * `count` alike. Every host has one access link to a switch; its delay, jitter and loss apply in
 * both directions of that link, its rates are up (host → switch) and down (switch → host). So
 * between hosts A and B:
 *
 * - one-way delay A → B = dA + dB, RTT(A, B) = 2 (dA + dB)
 * - loss A → B = 1 − (1 − lA)(1 − lB)
 * - rate A → B ≤ min(upA, downB)
 *
 * @packageDocumentation
 */

import { readFile } from 'node:fs/promises'
import {
  type HostLink,
  type HostSpec,
  InvalidSpecError,
  LAN_SUBNET,
  type LinkSpec,
  MAX_HOSTS,
  MAX_HOSTS_PER_ROUTER,
  MAX_ROUTERS,
  SUBNET,
  type TestbedSpec
} from './types.ts'

const LINK_FIELDS = ['delayMs', 'jitterMs', 'lossPct', 'upMbit', 'downMbit'] as const
const HOST_FIELDS = new Set<string>([...LINK_FIELDS, 'name', 'count', 'nat'])
const SPEC_FIELDS = ['subnet', 'defaults', 'hosts']
/** Fields of an entry that are not numbers. */
const LABEL_FIELDS = new Set(['name', 'nat'])
/** `a.b`: a unicast /16 (not 0, 127, multicast or above). */
const SUBNET_PATTERN = /^(\d{1,3})\.(\d{1,3})$/
const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/
/** Largest delay or jitter, ms: a minute is already more than any WAN. */
const MAX_DELAY_MS = 60_000
/** Largest rate, Mbit/s (htb takes up to 2^32 bytes/s). */
const MAX_MBIT = 100_000

function checkLink(link: unknown, where: string, allowed: Set<string>): asserts link is LinkSpec {
  if (link == null || typeof link !== 'object' || Array.isArray(link)) {
    throw new InvalidSpecError(`${where}: must be an object`)
  }
  for (const [key, value] of Object.entries(link)) {
    if (!allowed.has(key)) {
      throw new InvalidSpecError(`${where}: unknown field "${key}" (fields: ${[...allowed].join(', ')})`)
    }
    if (LABEL_FIELDS.has(key)) continue
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidSpecError(`${where}.${key}: must be a number >= 0, not ${JSON.stringify(value)}`)
    }
  }
  const l = link as LinkSpec
  if ((l.lossPct ?? 0) > 100) throw new InvalidSpecError(`${where}.lossPct: at most 100`)
  for (const key of ['delayMs', 'jitterMs'] as const) {
    if ((l[key] ?? 0) > MAX_DELAY_MS) throw new InvalidSpecError(`${where}.${key}: at most ${MAX_DELAY_MS}`)
  }
  for (const key of ['upMbit', 'downMbit'] as const) {
    if ((l[key] ?? 0) > MAX_MBIT) throw new InvalidSpecError(`${where}.${key}: at most ${MAX_MBIT}`)
  }
}

/**
 * Every host of a spec, in order, with every field resolved. Throws an {@link InvalidSpecError}
 * that names the entry and field at fault.
 *
 * @example
 * ```ts
 * const hosts = resolveSpec({ defaults: { delayMs: 10 }, hosts: [{ name: 'a' }, { count: 2, upMbit: 5 }] })
 * // [{ name: 'a', delayMs: 10, … }, { name: 'h2', upMbit: 5, … }, { name: 'h3', upMbit: 5, … }]
 * ```
 */
export function resolveSpec(spec: TestbedSpec): HostLink[] {
  if (spec == null || typeof spec !== 'object' || !Array.isArray(spec.hosts)) {
    throw new InvalidSpecError('a spec is an object with a "hosts" array')
  }
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.includes(key)) {
      throw new InvalidSpecError(`unknown field "${key}" (fields: ${SPEC_FIELDS.join(', ')})`)
    }
  }
  specSubnet(spec)
  const defaults = spec.defaults ?? {}
  checkLink(defaults, 'defaults', new Set(LINK_FIELDS))
  const hosts: HostLink[] = []
  spec.hosts.forEach((entry: HostSpec, i) => {
    const where = `hosts[${i}]`
    checkLink(entry, where, HOST_FIELDS)
    const count = entry.count ?? 1
    if (!Number.isInteger(count) || count < 1)
      throw new InvalidSpecError(`${where}.count: a whole number >= 1`)
    if (entry.name != null && (typeof entry.name !== 'string' || !NAME_PATTERN.test(entry.name))) {
      throw new InvalidSpecError(
        `${where}.name: must match ${NAME_PATTERN}, not ${JSON.stringify(entry.name)}`
      )
    }
    if (entry.nat != null && (typeof entry.nat !== 'string' || !NAME_PATTERN.test(entry.nat))) {
      throw new InvalidSpecError(
        `${where}.nat: a router's name must match ${NAME_PATTERN}, not ${JSON.stringify(entry.nat)}`
      )
    }
    for (let k = 1; k <= count; k++) {
      const index = hosts.length + 1
      const name = entry.name == null ? `h${index}` : count === 1 ? entry.name : `${entry.name}-${k}`
      const link = { ...defaults, ...entry }
      hosts.push({
        name,
        delayMs: link.delayMs ?? 0,
        jitterMs: link.jitterMs ?? 0,
        lossPct: link.lossPct ?? 0,
        upMbit: link.upMbit ?? 0,
        downMbit: link.downMbit ?? 0,
        ...(entry.nat == null ? {} : { nat: entry.nat })
      })
    }
  })
  if (hosts.length === 0) throw new InvalidSpecError('the spec has no host')
  const routers = routerNames(hosts)
  if (routers.length > MAX_ROUTERS) {
    throw new InvalidSpecError(`${routers.length} NAT routers: at most ${MAX_ROUTERS}`)
  }
  if (hosts.length + routers.length > MAX_HOSTS) {
    throw new InvalidSpecError(
      `${hosts.length} hosts and ${routers.length} NAT routers: at most ${MAX_HOSTS} in all`
    )
  }
  const seen = new Set<string>()
  for (const h of hosts) {
    if (seen.has(h.name)) throw new InvalidSpecError(`two hosts are named "${h.name}"`)
    seen.add(h.name)
  }
  for (const r of routers) {
    if (seen.has(r)) throw new InvalidSpecError(`"${r}" names both a host and a NAT router`)
    const behind = hosts.filter((h) => h.nat === r).length
    if (behind > MAX_HOSTS_PER_ROUTER) {
      throw new InvalidSpecError(`${behind} hosts behind NAT router "${r}": at most ${MAX_HOSTS_PER_ROUTER}`)
    }
  }
  return hosts
}

/** The NAT routers the hosts name, in the order they are first named (router 1 is the first). */
export function routerNames(hosts: readonly HostLink[]): string[] {
  return [...new Set(hosts.flatMap((h) => (h.nat == null ? [] : [h.nat])))]
}

/**
 * The spec's subnet (`a.b`, the switch's /16), checked, or {@link SUBNET}. Throws an
 * {@link InvalidSpecError} for anything but a unicast /16 outside the routers' LANs.
 */
export function specSubnet(spec: Pick<TestbedSpec, 'subnet'>): string {
  const subnet = spec.subnet
  if (subnet == null) return SUBNET
  const m = typeof subnet === 'string' ? SUBNET_PATTERN.exec(subnet) : null
  const [a, b] = m == null ? [Number.NaN, Number.NaN] : [Number(m[1]), Number(m[2])]
  if (!(a >= 1 && a <= 223 && a !== 127 && b >= 0 && b <= 255) || subnet === LAN_SUBNET) {
    throw new InvalidSpecError(
      `subnet: the first two octets of a unicast /16 ("10.77"), not ${LAN_SUBNET} (the routers' LANs), not ${JSON.stringify(subnet)}`
    )
  }
  return subnet as string
}

/** Read and resolve a spec file (JSON): its hosts. */
export async function readSpec(path: string): Promise<HostLink[]> {
  return resolveSpec(await readSpecFile(path))
}

/** Read a spec file (JSON) and check it; throws an {@link InvalidSpecError} naming the file. */
export async function readSpecFile(path: string): Promise<TestbedSpec> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new InvalidSpecError(`cannot read the spec ${path}: ${(err as Error).message}`, { cause: err })
  }
  let spec: TestbedSpec
  try {
    spec = JSON.parse(text) as TestbedSpec
  } catch (err) {
    throw new InvalidSpecError(`${path} is not JSON: ${(err as Error).message}`, { cause: err })
  }
  try {
    resolveSpec(spec)
    return spec
  } catch (err) {
    throw new InvalidSpecError(`${path}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The switch address of host `index` (1-based): `10.77.<hi>.<lo>` (or the spec's subnet),
 * never a .0 or a .255. NAT router r takes the address of index (hosts + r).
 */
export function hostAddress(index: number, subnet = SUBNET): string {
  const n = index - 1
  return `${subnet}.${Math.floor(n / 254)}.${(n % 254) + 1}`
}

/** The LAN of NAT router `index` (1-based): `192.168.<index>.0/24`, the router being `.1`. */
export function lanAddress(routerIndex: number, hostOnLan = 0): string {
  return `${LAN_SUBNET}.${routerIndex}.${hostOnLan + 1}`
}

/** The round-trip time between two hosts that the spec stands for, ms: 2 (dA + dB). */
export function specRttMs(a: LinkSpec, b: LinkSpec): number {
  return 2 * ((a.delayMs ?? 0) + (b.delayMs ?? 0))
}

/** The rate cap from `from` to `to`, Mbit/s: min(up of `from`, down of `to`); 0 = unlimited. */
export function specCapMbit(from: LinkSpec, to: LinkSpec): number {
  const caps = [from.upMbit ?? 0, to.downMbit ?? 0].filter((r) => r > 0)
  return caps.length === 0 ? 0 : Math.min(...caps)
}

/** The share of packets lost from `from` to `to`, 0..1: 1 − (1 − lA)(1 − lB). */
export function specLoss(from: LinkSpec, to: LinkSpec): number {
  return 1 - (1 - (from.lossPct ?? 0) / 100) * (1 - (to.lossPct ?? 0) / 100)
}
