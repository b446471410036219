import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { assertOneError, initLocal, killAll, ok, removeAll, requireBuild, run, tempDir } from './helpers.ts'

describe('ipfs-kit CLI: init, id, version, repo, usage errors', () => {
  const dirs: string[] = []
  let repo = ''
  let peerId = ''

  before(async () => {
    requireBuild()
    const dir = await tempDir()
    dirs.push(dir)
    repo = join(dir, 'repo')
  })

  after(async () => {
    killAll()
    await removeAll(dirs)
  })

  it('init creates a repo and prints the peer id and path', async () => {
    const out = await ok(['--repo', repo, 'init', '--profile', 'local'])
    const m = /peer identity: (12D3Koo\w+)/.exec(out)
    assert.ok(m?.[1], out)
    peerId = m[1]
    assert.match(out, new RegExp(`initialized ipfs-kit node at ${repo}`))
    assert.match(out, /profile: local, role: leecher/)
  })

  it('init refuses an existing repo with one error line', async () => {
    assertOneError(await run(['--repo', repo, 'init', '--profile', 'local']), /already exists/)
  })

  it('init --json and --role, with the repo from IPFS_KIT_PATH', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const out = await ok(['init', '--role', 'worker', '--json'], { env: { IPFS_KIT_PATH: dir } })
    const info = JSON.parse(out) as { ID: string; RepoPath: string; Profile: string; Role: string }
    assert.equal(info.RepoPath, dir)
    assert.equal(info.Profile, 'local')
    assert.equal(info.Role, 'worker')
    assert.match(info.ID, /^12D3Koo/)
  })

  it('id prints Kubo-like JSON with the repo identity', async () => {
    const id = JSON.parse(await ok(['--repo', repo, 'id'])) as Record<string, unknown>
    assert.equal(id.ID, peerId)
    assert.equal(typeof id.PublicKey, 'string')
    assert.deepEqual(id.Addresses, [])
    assert.match(String(id.AgentVersion), /^ipfs-kit\//)
    // read from the repo, with no node running: nobody has judged the reachability
    assert.equal(id.Reachability, 'unknown')
  })

  it('version, --version and --help exit 0', async () => {
    assert.match(await ok(['version']), /^ipfs-kit version \d+\.\d+\.\d+\n$/)
    assert.match(await ok(['--version']), /^\d+\.\d+\.\d+\n$/)
    const v = JSON.parse(await ok(['version', '--json'])) as { Version: string }
    assert.match(v.Version, /^\d+\.\d+\.\d+$/)
    assert.match(await ok(['--help']), /Usage: ipfs-kit/)
    assert.match(await ok(['add', '--help']), /--only-hash/)
  })

  it('repo stat, human and --json', async () => {
    await ok(['--repo', repo, 'add', '-q'], { input: 'some bytes\n' })
    const human = await ok(['--repo', repo, 'repo', 'stat'])
    assert.match(human, /^NumObjects: 1$/m)
    assert.match(human, new RegExp(`^RepoPath: +${repo}$`, 'm'))
    const stat = JSON.parse(await ok(['--repo', repo, '--json', 'repo', 'stat'])) as Record<string, unknown>
    assert.equal(stat.NumObjects, 1)
    assert.equal(stat.RepoPath, repo)
    assert.ok(Number(stat.RepoSize) > 0)
  })

  it('gc prints nothing when everything is pinned', async () => {
    assert.equal(await ok(['--repo', repo, 'gc']), '')
  })

  it('no command prints the help (exit 0); options without a command are one error line', async () => {
    assert.match(await ok([]), /^Usage: ipfs-kit/)
    assertOneError(await run(['--repo', repo]), /missing command/)
  })

  it('unknown command, unknown option, missing argument: one line, exit 1', async () => {
    assertOneError(await run(['frobnicate']), /unknown command 'frobnicate'/)
    assertOneError(await run(['--repo', repo, 'add', '--bogus']), /unknown option '--bogus'/)
    assertOneError(await run(['--repo', repo, 'cat']), /missing required argument/)
    assertOneError(await run(['--repo', repo, 'pin']), /needs a subcommand/)
    assertOneError(await run(['--repo', repo, 'pin', 'frob']), /unknown command 'pin frob'/)
    assertOneError(await run(['--repo', repo, 'add', '--cid-version', '2', '-']), /argument '2' is invalid/)
    assertOneError(
      await run(['init', '--profile', 'moon', '--repo', repo]),
      /Allowed choices are public, local/
    )
    assertOneError(
      await run(['--repo', repo, 'swarm', 'peers', '--connect', 'garbage']),
      /not a valid multiaddr/
    )
  })

  it('a repo path that is a file is one clear error', async () => {
    const file = join(dirs[0] ?? '', 'not-a-folder')
    await writeFile(file, 'x')
    assertOneError(await run(['--repo', file, 'repo', 'stat']), /is a file, not a folder/)
    assertOneError(await run(['--repo', file, 'init', '--profile', 'local']), /is a file, not a folder/)
  })

  it('a repo that was never initialised asks for init', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    assertOneError(await run(['--repo', dir, 'repo', 'stat']), /run `ipfs-kit init` first/)
    assertOneError(await run(['--repo', dir, 'daemon']), /ipfs-kit daemon --init/)
    assertOneError(await run(['--repo', dir, 'id']), /run `ipfs-kit init` first/)
  })

  it('initLocal helper: init -q prints only the peer id', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    assert.match(await initLocal(dir), /^12D3Koo\w+$/)
  })
})
