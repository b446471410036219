import assert from 'node:assert/strict'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { assertOneError, CliScratch, ok, run } from './helpers.ts'

const HELLO = 'hello world\n'
const HELLO_CID = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'

describe('ipfs-kit CLI: pin, gc and bad input', () => {
  const scratch = new CliScratch()
  const { kit } = scratch
  let work = ''
  let folder = ''

  before(async () => {
    await scratch.setup()
    work = scratch.work
    folder = join(work, 'site')
    await mkdir(join(folder, 'sub'), { recursive: true })
    await writeFile(join(folder, 'a.txt'), 'file a\n')
    await ok(kit('add', '-q'), { input: HELLO })
  })

  after(() => scratch.teardown())

  it('pins: --no-pin / --pin=false leave content unpinned; pin add, ls, rm; gc removes unpinned blocks', async () => {
    const a = (await ok(kit('add', '-q', '--no-pin'), { input: 'unpinned a\n' })).trim()
    const b = (await ok(kit('add', '-q', '--pin=false'), { input: 'unpinned b\n' })).trim()
    const pins = await ok(kit('pin', 'ls'))
    assert.match(pins, new RegExp(`^${HELLO_CID} recursive$`, 'm'))
    assert.doesNotMatch(pins, new RegExp(a))
    assert.doesNotMatch(pins, new RegExp(b))
    assert.equal(await ok(kit('pin', 'add', a)), `pinned ${a} recursively\n`)
    assert.equal(await ok(kit('pin', 'ls', a)), `${a} recursive\n`)
    const json = JSON.parse(await ok(kit('--json', 'pin', 'ls', a))) as {
      Keys: Record<string, { Type: string }>
    }
    assert.deepEqual(json.Keys, { [a]: { Type: 'recursive' } })
    assert.equal(await ok(kit('pin', 'rm', a)), `unpinned ${a}\n`)
    assert.equal(await ok(kit('pin', 'add', '--recursive=false', a)), `pinned ${a} directly\n`)
    assert.equal(await ok(kit('pin', 'ls', a)), `${a} direct\n`)
    assert.equal(await ok(kit('-q', 'pin', 'rm', a)), `${a}\n`)
    assertOneError(await run(kit('pin', 'ls', a)), /is not pinned/)
    assertOneError(await run(kit('pin', 'rm', a)), /is not pinned/)
    const removed = await ok(kit('gc'))
    assert.match(removed, new RegExp(`^removed ${a}$`, 'm'))
    assert.match(removed, new RegExp(`^removed ${b}$`, 'm'))
    assert.doesNotMatch(removed, new RegExp(HELLO_CID))
    assertOneError(await run(kit('cat', a)), /not found/)
    assert.equal(await ok(kit('cat', HELLO_CID)), HELLO)
  })

  it('add --only-hash prints the CID and stores nothing', async () => {
    const onlyHash = (await ok(kit('add', '-q', '-n'), { input: 'never stored\n' })).trim()
    assert.match(onlyHash, /^Qm/)
    assertOneError(await run(kit('--offline', 'cat', onlyHash)), /not found/)
  })

  it('bad input: invalid CID, missing path, folder without -r, cat of a folder, unknown content', async () => {
    // refused before the repo is opened: these run at once, beside the add that opens it
    const cases: Array<[string[], RegExp]> = [
      [['cat', 'not-a-cid'], /not a valid CID/],
      [['ls', 'Qm123'], /not a valid CID/],
      [['pin', 'add', 'zzz'], /not a valid CID/],
      [['add', join(work, 'no-such-file')], /no such file or folder/],
      [['add', folder], /is a directory, use the '-r' flag/]
    ]
    const [added, ...refused] = await Promise.all([
      ok(kit('add', '-r', '-Q', folder)),
      ...cases.map(([args]) => run(kit(...args)))
    ])
    for (const [i, r] of refused.entries()) assertOneError(r, cases[i]?.[1] ?? /./)
    const root = added.trim()
    assertOneError(await run(kit('cat', root)), /not a file/)
    assertOneError(await run(kit('cat', `${root}/nope.txt`)), /not found/)
    const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    assertOneError(await run(kit('cat', missing)), /missing from the local repo.*--connect/)
    assertOneError(await run(kit('pin', 'add', missing)), /missing from the local repo/)
    assertOneError(await run(kit('--offline', 'get', missing, '-o', join(work, 'x'))), /offline/)
    await assert.rejects(stat(join(work, 'x')))
  })
})
