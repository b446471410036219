/**
 * First run, as a person does it: `npm start` in a clone (its daemon command, from package.json)
 * makes `./.ipfs-kit`, and every later `ipfs-kit …` in that clone, from any folder in it, uses that
 * repo and its daemon; elsewhere `$IPFS_KIT_PATH`, else `~/.ipfs-kit`. Pubsub delivers to a
 * subscriber on the publishing node. `init` and `--help` say what the default role means, and an
 * add that will not be provided says so.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { killAll, ok, removeAll, requireBuild, run, start, tempDir } from './helpers.ts'

const PACKAGE_JSON = resolve(import.meta.dirname, '../../package.json')

/** The daemon arguments of `npm start` (after its build step), with `${IPFS_KIT_PATH:-.ipfs-kit}` unset. */
async function npmStartArgs(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { scripts: Record<string, string> }
  const m = /node dist\/src\/cli\/bin\.js (.+)$/.exec(pkg.scripts.start ?? '')
  assert.ok(m?.[1] != null, `npm start runs the CLI's daemon: ${pkg.scripts.start}`)
  // the shell's `${IPFS_KIT_PATH:-.ipfs-kit}`, with IPFS_KIT_PATH unset
  const unset = ['$', '{IPFS_KIT_PATH:-.ipfs-kit}'].join('')
  return m[1].split(' ').map((a) => (a === unset ? '.ipfs-kit' : a))
}

describe('first run: one repo for npm start and the CLI; pubsub to ourselves; roles explained', () => {
  let clone = ''
  let home = ''
  let elsewhere = ''
  let env: Record<string, string> = {}

  before(async () => {
    requireBuild()
    clone = await tempDir('ipfs-kit-clone-')
    home = await tempDir('ipfs-kit-home-')
    elsewhere = await tempDir('ipfs-kit-elsewhere-')
    await mkdir(join(clone, 'deep', 'er'), { recursive: true })
    // HOME of every process: ~/.ipfs-kit is a temp folder, never the tester's own
    env = { HOME: home }
  })

  after(async () => {
    killAll()
    await removeAll([clone, home, elsewhere])
  })

  it("npm start's repo is the one every ipfs-kit command in the clone uses; pubsub reaches a subscriber on the same node", async () => {
    const args = await npmStartArgs()
    assert.ok(args.includes('--init'))
    const daemon = start(args, { cwd: clone, env })
    try {
      await daemon.waitFor(/Daemon is ready/)
      const config = JSON.parse(await readFile(join(clone, '.ipfs-kit', 'config'), 'utf8')) as {
        Identity: { PeerID: string }
      }
      const below = join(clone, 'deep', 'er')
      // from a folder below the clone's root: found as git finds its repo, and its daemon answers
      const id = JSON.parse(await ok(['--json', 'id'], { cwd: below, env })) as { ID: string }
      assert.equal(id.ID, config.Identity.PeerID)
      await writeFile(join(below, 'note.txt'), 'first run\n')
      const cid = (await ok(['add', '-q', 'note.txt'], { cwd: below, env })).trim()
      assert.equal(await ok(['cat', cid], { cwd: clone, env }), 'first run\n')
      assert.equal(existsSync(join(home, '.ipfs-kit')), false, '~/.ipfs-kit was not touched')

      const topic = 'to-ourselves'
      const sub = start(['pubsub', 'sub', topic], { cwd: clone, env })
      try {
        // bounded: until the daemon lists the subscription
        for (let i = 0; i < 200; i++) {
          if ((await ok(['pubsub', 'ls'], { cwd: clone, env })).split('\n').includes(topic)) break
          await new Promise((r) => setTimeout(r, 100))
        }
        await ok(['pubsub', 'pub', topic, 'a message to myself'], { cwd: clone, env })
        await sub.waitFor(/a message to myself/)
      } finally {
        await sub.stop()
      }
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr())
    }
  })

  it('elsewhere: $IPFS_KIT_PATH first, else ~/.ipfs-kit', async () => {
    const named = join(elsewhere, 'named')
    // $IPFS_KIT_PATH wins over the clone's own repo
    await ok(['init', '-q'], { cwd: clone, env: { ...env, IPFS_KIT_PATH: named } })
    assert.ok(existsSync(join(named, 'config')))
    const out = await ok(['init'], { cwd: elsewhere, env })
    assert.match(out, new RegExp(`initialized ipfs-kit node at ${join(home, '.ipfs-kit')}\\n`))
  })

  it('init says what its role means; --help states the default role', async () => {
    const out = await ok(['init', '--repo', join(elsewhere, 'leecher')], { env })
    assert.match(out, /role: leecher\n/)
    assert.match(out, /a leecher .*does not provide \(announce\) what it adds/)
    assert.match(out, /to provide what this node adds: ipfs-kit daemon --role worker/)
    const worker = await ok(['init', '--role', 'worker', '--repo', join(elsewhere, 'worker')], { env })
    assert.match(worker, /a worker provides \(announces\) what it adds/)
    const json = JSON.parse(await ok(['--json', 'init', '--repo', join(elsewhere, 'json')], { env })) as {
      Role: string
      Provides: boolean
    }
    assert.deepEqual([json.Role, json.Provides], ['leecher', false])
    for (const help of [['--help'], ['init', '--help'], []]) {
      const text = await ok(help, { env })
      assert.match(text, /default leecher/, help.join(' '))
      assert.match(
        text,
        /leecher +fetches content .*does not provide \(announce\) what it adds/,
        help.join(' ')
      )
    }
    assert.match(
      await ok(['daemon', '--help'], { env }),
      /leecher \(the default\) does not provide what it\s+adds/
    )
  })

  it('a worker with no daemon says its add is not announced; through its daemon it says nothing', async () => {
    const repo = join(elsewhere, 'worker')
    const file = join(elsewhere, 'w.txt')
    await writeFile(file, 'from a worker\n')
    const offline = await run(['--repo', repo, 'add', file], { env })
    assert.equal(offline.code, 0, offline.stderr)
    assert.match(offline.stderr, /^Note: added while no daemon runs: .*not announced/)
    assert.equal(offline.stderr.trim().split('\n').length, 1)
    const daemon = start(['--repo', repo, 'daemon'], { env })
    try {
      await daemon.waitFor(/Daemon is ready/)
      const online = await run(['--repo', repo, 'add', file], { env })
      assert.equal(online.code, 0, online.stderr)
      assert.equal(online.stderr, '')
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr())
    }
  })
})
