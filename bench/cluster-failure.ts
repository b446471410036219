/**
 * Items 1 and 2 of the cluster bench: a dead member detected (SIGKILL a worker, until the
 * master's `cluster alerts` shows it), and `replicationFactorMin` restored after a kill, with
 * the repins counted on every member.
 *
 * @packageDocumentation
 */

import { CLUSTER_HEARTBEAT_TTL_MS, CLUSTER_RECOVERY_GRACE_MS } from '../src/constants.ts'
import { until } from '../test/cluster/helpers.ts'
import {
  alerts,
  alive,
  type BenchCluster,
  clusterPin,
  counters,
  kill,
  type Member,
  type MemberCounters,
  pinset,
  putBlocks,
  restart,
  statuses
} from './cluster-members.ts'
import { type BenchFigure, note, quantile, row } from './common.ts'

/** IPFS Cluster's defaults, for the rows' baselines (ipfs-cluster/ipfs-cluster). */
const IPFS_CLUSTER_DETECTION =
  "IPFS Cluster's default, stated: a ping metric every monitor_ping_interval = 15 s with a TTL of " +
  '2 × 15 s = 30 s (cluster/config.go DefaultMonitorPingInterval; cluster.go pushPingMetrics ' +
  'metric.SetTTL(MonitorPingInterval * 2)), checked every 15 s (monitor/pubsubmon DefaultCheckInterval)'

/**
 * Item 1: SIGKILL a worker `kills` times (the workers in turn), each time until the master
 * raises its alert; the time is the alert's `detectedAt` minus the moment of the kill. The
 * worker is started again, and seen alive, before the next kill.
 */
export async function runDetectionBench(
  bench: BenchCluster,
  kills: number
): Promise<{ figures: BenchFigure[]; samples: number[] }> {
  const samples: number[] = []
  for (let k = 0; k < kills; k++) {
    const victim = bench.workers[k % bench.workers.length] as Member
    const at = kill(victim)
    let detected: number | undefined
    await until(
      async () => {
        const a = (await alerts(bench.master)).find((x) => x.peer === victim.id && x.detectedAt >= at)
        detected = a?.detectedAt
        return a != null
      },
      `an alert for the killed ${victim.id}`,
      120_000
    )
    samples.push((detected as number) - at)
    note(`kill ${k + 1}/${kills}: detected after ${samples.at(-1)} ms`)
    const back = await restart(bench, victim)
    await until(
      async () => (await alive(bench.master)).some((p) => p.id === back.id),
      `${back.id} alive again on the master`
    )
  }
  const p95 = quantile(samples, 0.95)
  return {
    samples,
    figures: [
      row({
        figure: `dead member detected, p95 of ${kills} SIGKILLs (kill → alert on the master)`,
        ours: p95 / 1000,
        baseline: 30,
        baselineName: IPFS_CLUSTER_DETECTION,
        unit: 's',
        better: 'lower',
        goal: 'p95 ≤ 10 s',
        target: { op: '<=', value: 1 / 3 }
      }),
      row({
        figure: `dead member detected, p50 of ${kills} SIGKILLs`,
        ours: quantile(samples, 0.5) / 1000,
        baseline: 30,
        baselineName: 'as above',
        unit: 's',
        better: 'lower',
        goal: `report (ours: heartbeat TTL ${CLUSTER_HEARTBEAT_TTL_MS / 1000} s, then a failed ping)`
      })
    ]
  }
}

/**
 * Item 2: `pins` small blocks pinned with replication factor 2 (min and max), then the worker
 * with the most replicas is killed; the time until every pin has 2 live replicas pinned again
 * (the last repin's own timestamp, minus the kill), and the repins every member made.
 */
export async function runRestoreBench(
  bench: BenchCluster,
  init: { pins: number; concurrency: number }
): Promise<{ figures: BenchFigure[]; notes: string[] }> {
  const { master } = bench
  const cids = await putBlocks(master, `restore ${Date.now()}`, init.pins, 1024, init.concurrency)
  await clusterPin(master, cids, { min: 2, max: 2 }, init.concurrency)
  const wanted = new Set(cids)
  await until(
    async () => {
      const s = await statuses(master)
      return s.filter((x) => wanted.has(x.cid) && x.summary === 'pinned').length === wanted.size
    },
    `${init.pins} pins pinned twice`,
    30 * 60_000
  )
  // every pin of the pinset is looked at (pins of earlier items lose replicas to the kill too)
  const before = new Map((await pinset(master)).map((p) => [p.cid, p]))
  for (const cid of before.keys()) wanted.add(cid)
  const members = [master, ...bench.workers]
  const countsBefore = new Map<string, MemberCounters>()
  for (const m of members) countsBefore.set(m.id, await counters(m))
  // the worker holding the most replicas
  const held = (m: Member): number => [...before.values()].filter((p) => p.allocations.includes(m.id)).length
  const victim = [...bench.workers].sort((a, b) => held(b) - held(a))[0] as Member
  const lost = held(victim)
  const at = kill(victim)
  note(`item 2: killed ${victim.id}, which held ${lost} of ${init.pins} pins`)
  const liveIds = new Set(members.filter((m) => m !== victim).map((m) => m.id))
  let restoredAt = Number.NaN
  await until(
    async () => {
      const s = (await statuses(master)).filter((x) => wanted.has(x.cid))
      let last = 0
      for (const st of s) {
        const pinned = Object.values(st.peerMap).filter((v) => liveIds.has(v.peer) && v.status === 'pinned')
        if (pinned.length < 2) return false
        for (const v of pinned) last = Math.max(last, v.timestamp)
      }
      restoredAt = last
      return s.length === wanted.size
    },
    'every pin back to 2 live replicas',
    30 * 60_000
  )
  const after = new Map((await pinset(master)).map((p) => [p.cid, p]))
  // each replica a recovery added is one repin; anything pinned beyond them is a duplicate
  let added = 0
  for (const [cid, p] of after) {
    const was = new Set(before.get(cid)?.allocations ?? [])
    added += p.allocations.filter((a) => !was.has(a) && liveIds.has(a)).length
  }
  let pinsMade = 0
  let repins = 0
  for (const m of members) {
    if (m === victim) continue
    const a = await counters(m)
    const b = countsBefore.get(m.id) as MemberCounters
    pinsMade += a.pinsFirst + a.repins - (b.pinsFirst + b.repins)
    repins += a.repins - b.repins
  }
  const duplicates = pinsMade - added
  const restoreMs = restoredAt - at
  const back = await restart(bench, victim)
  await until(async () => (await alive(master)).some((p) => p.id === back.id), 'the victim alive again')
  return {
    notes: [
      `item 2: ${lost} replicas lost with the killed worker; ${added} re-allocated to live members, ` +
        `${pinsMade} pins made by the live members after the kill (${repins} counted as repins), ` +
        `${duplicates} duplicate(s)`
    ],
    figures: [
      row({
        figure: `replicationFactorMin (2) restored after a SIGKILL, ${before.size} pins (${lost} replicas lost)`,
        ours: restoreMs / 1000,
        baseline: 60,
        baselineName:
          'the goal (60 s); IPFS Cluster does not repin by default (disable_repinning: true, ' +
          `cluster/config.go); ours waits a recovery grace of ${CLUSTER_RECOVERY_GRACE_MS / 1000} s after the alert`,
        unit: 's',
        better: 'lower',
        goal: '≤ 60 s',
        target: { op: '<=', value: 1 }
      }),
      row({
        figure: `pins made per lost replica after the kill (${duplicates} duplicate repin(s))`,
        ours: lost === 0 ? Number.NaN : pinsMade / lost,
        baseline: 1,
        baselineName: 'the goal: exactly one repin per lost replica (no duplicate)',
        unit: 'pins',
        better: 'lower',
        goal: 'no duplicate repin',
        target: { op: '<=', value: 1 }
      })
    ]
  }
}
