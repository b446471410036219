import { unixfs } from '@helia/unixfs'
import type { CID } from 'multiformats/cid'
import type { Role } from '../../src/constants.ts'
import { IPFSLibp2pPeer, type IPFSLibp2pPeerInit } from '../../src/libp2p/peer/index.ts'
import { waitFor } from '../helpers.ts'

/**
 * Start `n` peers on loopback (memory stores). Peer i dials peers i-1, i-3 and i-7 (a
 * sparse mesh, so routing tables fill as in a real swarm while most pairs stay
 * unconnected; peer n-1 is never connected to peer 0 when n > 8).
 */
export async function startSwarm(
  n: number,
  role: Role = 'worker',
  init: IPFSLibp2pPeerInit = {}
): Promise<IPFSLibp2pPeer[]> {
  const peers: IPFSLibp2pPeer[] = []
  for (let i = 0; i < n; i++) {
    const peer = new IPFSLibp2pPeer({
      role,
      profile: 'local',
      listenAddrs: ['/ip4/127.0.0.1/tcp/0'],
      ...init
    })
    await peer.start()
    peers.push(peer)
  }
  for (let i = 1; i < n; i++) {
    for (const back of [1, 3, 7]) {
      if (i - back < 0) continue
      const target = peers[i - back]!
      // a simultaneous dial from the other side, or a busy machine, may fail an attempt: try again
      for (let attempt = 1; ; attempt++) {
        try {
          await peers[i]!.connect(target.getMultiaddrs()[0]!)
          break
        } catch (err) {
          if (attempt >= 3) throw err
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
        }
      }
    }
  }
  return peers
}

/** Wait until every peer's DHT routing table holds at least `min` peers. */
export async function waitForRoutingTables(peers: IPFSLibp2pPeer[], min = 1): Promise<void> {
  await waitFor(
    () =>
      peers.every(
        (p) => (p.host.services.dht as unknown as { routingTable: { size: number } }).routingTable.size >= min
      ),
    'DHT routing tables to fill',
    20_000
  )
}

export async function stopAll(peers: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  await Promise.all(peers.map((p) => p?.stop()))
}

/** Add bytes as a Kubo-layout file on a peer. */
export async function addOn(peer: IPFSLibp2pPeer, bytes: Uint8Array): Promise<CID> {
  return unixfs(peer.helia).addBytes(bytes, { cidVersion: 0, rawLeaves: false })
}
