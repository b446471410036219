import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ClusterInit } from '../../src/cluster/types.ts'
import { initLocal, type LiveProcess, ok, start } from '../cli/helpers.ts'

/** Short timers for tests (they wait on behaviour, with generous bounds, never on a clock). */
export const FAST_CLUSTER: ClusterInit = {
  heartbeatIntervalMs: 500,
  heartbeatTtlMs: 2500,
  checkIntervalMs: 300,
  pingTimeoutMs: 1500,
  recoveryGraceMs: 1000,
  reconcileIntervalMs: 1500
}

/** One member: a real `ipfs-kit daemon` process on its own repo. */
export interface Member {
  repo: string
  role: 'master' | 'worker' | 'leecher'
  daemon: LiveProcess
  /** peer id */
  id: string
  /** HTTP API, e.g. http://127.0.0.1:1234 */
  url: string
  swarm: string
  /** when (a `performance.now()`, seen within 50 ms) the daemon printed its `Cluster:` line */
  clusterAt: number
}

/** Options of {@link startMember}. */
export interface MemberOptions {
  /** extra environment of the daemon (e.g. `NODE_OPTIONS` for a profile) */
  env?: Record<string, string>
}

/** Start a member: init a local repo, write its cluster.json, bootstrap to `boot`, run the daemon. */
export async function startMember(
  dir: string,
  name: string,
  role: Member['role'],
  cluster: ClusterInit,
  boot?: string,
  options: MemberOptions = {}
): Promise<Member> {
  const repo = join(dir, name)
  const id = (await initLocal(repo, '--role', role)).trim()
  await writeFile(join(repo, 'cluster.json'), JSON.stringify(cluster))
  if (boot != null) await ok(['--repo', repo, 'config', '--json', 'Bootstrap', JSON.stringify([boot])])
  return runMember(repo, role, id, options)
}

/** Start the daemon of a member again on its repo (after a kill); the same peer id, new ports. */
export async function restartMember(m: Member, options: MemberOptions = {}): Promise<Member> {
  return runMember(m.repo, m.role, m.id, options)
}

async function runMember(
  repo: string,
  role: Member['role'],
  id: string,
  options: MemberOptions
): Promise<Member> {
  const daemon = start(['--repo', repo, 'daemon'], { env: options.env })
  // the cluster is open (and has met the cluster) when the daemon prints its Cluster line
  await daemon.waitFor(/^Cluster: |Daemon is ready/m, 'stdout', 120_000)
  const clusterAt = performance.now()
  await daemon.waitFor(/Daemon is ready/, 'stdout', 120_000)
  const api = daemon.stdout().match(/RPC API server listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/)
  const swarm = daemon.stdout().match(/Swarm listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)/)
  assert.ok(api != null && swarm?.[1] != null, daemon.stdout())
  return { repo, role, daemon, id, url: `http://${api[1]}:${api[2]}`, swarm: swarm[1], clusterAt }
}

/** POST an `/api/v0` command; its JSON. */
export async function rpc<T>(
  m: Member,
  command: string,
  params: Record<string, string | string[]> = {}
): Promise<T> {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) q.append(k, x)
  const res = await fetch(`${m.url}/api/v0/${command}?${q}`, {
    method: 'POST',
    signal: AbortSignal.timeout(60_000)
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${command} on ${m.id}: ${res.status} ${text}`)
  return JSON.parse(text) as T
}

/** Add bytes through `/api/v0/add` (not pinned: the cluster pins it); the CID. */
export async function addUnpinned(m: Member, text: string): Promise<string> {
  const form = new FormData()
  form.append('file', new Blob([text]), 'file')
  const res = await fetch(`${m.url}/api/v0/add?pin=false`, { method: 'POST', body: form })
  assert.equal(res.status, 200)
  const line = (await res.text()).trim().split('\n').at(-1) ?? ''
  return (JSON.parse(line) as { Hash: string }).Hash
}

/** Poll until `check` holds, at most `ms` (bounded; the machine may be slow). */
export async function until(check: () => Promise<boolean>, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms
  let last: unknown
  while (Date.now() < deadline) {
    try {
      if (await check()) return
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out waiting for ${what}${last == null ? '' : `: ${(last as Error).message}`}`)
}
