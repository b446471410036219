import type { Helia } from '@helia/interface'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import {
  type AbortOptions,
  type ComponentLogger,
  isPeerId,
  type Libp2p,
  type Logger,
  type PeerId,
  type PrivateKey,
  type Stream,
  type StreamHandler,
  type StreamHandlerOptions
} from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Profile, RelayServiceLimits, Role } from '../../constants.ts'
import {
  BITSWAP_MAX_MESSAGE_BYTES,
  DEFAULT_DELEGATED_ROUTERS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_LISTEN_ADDRS,
  DEFAULT_RELAY_SERVICE,
  DEFAULT_ROLE,
  PUBLIC_BOOTSTRAP_PEERS,
  PUBLIC_DHT_PREFIX,
  RELAY_DISCOVERY_LISTEN_ADDR,
  RELAY_MAX_DURATION_LIMIT_MS,
  RELAY_SERVICE_LIMITS,
  ROLES
} from '../../constants.ts'
import {
  DialError,
  InvalidMultiaddrError,
  InvalidParametersError,
  LoopbackOnlyError,
  NotStartedError,
  OfflineError
} from '../../errors.ts'
import { kitLogger } from '../../logger.ts'
import { VERSION } from '../../version.ts'
import { delegatedRouterUrlProblem } from '../discovery/delegated-url.ts'
import type { ReputationTracker } from '../discovery/reputation.ts'
import { bitswapOf } from '../routing/bitswap-access.ts'
import { BlockStreamServer } from '../routing/block-stream.ts'
import { BandwidthMetrics } from './bandwidth.ts'
import { BitswapGuard, type BitswapGuardInit } from './bitswap-guard.ts'
import { BitswapStats } from './bitswap-stats.ts'
import { enforceConnectionLimit } from './connection-limit.ts'
import { createHeliaCore } from './helia-core.ts'
import { assertLoopbackOnly } from './loopback.ts'
import { parseMultiaddr, parseNoAnnounce } from './multiaddr.ts'
import type { ResolvedPeerOptions } from './options.ts'
import { Publisher } from './publish.ts'
import type { Reachability } from './reachability.ts'
import { PeerReputationStore, type PeerReputationStoreInit } from './reputation-store.ts'
import type { PeerServices } from './types.ts'

export type {
  BitswapGuardInit,
  BitswapGuardStats,
  BitswapViolation,
  BitswapViolationEvent
} from './bitswap-guard.ts'
export { parseMultiaddr } from './multiaddr.ts'
export type { Reachability } from './reachability.ts'
export type { PeerServices } from './types.ts'

/** Options of {@link IPFSLibp2pPeer}. Every option is optional. */
export interface IPFSLibp2pPeerInit {
  /** @default DEFAULT_ROLE ('leecher') */
  role?: Role
  /**
   * `public` listens on all interfaces, bootstraps from the public IPFS peers and runs mDNS;
   * `local` listens on 127.0.0.1 only, has no bootstrap peers and no mDNS, and never dials
   * anything but loopback.
   * @default 'local' for a peer made by hand; the repo's profile for a kit's peer
   */
  profile?: Profile
  /** @default DEFAULT_LISTEN_ADDRS[profile] */
  listenAddrs?: string[]
  /** addresses to announce instead of the listen addresses (`Addresses.Announce`) @default [] */
  announceAddrs?: string[]
  /** addresses to announce besides the listen addresses (`Addresses.AppendAnnounce`) @default [] */
  appendAnnounceAddrs?: string[]
  /**
   * addresses never announced (`Addresses.NoAnnounce`): multiaddrs, and `/ip4/<ip>/ipcidr/<bits>`
   * ranges. In the `public` profile on the `/ipfs` DHT, private and loopback addresses are not
   * announced either, unless listed in `announceAddrs` or `appendAnnounceAddrs`. @default []
   */
  noAnnounceAddrs?: string[]
  /**
   * circuit relay v2 client: dial peers through relays, and (in the `public` profile) listen on
   * `/p2p-circuit`, so a reservation is taken on a relay found among our peers
   * (`Swarm.RelayClient.Enabled`) @default true
   */
  relayClient?: boolean
  /**
   * circuit relay v2 server, with RELAY_SERVICE_LIMITS[role] (`Swarm.RelayService.Enabled`)
   * @default DEFAULT_RELAY_SERVICE[role] (masters only)
   */
  relayService?: boolean
  /**
   * what the relay server grants, field by field (`Swarm.RelayService.ConnectionDataLimit`,
   * `ConnectionDurationLimit`, `MaxReservations`); a data or duration limit of 0 is no limit
   * @default RELAY_SERVICE_LIMITS[role]
   */
  relayServiceLimits?: Partial<RelayServiceLimits>
  /** DCUtR: upgrade relayed connections to direct ones (`Swarm.EnableHolePunching`) @default true */
  holePunching?: boolean
  /** UPnP port mapping (`Swarm.DisableNatPortMap: false`); never in the `local` profile @default false */
  upnp?: boolean
  /** AutoNAT v2, client and server (`AutoNAT.ServiceMode`) @default true */
  autoNat?: boolean
  /** multiaddrs with `/p2p/<id>` dialled on start @default PUBLIC_BOOTSTRAP_PEERS for `public`, none for `local` */
  bootstrapPeers?: string[]
  /** @default true for `public`, false for `local` */
  mdns?: boolean
  /** kad-dht protocol prefix; `/ipfs` is the public Amino DHT @default PUBLIC_DHT_PREFIX */
  dhtProtocolPrefix?: string
  /** @default ROLES[role].maxConnections */
  maxConnections?: number
  /** peer identity @default a new Ed25519 key */
  privateKey?: PrivateKey
  /** where blocks live @default a MemoryBlockstore */
  blockstore?: Blockstore
  /**
   * where the peer store, pins, DHT records and provider reputation live; reputation is
   * persisted only in a datastore given here (or by {@link IPFSLibp2pPeer.persistReputationIn})
   * @default a MemoryDatastore
   */
  datastore?: Datastore
  /** how provider reputation is scored, bounded and persisted (see {@link PeerReputationStore}) */
  reputation?: PeerReputationStoreInit
  /** no network at all: blocks come only from the local blockstore @default false */
  offline?: boolean
  /** peer ids never connected to, either way @default [] */
  denyPeers?: string[]
  /**
   * HTTP delegated routers (IPFS HTTP Routing v1, http or https base URLs) that discovery asks
   * for providers next to the DHT; on the `local` profile only loopback URLs are allowed
   * @default DEFAULT_DELEGATED_ROUTERS[profile] (the public router for `public`, none for `local`)
   */
  delegatedRouters?: string[]
  /** limits of what one peer may ask of our bitswap server (see {@link BitswapGuard}) */
  bitswapGuard?: BitswapGuardInit
  logger?: ComponentLogger
}

/** A multiaddr or a peer id (string or object) to dial. */
export type DialTarget = string | Multiaddr | PeerId

/** Result of a rendezvous discovery round: the peers found under the name. */
export interface DiscoveryResult {
  rendezvous: string
  peers: PeerId[]
}

/**
 * The delegated routers of a peer: `urls`, or the profile's default; each must be an http(s)
 * URL ({@link InvalidParametersError}), on the `local` profile a loopback one
 * ({@link LoopbackOnlyError}).
 */
function delegatedRouters(urls: readonly string[] | undefined, profile: Profile): string[] {
  const list = [...(urls ?? DEFAULT_DELEGATED_ROUTERS[profile])]
  for (const url of list) {
    const loopbackOnly = profile === 'local'
    const problem = delegatedRouterUrlProblem(url, { loopbackOnly })
    if (problem == null) continue
    if (loopbackOnly && delegatedRouterUrlProblem(url, { loopbackOnly: false }) == null) {
      throw new LoopbackOnlyError(`delegated router ${problem} (profile "local" never leaves the machine)`)
    }
    throw new InvalidParametersError(`delegated router ${problem}`)
  }
  return list
}

/**
 * The relay server's limits: RELAY_SERVICE_LIMITS[role] with what `given` sets.
 * @throws {InvalidParametersError} for a value that is not a whole number in range
 */
function relayServiceLimits(role: Role, given: Partial<RelayServiceLimits> = {}): RelayServiceLimits {
  const limits = { ...RELAY_SERVICE_LIMITS[role] }
  for (const [key, value] of Object.entries(given) as Array<[keyof RelayServiceLimits, unknown]>) {
    if (value == null) continue
    const max = key === 'dataLimitBytes' ? Number.MAX_SAFE_INTEGER : RELAY_MAX_DURATION_LIMIT_MS
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
      throw new InvalidParametersError(
        `relayServiceLimits.${key} must be a whole number from 0 to ${max}, not ${String(value)}`
      )
    }
    limits[key] = value
  }
  return limits
}

function bootstrapAddr(addr: string): string {
  const ma = parseMultiaddr(addr)
  if (ma.getComponents().find((c) => c.name === 'p2p') == null) {
    throw new InvalidMultiaddrError(`bootstrap address "${addr}" must end with /p2p/<peer id>`)
  }
  return addr
}

/**
 * The libp2p node of ipfs-kit: TCP and WebSockets, Noise, Yamux, identify, ping,
 * kad-dht, gossipsub, mDNS and bootstrap, with Helia's bitswap on top, so it trades
 * blocks with any Helia or Kubo node. Usable alone (the seed's Advanced Usage) or as
 * the network half of an {@link IPFSKit}.
 *
 * @example
 * ```ts
 * const peer = new IPFSLibp2pPeer({ role: 'worker', profile: 'local' })
 * await peer.start()
 * console.log(peer.peerId.toString(), peer.getMultiaddrs())
 * await peer.stop()
 * ```
 */
export class IPFSLibp2pPeer {
  readonly role: Role
  readonly profile: Profile
  readonly offline: boolean
  readonly #opts: ResolvedPeerOptions
  readonly #blockstore: Blockstore
  readonly #datastore: Datastore
  readonly #logger: ComponentLogger
  readonly #log: Logger
  readonly #privateKey: PrivateKey
  #helia?: Helia
  #starting?: Promise<void>
  #bootstrapping?: Promise<void>
  /** why each bootstrap peer that could not be reached was not reached (after start) */
  readonly bootstrapErrors: DialError[] = []
  /**
   * Protects our bitswap server: peers that flood it or send oversized or malformed
   * messages are disconnected and refused for a while; its `violation` events feed
   * reputation.
   */
  readonly bitswapGuard: BitswapGuard
  #stopConnectionLimit?: () => void
  #stopDhtMode?: () => void
  /** serves `/ipfs-kit/blocks/1.0.0` to other ipfs-kit peers (online only) */
  #blockServer?: BlockStreamServer
  #stopController = new AbortController()
  readonly #reputation: PeerReputationStore
  readonly #publisher = new Publisher(() => this.host.services.pubsub)
  /** bytes on libp2p's wire, in all and per peer and protocol (`stats bw`) */
  readonly bandwidth = new BandwidthMetrics()
  /** blocks and bytes exchanged over bitswap and the block stream (`bitswap stat`) */
  readonly bitswapStats = new BitswapStats()

  constructor(init: IPFSLibp2pPeerInit = {}) {
    this.role = init.role ?? DEFAULT_ROLE
    if (!(this.role in ROLES)) {
      throw new InvalidParametersError(`role must be master, worker or leecher, not "${String(this.role)}"`)
    }
    this.profile = init.profile ?? 'local'
    this.offline = init.offline === true
    this.#logger = init.logger ?? kitLogger()
    this.#log = this.#logger.forComponent('kit:peer')
    this.#blockstore = init.blockstore ?? new MemoryBlockstore()
    this.#datastore = init.datastore ?? new MemoryDatastore()
    this.#privateKey = init.privateKey ?? generatedKeyPlaceholder
    this.bitswapGuard = new BitswapGuard(init.bitswapGuard)
    this.#reputation = new PeerReputationStore(init.datastore, this.#log, init.reputation)
    // a peer that broke bitswap's rules on our server: one failure, recorded here once (every
    // discovery on this peer also stops relying on it, see `EnhancedDHTDiscovery.distrust`)
    this.bitswapGuard.addEventListener('violation', (evt) => {
      this.reputation.recordFailure(evt.detail.peer)
    })
    const listenAddrs = [...(init.listenAddrs ?? DEFAULT_LISTEN_ADDRS[this.profile])]
    for (const a of listenAddrs) parseMultiaddr(a)
    const relayClient = init.relayClient ?? true
    // public: take a relay reservation from the start, so a peer behind NAT is reachable through
    // a relay before AutoNAT has decided anything (local: only if the listen addresses ask)
    if (relayClient && this.profile === 'public' && !listenAddrs.includes(RELAY_DISCOVERY_LISTEN_ADDR)) {
      listenAddrs.push(RELAY_DISCOVERY_LISTEN_ADDR)
    }
    const addrList = (addrs: string[] | undefined): string[] =>
      (addrs ?? []).map((a) => parseMultiaddr(a).toString())
    const bootstrapPeers = (
      init.bootstrapPeers ?? (this.profile === 'public' ? [...PUBLIC_BOOTSTRAP_PEERS] : [])
    ).map(bootstrapAddr)
    this.#opts = {
      role: this.role,
      profile: this.profile,
      listenAddrs,
      announceAddrs: addrList(init.announceAddrs),
      appendAnnounceAddrs: addrList(init.appendAnnounceAddrs),
      noAnnounceAddrs: (init.noAnnounceAddrs ?? []).map((a) => parseMultiaddr(a).toString()),
      relayClient,
      relayService: init.relayService ?? DEFAULT_RELAY_SERVICE[this.role],
      relayServiceLimits: relayServiceLimits(this.role, init.relayServiceLimits),
      holePunching: init.holePunching ?? true,
      upnp: init.upnp ?? false,
      autoNat: init.autoNat ?? true,
      bootstrapPeers,
      mdns: init.mdns ?? this.profile === 'public',
      dhtProtocolPrefix: init.dhtProtocolPrefix ?? PUBLIC_DHT_PREFIX,
      maxConnections: init.maxConnections ?? ROLES[this.role].maxConnections,
      datastore: this.#datastore,
      loopbackOnly: this.profile === 'local',
      delegatedRouters: delegatedRouters(init.delegatedRouters, this.profile),
      denyPeers: new Set(init.denyPeers ?? []),
      version: VERSION
    }
    // ranges are checked here, so a bad one is refused before start
    parseNoAnnounce(this.#opts.noAnnounceAddrs)
  }

  /** True once `start()` has finished and until `stop()`. */
  get isStarted(): boolean {
    return this.#helia?.status === 'started'
  }

  /** The Helia node: blockstore, pins, routing and bitswap. */
  get helia(): Helia {
    if (this.#helia == null)
      throw new NotStartedError('the peer is not started: call `await peer.start()` first')
    return this.#helia
  }

  /** The libp2p node (the seed's `peer.host`). */
  get host(): Libp2p<PeerServices> {
    if (this.offline) throw new OfflineError('the peer is offline: it has no libp2p host')
    const helia = this.helia as Helia & { libp2p: Libp2p<PeerServices> }
    return helia.libp2p
  }

  /** Our peer id. */
  get peerId(): PeerId {
    if (this.#privateKey === generatedKeyPlaceholder) {
      if (this.#helia == null || this.offline) throw new NotStartedError('the peer id is chosen on start()')
      return this.host.peerId
    }
    return peerIdFromPrivateKey(this.#privateKey)
  }

  /**
   * Whether peers can dial us, as AutoNAT has verified our addresses (see {@link Reachability}):
   * 'unknown' while stopped or offline.
   */
  get reachability(): Reachability {
    if (this.offline || !this.isStarted) return 'unknown'
    return this.host.services.reachability.reachability
  }

  /** A signal that aborts when the peer stops. */
  get stopSignal(): AbortSignal {
    return this.#stopController.signal
  }

  /** Resolved settings (role, profile, addresses, DHT prefix). */
  get settings(): Readonly<ResolvedPeerOptions> {
    return this.#opts
  }

  get logger(): ComponentLogger {
    return this.#logger
  }

  /** Start the node; a second call waits for the first. */
  async start(): Promise<void> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  async #start(): Promise<void> {
    if (this.#stopController.signal.aborted) this.#stopController = new AbortController()
    let followDhtMode: typeof import('./reachability.ts').dhtModeFollowsReachability | undefined
    const helia = await createHeliaCore({
      blockstore: this.#blockstore,
      datastore: this.#datastore,
      logger: this.#logger,
      // pins, gc and bitswap sessions walk dag-cbor and dag-json DAGs too (`dag put`, `dag import`)
      codecs: [dagCbor, dagJson]
    })
    if (!this.offline) {
      // the network stack is loaded only here: an offline peer (every one-shot CLI command
      // but the network ones) never loads libp2p, its transports, the DHT or gossipsub
      const [{ withBitswap }, { withLibp2pLight }, { libp2pOptions }, { dhtModeFollowsReachability }] =
        await Promise.all([
          import('@helia/bitswap'),
          import('@helia/libp2p'),
          import('./options.ts'),
          import('./reachability.ts')
        ])
      followDhtMode = dhtModeFollowsReachability
      const opts = libp2pOptions(
        {
          ...this.#opts,
          privateKey: this.#privateKey === generatedKeyPlaceholder ? undefined : this.#privateKey
        },
        (peer) => this.bitswapGuard.isBanned(peer),
        this.bandwidth
      )
      withBitswap(withLibp2pLight(helia, opts), {
        maxInboundStreams: this.bitswapGuard.maxInboundStreams,
        maxIncomingMessageSize: BITSWAP_MAX_MESSAGE_BYTES,
        maxOutgoingMessageSize: BITSWAP_MAX_MESSAGE_BYTES
      })
    }
    try {
      await helia.start()
      if (!this.offline) {
        await this.#guardBitswap(helia)
        const libp2p = (helia as Helia & { libp2p: Libp2p<PeerServices> }).libp2p
        this.#stopConnectionLimit = enforceConnectionLimit(
          libp2p,
          this.#opts.maxConnections,
          this.#logger.forComponent('kit:peer:connection-limit')
        )
        // a role that may serve the DHT serves it while reachable (Kubo's autoclient)
        if (ROLES[this.role].dhtMode === 'server' && followDhtMode != null) {
          this.#stopDhtMode = await followDhtMode(
            libp2p.services,
            this.#logger.forComponent('kit:peer:dht-mode')
          )
        }
      }
    } catch (err) {
      this.#starting = undefined
      this.bitswapGuard.uninstall()
      this.#stopConnectionLimit?.()
      this.#stopConnectionLimit = undefined
      this.#stopDhtMode?.()
      this.#stopDhtMode = undefined
      await helia.stop().catch(() => {})
      throw wrapStartError(err)
    }
    this.#helia = helia
    await this.#reputation.start()
    if (!this.offline) {
      // blocks for other ipfs-kit peers on our own protocol (bitswap serves everyone else)
      this.#blockServer = new BlockStreamServer(
        { libp2p: this.host, blockstore: helia.blockstore, logger: this.#logger },
        { allow: (peer) => !this.bitswapGuard.isBanned(peer) }
      )
      await this.#blockServer.start()
      const blockServer = this.#blockServer
      this.bitswapStats.install(bitswapOf(helia).bitswap, () => blockServer.getStats())
      for (const topic of ROLES[this.role].topics) this.host.services.pubsub.subscribe(topic)
      this.#log('started %p on %a', this.host.peerId, this.host.getMultiaddrs())
      this.#bootstrapping = this.#dialBootstrapPeers()
    }
  }

  /** Put the bitswap guard in front of Helia's bitswap server. */
  async #guardBitswap(helia: Helia): Promise<void> {
    const network = bitswapOf(helia).bitswap.network
    if (network == null) throw new NotStartedError('Helia started without a bitswap network')
    const libp2p = (helia as Helia & { libp2p: Libp2p<PeerServices> }).libp2p
    await this.bitswapGuard.install(libp2p, network, this.#logger.forComponent('kit:peer:bitswap-guard'))
  }

  /**
   * Dial every bootstrap peer at once; settles when the first is connected or all have
   * failed (each failure is kept in {@link bootstrapErrors}). libp2p's bootstrap module
   * keeps trying later.
   */
  async #dialBootstrapPeers(): Promise<void> {
    const addrs = this.#opts.bootstrapPeers
    this.bootstrapErrors.length = 0
    if (addrs.length === 0) return
    await Promise.any(
      addrs.map(async (addr) => {
        try {
          await this.connect(addr)
        } catch (err) {
          this.bootstrapErrors.push(err as DialError)
          this.#log('bootstrap peer %s unreachable: %s', addr, (err as Error).message)
          throw err
        }
      })
    ).catch(() => {})
  }

  /**
   * Wait until the node has reached one of its bootstrap peers (or tried them all): a
   * lookup made before that would find nobody to ask.
   */
  async waitForBootstrap(options: AbortOptions = {}): Promise<void> {
    const pending = this.#bootstrapping
    if (pending == null) return
    if (options.signal == null) return pending
    await Promise.race([
      pending,
      new Promise<void>((resolve) =>
        options.signal?.addEventListener('abort', () => resolve(), { once: true })
      )
    ])
  }

  /**
   * How every provider behaved, one store per peer: every discovery on this peer reads and
   * writes it, so what one learns the others use, and none erases the other's saved records.
   * Persisted in the peer's datastore, if it was given one.
   */
  get reputation(): ReputationTracker {
    return this.#reputation.tracker
  }

  /** Write the reputation records that changed (also done periodically and on stop). */
  async saveReputation(options: AbortOptions = {}): Promise<void> {
    await this.#reputation.save(options)
  }

  /**
   * Persist reputation in `datastore` (e.g. the repo of the kit this peer is registered with)
   * if the peer was made without a datastore of its own. Returns false (and does nothing) if
   * the peer already persists elsewhere.
   */
  async persistReputationIn(datastore: Datastore, options: AbortOptions = {}): Promise<boolean> {
    return this.#reputation.persistIn(datastore, options)
  }

  /**
   * Publish on gossipsub, first waiting briefly for streams to peers that just subscribed
   * (gossipsub would drop the message for them).
   */
  async publish(topic: string, data: Uint8Array, options: AbortOptions = {}): Promise<void> {
    await this.#publisher.publish(topic, data, options)
  }

  /** Stop the node, close every connection and clear every timer. Safe to call twice. */
  async stop(): Promise<void> {
    const starting = this.#starting
    if (starting == null) return
    await starting.catch(() => {})
    await this.#reputation.stop()
    this.#stopController.abort()
    this.bitswapGuard.uninstall()
    this.bitswapStats.uninstall()
    this.#stopConnectionLimit?.()
    this.#stopConnectionLimit = undefined
    this.#stopDhtMode?.()
    this.#stopDhtMode = undefined
    await this.#blockServer?.stop()
    this.#blockServer = undefined
    const helia = this.#helia
    this.#helia = undefined
    this.#starting = undefined
    await helia?.stop()
  }

  /** Addresses we listen on, with `/p2p/<our id>`. */
  getMultiaddrs(): Multiaddr[] {
    if (this.offline) return []
    return this.host.getMultiaddrs()
  }

  /**
   * What a dial may target: a multiaddr or a peer id; on the `local` profile, a multiaddr off
   * the machine is refused here with a {@link LoopbackOnlyError}, before any DNS query.
   */
  #dialTarget(target: DialTarget): Multiaddr | PeerId {
    const t = toDialTarget(target)
    if (this.#opts.loopbackOnly && !isPeerId(t)) assertLoopbackOnly(t)
    return t
  }

  /** Dial a peer (multiaddr with `/p2p/`, or a known peer id). */
  async connect(target: DialTarget, options: AbortOptions = {}): Promise<PeerId> {
    const signal = AbortSignal.any([
      options.signal ?? AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT_MS),
      this.#stopController.signal
    ])
    const t = this.#dialTarget(target)
    try {
      const connection = await this.host.dial(t, { signal })
      return connection.remotePeer
    } catch (err) {
      throw new DialError(`cannot connect to ${target.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Register a handler for a private protocol (use an `/ipfs-kit/...` id). */
  async handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void> {
    await this.host.handle(protocol, handler, options)
  }

  /** Remove a protocol handler. */
  async unhandle(protocol: string): Promise<void> {
    await this.host.unhandle(protocol)
  }

  /** Open a stream to a peer on a protocol. */
  async dialProtocol(
    target: DialTarget,
    protocol: string | string[],
    options: AbortOptions = {}
  ): Promise<Stream> {
    const signal = AbortSignal.any([
      options.signal ?? AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT_MS),
      this.#stopController.signal
    ])
    const t = this.#dialTarget(target)
    try {
      return await this.host.dialProtocol(t, protocol, { signal })
    } catch (err) {
      throw new DialError(
        `cannot open ${String(protocol)} to ${target.toString()}: ${(err as Error).message}`,
        {
          cause: err
        }
      )
    }
  }

  /**
   * Find peers that use the same rendezvous name, through the DHT: the name is hashed
   * into a CID that every participant provides, and the providers found are dialled.
   */
  async startDiscovery(
    init: { rendezvous: string; count?: number },
    options: AbortOptions = {}
  ): Promise<DiscoveryResult> {
    const cid = await rendezvousCid(init.rendezvous)
    const signal = AbortSignal.any([
      options.signal ?? AbortSignal.timeout(30_000),
      this.#stopController.signal
    ])
    await this.host.contentRouting.provide(cid, { signal }).catch((err: Error) => {
      this.#log('rendezvous provide failed: %s', err.message)
    })
    const peers: PeerId[] = []
    const self = this.host.peerId
    try {
      for await (const provider of this.host.contentRouting.findProviders(cid, { signal })) {
        if (provider.id.equals(self) || peers.some((p) => p.equals(provider.id))) continue
        peers.push(provider.id)
        await this.host.dial(provider.id, { signal }).catch(() => {})
        if (peers.length >= (init.count ?? 20)) break
      }
    } catch (err) {
      if (!signal.aborted) throw err
    }
    return { rendezvous: init.rendezvous, peers }
  }
}

/** Marker for "no key given": libp2p makes one on start. */
const generatedKeyPlaceholder = {} as PrivateKey

function toDialTarget(target: DialTarget): Multiaddr | PeerId {
  if (typeof target !== 'string') return target
  if (target.startsWith('/')) return parseMultiaddr(target)
  try {
    return peerIdFromString(target)
  } catch (err) {
    throw new InvalidMultiaddrError(`"${target}" is neither a multiaddr nor a peer id`, { cause: err })
  }
}

/** The CID every participant of a rendezvous provides. */
export async function rendezvousCid(name: string): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(`/ipfs-kit/rendezvous/${name}`))
  return CID.createV1(raw.code, digest)
}

function wrapStartError(err: unknown): Error {
  const e = err as NodeJS.ErrnoException
  if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(e.message ?? '')) {
    return new DialError(
      `cannot listen: an address is already in use (${e.message}); choose other listen addresses`,
      {
        cause: err
      }
    )
  }
  return e instanceof Error ? e : new Error(String(err))
}
