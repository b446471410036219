/**
 * The repo's disk going wrong: full (a real 8 MiB tmpfs), a damaged LevelDB, a damaged or lost
 * config. Each is a clear, typed error that names the file; nothing is reset silently and nothing
 * stored before is lost.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type IPFSKit, ipfsKit } from '../../src/kit/index.ts'
import { BIN, requireBuild, run } from '../cli/helpers.ts'
import { pseudoRandomBytes, tempDir } from '../helpers.ts'
import { verifyEveryBlock } from './fixtures/stores.ts'

const MiB = 1024 * 1024

/** Mount a tmpfs of `size` at `dir` (root only); false if this system does not allow it. */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
    return true
  } catch {
    return false
  }
}

/** A repo with one pinned file, stopped; its path and the pinned CID. */
async function repoWithPin(path: string, text: string): Promise<{ repo: string; hash: string; id: string }> {
  const kit = await ipfsKit({ repo: path, profile: 'local', offline: true })
  const { Hash } = await kit.ipfsAddString(text)
  const id = (await kit.ipfsId()).ID
  await kit.stop()
  // a second start: LevelDB moves its log into a table, as in a repo that has been used
  const again = await ipfsKit({ repo: path, offline: true })
  await again.stop()
  return { repo: path, hash: Hash, id }
}

/** Open the repo and check the pin and its content are still there. */
async function assertIntact(repo: string, hash: string, text: string, id?: string): Promise<void> {
  const kit = await ipfsKit({ repo, offline: true })
  try {
    assert.ok(
      (await kit.ipfsPinLs()).some((p) => p.Hash === hash),
      'the pin is intact'
    )
    assert.equal(new TextDecoder().decode(await kit.ipfsCat(hash)), text)
    if (id != null) assert.equal((await kit.ipfsId()).ID, id, 'same identity')
    await verifyEveryBlock(kit.repo.blockstore)
  } finally {
    await kit.stop()
  }
}

describe('disk faults', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let mounted: string | undefined
  const kits: IPFSKit[] = []

  before(async () => {
    requireBuild()
    dir = await tempDir('ipfs-kit-rel-disk-')
  })
  after(async () => {
    await Promise.all(kits.map((k) => k.stop().catch(() => {})))
    if (mounted != null) execFileSync('umount', [mounted])
    await dir?.cleanup()
  })

  it('disk full (an 8 MiB tmpfs): a DiskFullError, stored content intact, and all is well once there is room', async (t) => {
    const small = join(dir.path, 'small')
    await mkdir(small)
    if (!mountTmpfs(small, '8m')) {
      // as root (CI runs as root) the mount must work: never skip there
      assert.notEqual(process.getuid?.(), 0, 'running as root, yet a tmpfs could not be mounted')
      // without root there is no small filesystem to fill
      t.skip('cannot mount a tmpfs here (needs root); the ENOSPC path is not exercised')
      return
    }
    mounted = small
    const repo = join(small, 'repo')
    const kit = await ipfsKit({ repo, profile: 'local', offline: true })
    kits.push(kit)
    const kept = await kit.ipfsAddString('stored before the disk filled')
    const big = pseudoRandomBytes(16 * MiB, 5)
    await assert.rejects(kit.ipfsAddBytes(big), (err: Error) => {
      assert.equal(err.name, 'DiskFullError', `${err.name}: ${err.message}`)
      assert.match(err.message, /disk .*is full/)
      return true
    })
    // a small write fails the same way while the disk is full, and what was stored reads back
    await assert.rejects(kit.ipfsAddString('one more'), { name: 'DiskFullError' })
    assert.equal(new TextDecoder().decode(await kit.ipfsCat(kept.Hash)), 'stored before the disk filled')
    await verifyEveryBlock(kit.repo.blockstore)
    await kit.stop()

    // a restart on the full disk is a clear error too (LevelDB needs room to open)
    await assert.rejects(ipfsKit({ repo, offline: true }), (err: Error) => {
      assert.match(err.name, /DiskFullError/, `${err.name}: ${err.message}`)
      assert.match(err.message, /datastore/)
      return true
    })
    // the CLI says the same in one line
    const r = await run(['--repo', repo, 'repo', 'stat'], { timeoutMs: 30_000 })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^Error: .*disk .*is full[^\n]*\n$/)

    // room again (the filesystem grows): the repo opens, nothing was lost, gc clears the partial add
    execFileSync('mount', ['-o', 'remount,size=48m', small])
    await assertIntact(repo, kept.Hash, 'stored before the disk filled')
    const again = await ipfsKit({ repo, offline: true })
    try {
      await again.ipfsGc()
      const added = await again.ipfsAddBytes(big)
      assert.equal((await again.ipfsCat(added.Hash)).byteLength, big.byteLength)
    } finally {
      await again.stop()
    }
    assert.ok(BIN.length > 0)
  })

  it('a damaged LevelDB (garbage in CURRENT, a truncated MANIFEST, a lost CURRENT): a RepoError naming the file, never a reset', async () => {
    const cases: Array<{ name: string; damage: (ds: string) => Promise<void>; names: RegExp }> = [
      {
        name: 'garbage in CURRENT',
        damage: (ds) => writeFile(join(ds, 'CURRENT'), 'garbage\u0000\u0001'),
        names: /CURRENT/
      },
      {
        name: 'a truncated MANIFEST',
        damage: async (ds) => {
          const manifest = (await readFile(join(ds, 'CURRENT'), 'utf8')).trim()
          await truncate(join(ds, manifest), Math.floor((await stat(join(ds, manifest))).size / 2))
        },
        names: /MANIFEST-\d+/
      },
      {
        name: 'a lost CURRENT',
        damage: (ds) => rm(join(ds, 'CURRENT')),
        names: /CURRENT/
      }
    ]
    for (const [i, c] of cases.entries()) {
      const text = `pinned in repo ${i}`
      const { repo, hash, id } = await repoWithPin(join(dir.path, `leveldb-${i}`), text)
      const ds = join(repo, 'datastore')
      const saved = new Map<string, Buffer>()
      for (const name of await readdir(ds)) saved.set(name, await readFile(join(ds, name)))
      await c.damage(ds)
      await assert.rejects(ipfsKit({ repo, offline: true }), (err: Error) => {
        assert.equal(err.name, 'RepoError', `${c.name}: ${err.name} ${err.message}`)
        assert.ok(err.message.includes(ds), `${c.name}: names the datastore (${err.message})`)
        assert.match(err.message, c.names, `${c.name}: names the file`)
        return true
      })
      // the CLI: one line, the same words
      const r = await run(['--repo', repo, 'repo', 'stat'], { timeoutMs: 30_000 })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^Error: [^\n]*datastore[^\n]*\n$/)
      // nothing was reset: no table, log or manifest was deleted, and with the damaged file put
      // back everything is there
      const left = new Set(await readdir(ds))
      for (const name of saved.keys()) {
        if (/\.(ldb|log)$|^MANIFEST-/.test(name))
          assert.ok(left.has(name), `${c.name}: ${name} is still there`)
      }
      for (const [name, bytes] of saved) await writeFile(join(ds, name), bytes)
      await assertIntact(repo, hash, text, id)
    }
  })

  it('a damaged or lost config: a RepoError naming the file; never a new identity over the repo', async () => {
    const text = 'pinned under the old identity'
    const { repo, hash, id } = await repoWithPin(join(dir.path, 'config-repo'), text)
    const file = join(repo, 'config')
    const original = await readFile(file, 'utf8')
    const damaged = [
      '',
      original.slice(0, original.length >> 1),
      'null',
      original.replace('"Swarm": [', '"Swarm": [42, '),
      original.replace(/"Enabled": (true|false)/, '"Enabled": "yes"'),
      original.replace(/"PrivKey": "[^"]+"/, '"PrivKey": "AAAA"')
    ]
    for (const content of damaged) {
      await writeFile(file, content)
      await assert.rejects(ipfsKit({ repo, offline: true }), (err: Error) => {
        assert.equal(err.name, 'RepoError', `${err.name}: ${err.message}`)
        assert.ok(err.message.includes(file), `names ${file}: ${err.message}`)
        return true
      })
    }
    // lost altogether: not a fresh repo with a new peer id over the old data
    await rm(file)
    await assert.rejects(ipfsKit({ repo, offline: true }), (err: Error) => {
      assert.equal(err.name, 'RepoError', `${err.name}: ${err.message}`)
      assert.ok(err.message.includes(file))
      return true
    })
    const r = await run(['--repo', repo, 'daemon', '--init'], { timeoutMs: 30_000 })
    assert.equal(r.code, 1, 'daemon --init refuses too')
    assert.match(r.stderr, /^Error: [^\n]*config[^\n]*\n$/)
    assert.deepEqual(
      (await readdir(repo)).filter((n) => n === 'config'),
      [],
      'no config was written'
    )
    await writeFile(file, original)
    await assertIntact(repo, hash, text, id)
  })
})
