import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { isLoopback } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { Libp2pOptions } from 'libp2p'
import type { Profile, Role } from '../../constants.ts'
import { AGENT_NAME, DEFAULT_DIAL_TIMEOUT_MS, PING_MAX_OUTBOUND_STREAMS, ROLES } from '../../constants.ts'
import type { BandwidthMetrics } from './bandwidth.ts'
import { loopbackNameResolvers, refusingDns } from './loopback.ts'
import type { PeerServices } from './types.ts'

/** Everything the libp2p options depend on, resolved (no defaults left to apply). */
export interface ResolvedPeerOptions {
  role: Role
  profile: Profile
  listenAddrs: string[]
  announceAddrs: string[]
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
  const keepPrivateAddrs = opts.profile === 'local' || opts.dhtProtocolPrefix !== '/ipfs'
  const peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']> = []
  if (opts.bootstrapPeers.length > 0) peerDiscovery.push(bootstrap({ list: opts.bootstrapPeers }))
  if (opts.mdns) peerDiscovery.push(mdns())
  return {
    privateKey: opts.privateKey,
    datastore: opts.datastore,
    addresses: {
      listen: opts.listenAddrs,
      announce: opts.announceAddrs
    },
    transports: [tcp(), webSockets()],
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
        clientMode: settings.dhtMode === 'client',
        peerInfoMapper: keepPrivateAddrs ? passthroughMapper : removePrivateAddressesMapper,
        // a small swarm on one machine must still be able to start queries
        allowQueryWithZeroPeers: opts.profile === 'local'
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        // a subscriber on the publishing node gets the message too, as in Kubo
        emitSelf: true
      })
    }
  }
}
