/**
 * The WAN testbed's types, defaults and errors, in one place: the spec a user writes, the hosts
 * and state the testbed makes, and what can go wrong.
 *
 * @packageDocumentation
 */

import { IpfsKitError } from '../../src/errors.ts'

/** One host's access link. Every field is optional; 0 means none (no delay, no loss, no cap). */
export interface LinkSpec {
  /** one-way delay of the access link, ms (both directions) @default 0 */
  delayMs?: number
  /** jitter added to the delay in each direction, uniform in ±jitterMs, ms @default 0 */
  jitterMs?: number
  /** packets lost in each direction, percent @default 0 */
  lossPct?: number
  /** upload rate (host → switch), Mbit/s; 0 = unlimited @default 0 */
  upMbit?: number
  /** download rate (switch → host), Mbit/s; 0 = unlimited @default 0 */
  downMbit?: number
}

/** One entry of a spec: a host, or `count` hosts alike. */
export interface HostSpec extends LinkSpec {
  /** label of the host (`[a-z0-9][a-z0-9_-]*`); with `count`, `-1`, `-2`… are appended @default `h<index>` */
  name?: string
  /** how many hosts this entry stands for @default 1 */
  count?: number
}

/** The spec file (JSON): defaults, then hosts in order (host 1 is the first). */
export interface TestbedSpec {
  /** applied to every host, field by field, before its own fields */
  defaults?: LinkSpec
  hosts: HostSpec[]
}

/** A host's link with every field resolved. */
export type HostLink = Required<LinkSpec> & { name: string }

/** How delay and jitter are applied. */
export type DelayBackend = 'netem' | 'nfqueue' | 'none'

/** A host of a running testbed. */
export interface TestbedHost {
  /** 1-based position in the spec */
  index: number
  name: string
  /** network namespace: `<prefix>-h<index>` */
  netns: string
  /** IPv4 address on the host's one interface (`wan0`); the only address to listen on */
  address: string
  link: HostLink
}

/** A helper process of the testbed (the delay line), identified beyond its pid. */
export interface HelperProcess {
  pid: number
  /** field 22 of /proc/<pid>/stat: tells a reused pid from ours */
  startTime: string
  /** a word its command line must contain to be killed */
  marker: string
}

/** What `up` created, written before and while it creates it: `down` needs nothing else. */
export interface TestbedState {
  version: 1
  prefix: string
  createdAt: string
  delay: DelayBackend
  namespaces: string[]
  helpers: HelperProcess[]
  hosts: TestbedHost[]
}

/** What `down` removed. */
export interface TeardownReport {
  prefix: string
  namespaces: string[]
  /** pids of helpers and of processes left in the namespaces */
  killed: number[]
  ms: number
}

/** Options of `Testbed.up`. Every option is optional. */
export interface TestbedInit {
  /** names every namespace (`<prefix>-sw`, `<prefix>-h<i>`): `[a-z][a-z0-9]{0,7}` @default DEFAULT_PREFIX */
  prefix?: string
  /** `auto` takes netem where the kernel has it, else the NFQUEUE delay line @default 'auto' */
  delay?: 'auto' | 'netem' | 'nfqueue'
  /** queue of a rate-limited link, in ms of its rate (at least 16 packets) @default DEFAULT_QUEUE_MS */
  queueMs?: number
  /** seed of the delay line's jitter @default random */
  seed?: number
  /** where state files live @default stateRoot() */
  stateDir?: string
  /** log of what is done, one line per step @default none */
  log?: (line: string) => void
  signal?: AbortSignal
}

/** Prefix of the namespaces when none is given. @default 'ikwan' */
export const DEFAULT_PREFIX = 'ikwan'
/** A prefix: short enough that `<prefix>-h1000` fits an interface name (15 bytes). */
export const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,7}$/
/** First two octets of the hosts' addresses (a /16 that exists only inside the testbed). @default '10.77' */
export const SUBNET = '10.77'
/** Most hosts in one testbed. @default 1000 */
export const MAX_HOSTS = 1000
/** Queue of a rate-limited link, in ms at its rate. @default 100 */
export const DEFAULT_QUEUE_MS = 100
/** Smallest queue of a rate-limited link, packets. @default 16 */
export const MIN_QUEUE_PACKETS = 16
/**
 * kad-dht protocol prefix of every node on a testbed (ours, plain kad-dht): never the public
 * DHT's `/ipfs`, so that no testbed node could ever speak to it, and private addresses are kept.
 */
export const WAN_DHT_PREFIX = '/ipfs-kit-wan'
/** The kad-dht protocol of a testbed's DHT: our peer's with {@link WAN_DHT_PREFIX} (bench/wan/peers.ts). */
export const WAN_DHT_PROTOCOL = `${WAN_DHT_PREFIX}/kad/1.0.0`
/** The interface of every host. */
export const HOST_IF = 'wan0'
/** The bridge in the switch namespace. */
export const BRIDGE = 'br0'
/** NFQUEUE number of the delay line (queues are per namespace). @default 0 */
export const DELAY_QUEUE = 0
/** Real-time priority of the delay line (`chrt -f`), where allowed. @default 20 */
export const DELAY_LINE_PRIORITY = 20
/** How long the delay line may take to bind its queue, ms. @default 5000 */
export const DELAY_LINE_READY_MS = 5000
/** SIGTERM to SIGKILL, ms. @default 2000 */
export const KILL_GRACE_MS = 2000

/** A spec that cannot describe a testbed; the message says where and why. */
export class InvalidSpecError extends IpfsKitError {
  static override readonly code = 'ERR_WAN_INVALID_SPEC'
}

/** A command the testbed needs is not installed; the message says which package has it. */
export class MissingToolError extends IpfsKitError {
  static override readonly code = 'ERR_WAN_MISSING_TOOL'
}

/** The kernel lacks something the testbed needs (netem when asked for, br_netfilter). */
export class UnsupportedKernelError extends IpfsKitError {
  static override readonly code = 'ERR_WAN_UNSUPPORTED_KERNEL'
}

/** Namespaces of this prefix exist already: `down` them first, or pick another prefix. */
export class TestbedExistsError extends IpfsKitError {
  static override readonly code = 'ERR_WAN_TESTBED_EXISTS'
}

/** No testbed of this prefix: it has no state file (`up` it first). */
export class TestbedNotFoundError extends IpfsKitError {
  static override readonly code = 'ERR_WAN_TESTBED_NOT_FOUND'
}

/** A command run by the testbed failed; the message has its stderr. */
export class CommandError extends IpfsKitError {
  static override readonly code = 'ERR_WAN_COMMAND'
}
