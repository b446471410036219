/**
 * The repo lock: one holder at a time, whatever the timing, after a crash too; a loser
 * gets `RepoLockedError` naming the holder, and never removes the holder's lock.
 */
import assert from 'node:assert/strict'
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { isErrorNamed } from '../../src/errors.ts'
import { openRepo } from '../../src/kit/repo.ts'
import { tempDir } from '../helpers.ts'

const REPO_TS = new URL('../../src/kit/repo.ts', import.meta.url).href
const LOCK = 'repo.lock'

/** A separate node process that opens the repo on `open <time>` and says what happened. */
interface Worker {
  readonly pid: number
  /** the next line it prints, or a failure after `ms` */
  next(ms?: number): Promise<string>
  send(line: string): void
  readonly exited: Promise<void>
  kill(): Promise<void>
}

function startWorker(repo: string): Worker {
  const script = `
    import { createInterface } from 'node:readline'
    import { openRepo } from ${JSON.stringify(REPO_TS)}
    let repo
    console.log('ready')
    for await (const line of createInterface({ input: process.stdin })) {
      const [cmd, arg] = line.split(' ')
      if (cmd === 'open') {
        // all workers start at the same moment: sleep until just before, then spin
        const at = Number(arg)
        await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now() - 15)))
        while (Date.now() < at) {}
        try {
          repo = await openRepo({ repo: ${JSON.stringify(repo)}, init: false })
          console.log('held')
        } catch (err) {
          console.log('refused ' + JSON.stringify({ name: err.name, message: err.message }))
        }
      } else if (cmd === 'close') {
        await repo?.close()
        repo = undefined
        console.log('closed')
      } else if (cmd === 'exit') {
        process.exit(0)
      }
    }`
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { stdio: ['pipe', 'pipe', 'pipe'] }
  )
  const pid = child.pid
  if (pid == null) throw new Error('could not start a worker')
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  child.stdin.on('error', () => {})
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  return {
    pid,
    exited,
    send(line) {
      child.stdin.write(`${line}\n`)
    },
    async next(ms = 30_000) {
      const deadline = Date.now() + ms
      for (;;) {
        const nl = out.indexOf('\n')
        if (nl >= 0) {
          const line = out.slice(0, nl)
          out = out.slice(nl + 1)
          return line
        }
        if (child.exitCode != null || child.signalCode != null)
          throw new Error(`worker ${pid} exited: ${err}`)
        if (Date.now() > deadline) throw new Error(`worker ${pid} silent for ${ms} ms: ${err}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    },
    async kill() {
      if (child.exitCode == null && child.signalCode == null) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      await exited
    }
  }
}

/** The pid of a process that has exited (a crashed holder). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((resolve) => child.once('exit', resolve))
  return child.pid ?? 2 ** 22 + 1
}

describe('repo lock', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  const workers = new Set<Worker>()
  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    for (const w of workers) await w.kill()
    await dir?.cleanup()
  })

  async function worker(repo: string): Promise<Worker> {
    const w = startWorker(repo)
    workers.add(w)
    assert.equal(await w.next(60_000), 'ready')
    return w
  }

  async function retire(w: Worker): Promise<void> {
    await w.kill()
    workers.delete(w)
  }

  it('after a crash, of 6 processes opening the repo at once exactly one holds it; the others get RepoLockedError and leave its lock alone (15 trials)', {
    timeout: 120_000
  }, async () => {
    const repo = join(dir.path, 'race')
    await (await openRepo({ repo, profile: 'local' })).close()
    const dead = await deadPid()
    // what a crash leaves: an older version's lock, a crashed daemon's, one whose pid was reused
    const staleLocks = [
      `${dead}\n`,
      `${JSON.stringify({ pid: dead, startedAt: '1', cmd: 'daemon', token: 'gone' })}\n`,
      `${JSON.stringify({ pid: process.pid, startedAt: '1', cmd: 'cli', token: 'reused' })}\n`
    ]
    await writeFile(join(repo, LOCK), staleLocks[0] ?? '')
    const pool = await Promise.all(Array.from({ length: 6 }, () => worker(repo)))
    const failures: string[] = []
    for (let trial = 0; trial < 15; trial++) {
      const at = Date.now() + 200
      for (const w of pool) w.send(`open ${at}`)
      // meanwhile, whoever reads the lock file finds it whole or absent, never empty or half-written
      let racing = true
      const reader = (async () => {
        while (racing) {
          const text = await readFile(join(repo, LOCK), 'utf8').catch(() => undefined)
          if (text != null && !/^(\d+|\{.*\})\n$/.test(text))
            failures.push(`trial ${trial}: the lock file read ${JSON.stringify(text)}`)
        }
      })()
      const answers = await Promise.all(pool.map(async (w) => ({ w, line: await w.next() })))
      racing = false
      await reader
      const holders = answers.filter((a) => a.line === 'held').map((a) => a.w)
      const losers = answers.filter((a) => a.line !== 'held')
      if (holders.length !== 1) failures.push(`trial ${trial}: ${holders.length} holders`)
      for (const { line } of losers) {
        const refusal = JSON.parse(line.replace(/^refused /, '')) as { name: string; message: string }
        if (refusal.name !== 'RepoLockedError')
          failures.push(`trial ${trial}: a loser got ${refusal.name}: ${refusal.message.slice(0, 160)}`)
      }
      const winner = holders[0]
      if (winner == null) break
      const lock = await readFile(join(repo, LOCK), 'utf8').catch(() => '')
      if (!new RegExp(`\\b${winner.pid}\\b`).test(lock))
        failures.push(`trial ${trial}: the lock names ${JSON.stringify(lock)}, not the holder ${winner.pid}`)
      const gone = new Set<Worker>()
      if (trial % 3 === 1) {
        // a loser that exits leaves the holder's lock alone
        const leaver = losers[0]?.w
        if (leaver != null) {
          leaver.send('exit')
          await leaver.exited
          workers.delete(leaver)
          gone.add(leaver)
          const still = await readFile(join(repo, LOCK), 'utf8').catch(() => '')
          if (still !== lock)
            failures.push(
              `trial ${trial}: a loser's exit changed the lock from ${lock} to ${JSON.stringify(still)}`
            )
        }
      }
      if (trial % 3 === 0 || holders.length !== 1) {
        // the holder crashes (SIGKILL): its lock stays, naming a process that is gone
        for (const h of holders) {
          await retire(h)
          gone.add(h)
        }
        if (holders.length !== 1) await writeFile(join(repo, LOCK), staleLocks[0] ?? '')
      } else {
        winner.send('close')
        assert.equal(await winner.next(), 'closed')
        await writeFile(join(repo, LOCK), staleLocks[trial % 3 === 1 ? trial % 2 : 2] ?? '')
      }
      const kept = pool.filter((w) => !gone.has(w))
      const fresh = await Promise.all(Array.from({ length: pool.length - kept.length }, () => worker(repo)))
      pool.splice(0, pool.length, ...kept, ...fresh)
    }
    assert.deepEqual(failures, [])
  })

  it('a lock naming a live process that is not its holder (a reused pid) does not block the repo', async () => {
    const repo = join(dir.path, 'reused')
    await (await openRepo({ repo, profile: 'local' })).close()
    // a live process that has nothing to do with the repo
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    try {
      const pid = other.pid
      assert.ok(pid != null)
      for (const text of [
        `${pid}\n`,
        `${JSON.stringify({ pid, startedAt: '1', cmd: 'daemon' })}\n`,
        `${JSON.stringify({ pid: process.pid, startedAt: '1', cmd: 'daemon' })}\n`
      ]) {
        await writeFile(join(repo, LOCK), text)
        const opened = await openRepo({ repo, init: false })
        assert.match(await readFile(join(repo, LOCK), 'utf8'), new RegExp(`"pid":${process.pid}\\b`))
        await opened.close()
        await assert.rejects(readFile(join(repo, LOCK)), { code: 'ENOENT' }, 'released on close')
      }
    } finally {
      if (other.pid != null) process.kill(other.pid, 'SIGKILL')
    }
  })

  it('a repo whose datastore another process holds is RepoLockedError naming it, even without repo.lock', async () => {
    const repo = join(dir.path, 'held')
    await (await openRepo({ repo, profile: 'local' })).close()
    const holder = await worker(repo)
    try {
      holder.send(`open ${Date.now()}`)
      assert.equal(await holder.next(), 'held')
      const lock = await readFile(join(repo, LOCK), 'utf8')
      assert.match(lock, /"cmd":"library"/)
      await assert.rejects(openRepo({ repo, init: false }), (err: Error) => {
        assert.equal(err.name, 'RepoLockedError')
        assert.match(err.message, new RegExp(`process ${holder.pid}\\b`))
        assert.match(err.message, /a program using ipfs-kit/)
        return true
      })
      // the lock file lost (removed by hand, say): LevelDB's own lock still refuses
      await rm(join(repo, LOCK))
      await assert.rejects(openRepo({ repo, init: false }), (err: Error) => {
        assert.ok(isErrorNamed(err, 'RepoLockedError'), `${err.name}: ${err.message}`)
        assert.doesNotMatch(err.message, /damaged|backup/)
        return true
      })
      // and that refusal did not loosen the holder's grip: another process is refused too
      const second = await worker(repo)
      second.send(`open ${Date.now()}`)
      assert.match(await second.next(), /^refused \{"name":"RepoLockedError"/)
      await retire(second)
    } finally {
      await retire(holder)
    }
  })

  it('a second open in the same process is refused, and the first keeps the repo', async () => {
    const repo = join(dir.path, 'twice')
    const first = await openRepo({ repo, profile: 'local' })
    try {
      await assert.rejects(openRepo({ repo, init: false }), { name: 'RepoLockedError' })
      // even with its lock file gone, a second open here neither opens nor drops LevelDB's lock
      await rm(join(repo, LOCK))
      await assert.rejects(openRepo({ repo, init: false }), { name: 'RepoLockedError' })
      const other = await worker(repo)
      other.send(`open ${Date.now()}`)
      assert.match(await other.next(), /^refused \{"name":"RepoLockedError"/)
      await retire(other)
    } finally {
      await first.close()
    }
  })

  it('the lock names the kind of process: the daemon, another command, or a program using the library', async () => {
    const { processKind } = await import('../../src/kit/lock.ts')
    const bin = '/usr/lib/node_modules/ipfs-kit/dist/src/cli/bin.js'
    assert.deepEqual(processKind(['node', bin, '--repo', '/r', 'daemon', '--init']), {
      cmd: 'daemon',
      command: 'ipfs-kit daemon'
    })
    assert.deepEqual(processKind(['node', '/usr/bin/ipfs-kit', '--offline', 'pin', 'ls', 'QmX']), {
      cmd: 'cli',
      command: 'ipfs-kit pin ls'
    })
    assert.deepEqual(processKind(['node', '/srv/app/main.js']), {
      cmd: 'library',
      command: 'node /srv/app/main.js'
    })
  })

  it('closing removes only our own lock: a lock another process wrote over it stays', async () => {
    const repo = join(dir.path, 'own')
    const opened = await openRepo({ repo, profile: 'local' })
    const theirs = `${JSON.stringify({ pid: 1, startedAt: '1', cmd: 'daemon', token: 'theirs' })}\n`
    await writeFile(join(repo, LOCK), theirs)
    await opened.close()
    assert.equal(await readFile(join(repo, LOCK), 'utf8'), theirs)
  })
})
