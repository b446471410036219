/**
 * The cluster's own protocol between members (IPFS Cluster's RPC, reduced to what a member
 * asks another): the local status of some CIDs, and "try this CID again now" (`recover`). One
 * request and one answer per stream, each a length-prefixed JSON message; only members heard
 * on the cluster's heartbeat topic are answered.
 *
 * @packageDocumentation
 */
import type { AbortOptions, Connection, Logger, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import {
  CLUSTER_PROTOCOL,
  CLUSTER_RPC_MAX_CIDS,
  CLUSTER_RPC_MAX_MESSAGE_BYTES,
  CLUSTER_RPC_TIMEOUT_MS
} from '../constants.ts'
import { ProtocolViolationError } from '../errors.ts'
import type { IPFSLibp2pPeer } from '../libp2p/peer/index.ts'
import type { PeerPinStatus } from './types.ts'

/** A request of the protocol. */
export type ClusterRequest = { op: 'status'; cids: string[] } | { op: 'recover'; cid: string }

/** The answer: the member's status of each CID asked for. */
export interface ClusterResponse {
  statuses?: Array<PeerPinStatus & { cid: string }>
  error?: string
}

/** What the server side answers with. */
export interface ClusterRpcHandler {
  /** whether a peer may ask (a member of this cluster) */
  allow(peer: string): boolean
  status(cids: string[]): Array<PeerPinStatus & { cid: string }>
  recover(cid: string): PeerPinStatus & { cid: string }
}

function parseRequest(bytes: Uint8Array): ClusterRequest {
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(bytes))
  } catch (err) {
    throw new ProtocolViolationError('a cluster request is not JSON', { cause: err })
  }
  const r = v as Record<string, unknown>
  if (r?.op === 'status' && Array.isArray(r.cids) && r.cids.every((c) => typeof c === 'string')) {
    if (r.cids.length > CLUSTER_RPC_MAX_CIDS) {
      throw new ProtocolViolationError(`a cluster status request asks for over ${CLUSTER_RPC_MAX_CIDS} CIDs`)
    }
    return { op: 'status', cids: r.cids as string[] }
  }
  if (r?.op === 'recover' && typeof r.cid === 'string') return { op: 'recover', cid: r.cid }
  throw new ProtocolViolationError('not a cluster request')
}

/** Serve the protocol. */
export async function handleClusterRpc(
  peer: IPFSLibp2pPeer,
  handler: ClusterRpcHandler,
  log: Logger
): Promise<void> {
  await peer.handle(
    CLUSTER_PROTOCOL,
    (stream: Stream, connection: Connection) => {
      void serve(stream, connection.remotePeer.toString(), handler).catch((err: unknown) => {
        log('cluster request from %s failed: %s', connection.remotePeer, (err as Error).message)
        stream.abort(err as Error)
      })
    },
    { maxInboundStreams: 32 }
  )
}

async function serve(stream: Stream, from: string, handler: ClusterRpcHandler): Promise<void> {
  const signal = AbortSignal.timeout(CLUSTER_RPC_TIMEOUT_MS)
  const lp = lpStream(stream, { maxDataLength: CLUSTER_RPC_MAX_MESSAGE_BYTES })
  const request = parseRequest((await lp.read({ signal })).subarray())
  let response: ClusterResponse
  if (!handler.allow(from)) response = { error: 'not a member of this cluster' }
  else if (request.op === 'status') response = { statuses: handler.status(request.cids) }
  else response = { statuses: [handler.recover(request.cid)] }
  await lp.write(new TextEncoder().encode(JSON.stringify(response)), { signal })
  await stream.close({ signal })
}

/** Ask a member. */
export async function askMember(
  peer: IPFSLibp2pPeer,
  member: string,
  request: ClusterRequest,
  options: AbortOptions = {}
): Promise<Array<PeerPinStatus & { cid: string }>> {
  const signal = AbortSignal.any([
    AbortSignal.timeout(CLUSTER_RPC_TIMEOUT_MS),
    peer.stopSignal,
    ...(options.signal == null ? [] : [options.signal])
  ])
  const stream = await peer.host.dialProtocol(peerIdFromString(member), CLUSTER_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: CLUSTER_RPC_MAX_MESSAGE_BYTES })
    await lp.write(new TextEncoder().encode(JSON.stringify(request)), { signal })
    const answer = JSON.parse(
      new TextDecoder().decode((await lp.read({ signal })).subarray())
    ) as ClusterResponse
    if (answer.error != null) throw new ProtocolViolationError(`${member}: ${answer.error}`)
    await stream.close({ signal }).catch(() => undefined)
    return answer.statuses ?? []
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
