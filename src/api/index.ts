/**
 * The daemon's HTTP side, on one port: Kubo's RPC API at `/api/v0` (a compatible subset,
 * so `kubo-rpc-client` works unchanged) with our own commands under `/api/v0/kit/`, a
 * trustless gateway at `/ipfs/<cid>`, Prometheus metrics at `/metrics` and a live
 * dashboard at `/`. Public types live here; the rest imports them.
 *
 * @packageDocumentation
 */
import type { ComponentLogger } from '@libp2p/interface'
import type { IPFSKit } from '../kit/index.ts'

/** Options of {@link ApiServer}. Every option is optional. */
export interface ApiServerInit {
  /** multiaddr to listen on (`/ip4/<host>/tcp/<port>`) @default the repo's `Addresses.API` */
  listen?: string
  /**
   * bearer token clients must send (`Authorization: Bearer <token>`) @default the one in
   * `<repo>/api.token` (API_TOKEN_FILE), made there (mode 0600) if missing
   */
  token?: string
  /** require the token on a loopback address too @default false (required off loopback only) */
  requireToken?: boolean
  /** largest `add` request body, bytes (413 beyond) @default DEFAULT_API_MAX_BODY_BYTES */
  maxBodyBytes?: number
  /** largest request header block, bytes (431 beyond) @default DEFAULT_API_MAX_HEADER_BYTES */
  maxHeaderBytes?: number
  /** web origins allowed to call the API from a browser (CORS) @default [] (CORS off) */
  corsOrigins?: string[]
  /** write the bound address to `<repo>/api` while listening (the daemon does) @default false */
  writeApiFile?: boolean
}

/** What {@link ApiServer} needs: the kit it serves. */
export interface ApiServerComponents {
  kit: IPFSKit
  logger?: ComponentLogger
}

/** Where a started {@link ApiServer} listens. */
export interface ApiAddresses {
  /** the bound address as a multiaddr, e.g. `/ip4/127.0.0.1/tcp/5001` */
  multiaddr: string
  /** base URL to reach it from this machine, e.g. `http://127.0.0.1:5001` */
  url: string
  /** the dashboard's URL */
  dashboard: string
  /** true when clients must send the bearer token */
  tokenRequired: boolean
}

/** One content retrieval served by the API or the gateway (recent retrievals, metrics). */
export interface RetrievalRecord {
  /** ms since the epoch, at the start */
  at: number
  /** which endpoint served it */
  kind: RetrievalKind
  /** the path or CID asked for */
  path: string
  /** bytes sent */
  bytes: number
  /** ms from start to the last byte (or the failure) */
  durationMs: number
  outcome: 'success' | 'error'
  /** blocks of the read by where they came from (reads through the tiered cache only) */
  blocks?: { memory: number; disk: number; local: number; peers: number }
  /** the error message, on failure */
  error?: string
}

/** The endpoints whose retrievals are recorded (a bounded metric label set). */
export type RetrievalKind = 'cat' | 'get' | 'block' | 'gateway-file' | 'gateway-raw' | 'gateway-car'

/** Every {@link RetrievalKind}, in a stable order. */
export const RETRIEVAL_KINDS: readonly RetrievalKind[] = [
  'cat',
  'get',
  'block',
  'gateway-file',
  'gateway-raw',
  'gateway-car'
]

/** One sample of the dashboard's history. */
export interface HistorySample {
  /** ms since the epoch */
  at: number
  /** cumulative hit ratio of the tiered cache (0 before the first lookup) */
  cacheHitRatio: number
  memoryHitRatio: number
  diskHitRatio: number
  /** open connections */
  peers: number
  /** peers in the k-bucket view */
  peersInBuckets: number
  peersInBackoff: number
  /** retrievals finished since the previous sample */
  retrievals: number
  /** median duration of those retrievals, ms (undefined with none) */
  retrievalP50Ms?: number
}

export type { HttpKitClientInit } from './client.ts'
export { connectDaemon, HttpKitClient } from './client.ts'
export { ApiServer } from './server.ts'
