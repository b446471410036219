/**
 * Bytes received over TCP by the sockets of this process's network namespace, read from
 * `ss -tinHO` (the kernel's `tcp_info.bytes_received`): what a seeker got from each provider,
 * whatever the protocol above TCP, so plain Helia's bitswap is counted the same way as ours.
 *
 * @packageDocumentation
 */

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** `bytes_received` of every connected TCP socket, keyed by `local remote` (address:port each). */
export type TcpSnapshot = Map<string, { remote: string; received: number }>

/** Parse `ss -tinHO` (one socket a line: state, recv-q, send-q, local, peer, then tcp_info). */
export function parseSs(text: string): TcpSnapshot {
  const out: TcpSnapshot = new Map()
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/)
    const local = fields[3]
    const peer = fields[4]
    const received = /\bbytes_received:(\d+)/.exec(line)?.[1]
    if (local == null || peer == null || received == null) continue
    out.set(`${local} ${peer}`, { remote: peer.slice(0, peer.lastIndexOf(':')), received: Number(received) })
  }
  return out
}

/** The namespace's TCP sockets now. */
export async function tcpSnapshot(options: { signal?: AbortSignal } = {}): Promise<TcpSnapshot> {
  const { stdout } = await run('ss', ['-tinHO'], { signal: options.signal, maxBuffer: 16 * 1024 * 1024 })
  return parseSs(stdout)
}

/**
 * Bytes received from each remote address between two snapshots. A socket opened in between
 * counts from 0; one closed in between is missed (its last bytes are not in `after`).
 */
export function receivedSince(before: TcpSnapshot, after: TcpSnapshot): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, s] of after) {
    const delta = s.received - (before.get(key)?.received ?? 0)
    if (delta > 0) out[s.remote] = (out[s.remote] ?? 0) + delta
  }
  return out
}

/** What {@link sampleTcp} gives: bytes from each remote address, in all and over time. */
export interface TcpTimeline {
  /** bytes received from each remote address from the start to the stop */
  received: Record<string, number>
  /** the same, cumulative, every `everyMs` (`ms` from the start) */
  samples: Array<{ ms: number; received: Record<string, number> }>
}

/**
 * Sample the namespace's TCP sockets every `everyMs` from now until `stop()`, which resolves
 * with the bytes received from each remote address in that time (`samples` grows meanwhile). A
 * socket closed in between counts up to its last sample (a connection replaced mid-transfer is
 * not lost).
 */
export async function sampleTcp(
  everyMs: number
): Promise<{ samples: TcpTimeline['samples']; stop(): Promise<TcpTimeline> }> {
  const before = await tcpSnapshot()
  const start = performance.now()
  /** every socket seen: its count at the start (0 if opened since) and at its last sample */
  const seen = new Map<string, { remote: string; first: number; last: number }>()
  const take = (now: TcpSnapshot): Record<string, number> => {
    for (const [key, s] of now) {
      const known = seen.get(key)
      if (known != null) known.last = s.received
      else seen.set(key, { remote: s.remote, first: before.get(key)?.received ?? 0, last: s.received })
    }
    const out: Record<string, number> = {}
    for (const s of seen.values()) {
      if (s.last > s.first) out[s.remote] = (out[s.remote] ?? 0) + s.last - s.first
    }
    return out
  }
  const samples: TcpTimeline['samples'] = []
  let pending: Promise<void> | undefined
  const timer = setInterval(() => {
    // one `ss` at a time: a sample that is late is skipped, not queued
    if (pending != null) return
    const ms = performance.now() - start
    pending = tcpSnapshot()
      .then((now) => {
        samples.push({ ms, received: take(now) })
      })
      .catch(() => {})
      .finally(() => {
        pending = undefined
      })
  }, everyMs)
  return {
    samples,
    stop: async () => {
      clearInterval(timer)
      await pending
      return { received: take(await tcpSnapshot()), samples }
    }
  }
}
