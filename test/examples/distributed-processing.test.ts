import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { killAll, removeAll, requireBuild, startExample, tcpAddr, tempDir } from './helpers.ts'

type Task = { id: number; kind: 'sum'; numbers: number[] } | { id: number; kind: 'word-count'; text: string }

/** The right answer, computed here, independently of the workers. */
function expected(task: Task): number {
  if (task.kind === 'sum') return task.numbers.reduce((a, b) => a + b, 0)
  return task.text.split(' ').filter((w) => w.length > 0).length
}

/** What a process did, for the message of a failed assertion. */
function trail(p: { all(name: string): Array<Record<string, unknown>> }, names: string[]): string {
  return names.map((n) => `${n}: ${JSON.stringify(p.all(n))}`).join('\n')
}

describe('example: distributed processing network (master and two workers as separate processes)', () => {
  const dirs: string[] = []
  let work = ''

  before(async () => {
    requireBuild()
    work = await tempDir()
    dirs.push(work)
  })

  after(async () => {
    killAll()
    await removeAll(dirs)
  })

  it('every task gets a correct result although a worker dies holding one', async () => {
    const master = startExample('distributed-processing', [
      '--role',
      'master',
      '--repo',
      join(work, 'master'),
      '--tasks',
      '6',
      '--min-workers',
      '2',
      '--heartbeat-timeout-ms',
      '3000',
      // a bound for a failure only: the master exits as soon as every task has a result
      '--timeout-ms',
      '150000'
    ])
    const ready = await master.waitFor('ready')
    const addr = tcpAddr(ready)
    const doomed = startExample('distributed-processing', [
      '--role',
      'worker',
      '--repo',
      join(work, 'doomed'),
      '--connect',
      addr,
      '--crash-after-grants',
      '1'
    ])
    const survivor = startExample('distributed-processing', [
      '--role',
      'worker',
      '--repo',
      join(work, 'survivor'),
      '--connect',
      addr
    ])
    const doomedId = (await doomed.waitFor('ready')).peerId as string
    const survivorId = (await survivor.waitFor('ready')).peerId as string

    // the doomed worker is granted a task and dies with it, without a word to anyone
    const crash = await doomed.waitFor('crashing', undefined, 120_000)
    assert.deepEqual(await doomed.waitExit(10_000), { code: null, signal: 'SIGKILL' })
    const lostTask = crash.task_cid as string

    const exit = await master.waitExit(180_000)
    assert.deepEqual(
      exit,
      { code: 0, signal: null },
      `master exited ${JSON.stringify(exit)}: ${master.stderr()}\n${trail(master, ['assigned', 'requeued', 'result', 'bad-result', 'summary'])}\n${trail(survivor, ['claimed', 'granted', 'completed', 'task-failed'])}`
    )
    const tasks = master.all('task').map((e) => ({ cid: e.task_cid as string, task: e.task as Task }))
    assert.equal(tasks.length, 6)

    // the lost task went back to the queue when its owner stopped heart-beating
    const requeued = master.all('requeued').filter((e) => e.task_cid === lostTask)
    assert.ok(requeued.length >= 1, `task ${lostTask} was not requeued`)
    assert.equal(requeued[0]?.worker, doomedId)
    assert.equal(requeued[0]?.reason, 'heartbeat-timeout')

    // exactly one accepted result per task, with the right value
    const results = master.all('result')
    assert.equal(results.length, 6)
    for (const { cid, task } of tasks) {
      const got = results.filter((r) => r.task_cid === cid)
      assert.equal(got.length, 1, `one result for task ${task.id}`)
      assert.equal(got[0]?.value, expected(task), `task ${task.id} (${task.kind})`)
      assert.notEqual(got[0]?.worker, doomedId, 'the dead worker produced no result')
    }
    assert.equal(results.find((r) => r.task_cid === lostTask)?.worker, survivorId)

    const summary = await master.waitFor('summary')
    assert.equal(summary.ok, true)
    assert.equal(summary.tasks, 6)
    assert.equal(summary.completed, 6)
    assert.ok((summary.requeued as number) >= 1)
    assert.deepEqual(
      (summary.results as Array<{ id: number; value: number }>).map((r) => r.value),
      tasks.map(({ task }) => expected(task))
    )
    const stats = summary.stats as { cacheMissesHandled: number }
    assert.ok(stats.cacheMissesHandled > 0, 'the master read the results from the workers through libp2p')

    // the survivor did every task it was granted and leaves cleanly (on all-done, or told to)
    assert.ok(survivor.all('completed').length >= 1)
    if (survivor.child.exitCode == null) await survivor.waitExit(5_000).catch(() => survivor.stop('SIGTERM'))
    assert.deepEqual(await survivor.exited, { code: 0, signal: null }, survivor.stderr())
    assert.equal(
      [master, doomed, survivor].flatMap((p) => p.all('non-json')).length,
      0,
      'every output line is JSON'
    )
  })
})
