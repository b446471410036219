/**
 * The real CLI with UnixFS symlinks, on its own repo and through a running daemon: `add -r`
 * keeps them with Kubo's CIDs and warns about FIFOs; `ls` shows `name -> target`; `get`
 * writes links and refuses unsafe targets with one error line; a refusal the daemon meets
 * after its archive began arrives as that error (the `X-Stream-Error` trailer), not as
 * "terminated".
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { pseudoRandomBytes } from '../helpers.ts'
import { assertOneError, CliScratch, type LiveProcess, ok, run, start } from './helpers.ts'

/** Kubo 0.18.1's `ipfs add -r testfiles` of `foo` ("content\n") and `bar -> foo` (gateway-conformance fixture). */
const KUBO = [
  'added QmTB8BaCJdCH5H3k7GrxJsxgDNmNYGGR71C58ERkivXoj5 testfiles/bar',
  'added Qme2y5HA5kvo2jAx13UsnV5bQJVijiAJCPvaW3JGQWhvJZ testfiles/foo',
  'added QmWvY6FaqFMS89YAQ9NAPjVP4WZKA1qbHbicc9HeSKQTgt testfiles'
]
const ROOT = 'QmWvY6FaqFMS89YAQ9NAPjVP4WZKA1qbHbicc9HeSKQTgt'

describe('ipfs-kit CLI: symlinks, FIFOs, and errors in the middle of a daemon get', () => {
  const scratch = new CliScratch()
  const { kit } = scratch
  let work = ''
  let testfiles = ''
  /** root of a folder whose `abs` links to /etc/passwd and `up` to ../../outside */
  let unsafe = ''
  let daemon: LiveProcess | undefined

  before(async () => {
    await scratch.setup()
    work = scratch.work
    testfiles = join(work, 'testfiles')
    await mkdir(testfiles)
    await writeFile(join(testfiles, 'foo'), 'content\n')
    await symlink('foo', join(testfiles, 'bar'))
    const mk = spawnSync('mkfifo', [join(testfiles, 'pipe')])
    assert.equal(mk.status, 0, mk.stderr?.toString())
    const evil = join(work, 'evil')
    await mkdir(evil)
    await symlink('/etc/passwd', join(evil, 'abs'))
    await symlink('../../outside', join(evil, 'up'))
    unsafe = (await ok(kit('add', '-r', '-Q', evil))).trim()
  })

  after(async () => {
    if (daemon != null) await daemon.stop('SIGTERM').catch(() => undefined)
    await scratch.teardown()
  })

  it("add -r keeps symlinks (Kubo's CIDs) and warns on stderr about a FIFO it skips", async () => {
    const r = await run(kit('add', '-r', testfiles))
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.out.trim().split('\n'), KUBO)
    // the warning, then the leecher's note that it does not provide what it added
    const [warning, leecher, ...rest] = r.stderr.split('\n')
    assert.equal(warning, `Warning: skipped ${join(testfiles, 'pipe')}: a FIFO (named pipe)`)
    assert.match(leecher ?? '', /^Note: this node is a leecher/)
    assert.deepEqual(rest, [''])
  })

  it('ls shows a symlink as name -> target; --json has its type and target', async () => {
    assert.match(await ok(kit('ls', ROOT)), /^QmTB8BaCJdCH5H3k7GrxJsxgDNmNYGGR71C58ERkivXoj5 0 bar -> foo$/m)
    const json = JSON.parse(await ok(kit('--json', 'ls', ROOT))) as {
      Objects: Array<{ Links: Array<{ Name: string; Type: string; Target?: string }> }>
    }
    const bar = json.Objects[0]?.Links.find((l) => l.Name === 'bar')
    assert.deepEqual([bar?.Type, bar?.Target], ['symlink', 'foo'])
  })

  it('get writes a symlink; an unsafe one is refused with one error line and not written', async () => {
    const out = join(work, 'got')
    await ok(kit('get', ROOT, '-o', out))
    assert.equal(await readlink(join(out, 'bar')), 'foo')
    assert.equal(await readFile(join(out, 'bar'), 'utf8'), 'content\n')
    const bad = join(work, 'got-unsafe')
    const r = await run(kit('get', unsafe, '-o', bad))
    assertOneError(r, /^Error: refusing symlink abs -> "\/etc\/passwd": its target is an absolute path$/)
    await assert.rejects(lstat(join(bad, 'abs')), { code: 'ENOENT' })
  })

  describe('through a running daemon', () => {
    let api = ''

    before(async () => {
      daemon = start(kit('daemon'))
      await daemon.waitFor(/^Daemon is ready$/m, 'stdout', 30_000)
      const addr = (await daemon.waitFor(/^RPC API server listening on \/ip4\/127\.0\.0\.1\/tcp\/(\d+)$/m))[1]
      api = `http://127.0.0.1:${addr}`
    })

    it('add -r, ls and get keep symlinks as without a daemon', async () => {
      const r = await run(kit('add', '-r', testfiles))
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(r.out.trim().split('\n'), KUBO)
      // the warning, then the leecher's note that it does not provide what it added
      const [warning, leecher, ...rest] = r.stderr.split('\n')
      assert.equal(warning, `Warning: skipped ${join(testfiles, 'pipe')}: a FIFO (named pipe)`)
      assert.match(leecher ?? '', /^Note: this node is a leecher/)
      assert.deepEqual(rest, [''])
      assert.match(await ok(kit('ls', ROOT)), / 0 bar -> foo$/m)
      const out = join(work, 'daemon-got')
      await ok(kit('get', ROOT, '-o', out))
      assert.equal(await readlink(join(out, 'bar')), 'foo')
    })

    it('get refuses an unsafe symlink from the archive with one error line', async () => {
      const bad = join(work, 'daemon-unsafe')
      const r = await run(kit('get', unsafe, '-o', bad))
      assertOneError(r, /^Error: refusing symlink abs -> "\/etc\/passwd": its target is an absolute path$/)
      await assert.rejects(lstat(join(bad, 'abs')), { code: 'ENOENT' })
    })

    it('a refusal after the archive began is one error line naming it (not "terminated"), exit 1', async () => {
      const file = (await ok(kit('add', '-q'), { input: pseudoRandomBytes(2 * 1024 * 1024, 9) })).trim()
      // a folder whose second entry is named "z/evil": the daemon refuses it mid-archive
      const bytes = dagPb.encode(
        dagPb.prepare({
          // UnixFS Data { Type: Directory }
          Data: new Uint8Array([0x08, 0x01]),
          Links: [
            { Name: 'a.bin', Hash: CID.parse(file), Tsize: 2 * 1024 * 1024 },
            { Name: 'z/evil', Hash: CID.parse(file), Tsize: 2 * 1024 * 1024 }
          ]
        })
      )
      const form = new FormData()
      form.append('file', new Blob([bytes]))
      const put = await fetch(`${api}/api/v0/block/put?cid-codec=dag-pb`, { method: 'POST', body: form })
      assert.equal(put.status, 200, await put.clone().text())
      const root = ((await put.json()) as { Key: string }).Key
      const r = await run(kit('get', root, '-o', join(work, 'mid-archive')))
      assertOneError(r, /^Error: refusing a folder entry named "z\/evil": not a plain name$/)
      assert.equal(
        await readFile(join(work, 'mid-archive', 'a.bin')).then((b) => b.byteLength),
        2 * 1024 * 1024
      )
    })
  })
})
