/**
 * UnixFS symlinks in the kit: `add -r` keeps them with Kubo's CIDs (the gateway-conformance
 * fixture made by Kubo 0.18.1), `ls` types them, `get` writes them as links and refuses
 * targets that could lead outside the output folder; FIFOs and sockets are reported.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { importer } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, tempDir } from '../helpers.ts'

/**
 * Kubo 0.18.1, `ipfs add -Qr testfiles` of `foo` ("content\n") and `bar -> foo`
 * (gateway-conformance fixture `path_gateway_unixfs/symlink.car`, sharness t0113).
 */
const KUBO = {
  root: 'QmWvY6FaqFMS89YAQ9NAPjVP4WZKA1qbHbicc9HeSKQTgt',
  bar: 'QmTB8BaCJdCH5H3k7GrxJsxgDNmNYGGR71C58ERkivXoj5',
  foo: 'Qme2y5HA5kvo2jAx13UsnV5bQJVijiAJCPvaW3JGQWhvJZ'
}

describe('UnixFS symlinks (kit)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let kit: IPFSKit
  let root: CID

  /** A folder `d` holding the given entries, imported straight into the kit's blockstore. */
  async function folder(entries: Array<{ path: string; link?: string; text?: string }>): Promise<CID> {
    let cid: CID | undefined
    for await (const e of importer(
      entries.map((e) =>
        e.link != null
          ? { path: `d/${e.path}`, link: e.link }
          : { path: `d/${e.path}`, content: [new TextEncoder().encode(e.text ?? '')] }
      ),
      kit.helia.blockstore,
      { cidVersion: 0, rawLeaves: false }
    )) {
      if (e.path === 'd') cid = e.cid
    }
    assert.ok(cid)
    return cid
  }

  before(async () => {
    dir = await tempDir()
    kit = await localKit('worker', dir.path)
    const testfiles = join(dir.path, 'testfiles')
    await mkdir(testfiles)
    await writeFile(join(testfiles, 'foo'), 'content\n')
    await symlink('foo', join(testfiles, 'bar'))
    // the fixture imported without our `add` (so each test checks one thing)
    root = await folder([
      { path: 'foo', text: 'content\n' },
      { path: 'bar', link: 'foo' }
    ])
  })

  after(async () => {
    await kit?.stop()
    await dir?.cleanup()
  })

  it("add -r keeps a symlink as a UnixFS symlink, with Kubo's CIDs", async () => {
    const added = await kit.ipfsAddPath(join(dir.path, 'testfiles'), { onlyHash: true })
    assert.deepEqual(
      added.map((a) => `${a.Name} ${a.Hash}`),
      [`testfiles/bar ${KUBO.bar}`, `testfiles/foo ${KUBO.foo}`, `testfiles ${KUBO.root}`]
    )
    assert.equal(root.toString(), KUBO.root, 'the importer alone gives the same root')
    assert.equal((await kit.ipfsAddPath(join(dir.path, 'testfiles'))).at(-1)?.Hash, KUBO.root)
    // a symlink given as the path itself is added as a symlink too (Kubo without --dereference-args)
    assert.equal((await kit.ipfsAddPath(join(dir.path, 'testfiles', 'bar'))).at(-1)?.Hash, KUBO.bar)
  })

  it('ls gives a symlink type "symlink" and its target (size 0, as Kubo)', async () => {
    const entries = await kit.ipfsLs(root)
    const bar = entries.find((e) => e.Name === 'bar')
    assert.deepEqual(
      { Type: bar?.Type, Target: bar?.Target, Size: bar?.Size, Hash: bar?.Hash },
      { Type: 'symlink', Target: 'foo', Size: 0, Hash: KUBO.bar }
    )
    assert.equal(entries.find((e) => e.Name === 'foo')?.Type, 'file')
  })

  it('get writes a symlink as a link (in a folder, and as the output itself)', async () => {
    const out = join(dir.path, 'got')
    await kit.ipfsGet(root, out)
    assert.ok((await lstat(join(out, 'bar'))).isSymbolicLink())
    assert.equal(await readlink(join(out, 'bar')), 'foo')
    assert.equal(await readFile(join(out, 'bar'), 'utf8'), 'content\n')
    const alone = join(dir.path, 'alone')
    await kit.ipfsGet(`${root}/bar`, alone)
    assert.equal(await readlink(alone), 'foo')
    // again over what is there: the links are replaced, not followed
    await kit.ipfsGet(root, out)
    await kit.ipfsGet(`${root}/bar`, alone)
    assert.equal(await readlink(alone), 'foo')
  })

  it('get refuses a target that is absolute, not plain or leaves the output folder; nothing is written for it', async () => {
    const cases: Array<[string, string]> = [
      ['z', '/etc/passwd'],
      ['z', '../outside'],
      ['sub/z', '../../outside'],
      ['sub/z', 'x/../../..'],
      ['z', '..']
    ]
    for (const [i, [path, target]] of cases.entries()) {
      const cid = await folder([
        { path: 'a.txt', text: 'A' },
        { path, link: target }
      ])
      const out = join(dir.path, `refused-${i}`)
      await assert.rejects(kit.ipfsGet(cid, out), { name: 'UnsafeSymlinkError' }, `${path} -> ${target}`)
      await assert.rejects(lstat(join(out, path)), { code: 'ENOENT' }, `nothing at ${path}`)
    }
    await assert.rejects(lstat(join(dir.path, 'outside')), { code: 'ENOENT' })
    // inside the output folder, `..` is fine
    const ok = await folder([
      { path: 'a.txt', text: 'A' },
      { path: 'sub/up', link: '../a.txt' },
      { path: 'sub/deep/top', link: '../../sub/up' }
    ])
    const out = join(dir.path, 'inside')
    await kit.ipfsGet(ok, out)
    assert.equal(await readFile(join(out, 'sub', 'deep', 'top'), 'utf8'), 'A')
  })

  it('the rule on targets: leading .. only, never above the output folder', async () => {
    const { checkSymlinkTarget } = await import('../../src/kit/get.ts')
    assert.doesNotThrow(() => checkSymlinkTarget(['a'], 'b/c'))
    assert.doesNotThrow(() => checkSymlinkTarget(['a'], './b//c/'))
    assert.doesNotThrow(() => checkSymlinkTarget(['s', 'a'], '../b'))
    assert.doesNotThrow(() => checkSymlinkTarget([], 'sibling'))
    for (const [at, target] of [
      [['a'], ''],
      [['a'], '/b'],
      [['a'], '../b'],
      [['s', 'a'], '../../b'],
      [['s', 'a'], 'b/../..'],
      [['s', 'a'], 'b/..'],
      [[], '../x'],
      [['a'], 'b\0c']
    ] as Array<[string[], string]>) {
      assert.throws(
        () => checkSymlinkTarget(at, target),
        { name: 'UnsafeSymlinkError' },
        `${at} -> ${target}`
      )
    }
  })

  it('get never writes through a symlink already on disk: one where a folder goes is replaced', async () => {
    const elsewhere = join(dir.path, 'elsewhere')
    await mkdir(elsewhere)
    const cid = await folder([{ path: 'sub/file.txt', text: 'inside' }])
    const out = join(dir.path, 'through')
    await mkdir(out)
    await symlink(elsewhere, join(out, 'sub'))
    await kit.ipfsGet(cid, out)
    assert.ok((await lstat(join(out, 'sub'))).isDirectory())
    assert.equal(await readFile(join(out, 'sub', 'file.txt'), 'utf8'), 'inside')
    assert.deepEqual(await readdir(elsewhere), [])
  })

  it('add -r skips a FIFO and reports it (onSkip), and still adds the rest', {
    skip: process.platform === 'win32' ? 'no FIFOs' : false
  }, async () => {
    const src = join(dir.path, 'with-fifo')
    await mkdir(src)
    await writeFile(join(src, 'a.txt'), 'a')
    const mk = spawnSync('mkfifo', [join(src, 'pipe')])
    assert.equal(mk.status, 0, mk.stderr?.toString())
    const skipped: Array<[string, string]> = []
    const added = await kit.ipfsAddPath(src, { onSkip: (path, kind) => skipped.push([path, kind]) })
    assert.deepEqual(skipped, [[join(src, 'pipe'), 'a FIFO (named pipe)']])
    assert.deepEqual(
      added.map((a) => a.Name),
      ['with-fifo/a.txt', 'with-fifo']
    )
  })
})
