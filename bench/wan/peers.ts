/**
 * Our peer as it runs on a testbed host (bench/wan/node.ts, bench/wan/seeker.ts).
 *
 * @packageDocumentation
 */

import { MemoryBlockstore } from 'blockstore-core'
import { IPFSLibp2pPeer, type IPFSLibp2pPeerInit } from '../../src/libp2p/peer/index.ts'
import { WAN_DHT_PREFIX } from './types.ts'

export { WAN_DHT_PREFIX } from './types.ts'

/**
 * Our peer on a testbed host: the `public` profile made private (no bootstrap peers, no mDNS, a
 * DHT of its own prefix, no delegated router), listening on `address` only.
 */
export function ourPeer(
  address: string,
  role: 'worker' | 'leecher',
  extra: Partial<IPFSLibp2pPeerInit> = {}
): IPFSLibp2pPeer {
  return new IPFSLibp2pPeer({
    role,
    profile: 'public',
    listenAddrs: [`/ip4/${address}/tcp/0`],
    bootstrapPeers: [],
    mdns: false,
    delegatedRouters: [],
    dhtProtocolPrefix: WAN_DHT_PREFIX,
    blockstore: new MemoryBlockstore(),
    ...extra
  })
}
