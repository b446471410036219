/**
 * The IPFS HTTP Routing v1 server (https://specs.ipfs.tech/routing/http-routing-v1/) on the
 * gateway's port, as Kubo serves it: `GET /routing/v1/providers/{cid}` and
 * `GET /routing/v1/peers/{peer-id}`, so that browsers and light clients (Helia's
 * `@helia/delegated-routing-v1-http-api-client`) can use this node as a delegated router.
 *
 * Answers come from what the node knows: itself when it holds the block, the providers
 * discovery tracks (records from the DHT, pubsub, bitswap, delegated routers, ranked by
 * reputation), connected peers that answer a want-have, and a DHT lookup bounded by
 * {@link ROUTING_V1_LOOKUP_TIMEOUT_MS}; peers from the peer store, or a bounded DHT lookup.
 * Read-only and public: no token, any origin (CORS `*`, as the spec asks).
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { parseCID } from '../cids.ts'
import {
  ROUTING_V1_LOOKUP_TIMEOUT_MS,
  ROUTING_V1_MAX_AGE_NOT_FOUND_S,
  ROUTING_V1_MAX_AGE_S,
  ROUTING_V1_MAX_RECORDS,
  ROUTING_V1_MAX_STALE_S
} from '../constants.ts'
import type { IPFSKit } from '../kit/index.ts'
import { type RequestContext, write } from './http.ts'

/** The path prefix of the routing API. */
export const ROUTING_V1_PREFIX = '/routing/v1'

const NDJSON = 'application/x-ndjson'
const JSON_TYPE = 'application/json'
/** the multiaddr code of `/p2p` */
const P2P = 421
/** what Kubo's routers say of a provider found for a CID: it serves the blocks over bitswap */
const BITSWAP = 'transport-bitswap'

/** A record of the spec's Peer Schema. */
export interface PeerSchemaRecord {
  Schema: 'peer'
  ID: string
  Addrs: string[]
  Protocols: string[]
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, OPTIONS',
  'Access-Control-Allow-Headers': 'Accept, Content-Type'
}

const cacheControl = (maxAge: number): string =>
  `public, max-age=${maxAge}, public, stale-while-revalidate=${ROUTING_V1_MAX_STALE_S}, stale-if-error=${ROUTING_V1_MAX_STALE_S}`

function sendText(
  ctx: RequestContext,
  status: number,
  text: string,
  headers: Record<string, string> = {}
): void {
  if (ctx.res.headersSent) {
    ctx.res.end()
    return
  }
  ctx.res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...CORS, ...headers })
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : `${text}\n`)
}

/** Serve a request under `/routing/v1` (any method: the others are refused as the spec says). */
export async function serveRoutingV1(ctx: RequestContext): Promise<void> {
  const { req, url } = ctx
  if (req.method === 'OPTIONS') {
    ctx.res.writeHead(204, { ...CORS, 'Access-Control-Max-Age': '86400' })
    ctx.res.end()
    return
  }
  const rest = url.pathname.slice(ROUTING_V1_PREFIX.length)
  const match = /^\/(providers|peers)\/([^/]+)\/?$/.exec(rest)
  if (match == null) {
    // the spec: 400 for an unknown path, 501 for what we do not implement (PUT, IPNS, closest peers)
    if (/^\/(providers|peers|ipns|dht)(\/|$)/.test(rest))
      return sendText(ctx, 501, `${url.pathname} is not implemented`)
    return sendText(
      ctx,
      400,
      `nothing at ${url.pathname}: try /routing/v1/providers/<cid> or /routing/v1/peers/<peer-id>`
    )
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendText(ctx, 501, `${req.method} ${url.pathname} is not implemented: this router only reads`)
  }
  const [, what, arg] = match as unknown as [string, 'providers' | 'peers', string]
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(ROUTING_V1_LOOKUP_TIMEOUT_MS)])
  let records: AsyncIterable<PeerSchemaRecord>
  if (what === 'providers') {
    let cid: CID
    try {
      cid = parseCID(decodeURIComponent(arg))
    } catch (err) {
      return sendText(ctx, 400, `bad CID: ${(err as Error).message}`)
    }
    records = providerRecords(ctx.kit, cid, signal)
  } else {
    let peer: PeerId
    try {
      peer = peerIdFromString(decodeURIComponent(arg))
    } catch (err) {
      return sendText(ctx, 400, `bad peer id "${arg}": ${(err as Error).message}`)
    }
    records = peerRecords(ctx.kit, peer, signal)
  }
  await sendRecords(ctx, what === 'providers' ? 'Providers' : 'Peers', records, signal)
}

/**
 * Send the records as the client asked: NDJSON, one record a line as it is found, when it
 * accepts `application/x-ndjson`; otherwise one JSON object, once the lookup is over. No
 * record at all is a 404.
 */
async function sendRecords(
  ctx: RequestContext,
  key: 'Providers' | 'Peers',
  records: AsyncIterable<PeerSchemaRecord>,
  signal: AbortSignal
): Promise<void> {
  const { req, res } = ctx
  const streaming = (req.headers.accept ?? '').includes(NDJSON)
  const headers = (type: string): Record<string, string> => ({
    'Content-Type': type,
    'Cache-Control': cacheControl(ROUTING_V1_MAX_AGE_S),
    'Last-Modified': new Date().toUTCString(),
    Vary: 'Accept',
    ...CORS
  })
  const all: PeerSchemaRecord[] = []
  let sent = 0
  try {
    for await (const record of records) {
      if (streaming) {
        if (!res.headersSent) {
          res.writeHead(200, headers(NDJSON))
          if (req.method === 'HEAD') break
        }
        if (!(await write(res, `${JSON.stringify(record)}\n`))) return
      } else all.push(record)
      if (++sent >= ROUTING_V1_MAX_RECORDS) break
    }
  } catch (err) {
    // the lookup's time limit ends it with what was found
    if (!signal.aborted) throw err
  }
  if (streaming && res.headersSent) {
    res.end()
    return
  }
  if (all.length === 0) {
    return sendText(ctx, 404, `no ${key === 'Providers' ? 'provider' : 'peer'} record found`, {
      'Cache-Control': cacheControl(ROUTING_V1_MAX_AGE_NOT_FOUND_S),
      Vary: 'Accept'
    })
  }
  const body = JSON.stringify({ [key]: all })
  res.writeHead(200, { ...headers(JSON_TYPE), 'Content-Length': String(Buffer.byteLength(body)) })
  res.end(req.method === 'HEAD' ? undefined : body)
}

function addrsOf(multiaddrs: Multiaddr[]): string[] {
  return [...new Set(multiaddrs.map((m) => m.decapsulateCode(P2P).toString()))]
}

/** Our own record: our id and the addresses we listen on (or announce). */
function selfRecord(kit: IPFSKit, protocols: string[]): PeerSchemaRecord {
  return {
    Schema: 'peer',
    ID: kit.peer.host.peerId.toString(),
    Addrs: addrsOf(kit.peer.getMultiaddrs()),
    Protocols: protocols
  }
}

/** The addresses the peer store has of `peer`. */
async function knownAddrs(kit: IPFSKit, peer: PeerId, signal: AbortSignal): Promise<string[]> {
  try {
    const known = await kit.peer.host.peerStore.get(peer, { signal })
    return addrsOf(known.addresses.map((a) => a.multiaddr))
  } catch {
    return []
  }
}

/**
 * Providers of `cid`: ourselves when we hold the block, then what discovery finds (known
 * records ranked by reputation first, then connected peers and the DHT), each once.
 */
async function* providerRecords(
  kit: IPFSKit,
  cid: CID,
  signal: AbortSignal
): AsyncGenerator<PeerSchemaRecord> {
  const online = !kit.peer.offline && kit.peer.isStarted
  if (!online) return
  const self = kit.peer.host.peerId
  if (await kit.repo.blockstore.has(cid, { signal })) yield selfRecord(kit, [BITSWAP])
  const discovery = kit.libp2pIntegration?.discovery
  const found: AsyncIterable<{ id: PeerId; multiaddrs: Multiaddr[] }> =
    discovery?.isStarted === true
      ? discovery.findProviders(cid, { count: ROUTING_V1_MAX_RECORDS, signal })
      : kit.peer.host.contentRouting.findProviders(cid, { signal })
  const seen = new Set<string>([self.toString()])
  for await (const p of found) {
    const key = p.id.toString()
    if (seen.has(key)) continue
    seen.add(key)
    // the peer store's addresses (its listen addresses, from identify) first: a record's own may
    // be the far end of a connection the provider dialled, which nobody can dial back
    const addrs = [...new Set([...(await knownAddrs(kit, p.id, signal)), ...addrsOf(p.multiaddrs)])]
    yield { Schema: 'peer', ID: key, Addrs: addrs, Protocols: [BITSWAP] }
  }
}

/** The record of `peer`: ourselves, the peer store's, or a DHT lookup's. */
async function* peerRecords(
  kit: IPFSKit,
  peer: PeerId,
  signal: AbortSignal
): AsyncGenerator<PeerSchemaRecord> {
  const online = !kit.peer.offline && kit.peer.isStarted
  if (!online) return
  const libp2p = kit.peer.host
  if (peer.equals(libp2p.peerId)) {
    yield selfRecord(kit, libp2p.getProtocols())
    return
  }
  const known = await libp2p.peerStore.get(peer, { signal }).catch(() => undefined)
  if (known != null && known.addresses.length > 0) {
    yield {
      Schema: 'peer',
      ID: peer.toString(),
      Addrs: addrsOf(known.addresses.map((a) => a.multiaddr)),
      Protocols: [...known.protocols]
    }
    return
  }
  const info = await libp2p.peerRouting.findPeer(peer, { signal }).catch(() => undefined)
  if (info != null && info.multiaddrs.length > 0) {
    yield { Schema: 'peer', ID: peer.toString(), Addrs: addrsOf(info.multiaddrs), Protocols: [] }
  }
}
