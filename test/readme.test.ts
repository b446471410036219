/**
 * The README's first lines give a newcomer two commands; this runs the first one's
 * `npm start` (the install is what CI just did) and checks the node it leaves running.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { readmeHasResults } from '../bench/readme.ts'
import { tempDir } from './helpers.ts'

const root = join(import.meta.dirname, '..')

describe('README', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    await dir?.cleanup()
  })

  it('opens with the two commands: install and run, and test', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8')
    const block = readme.match(/```sh\n([\s\S]*?)```/)?.[1] ?? ''
    const commands = block
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter((l) => l !== '')
    assert.deepEqual(commands, ['npm install && npm start', 'npm test'])
    assert.ok(readme.indexOf('```sh') < readme.indexOf('## '), 'the commands come first')
  })

  it('quotes the benchmark figures of bench/results.md, as they are, and no other table', async () => {
    assert.ok(
      await readmeHasResults(),
      'README.md holds bench/results.md between its markers (npm run bench copies it)'
    )
  })

  it('npm start leaves a running node on the local profile, stopped cleanly by SIGTERM', async () => {
    const repo = join(dir.path, 'repo')
    // detached: npm, its shell and the daemon form a process group we stop by its pid
    const child = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env: { ...process.env, IPFS_KIT_PATH: repo },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    try {
      const deadline = Date.now() + 120_000
      while (!out.includes('Daemon is ready') && Date.now() < deadline && child.exitCode == null) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.match(out, /Daemon is ready/, out)
      const addrs = [...out.matchAll(/Swarm listening on (\S+)/g)].map((m) => m[1]!)
      assert.ok(addrs.length > 0, out)
      for (const a of addrs)
        assert.match(a, /^\/ip4\/127\.0\.0\.1\//, 'the local profile listens on loopback only')
      const config = JSON.parse(await readFile(join(repo, 'config'), 'utf8')) as { Kit: { Profile: string } }
      assert.equal(config.Kit.Profile, 'local')
    } finally {
      if (child.pid != null && child.exitCode == null) process.kill(-child.pid, 'SIGTERM')
      const code = await Promise.race([
        exited,
        new Promise((resolve) => setTimeout(() => resolve('timeout'), 20_000))
      ])
      if (code === 'timeout' && child.pid != null) process.kill(-child.pid, 'SIGKILL')
    }
  })
})
