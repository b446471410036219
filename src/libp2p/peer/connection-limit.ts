/**
 * The role's connection limit, enforced.
 *
 * @packageDocumentation
 */

import type { Connection, Libp2p, Logger, PeerId } from '@libp2p/interface'

/**
 * Streams that every connection carries for its whole life (identify, pubsub, the DHT, ping):
 * they do not make a connection busy. A connection with any other stream open (a bitswap
 * transfer, an application protocol) is not closed.
 */
const BACKGROUND_PROTOCOL = /^\/ipfs\/id\/|^\/meshsub\/|^\/floodsub\/|\/kad\/1\.0\.0$|^\/ipfs\/ping\//

/** How long a pruned connection gets to close cleanly before it is aborted. */
const CLOSE_TIMEOUT_MS = 1_000

/**
 * Keep a node at most at `maxConnections` open connections. libp2p refuses inbound
 * connections over its `maxConnections`, but its pruner never closes a connection that has a
 * stream of a protocol outside a short list (identify, autonat, dcutr); gossipsub keeps a
 * stream open to every peer that speaks it, so connections a node dials itself pile up past
 * the limit and stay. This closes the excess, choosing as libp2p's pruner does (lowest peer
 * tag value first, inbound before outbound, newest first) among connections with only
 * background streams open. Returns a function that stops it.
 */
export function enforceConnectionLimit(libp2p: Libp2p, maxConnections: number, log: Logger): () => void {
  let scheduled = false
  let stopped = false

  const prune = async (): Promise<void> => {
    scheduled = false
    if (stopped) return
    const connections = libp2p.getConnections()
    const excess = connections.length - maxConnections
    if (excess <= 0) return
    const idle = connections.filter(
      (c) => c.status === 'open' && c.streams.every((s) => BACKGROUND_PROTOCOL.test(s.protocol ?? ''))
    )
    const values = new Map<string, number>()
    for (const c of idle) values.set(c.remotePeer.toString(), await tagValue(libp2p, c.remotePeer))
    const ordered = idle.sort(
      (a, b) =>
        (values.get(a.remotePeer.toString()) ?? 0) - (values.get(b.remotePeer.toString()) ?? 0) ||
        Number(a.direction === 'outbound') - Number(b.direction === 'outbound') ||
        b.timeline.open - a.timeline.open
    )
    const victims = ordered.slice(0, excess)
    log('%d connections, limit %d: closing %d', connections.length, maxConnections, victims.length)
    await Promise.all(victims.map(closeConnection))
  }

  const onOpen = (): void => {
    if (scheduled || stopped) return
    scheduled = true
    // after libp2p's own pruner and the protocols' first streams have had their turn
    setTimeout(() => {
      prune().catch((err: Error) => log.error('could not prune connections: %s', err.message))
    }, 10).unref?.()
  }

  libp2p.addEventListener('connection:open', onOpen)
  return () => {
    stopped = true
    libp2p.removeEventListener('connection:open', onOpen)
  }
}

async function tagValue(libp2p: Libp2p, peer: PeerId): Promise<number> {
  try {
    const { tags } = await libp2p.peerStore.get(peer)
    let sum = 0
    for (const tag of tags.values()) sum += tag.value
    return sum
  } catch {
    return 0
  }
}

async function closeConnection(connection: Connection): Promise<void> {
  try {
    await connection.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) })
  } catch (err) {
    connection.abort(err instanceof Error ? err : new Error(String(err)))
  }
}
