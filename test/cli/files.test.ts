/**
 * `ipfs-kit files …` end to end (the real binary), on the repo alone and through a daemon, the
 * real `kubo-rpc-client`'s `files.*` against that daemon, and the MFS tree surviving `repo gc`
 * and a daemon restart.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { create } from 'kubo-rpc-client'
import { assertOneError, CliScratch, type LiveProcess, ok, run, start } from './helpers.ts'

const EMPTY_DIR = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'

async function startDaemon(kit: (...a: string[]) => string[]): Promise<{ daemon: LiveProcess; url: string }> {
  const daemon = start(kit('daemon'))
  await daemon.waitFor(/^Daemon is ready$/m, 'stdout', 60_000)
  const port = (await daemon.waitFor(/^RPC API server listening on \/ip4\/127\.0\.0\.1\/tcp\/(\d+)$/m))[1]
  return { daemon, url: `http://127.0.0.1:${port}` }
}

async function text(source: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts).toString('utf8')
}

describe('ipfs-kit files', () => {
  const s = new CliScratch()
  const kit = s.kit
  let daemon: LiveProcess | undefined

  before(async () => {
    await s.setup()
  })
  after(async () => {
    await daemon?.stop()
    await s.teardown()
  })

  it('mkdir, write, read, ls, stat and flush on the repo, kept from one command to the next', async () => {
    assert.equal((await ok(kit('files', 'stat', '--hash', '/'))).trim(), EMPTY_DIR)
    await ok(kit('files', 'mkdir', '-p', '/docs/notes'))
    await ok(kit('files', 'write', '--create', '/docs/a.txt'), { input: 'ipfs rocks\n' })
    await ok(kit('files', 'write', '-o', '5', '/docs/a.txt'), { input: 'is super cool\n' })
    assert.equal(await ok(kit('files', 'read', '/docs/a.txt')), 'ipfs is super cool\n')
    assert.equal(await ok(kit('files', 'read', '-o', '5', '-n', '2', '/docs/a.txt')), 'is')
    const file = join(s.work, 'local.txt')
    await writeFile(file, 'from a file\n')
    await ok(kit('files', 'write', '-e', '-p', '/deep/er/b.txt', file))
    assert.equal(await ok(kit('files', 'read', '/deep/er/b.txt')), 'from a file\n')
    assert.equal(await ok(kit('files', 'ls')), 'deep\ndocs\n')
    assert.equal(await ok(kit('files', 'ls', '/docs')), 'a.txt\nnotes\n')
    // Kubo's `files write -o` on "ipfs rocks\n" (t0250-files-api.sh: FILE_HASH)
    const fileHash = 'QmQdQt9qooenjeaNhiKHF3hBvmNteB4MQBtgu3jxgf9c7i'
    assert.equal(
      await ok(kit('files', 'stat', '/docs/a.txt')),
      `${fileHash}\nSize: 19\nCumulativeSize: 129\nChildBlocks: 2\nType: file\nMode: not set (not set)\nMtime: not set\n`
    )
    assert.equal((await ok(kit('files', 'stat', '--format', '<type> <size>', '/docs'))).trim(), 'directory 0')
    const long = await ok(kit('files', 'ls', '-l', '/docs'))
    assert.match(long, new RegExp(`^a\\.txt\\t${fileHash}\\t19$`, 'm'))
    assert.match(long, /^notes\/\tQm\w+\t0$/m)
    const json = JSON.parse(await ok(kit('--enc', 'json', 'files', 'stat', '/docs/a.txt')))
    assert.deepEqual(json, { Hash: fileHash, Size: 19, CumulativeSize: 129, Blocks: 2, Type: 'file' })
    const root = (await ok(kit('files', 'stat', '--hash', '/'))).trim()
    assert.equal((await ok(kit('files', 'flush'))).trim(), root)
    assert.deepEqual(JSON.parse(await ok(kit('--json', 'files', 'ls', '/docs/notes'))), { Entries: null })
  })

  it('refuses bad input with one typed error line and a non-zero exit, changing nothing', async () => {
    // through the daemon from here on (the same handlers; a one-shot kit per command is slow)
    daemon = (await startDaemon(kit)).daemon
    const root = (await ok(kit('files', 'stat', '--hash', '/'))).trim()
    // each refused command changes nothing, so they run at once
    const cases: Array<[string[], string | undefined, RegExp]> = [
      [['files', 'mkdir', '/missing/child'], undefined, /file does not exist.*--parents/],
      [['files', 'write', '-e', '/docs'], 'x', /\/docs was not a file/],
      [['files', 'rm', '/docs'], undefined, /\/docs is a directory, use -r to remove directories/],
      [['files', 'ls', 'docs'], undefined, /paths must start with a leading slash/],
      [['files', 'stat', '--hash', '--size', '/'], undefined, /Only one format option/],
      [['files', 'read', '-o', '99', '/docs/a.txt'], undefined, /offset was past end of file/],
      [['files', 'write', '/docs/new.txt'], 'x', /file does not exist/],
      [['files', 'cp', '/docs/a.txt', '/docs/notes/../a.txt'], undefined, /already has entry/]
    ]
    const results = await Promise.all(
      cases.map(([args, input]) => run(kit(...args), input == null ? {} : { input }))
    )
    for (const [i, r] of results.entries()) assertOneError(r, cases[i]?.[2] ?? /./)
    assert.equal((await ok(kit('files', 'stat', '--hash', '/'))).trim(), root)
  })

  it('through a daemon: cp from /ipfs/, mv, rm -r, chcid, add --to-files', async () => {
    const [added0, refused] = await Promise.all([
      ok(kit('add', '-q'), { input: 'foo\n' }),
      run(kit('add', '--to-files', 'nope'), { input: 'x' })
    ])
    assertOneError(refused, /leading slash/)
    const cid = added0.trim()
    await ok(kit('files', 'cp', `/ipfs/${cid}`, '/docs/foo'))
    assert.equal(await ok(kit('files', 'read', '/docs/foo')), 'foo\n')
    await ok(kit('files', 'mv', '/docs/foo', '/docs/notes'))
    assert.equal(await ok(kit('files', 'ls', '/docs/notes')), 'foo\n')
    await ok(kit('files', 'rm', '-r', '/deep'))
    assert.equal(await ok(kit('files', 'ls')), 'docs\n')
    await ok(kit('files', 'mkdir', '/v1'))
    await ok(kit('files', 'chcid', '--cid-version', '1', '/v1'))
    assert.equal(
      (await ok(kit('files', 'stat', '--hash', '/v1'))).trim(),
      'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354'
    )
    await ok(kit('files', 'rm', '-r', '/v1'))
    const added = (await ok(kit('add', '-q', '--to-files', '/docs/'), { input: 'added\n' })).trim()
    assert.equal(await ok(kit('files', 'read', `/docs/${added}`)), 'added\n')
  })

  it('kubo-rpc-client files.* against the daemon', async () => {
    const port = /tcp\/(\d+)$/m.exec(daemon?.stdout() ?? '')?.[1]
    const client = create({ url: `http://127.0.0.1:${port}/api/v0` })
    await client.files.mkdir('/rpc/sub', { parents: true })
    await client.files.write('/rpc/sub/a.txt', new TextEncoder().encode('hello mfs\n'), { create: true })
    assert.equal(await text(client.files.read('/rpc/sub/a.txt')), 'hello mfs\n')
    assert.equal(await text(client.files.read('/rpc/sub/a.txt', { offset: 6, length: 3 })), 'mfs')
    const stat = await client.files.stat('/rpc/sub/a.txt')
    assert.equal(stat.type, 'file')
    assert.equal(stat.size, 10)
    assert.equal(stat.cid.toString(), (await ok(kit('files', 'stat', '--hash', '/rpc/sub/a.txt'))).trim())
    await client.files.cp('/rpc/sub/a.txt', '/rpc/b.txt')
    await client.files.mv('/rpc/b.txt', '/rpc/c.txt')
    const entries = []
    for await (const e of client.files.ls('/rpc')) entries.push(e)
    assert.deepEqual(
      entries.map((e) => [e.name, e.type]),
      [
        ['c.txt', 'file'],
        ['sub', 'directory']
      ]
    )
    assert.equal(entries[0]?.size, 10)
    await assert.rejects(client.files.rm('/rpc'), /is a directory/)
    await client.files.rm('/rpc', { recursive: true })
    const root = await client.files.flush('/')
    assert.equal(root.toString(), (await ok(kit('files', 'stat', '--hash', '/'))).trim())
  })

  it('the tree survives repo gc and a daemon restart', async () => {
    const garbage = (await ok(kit('add', '-q', '--pin=false'), { input: 'not kept\n' })).trim()
    const root = (await ok(kit('files', 'stat', '--hash', '/'))).trim()
    const removed = await ok(kit('gc'))
    assert.match(removed, new RegExp(garbage))
    assert.equal(await ok(kit('files', 'read', '/docs/a.txt')), 'ipfs is super cool\n')
    assert.equal(await daemon?.stop(), 0)
    daemon = (await startDaemon(kit)).daemon
    assert.equal((await ok(kit('files', 'stat', '--hash', '/'))).trim(), root)
    assert.equal(await ok(kit('files', 'read', '/docs/notes/foo')), 'foo\n')
    await daemon.stop()
    daemon = undefined
    // and on the repo alone, after a gc without a daemon
    await ok(kit('gc'))
    assert.equal(await ok(kit('files', 'read', '/docs/a.txt')), 'ipfs is super cool\n')
  })
})
