/**
 * The per-peer reputation record and its JSON form in the datastore.
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'

/** Version of the JSON record written by {@link encodeRecord}. */
const RECORD_VERSION = 1

/** Everything the reputation tracker keeps about one peer. */
export interface PeerRecord {
  peerId: PeerId
  /** success count as of `decayedAt` */
  successes: number
  /** failure count as of `decayedAt` */
  failures: number
  /** when `successes` and `failures` were last decayed, ms since the epoch */
  decayedAt: number
  observations: number
  verificationFailures: number
  flaggedUntil: number | undefined
  latencyEwmaMs: number | undefined
  /** ring of the most recent latencies, oldest first */
  latencySamples: number[]
  /** when the last latency was measured */
  latencyAt: number | undefined
  throughputEwmaBps: number | undefined
  /** when the last throughput was measured */
  throughputAt: number | undefined
  bytesServed: number
  lastSuccessAt: number | undefined
  lastFailureAt: number | undefined
  lastSeenAt: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The record as JSON bytes. */
export function encodeRecord(record: PeerRecord): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      v: RECORD_VERSION,
      peerId: record.peerId.toString(),
      successes: record.successes,
      failures: record.failures,
      decayedAt: record.decayedAt,
      observations: record.observations,
      verificationFailures: record.verificationFailures,
      flaggedUntil: record.flaggedUntil ?? null,
      latencyEwmaMs: record.latencyEwmaMs ?? null,
      latencySamples: record.latencySamples,
      latencyAt: record.latencyAt ?? null,
      throughputEwmaBps: record.throughputEwmaBps ?? null,
      throughputAt: record.throughputAt ?? null,
      bytesServed: record.bytesServed,
      lastSuccessAt: record.lastSuccessAt ?? null,
      lastFailureAt: record.lastFailureAt ?? null,
      lastSeenAt: record.lastSeenAt
    })
  )
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

/**
 * Parse a record written by {@link encodeRecord}; undefined if it is not one (wrong version,
 * missing or invalid fields, a peer id `parsePeerId` rejects).
 */
export function decodeRecord(bytes: Uint8Array, parsePeerId: (id: string) => PeerId): PeerRecord | undefined {
  let json: unknown
  try {
    json = JSON.parse(decoder.decode(bytes))
  } catch {
    return undefined
  }
  if (!isObject(json) || json.v !== RECORD_VERSION || typeof json.peerId !== 'string') return undefined
  let peerId: PeerId
  try {
    peerId = parsePeerId(json.peerId)
  } catch {
    return undefined
  }
  const successes = num(json.successes)
  const failures = num(json.failures)
  const decayedAt = num(json.decayedAt)
  const observations = num(json.observations)
  const verificationFailures = num(json.verificationFailures)
  const bytesServed = num(json.bytesServed)
  const lastSeenAt = num(json.lastSeenAt)
  const samples = Array.isArray(json.latencySamples) ? json.latencySamples.map(num) : undefined
  if (
    successes === undefined ||
    failures === undefined ||
    decayedAt === undefined ||
    observations === undefined ||
    verificationFailures === undefined ||
    bytesServed === undefined ||
    lastSeenAt === undefined ||
    samples === undefined ||
    samples.some((sample) => sample === undefined)
  ) {
    return undefined
  }
  return {
    peerId,
    successes,
    failures,
    decayedAt,
    observations,
    verificationFailures,
    flaggedUntil: num(json.flaggedUntil),
    latencyEwmaMs: num(json.latencyEwmaMs),
    latencySamples: samples.filter((sample): sample is number => sample !== undefined),
    latencyAt: num(json.latencyAt),
    throughputEwmaBps: num(json.throughputEwmaBps),
    throughputAt: num(json.throughputAt),
    bytesServed,
    lastSuccessAt: num(json.lastSuccessAt),
    lastFailureAt: num(json.lastFailureAt),
    lastSeenAt
  }
}
