/**
 * The seed's Distributed Processing Network as a program: one process per node, tasks
 * and results stored in IPFS, coordination over pubsub. A worker that dies with a task
 * does not lose it: tasks are claimed, the master grants each to one claimer, the
 * owner heart-beats while it works, and the master requeues a task whose owner went
 * quiet (or missed the deadline).
 *
 * Topics (JSON messages, `timestamp` in seconds as the seed's `time.time()`):
 * - `task_queue`   master → workers: `{ task_cid, timestamp, attempt }`, and `{ type: 'all-done' }` at the end
 * - `task_claims`  workers → master: `{ type: 'claim' | 'heartbeat', task_cid, worker }`;
 *                  master → workers: `{ type: 'grant', task_cid, worker }`
 * - `task_results` workers → master: `{ task_cid, result_cid, timestamp, worker }`
 *
 * A claim window lets the master see every claim for a task before granting it: the
 * claimer with the fewest tasks in hand wins, then the one granted fewest so far.
 *
 * Run:
 *   node examples/distributed-processing.ts --role master --repo /tmp/m --tasks 6 --min-workers 2
 *   node examples/distributed-processing.ts --role worker --repo /tmp/w1 --connect <master addr>
 *   node examples/distributed-processing.ts --role worker --repo /tmp/w2 --connect <master addr> --crash-after-grants 1
 *
 * Every line on standard output is one JSON object with an `event` field. The master
 * exits 0 after printing `summary` once every task has a result (1 on `--timeout-ms`);
 * a worker exits 0 on `all-done`, SIGTERM or SIGINT, and `--crash-after-grants N` makes it
 * SIGKILL itself right after its N-th grant (a crash, for the requeue path).
 */
import { parseArgs } from 'node:util'
import { applyIpfsKitIntegration, type IPFSKit, ipfsKit, type Profile, type PubsubMessage } from 'ipfs-kit'
import { parseCommandLine, usageError, wholeNumber } from './args.ts'

const TASK_QUEUE = 'task_queue'
const TASK_CLAIMS = 'task_claims'
const TASK_RESULTS = 'task_results'

/** A unit of work, stored in IPFS as JSON. */
type Task = { id: number; kind: 'sum'; numbers: number[] } | { id: number; kind: 'word-count'; text: string }

/** What a worker stores in IPFS for a task. */
interface TaskResult {
  task_cid: string
  task_id: number
  kind: Task['kind']
  value: number
  worker: string
}

/** Print one machine-readable progress line. */
function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)
}

/** Seconds since the epoch (the seed's `time.time()`). */
function now(): number {
  return Date.now() / 1000
}

/** Decode a pubsub message as a JSON object, or undefined if it is not one. */
function decode(message: PubsubMessage): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(message.data))
    return typeof value === 'object' && value != null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Do a task: the sum of a list of numbers, or the number of words in a text. */
function processTask(task: Task): number {
  if (task.kind === 'sum') return task.numbers.reduce((a, b) => a + b, 0)
  return task.text.split(/\s+/).filter((w) => w !== '').length
}

/** `n` tasks, alternately sums and word counts, with random contents. */
function makeTasks(n: number): Task[] {
  const words = ['ipfs', 'kit', 'peer', 'block', 'cid', 'swarm', 'gossip', 'dht', 'cache', 'worker']
  const rand = (k: number): number => Math.floor(Math.random() * k)
  return Array.from({ length: n }, (_, id): Task => {
    if (id % 2 === 0) {
      return { id, kind: 'sum', numbers: Array.from({ length: 5 + rand(10) }, () => rand(2001) - 1000) }
    }
    const text = Array.from({ length: 3 + rand(20) }, () => words[rand(words.length)]).join(
      rand(2) ? ' ' : '  '
    )
    return { id, kind: 'word-count', text }
  })
}

/** Aborted when the process is asked to stop: SIGTERM or SIGINT. */
const shutdown = new AbortController()
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => shutdown.abort(signal))

/** Wait `ms`, or less if the process is asked to stop. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    shutdown.signal.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

const { values } = parseCommandLine(() =>
  parseArgs({
    options: {
      role: { type: 'string', default: 'worker' },
      repo: { type: 'string' },
      profile: { type: 'string' },
      listen: { type: 'string', multiple: true },
      connect: { type: 'string', multiple: true, default: [] },
      tasks: { type: 'string', default: '6' },
      'min-workers': { type: 'string', default: '1' },
      'claim-window-ms': { type: 'string', default: '150' },
      'republish-ms': { type: 'string', default: '1000' },
      'heartbeat-ms': { type: 'string', default: '250' },
      'heartbeat-timeout-ms': { type: 'string', default: '1500' },
      'task-deadline-ms': { type: 'string', default: '15000' },
      'work-ms': { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '1' },
      'crash-after-grants': { type: 'string', default: '0' },
      'timeout-ms': { type: 'string', default: '45000' },
      'lifetime-ms': { type: 'string', default: '600000' }
    }
  })
)
/** The options that take a whole number (all have defaults), checked once up front. */
const NUMBER_OPTIONS = [
  'tasks',
  'min-workers',
  'claim-window-ms',
  'republish-ms',
  'heartbeat-ms',
  'heartbeat-timeout-ms',
  'task-deadline-ms',
  'work-ms',
  'concurrency',
  'crash-after-grants',
  'timeout-ms',
  'lifetime-ms'
] as const
const numbers = Object.fromEntries(NUMBER_OPTIONS.map((name) => [name, wholeNumber(name, values[name])]))
/** The value of a whole-number option. */
const num = (name: (typeof NUMBER_OPTIONS)[number]): number => numbers[name]!
if (values.role !== 'master' && values.role !== 'worker') {
  usageError(`--role must be master or worker, not "${values.role}"`)
}
const profile = (values.profile ?? process.env.IPFS_KIT_PROFILE ?? 'local') as Profile

/** What the master knows of a task. */
interface TaskState {
  task: Task
  cid: string
  state: 'pending' | 'assigned' | 'done'
  owner?: string
  assignedAt: number
  lastBeat: number
  publishedAt: number
  attempts: number
  claimers: Set<string>
  window?: ReturnType<typeof setTimeout>
  fetching: boolean
  result?: TaskResult
}

/** The master: store tasks, publish them, grant claims, requeue silent tasks, collect results. */
async function runMaster(kit: IPFSKit): Promise<boolean> {
  const started = Date.now()
  const fs = kit.getFilesystem({ useLibp2p: true })
  const tasks = new Map<string, TaskState>()
  const load = new Map<string, { active: number; granted: number }>()
  const loadOf = (w: string) => load.get(w) ?? load.set(w, { active: 0, granted: 0 }).get(w)!
  let requeued = 0

  for (const task of makeTasks(num('tasks'))) {
    // Store task data in IPFS
    const cid = (await kit.ipfsAddJson(task)).Hash
    tasks.set(cid, {
      task,
      cid,
      state: 'pending',
      assignedAt: 0,
      lastBeat: 0,
      publishedAt: 0,
      attempts: 0,
      claimers: new Set(),
      fetching: false
    })
    emit('task', { id: task.id, task_cid: cid, task })
  }

  const publish = async (t: TaskState): Promise<void> => {
    t.publishedAt = Date.now()
    t.attempts++
    // Publish task to workers
    await kit
      .ipfsPubsubPublish(
        TASK_QUEUE,
        JSON.stringify({ task_cid: t.cid, timestamp: now(), attempt: t.attempts })
      )
      .catch((err: Error) => emit('publish-failed', { task_cid: t.cid, error: err.message }))
  }
  const grant = async (t: TaskState): Promise<void> => {
    t.window = undefined
    if (t.state !== 'pending' || t.claimers.size === 0) return
    const [winner] = [...t.claimers].sort((a, b) => {
      const la = loadOf(a)
      const lb = loadOf(b)
      return la.active - lb.active || la.granted - lb.granted || a.localeCompare(b)
    })
    t.claimers.clear()
    t.state = 'assigned'
    t.owner = winner!
    t.assignedAt = t.lastBeat = Date.now()
    loadOf(t.owner).active++
    loadOf(t.owner).granted++
    emit('assigned', { id: t.task.id, task_cid: t.cid, worker: t.owner, attempt: t.attempts })
    // a lost grant is a silent owner: the heartbeat timeout requeues the task
    await kit
      .ipfsPubsubPublish(
        TASK_CLAIMS,
        JSON.stringify({ type: 'grant', task_cid: t.cid, worker: t.owner, timestamp: now() })
      )
      .catch(() => {})
  }
  const requeue = (t: TaskState, reason: string): void => {
    if (t.owner != null) loadOf(t.owner).active--
    emit('requeued', { id: t.task.id, task_cid: t.cid, worker: t.owner, reason })
    requeued++
    t.state = 'pending'
    t.owner = undefined
    void publish(t)
  }

  await kit.ipfsPubsubSubscribe(TASK_CLAIMS, (message) => {
    const m = decode(message)
    const t = typeof m?.task_cid === 'string' ? tasks.get(m.task_cid) : undefined
    if (m == null || t == null || typeof m.worker !== 'string' || m.worker !== message.from) return
    if (m.type === 'claim' && t.state === 'pending') {
      t.claimers.add(m.worker)
      t.window ??= setTimeout(() => void grant(t), num('claim-window-ms'))
    } else if (m.type === 'heartbeat' && t.state === 'assigned' && t.owner === m.worker) {
      t.lastBeat = Date.now()
    }
  })

  await kit.ipfsPubsubSubscribe(TASK_RESULTS, async (message) => {
    const m = decode(message)
    const t = typeof m?.task_cid === 'string' ? tasks.get(m.task_cid) : undefined
    if (m == null || t == null || typeof m.result_cid !== 'string') return
    if (t.state === 'done' || t.fetching)
      return emit('duplicate-result', { task_cid: t.cid, from: message.from })
    t.fetching = true
    try {
      // the result lives on the worker: a cache miss served through libp2p
      const result = JSON.parse(
        new TextDecoder().decode(await fs.cat(m.result_cid, { signal: AbortSignal.timeout(10_000) }))
      ) as TaskResult
      if (result.task_cid !== t.cid) throw new Error(`result ${m.result_cid} is for ${result.task_cid}`)
      if (result.worker !== message.from) throw new Error(`result ${m.result_cid} names another worker`)
      if (typeof result.value !== 'number') throw new Error(`result ${m.result_cid} has no value`)
      if (t.state === 'assigned' && t.owner != null) loadOf(t.owner).active--
      t.state = 'done'
      t.result = result
      emit('result', {
        id: t.task.id,
        task_cid: t.cid,
        result_cid: m.result_cid,
        worker: result.worker,
        value: result.value
      })
      // a worker just freed up: offer it what is waiting
      for (const p of tasks.values()) if (p.state === 'pending' && p.window == null) void publish(p)
    } catch (err) {
      emit('bad-result', { task_cid: t.cid, result_cid: m.result_cid, error: (err as Error).message })
    } finally {
      t.fetching = false
    }
  })

  // wait (bounded) for the workers to join the topic, so the first round is not lost
  const deadline = started + num('timeout-ms')
  while (
    (await kit.ipfsPubsubPeers(TASK_QUEUE)).length < num('min-workers') &&
    Date.now() < deadline &&
    !shutdown.signal.aborted
  ) {
    await sleep(100)
  }
  emit('workers', { peers: await kit.ipfsPubsubPeers(TASK_QUEUE) })

  let ok = false
  while (Date.now() < deadline && !shutdown.signal.aborted) {
    const all = [...tasks.values()]
    if (all.every((t) => t.state === 'done')) {
      ok = true
      break
    }
    const at = Date.now()
    for (const t of all) {
      if (t.state === 'assigned' && at - t.lastBeat > num('heartbeat-timeout-ms'))
        requeue(t, 'heartbeat-timeout')
      else if (t.state === 'assigned' && at - t.assignedAt > num('task-deadline-ms')) requeue(t, 'deadline')
      else if (t.state === 'pending' && t.window == null && at - t.publishedAt >= num('republish-ms'))
        void publish(t)
    }
    await sleep(100)
  }
  for (const t of tasks.values()) clearTimeout(t.window)
  await kit
    .ipfsPubsubPublish(TASK_QUEUE, JSON.stringify({ type: 'all-done', timestamp: now() }))
    .catch(() => {})
  await sleep(300)
  const results = [...tasks.values()].map((t) => ({
    id: t.task.id,
    task_cid: t.cid,
    value: t.result?.value,
    worker: t.result?.worker
  }))
  emit('summary', {
    ok,
    tasks: tasks.size,
    completed: results.filter((r) => r.value !== undefined).length,
    requeued,
    results,
    ms: Date.now() - started,
    stats: kit.libp2pIntegration?.getStats()
  })
  return ok
}

/** A worker: claim tasks when free, process the ones granted, heart-beat while working. */
async function runWorker(kit: IPFSKit): Promise<boolean> {
  const me = kit.peer.peerId.toString()
  const fs = kit.getFilesystem({ useLibp2p: true })
  const claims = new Map<string, number>()
  const active = new Set<string>()
  let grants = 0
  let allDone: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    allDone = resolve
  })

  const processTaskMessage = async (taskCid: string): Promise<void> => {
    active.add(taskCid)
    const beat = setInterval(() => {
      void kit
        .ipfsPubsubPublish(TASK_CLAIMS, JSON.stringify({ type: 'heartbeat', task_cid: taskCid, worker: me }))
        .catch(() => {})
    }, num('heartbeat-ms'))
    try {
      // Get task data using libp2p if needed
      const task = JSON.parse(new TextDecoder().decode(await fs.cat(taskCid))) as Task
      // Process task
      const value = processTask(task)
      await sleep(num('work-ms'))
      const result: TaskResult = { task_cid: taskCid, task_id: task.id, kind: task.kind, value, worker: me }
      // Store result in IPFS
      const resultCid = (await kit.ipfsAddJson(result)).Hash
      // Publish result
      await kit.ipfsPubsubPublish(
        TASK_RESULTS,
        JSON.stringify({ task_cid: taskCid, result_cid: resultCid, timestamp: now(), worker: me })
      )
      emit('completed', { id: task.id, task_cid: taskCid, result_cid: resultCid, value })
    } catch (err) {
      emit('task-failed', { task_cid: taskCid, error: (err as Error).message })
    } finally {
      clearInterval(beat)
      active.delete(taskCid)
    }
  }

  await kit.ipfsPubsubSubscribe(TASK_CLAIMS, (message) => {
    const m = decode(message)
    if (m?.type !== 'grant' || typeof m.task_cid !== 'string' || !claims.has(m.task_cid)) return
    claims.delete(m.task_cid)
    if (m.worker !== me) return
    grants++
    emit('granted', { task_cid: m.task_cid, grants })
    if (grants === num('crash-after-grants')) {
      emit('crashing', { task_cid: m.task_cid })
      process.kill(process.pid, 'SIGKILL')
    }
    void processTaskMessage(m.task_cid)
  })

  // Subscribe to task queue
  await kit.ipfsPubsubSubscribe(TASK_QUEUE, (message) => {
    const m = decode(message)
    if (m?.type === 'all-done') return allDone()
    // a claim the master never answered (its grant lost) expires, so that the task, offered
    // again, can be claimed again
    const at = Date.now()
    for (const [cid, expires] of claims) if (expires < at) claims.delete(cid)
    if (typeof m?.task_cid !== 'string' || active.has(m.task_cid) || claims.has(m.task_cid)) return
    if (active.size + claims.size >= num('concurrency')) return
    claims.set(m.task_cid, at + num('republish-ms'))
    emit('claimed', { task_cid: m.task_cid })
    void kit
      .ipfsPubsubPublish(
        TASK_CLAIMS,
        JSON.stringify({ type: 'claim', task_cid: m.task_cid, worker: me, timestamp: now() })
      )
      .catch(() => claims.delete(m.task_cid as string))
  })

  for (const addr of values.connect) emit('connected', { peer: await kit.ipfsSwarmConnect(addr) })
  emit('ready', { role: 'worker', peerId: me })
  const lifetime = sleep(num('lifetime-ms'))
  await Promise.race([finished, lifetime])
  while (active.size > 0 && !shutdown.signal.aborted) await sleep(50)
  emit('exiting', { reason: shutdown.signal.aborted ? String(shutdown.signal.reason) : 'all-done', grants })
  return true
}

applyIpfsKitIntegration()
const role = values.role === 'master' ? 'master' : 'worker' // checked above
const kit = await ipfsKit({ repo: values.repo, profile, role, listenAddrs: values.listen })
if (role === 'master') {
  emit('ready', {
    role,
    peerId: kit.peer.peerId.toString(),
    addrs: kit.peer.getMultiaddrs().map((ma) => ma.toString())
  })
}
let ok = false
try {
  ok = role === 'master' ? await runMaster(kit) : await runWorker(kit)
} catch (err) {
  process.stderr.write(`Error: ${(err as Error).message}\n`)
} finally {
  await kit.stop()
  emit('stopped', { ok })
}
process.exitCode = ok ? 0 : 1
setTimeout(() => process.exit(), 2000).unref()
