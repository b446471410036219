import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { ReachabilityService } from './reachability.ts'

/**
 * The libp2p services every ipfs-kit peer runs. Besides these, and by its settings: `autoNAT`
 * (AutoNAT v2), `relay` (circuit relay v2 server), `dcutr` (hole
 * punching) and `upnp` (UPnP port mapping).
 */
export interface PeerServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  reachability: ReachabilityService
}
