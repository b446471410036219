import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CliScratch, ok, run, tempDir } from './helpers.ts'

const HELLO = 'hello world\n'
const HELLO_CID = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
const EMPTY_DIR_CID = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'

describe('ipfs-kit CLI: add, cat, get, ls, pin, gc', () => {
  const scratch = new CliScratch()
  const { dirs, kit } = scratch
  let work = ''
  let folder = ''
  /** root CID of `folder` added with -r (set by the add -r test) */
  let root = ''

  before(async () => {
    await scratch.setup()
    work = scratch.work
    folder = join(work, 'site')
    await mkdir(join(folder, 'sub'), { recursive: true })
    await writeFile(join(folder, 'a.txt'), 'file a\n')
    await writeFile(join(folder, 'sub', 'b.txt'), 'file b in sub\n')
    await writeFile(join(folder, '.secret'), 'hidden\n')
  })

  after(() => scratch.teardown())

  it("add of 'hello world\\n' from stdin prints Kubo's CID with -q", async () => {
    const r = await run(kit('add', '-q'), { input: HELLO })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.out, `${HELLO_CID}\n`)
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a terminal')
    assert.equal(await ok(kit('add', '-'), { input: HELLO }), `added ${HELLO_CID} ${HELLO_CID}\n`)
  })

  it('add -r -q of an empty folder prints the empty folder CID last', async () => {
    const empty = join(work, 'empty')
    await mkdir(empty)
    const lines = (await ok(kit('add', '-r', '-q', empty))).trim().split('\n')
    assert.equal(lines.at(-1), EMPTY_DIR_CID)
  })

  it('add of a file prints added <cid> <name>; cat writes the bytes back', async () => {
    const file = join(work, 'hello.txt')
    await writeFile(file, HELLO)
    assert.equal(await ok(kit('add', file)), `added ${HELLO_CID} hello.txt\n`)
    assert.equal(await ok(kit('cat', HELLO_CID)), HELLO)
    assert.equal(await ok(kit('cat', `/ipfs/${HELLO_CID}`, '--offset', '6', '--length', '3')), 'wor')
  })

  it('add -r: every entry, root last; --json lines; -Q only the root; dot files only with --hidden', async () => {
    const lines = (await ok(kit('add', '-r', folder))).trim().split('\n')
    assert.deepEqual(
      lines.map((l) => l.split(' ')[2]),
      ['site/a.txt', 'site/sub/b.txt', 'site/sub', 'site']
    )
    root = lines.at(-1)?.split(' ')[1] ?? ''
    const json = (await ok(kit('--json', 'add', '-r', folder)))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Name: string; Hash: string; Size: string })
    assert.equal(json.at(-1)?.Hash, root)
    assert.equal(json.at(-1)?.Name, 'site')
    assert.match(json.at(-1)?.Size ?? '', /^\d+$/)
    assert.equal(await ok(kit('add', '-r', '-Q', folder)), `${root}\n`)
    const hidden = await ok(kit('add', '-r', '--hidden', folder))
    assert.match(hidden, /site\/\.secret/)
    assert.notEqual(hidden.trim().split('\n').at(-1)?.split(' ')[1], root)
  })

  it('ls lists a folder Kubo-style, folders with a trailing /; --json', async () => {
    const lines = (await ok(kit('ls', root))).trim().split('\n')
    assert.equal(lines.length, 2)
    assert.match(lines[0] ?? '', /^Qm\w+ 7 a\.txt$/)
    assert.match(lines[1] ?? '', /^Qm\w+ \d+ sub\/$/)
    const json = JSON.parse(await ok(kit('--json', 'ls', `${root}/sub`))) as {
      Objects: { Links: { Name: string; Type: string; Size: number }[] }[]
    }
    assert.deepEqual(
      json.Objects[0]?.Links.map((l) => [l.Name, l.Type, l.Size]),
      [['b.txt', 'file', 14]]
    )
  })

  it('get writes a file or a folder (-o, or the CID / last path element)', async () => {
    const out = join(work, 'got')
    assert.match(await ok(kit('get', root, '-o', out)), /Saving file\(s\) to /)
    assert.equal(await readFile(join(out, 'sub', 'b.txt'), 'utf8'), 'file b in sub\n')
    assert.equal(await readFile(join(out, 'a.txt'), 'utf8'), 'file a\n')
    const cwd = await tempDir()
    dirs.push(cwd)
    await ok(kit('get', '-q', HELLO_CID), { cwd })
    assert.equal(await readFile(join(cwd, HELLO_CID), 'utf8'), HELLO)
    await ok(kit('get', `/ipfs/${root}/sub/b.txt`), { cwd })
    assert.equal(await readFile(join(cwd, 'b.txt'), 'utf8'), 'file b in sub\n')
  })
})
