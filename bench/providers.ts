/**
 * Starting the processes that serve content in the benchmarks: bench/provider.ts (a plain Helia
 * node, or our peer with an injected fault) and our real daemon (`ipfs-kit daemon`, built in
 * `dist/`).
 *
 * @packageDocumentation
 */

import { fileURLToPath } from 'node:url'
import { type Child, startChild, tsFlags } from './common.ts'
import type { Fault } from './faults.ts'

/** What a bench/provider.ts process serves. */
export type ProviderSpec =
  /** a plain Helia node over a block folder, through our RepoBlockstore (none: a memory store) */
  | { mode: 'helia'; dir?: string }
  /** our peer over a FaultyBlockstore holding `count` seeded files, then `fault` turned on */
  | { mode: 'faulty'; fault: Fault; files: { prefix: string; count: number; size: number } }
  /** our peer (TCP + Noise + Yamux) pushing `bytes` on every stream of {@link RAW_PROTOCOL} */
  | { mode: 'raw'; bytes: number }

/** The private protocol of the raw-stream baseline: the provider pushes bytes, nothing else. */
export const RAW_PROTOCOL = '/ipfs-kit/bench-raw/1.0.0'

/** The line a provider prints when it serves. */
export interface ProviderReady {
  ready: true
  multiaddrs: string[]
  /** CIDs of the files it added (`faulty` mode), in order */
  cids: string[]
}

/** A serving process: its pid, how to reach it, and what it added. */
export interface Provider extends Child {
  multiaddrs: string[]
  cids: string[]
}

/** The seed of file `i` of a `faulty` provider's set. */
export function fileSeed(prefix: string, i: number): string {
  return `${prefix}-${i}`
}

const providerScript = fileURLToPath(new URL('./provider.ts', import.meta.url))
const daemonScript = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url))

/** Start a bench/provider.ts process; kill it with `kill()` in a `finally`. */
export async function startProvider(spec: ProviderSpec): Promise<Provider> {
  const child = await startChild(
    process.execPath,
    [...tsFlags(), providerScript, JSON.stringify(spec)],
    (line) => line.startsWith('{"ready":true'),
    { what: `provider ${spec.mode}`, timeoutMs: 180_000 }
  )
  const ready = JSON.parse(child.lines.at(-1)!) as ProviderReady
  return Object.assign(child, { multiaddrs: ready.multiaddrs, cids: ready.cids })
}

/**
 * Start `ipfs-kit daemon` on a repo (`--init --profile local` creates one if needed) and wait for
 * `Daemon is ready`; its TCP listen addresses are read from its log.
 */
export async function startDaemon(repo: string, extra: string[] = []): Promise<Provider> {
  const child = await startChild(
    process.execPath,
    [daemonScript, 'daemon', '--init', '--profile', 'local', '--repo', repo, ...extra],
    (line) => line.includes('Daemon is ready'),
    { what: 'ipfs-kit daemon', timeoutMs: 60_000 }
  )
  const multiaddrs = child.lines
    .map((l) => /^Swarm listening on (\S+)$/.exec(l)?.[1])
    .filter((a): a is string => a?.includes('/tcp/') === true && !a.includes('/ws'))
  return Object.assign(child, { multiaddrs, cids: [] })
}
