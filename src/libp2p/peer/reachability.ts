/**
 * Whether other peers can dial us, derived from what libp2p's address manager has verified
 * (AutoNAT confirms observed and listen addresses there), and the kad-dht mode that follows
 * it, as Kubo's `autoclient`: a role that may serve the DHT does so only while reachable.
 *
 * @packageDocumentation
 */

import {
  type ComponentLogger,
  type Libp2pEvents,
  type Logger,
  type Startable,
  TypedEventEmitter,
  type TypedEventTarget
} from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * `public`: an address of ours is dialable from the swarm (AutoNAT verified it, it was
 * configured as announced, or, in a private swarm or the `local` profile, it is one of our
 * own listen addresses); `private`: none is, and none of our own interface addresses is a
 * public one (we sit behind a NAT: only a mapping AutoNAT verifies would make us reachable);
 * `unknown`: a public address of ours waits for AutoNAT's verdict, or the node is offline.
 */
export type Reachability = 'public' | 'private' | 'unknown'

/** An address as libp2p's address manager describes it (`getAddressesWithMetadata`). */
export interface AddressMetadata {
  multiaddr: Multiaddr
  /** AutoNAT (or configuration) has confirmed that peers can dial it */
  verified: boolean
  /** where it comes from: a listener, an observation by a peer, a mapping or the config */
  type: 'transport' | 'observed' | 'ip-mapping' | 'dns-mapping' | 'announce'
}

const isRelayed = (ma: Multiaddr): boolean => ma.getComponents().some((c) => c.name === 'p2p-circuit')

/**
 * The reachability that `addrs` (our addresses with libp2p's verification state) show.
 * `privateDialable`: private and loopback addresses count as dialable (a private swarm, or the
 * `local` profile, where every peer is on the same network or machine).
 */
export function reachabilityOf(addrs: readonly AddressMetadata[], privateDialable: boolean): Reachability {
  const direct = addrs.filter((a) => !isRelayed(a.multiaddr))
  if (direct.some((a) => a.verified && (privateDialable || !isPrivate(a.multiaddr)))) return 'public'
  // a public address on one of our own interfaces, not yet verified: AutoNAT will tell
  const pending = direct.some((a) => a.type === 'transport' && !a.verified && !isPrivate(a.multiaddr))
  return pending ? 'unknown' : 'private'
}

/** The libp2p components the {@link ReachabilityService} reads. */
export interface ReachabilityComponents {
  addressManager: { getAddressesWithMetadata(): AddressMetadata[] }
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface ReachabilityServiceInit {
  /** private addresses count as dialable (see {@link reachabilityOf}) @default false */
  privateDialable?: boolean
}

/**
 * A libp2p service that follows the node's reachability: on every `self:peer:update` (libp2p
 * emits it when AutoNAT changes its confidence in an address) it reads the address manager
 * again, and emits `change` when the reachability changed.
 */
export class ReachabilityService
  extends TypedEventEmitter<{ change: CustomEvent<Reachability> }>
  implements Startable
{
  readonly #components: ReachabilityComponents
  readonly #privateDialable: boolean
  readonly #log: Logger
  #current: Reachability = 'unknown'
  #started = false
  readonly #onUpdate = (): void => {
    this.update()
  }

  constructor(components: ReachabilityComponents, init: ReachabilityServiceInit = {}) {
    super()
    this.#components = components
    this.#privateDialable = init.privateDialable ?? false
    this.#log = components.logger.forComponent('kit:peer:reachability')
  }

  readonly [Symbol.toStringTag] = 'kit:reachability'

  /** The reachability last seen ('unknown' while stopped). */
  get reachability(): Reachability {
    return this.#current
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#components.events.addEventListener('self:peer:update', this.#onUpdate)
    this.#components.events.addEventListener('transport:listening', this.#onUpdate)
    this.#components.events.addEventListener('transport:close', this.#onUpdate)
  }

  /** Once every transport listens: a first reading. */
  afterStart(): void {
    this.update()
  }

  stop(): void {
    this.#components.events.removeEventListener('self:peer:update', this.#onUpdate)
    this.#components.events.removeEventListener('transport:listening', this.#onUpdate)
    this.#components.events.removeEventListener('transport:close', this.#onUpdate)
    this.#started = false
    this.#current = 'unknown'
  }

  /** Read the addresses again; emits `change` if the reachability changed. */
  update(): Reachability {
    if (!this.#started) return this.#current
    const next = reachabilityOf(
      this.#components.addressManager.getAddressesWithMetadata(),
      this.#privateDialable
    )
    if (next !== this.#current) {
      this.#log('reachability %s -> %s', this.#current, next)
      this.#current = next
      this.safeDispatchEvent('change', { detail: next })
    }
    return next
  }
}

/** The reachability service, as libp2p's `services` take it. */
export function reachabilityService(
  init: ReachabilityServiceInit = {}
): (components: ReachabilityComponents) => ReachabilityService {
  return (components) => new ReachabilityService(components, init)
}

/**
 * Keep the DHT's mode on what the reachability calls for (Kubo's `autoclient`): server while
 * `public`, client otherwise. Resolves once the first mode is set, with the function that stops
 * following.
 */
export async function dhtModeFollowsReachability(
  services: { dht: Pick<KadDHT, 'getMode' | 'setMode'>; reachability: ReachabilityService },
  log: Logger
): Promise<() => void> {
  const { dht, reachability } = services
  const apply = async (): Promise<void> => {
    const mode = reachability.reachability === 'public' ? 'server' : 'client'
    if (dht.getMode() === mode) return
    log('DHT mode %s (reachability %s)', mode, reachability.reachability)
    await dht.setMode(mode).catch((err: Error) => {
      log.error('cannot switch the DHT to %s mode: %s', mode, err.message)
    })
  }
  const onChange = (): void => {
    void apply()
  }
  reachability.addEventListener('change', onChange)
  await apply()
  return () => {
    reachability.removeEventListener('change', onChange)
  }
}
