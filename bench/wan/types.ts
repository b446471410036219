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
  /**
   * the NAT router this host sits behind (a name, `[a-z0-9][a-z0-9_-]*`): the host gets a private
   * address on the router's LAN and a default route through it; hosts naming the same router share
   * it @default none: the host is on the switch, with a testbed address
   */
  nat?: string
}

/** The spec file (JSON): defaults, then hosts in order (host 1 is the first). */
export interface TestbedSpec {
  /**
   * first two octets of the switch's addresses (`a.b`: hosts on the switch and the routers' WAN
   * legs are in `a.b.0.0/16`). libp2p's AutoNAT and DCUtR ignore private addresses, so a spec
   * with NAT routers for them takes a global-looking one (nothing leaves the testbed either way:
   * no namespace on the switch has a route out) @default SUBNET
   */
  subnet?: string
  /** applied to every host, field by field, before its own fields */
  defaults?: LinkSpec
  hosts: HostSpec[]
}

/** A host's link with every field resolved, and the NAT router it sits behind, if any. */
export type HostLink = Required<LinkSpec> & { name: string; nat?: string }

/** How delay and jitter are applied. */
export type DelayBackend = 'netem' | 'nfqueue' | 'none'

/** A host of a running testbed. */
export interface TestbedHost {
  /** 1-based position in the spec */
  index: number
  name: string
  /** network namespace: `<prefix>-h<index>` */
  netns: string
  /**
   * IPv4 address on the host's one interface (`wan0`); the only address to listen on. Behind a
   * NAT router it is a private address of the router's LAN (`192.168.<router>.<n>`), and others
   * see the host's connections come from the router's address
   */
  address: string
  link: HostLink
  /** name of the NAT router the host sits behind; none on the switch */
  router?: string
  /** the router's LAN address, the host's default route (behind a router only) */
  gateway?: string
}

/**
 * A NAT router of a running testbed: a namespace with one leg on the switch (`wan0`, a testbed
 * address) and one on a LAN of its own (`lan0`), masquerading what its LAN sends out and
 * letting in only what answers it (a home router without port forwarding).
 */
export interface TestbedRouter {
  /** 1-based, in the order the spec first names the routers */
  index: number
  name: string
  /** network namespace: `<prefix>-n<index>` */
  netns: string
  /** the router's address on the switch: what the hosts behind it look like from outside */
  address: string
  /** the router's address on its LAN (the hosts' gateway): `192.168.<index>.1` */
  lanAddress: string
  /** the LAN: `192.168.<index>.0/24` */
  lanSubnet: string
  /** names of the hosts behind it */
  hosts: string[]
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
  /** NAT routers (none in states written before routers existed) */
  routers?: TestbedRouter[]
  /** first two octets of the switch's addresses @default SUBNET */
  subnet?: string
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
/** Most hosts in one testbed, NAT routers included (each takes a switch address). @default 1000 */
export const MAX_HOSTS = 1000
/** First two octets of every router's LAN: router r has `192.168.r.0/24`. @default '192.168' */
export const LAN_SUBNET = '192.168'
/** Most NAT routers in one testbed (one /24 of {@link LAN_SUBNET} each). @default 254 */
export const MAX_ROUTERS = 254
/** Most hosts behind one NAT router (`.2` … `.254` of its LAN). @default 253 */
export const MAX_HOSTS_PER_ROUTER = 253
/** Prefix length of a router's LAN. @default 24 */
export const LAN_PREFIX_LENGTH = 24
/** A router's leg on its LAN; its leg on the switch is {@link HOST_IF}. */
export const LAN_IF = 'lan0'
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
