/**
 * The cluster bench's members: real `ipfs-kit daemon` processes (from dist, each on its own repo
 * with a cluster.json, on 127.0.0.1), started and restarted through the cluster tests' helpers,
 * and what the bench reads of them over their HTTP API: the pinset, statuses, alerts, peers and
 * the cluster's counters on `/metrics`.
 *
 * @packageDocumentation
 */

import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import type {
  ClusterAlert,
  ClusterInit,
  ClusterPeer,
  ClusterPin,
  ClusterPinStatus
} from '../src/cluster/types.ts'
import { removeAll, tempDir } from '../test/cli/helpers.ts'
import {
  type Member,
  type MemberOptions,
  restartMember,
  rpc,
  startMember,
  until
} from '../test/cluster/helpers.ts'
import { note, seededBytes } from './common.ts'

export type { Member }

/** A cluster of daemons: one master and its workers, in one temporary folder. */
export interface BenchCluster {
  dir: string
  master: Member
  workers: Member[]
  address: string
  /** every member started, killed or not (each is stopped by pid at the end) */
  started: Member[]
}

/** `NODE_OPTIONS` for a member named in `BENCH_CLUSTER_PROFILE` (a CPU profile into `dir`). */
export function profileOptions(name: string): MemberOptions {
  const wanted = (process.env.BENCH_CLUSTER_PROFILE ?? '').split(',').map((s) => s.trim())
  const dir = process.env.BENCH_CLUSTER_PROFILE_DIR ?? 'bench/profiles'
  return wanted.includes(name) ? { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` } } : {}
}

/** Start a master and `workers` workers (the cluster's own defaults: no timer shortened). */
export async function startCluster(workers: number, cluster: ClusterInit = {}): Promise<BenchCluster> {
  const dir = await tempDir('ipfs-kit-cluster-bench-')
  const master = await startMember(dir, 'master', 'master', cluster, undefined, profileOptions('master'))
  const bench: BenchCluster = { dir, master, workers: [], address: '', started: [master] }
  try {
    bench.address = (await rpc<{ Address: string }>(master, 'cluster/id')).Address
    const join = { ...cluster, address: bench.address }
    for (let i = 1; i <= workers; i++) {
      const w = await startMember(
        dir,
        `worker${i}`,
        'worker',
        join,
        master.swarm,
        profileOptions(`worker${i}`)
      )
      bench.workers.push(w)
      bench.started.push(w)
    }
    await until(
      async () => (await alive(master)).length === workers + 1,
      `${workers + 1} members alive on the master`
    )
  } catch (err) {
    await stopCluster(bench)
    throw err
  }
  return bench
}

/** Start a new member of the cluster (a worker) named `name`. */
export async function addMember(bench: BenchCluster, name: string): Promise<Member> {
  const m = await startMember(
    bench.dir,
    name,
    'worker',
    { address: bench.address },
    bench.master.swarm,
    profileOptions(name)
  )
  bench.started.push(m)
  return m
}

/** Start a killed member again on its repo; it replaces the dead one in `bench.workers`. */
export async function restart(bench: BenchCluster, dead: Member): Promise<Member> {
  const m = await restartMember(dead, profileOptions(dead.repo.split('/').at(-1) ?? ''))
  bench.started.push(m)
  bench.workers = bench.workers.map((w) => (w === dead ? m : w))
  return m
}

/** Stop every member by pid (SIGTERM, then SIGKILL) and remove the folder. */
export async function stopCluster(bench: BenchCluster): Promise<void> {
  await Promise.all(
    bench.started.map((m) => m.daemon.stop('SIGTERM', 20_000).catch(() => m.daemon.stop('SIGKILL', 5_000)))
  ).catch((err: unknown) => note(`a member did not stop: ${(err as Error).message}`))
  await removeAll([bench.dir])
}

/** SIGKILL a member; the time of the kill (ms since the epoch). */
export function kill(m: Member): number {
  const at = Date.now()
  process.kill(m.daemon.pid, 'SIGKILL')
  return at
}

export async function alive(m: Member): Promise<ClusterPeer[]> {
  return (await rpc<{ Peers: ClusterPeer[] }>(m, 'cluster/peers')).Peers.filter((p) => p.state === 'alive')
}

export async function alerts(m: Member): Promise<ClusterAlert[]> {
  return (await rpc<{ Alerts: ClusterAlert[] }>(m, 'cluster/alerts')).Alerts
}

export async function pinset(m: Member): Promise<ClusterPin[]> {
  return (await rpc<{ Pins: ClusterPin[] }>(m, 'cluster/pin/ls')).Pins
}

/** Pins in a member's index (its `cluster/id`). */
export async function pinCount(m: Member): Promise<number> {
  return (await rpc<{ Pins: number }>(m, 'cluster/id')).Pins
}

/** Every pin's status on every member, as the master gathers them (one request per member). */
export async function statuses(m: Member, local = false): Promise<ClusterPinStatus[]> {
  return (await rpc<{ Statuses: ClusterPinStatus[] }>(m, 'cluster/pin/status', { local: String(local) }))
    .Statuses
}

/** The cluster's counters of a member, from its `/metrics`. */
export interface MemberCounters {
  pinsFirst: number
  repins: number
  entriesApplied: number
  entriesWritten: number
}

export async function counters(m: Member): Promise<MemberCounters> {
  const text = await (await fetch(`${m.url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text()
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `))
    return Number(line?.split(' ')[1] ?? Number.NaN)
  }
  return {
    pinsFirst: value('ipfs_kit_cluster_pins_done_total{kind="first"}'),
    repins: value('ipfs_kit_cluster_pins_done_total{kind="repin"}'),
    entriesApplied: value('ipfs_kit_cluster_state_entries_total{op="applied"}'),
    entriesWritten: value('ipfs_kit_cluster_state_entries_total{op="written"}')
  }
}

/** Run `task` over `items` with `concurrency` at once (bounded: one pass over the items). */
export async function eachLimit<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await task(items[next++] as T)
    })
  )
}

/** Store `count` small raw blocks (`size` bytes each, from `seed`) on a member; their CIDs. */
export async function putBlocks(
  m: Member,
  seed: string,
  count: number,
  size: number,
  concurrency: number
): Promise<string[]> {
  const cids: string[] = new Array(count)
  await eachLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const form = new FormData()
      form.append('file', new Blob([seededBytes(`${seed} ${i}`, size)]), 'block')
      const res = await fetch(`${m.url}/api/v0/block/put?cid-codec=raw`, {
        method: 'POST',
        body: form,
        signal: AbortSignal.timeout(60_000)
      })
      const text = await res.text()
      if (!res.ok) throw new Error(`block/put: ${res.status} ${text}`)
      cids[i] = (JSON.parse(text) as { Key: string }).Key
    }
  )
  return cids
}

/** CIDs whose content is in the CID itself (identity hash): a pinset that needs no block fetched. */
export function identityCids(seed: string, count: number): string[] {
  const encoder = new TextEncoder()
  return Array.from({ length: count }, (_, i) =>
    CID.createV1(raw.code, identity.digest(encoder.encode(`${seed} ${i}`))).toString()
  )
}

/** Pin CIDs in the cluster through the master's HTTP API, `concurrency` requests at once. */
export async function clusterPin(
  m: Member,
  cids: readonly string[],
  factors: { min: number; max: number },
  concurrency: number
): Promise<void> {
  await eachLimit(cids, concurrency, async (cid) => {
    await rpc(m, 'cluster/pin/add', {
      arg: cid,
      'replication-min': String(factors.min),
      'replication-max': String(factors.max)
    })
  })
}
