/**
 * Bytes received over TCP by the sockets of this process's network namespace, read from
 * `ss -tinHO` (the kernel's `tcp_info.bytes_received`): what a seeker got from each provider,
 * whatever the protocol above TCP, so plain Helia's bitswap is counted the same way as ours.
 *
 * @packageDocumentation
 */

import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
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

/** What {@link sampleTcp} gives back while it runs. */
export interface TcpSampler {
  /** the samples so far */
  samples: TcpTimeline['samples']
  /** stop sampling (again: the same timeline) */
  stop(): Promise<TcpTimeline>
}

/** The line the sampling loop prints after each `ss`. */
const END_OF_SAMPLE = '--'

/**
 * Sample the namespace's TCP sockets every `everyMs` from now until `stop()`, which resolves
 * with the bytes received from each remote address in that time (`samples` grows meanwhile). A
 * socket closed in between counts up to its last sample (a connection replaced mid-transfer is
 * not lost).
 *
 * The samples come from one shell running `ss` in a loop, started once: a spawn per sample
 * from the seeker (a process of several hundred MiB) forks it every time, which cost it about 9%
 * of its main thread's time in scenario 2 (a CPU profile) and stalled its event loop at each
 * fork.
 */
export async function sampleTcp(everyMs: number): Promise<TcpSampler> {
  const before = await tcpSnapshot()
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
  const seconds = (Math.max(1, everyMs) / 1000).toFixed(3)
  // each sample is stamped by the loop (ns since the epoch) when its `ss` starts, not when this
  // process reads it: a busy seeker reads late
  const startEpochMs = Date.now()
  const script = `while :; do t=$(date +%s%N); ss -tinHO; echo "${END_OF_SAMPLE} $t"; sleep ${seconds}; done`
  // its own process group, so that the stop ends the loop's `ss` or `sleep` with it
  const loop = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'], detached: true })
  const exited = once(loop, 'exit').catch(() => {})
  let lines: string[] = []
  createInterface({ input: loop.stdout }).on('line', (line) => {
    if (!line.startsWith(`${END_OF_SAMPLE} `)) {
      lines.push(line)
      return
    }
    const ms = Number(line.slice(END_OF_SAMPLE.length + 1)) / 1e6 - startEpochMs
    samples.push({ ms: Math.max(0, ms), received: take(parseSs(lines.join('\n'))) })
    lines = []
  })
  let stopped: Promise<TcpTimeline> | undefined
  return {
    samples,
    stop: () => {
      stopped ??= (async () => {
        if (loop.pid != null && loop.exitCode == null && loop.signalCode == null) {
          try {
            process.kill(-loop.pid, 'SIGTERM')
          } catch {
            // already gone
          }
        }
        await exited
        return { received: take(await tcpSnapshot()), samples }
      })()
      return stopped
    }
  }
}
