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

/** How soon to look again while busy connections keep the node over its limit. */
const RECHECK_MS = 1_000

/**
 * Keep a node at most at `maxConnections` open connections. libp2p refuses inbound
 * connections over its `maxConnections`, but its pruner never closes a connection that has a
 * stream of a protocol outside a short list (identify, autonat, dcutr); gossipsub keeps a
 * stream open to every peer that speaks it, so connections a node dials itself pile up past
 * the limit and stay. This closes the excess, choosing as libp2p's pruner does (lowest peer
 * tag value first, inbound before outbound, newest first) among connections with only
 * background streams open. Connections it is already closing do not count (a connection
 * stays `open` while its streams close), and one look runs at a time, so it never closes
 * more than the excess. While busy connections (or streams still negotiating their protocol)
 * keep the node over its limit, it looks again every {@link RECHECK_MS}. Returns a function
 * that stops it.
 */
export function enforceConnectionLimit(libp2p: Libp2p, maxConnections: number, log: Logger): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  /** when the pending look is due (ms since the epoch) */
  let due = 0
  let stopped = false
  let looking = false
  let lookAgain = false
  /** ids of the connections it is closing */
  const closing = new Set<string>()

  /** Look in `delay` ms, or sooner if a look is already due sooner. */
  const schedule = (delay: number): void => {
    if (stopped || (timer != null && due <= Date.now() + delay)) return
    clearTimeout(timer)
    due = Date.now() + delay
    timer = setTimeout(() => {
      timer = undefined
      look()
    }, delay)
    timer.unref?.()
  }

  const look = (): void => {
    if (looking) {
      lookAgain = true
      return
    }
    looking = true
    prune()
      .catch((err: Error) => log.error('could not prune connections: %s', err.message))
      .finally(() => {
        looking = false
        if (lookAgain) {
          lookAgain = false
          look()
        }
      })
  }

  const prune = async (): Promise<void> => {
    if (stopped) return
    const open = libp2p.getConnections().filter((c) => c.status === 'open' && !closing.has(c.id))
    const excess = open.length - maxConnections
    if (excess <= 0) return
    const idle = open.filter((c) => c.streams.every((s) => BACKGROUND_PROTOCOL.test(s.protocol ?? '')))
    const values = new Map<string, number>()
    for (const c of idle) values.set(c.remotePeer.toString(), await tagValue(libp2p, c.remotePeer))
    const ordered = idle.sort(
      (a, b) =>
        (values.get(a.remotePeer.toString()) ?? 0) - (values.get(b.remotePeer.toString()) ?? 0) ||
        Number(a.direction === 'outbound') - Number(b.direction === 'outbound') ||
        b.timeline.open - a.timeline.open
    )
    const victims = ordered.slice(0, excess)
    log('%d connections open, limit %d: closing %d', open.length, maxConnections, victims.length)
    // the rest are busy for now: no connection opening may come to trigger another look
    if (victims.length < excess) schedule(RECHECK_MS)
    for (const c of victims) {
      closing.add(c.id)
      void closeConnection(c).finally(() => closing.delete(c.id))
    }
  }

  // after libp2p's own pruner and the protocols' first streams have had their turn
  const onOpen = (): void => schedule(10)

  libp2p.addEventListener('connection:open', onOpen)
  return () => {
    stopped = true
    clearTimeout(timer)
    timer = undefined
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
