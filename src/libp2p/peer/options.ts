import { quic } from '@chainsafe/libp2p-quic'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { isLoopback } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { Libp2pOptions } from 'libp2p'
import type { Profile, RelayServiceLimits, Role } from '../../constants.ts'
import {
  AGENT_NAME,
  DEFAULT_DIAL_TIMEOUT_MS,
  PING_MAX_OUTBOUND_STREAMS,
  RELAY_MAX_DATA_LIMIT_BYTES,
  RELAY_MAX_DURATION_LIMIT_MS,
  ROLES
} from '../../constants.ts'
import { announceFilter } from './announce.ts'
import type { BandwidthMetrics } from './bandwidth.ts'
import { loopbackNameResolvers, refusingDns } from './loopback.ts'
import { reachabilityService } from './reachability.ts'
import type { PeerServices } from './types.ts'

/** Everything the libp2p options depend on, resolved (no defaults left to apply). */
export interface ResolvedPeerOptions {
  role: Role
  profile: Profile
  /** what the transports listen on (with `/p2p-circuit` when the relay client takes reservations) */
  listenAddrs: string[]
  /** announced instead of what we listen on (`Addresses.Announce`) */
  announceAddrs: string[]
  /** announced besides what we listen on (`Addresses.AppendAnnounce`) */
  appendAnnounceAddrs: string[]
  /** never announced: multiaddrs and ipcidr ranges (`Addresses.NoAnnounce`) */
  noAnnounceAddrs: string[]
  /** the circuit relay v2 transport: dial and listen through relays (`Swarm.RelayClient.Enabled`) */
  relayClient: boolean
  /** the circuit relay v2 server (`Swarm.RelayService.Enabled`) */
  relayService: boolean
  /** what the relay server grants (`Swarm.RelayService.*`; RELAY_SERVICE_LIMITS[role] for what is not given) */
  relayServiceLimits: RelayServiceLimits
  /** DCUtR: upgrade relayed connections to direct ones (`Swarm.EnableHolePunching`) */
  holePunching: boolean
  /** UPnP port mapping on the gateway (`!Swarm.DisableNatPortMap`); never in `local` */
  upnp: boolean
  /** AutoNAT v2, client and server (`AutoNAT.ServiceMode`) */
  autoNat: boolean
  bootstrapPeers: string[]
  mdns: boolean
  dhtProtocolPrefix: string
  maxConnections: number
  privateKey?: PrivateKey | undefined
  datastore?: Datastore | undefined
  /** only loopback addresses may be dialled (the `local` profile) */
  loopbackOnly: boolean
  /** HTTP delegated routers discovery asks for providers (checked: http(s), loopback on `local`) */
  delegatedRouters: string[]
  denyPeers: Set<string>
  version: string
}

/**
 * A connection gater: in the `local` profile nothing but 127.0.0.0/8 and ::1 is ever
 * dialled, so no packet leaves the machine (DNS names are refused earlier, before any query:
 * see `loopback.ts`); and peers on the deny list, or refused for a while by `isBanned` (the
 * bitswap guard's bans), are refused both ways.
 */
export function kitConnectionGater(
  opts: Pick<ResolvedPeerOptions, 'loopbackOnly' | 'denyPeers'>,
  isBanned: (peer: string) => boolean = () => false
): ConnectionGater {
  const denied = (id: { toString(): string }): boolean => {
    const key = id.toString()
    return opts.denyPeers.has(key) || isBanned(key)
  }
  return {
    denyDialPeer: (peerId) => denied(peerId),
    denyDialMultiaddr: (ma: Multiaddr) => opts.loopbackOnly && !isLoopback(ma),
    denyInboundEncryptedConnection: (peerId) => denied(peerId),
    denyOutboundEncryptedConnection: (peerId) => denied(peerId)
  }
}

/**
 * The libp2p configuration of an ipfs-kit peer: standard protocols on standard ids only.
 * `isBanned` refuses peers for a while (see {@link kitConnectionGater}); `metrics` is libp2p's
 * metrics component (the peer's bandwidth counter).
 */
export function libp2pOptions(
  opts: ResolvedPeerOptions,
  isBanned?: (peer: string) => boolean,
  metrics?: BandwidthMetrics
): Libp2pOptions<PeerServices> {
  const settings = ROLES[opts.role]
  // a private swarm or one machine: private and loopback addresses are dialable, announced and kept
  const keepPrivateAddrs = privateAddrsDialable(opts)
  const offMachine = opts.profile !== 'local'
  const peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']> = []
  if (opts.bootstrapPeers.length > 0) peerDiscovery.push(bootstrap({ list: opts.bootstrapPeers }))
  if (opts.mdns) peerDiscovery.push(mdns())
  return {
    privateKey: opts.privateKey,
    datastore: opts.datastore,
    addresses: {
      listen: opts.listenAddrs,
      announce: opts.announceAddrs,
      appendAnnounce: opts.appendAnnounceAddrs,
      announceFilter: announceFilter({
        noAnnounce: opts.noAnnounceAddrs,
        configured: [...opts.announceAddrs, ...opts.appendAnnounceAddrs],
        dropPrivate: !keepPrivateAddrs
      })
    },
    transports: [tcp(), webSockets(), quic(), ...(opts.relayClient ? [circuitRelayTransport()] : [])],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: kitConnectionGater(opts, isBanned),
    connectionManager: {
      maxConnections: opts.maxConnections,
      dialTimeout: DEFAULT_DIAL_TIMEOUT_MS,
      // loopback only: `localhost` is 127.0.0.1 by rule, every other name is refused unresolved
      ...(opts.loopbackOnly ? { resolvers: loopbackNameResolvers() } : {})
    },
    ...(opts.loopbackOnly ? { dns: refusingDns() } : {}),
    peerDiscovery,
    ...(metrics == null ? {} : { metrics: (components) => metrics.component(components) }),
    nodeInfo: {
      name: AGENT_NAME,
      version: opts.version,
      userAgent: `${AGENT_NAME}/${opts.version}`
    },
    services: {
      identify: identify(),
      ping: ping({ maxOutboundStreams: PING_MAX_OUTBOUND_STREAMS }),
      dht: kadDHT({
        protocol: `${opts.dhtProtocolPrefix}/kad/1.0.0`,
        // a role that may serve starts as a client on the public network, and serves once its
        // reachability is `public` (see reachability.ts); the mode is ours to set, never libp2p's
        clientMode: settings.dhtMode === 'client' || !keepPrivateAddrs,
        peerInfoMapper: keepPrivateAddrs ? passthroughMapper : removePrivateAddressesMapper,
        // a small swarm on one machine must still be able to start queries
        allowQueryWithZeroPeers: opts.profile === 'local'
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        // a subscriber on the publishing node gets the message too, as in Kubo
        emitSelf: true
      }),
      reachability: reachabilityService({ privateDialable: keepPrivateAddrs }),
      // AutoNAT v2 only: v1's server answers a dial-back request on the connection it already
      // has to the asking peer, then closes it (@libp2p/autonat 3.0.28), which drops a relay
      // reservation or a transfer on that connection
      ...(opts.autoNat ? { autoNAT: autoNATv2() } : {}),
      ...(opts.relayService
        ? { relay: circuitRelayServer({ reservations: relayReservations(opts.relayServiceLimits) }) }
        : {}),
      ...(opts.holePunching ? { dcutr: dcutr() } : {}),
      // UPnP asks the gateway on the LAN by multicast: never in the `local` profile
      ...(opts.upnp && offMachine ? { upnp: uPnPNAT() } : {})
    }
  }
}

/**
 * Whether private and loopback addresses count as dialable: in a private swarm (a DHT prefix
 * other than `/ipfs`) and in the `local` profile, every peer is on our network or machine.
 */
export function privateAddrsDialable(
  opts: Pick<ResolvedPeerOptions, 'profile' | 'dhtProtocolPrefix'>
): boolean {
  return opts.profile === 'local' || opts.dhtProtocolPrefix !== '/ipfs'
}

/**
 * The circuit relay v2 server's reservation options. A limit of 0 is no limit: with both 0 the
 * relay applies none (its HOP and STOP messages carry no limit, so the relayed connection is not
 * `limited`); with one 0, libp2p's server still wants both, so that one gets the largest value
 * it can enforce ({@link RELAY_MAX_DURATION_LIMIT_MS}, {@link RELAY_MAX_DATA_LIMIT_BYTES}).
 */
export function relayReservations(
  limits: RelayServiceLimits
): NonNullable<Parameters<typeof circuitRelayServer>[0]>['reservations'] {
  const base = { maxReservations: limits.maxReservations, reservationTtl: limits.reservationTtlMs }
  if (limits.durationLimitMs === 0 && limits.dataLimitBytes === 0) {
    return { ...base, applyDefaultLimit: false }
  }
  return {
    ...base,
    defaultDurationLimit: limits.durationLimitMs === 0 ? RELAY_MAX_DURATION_LIMIT_MS : limits.durationLimitMs,
    defaultDataLimit: limits.dataLimitBytes === 0 ? RELAY_MAX_DATA_LIMIT_BYTES : BigInt(limits.dataLimitBytes)
  }
}
