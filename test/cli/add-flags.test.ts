/**
 * `ipfs-kit add` with Kubo's flags, run as users run it (the built binary, no daemon: the repo's
 * kit serves the one command): -w, --chunker, -t, --hash, --cid-base, --progress with --enc json,
 * `added` lines as each file is done, and the note of a node that does not provide. The CIDs are
 * Kubo's, from its own tests (t0040-add-and-cat.sh, t0043-add-w.sh, test/cli/add_test.go).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { assertOneError, CliScratch, ok, run, start } from './helpers.ts'

const HELLO_WORLDS = 'Hello Worlds!\n'
const HELLO_WORLDS_CID = 'QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH'
const LEECHER_NOTE = /^Note: this node is a leecher: it does not announce \(provide\) what it adds/

describe('ipfs-kit add: Kubo flags', () => {
  const scratch = new CliScratch()
  const { kit } = scratch
  let hello = ''
  let hello2 = ''

  before(async () => {
    await scratch.setup()
    hello = join(scratch.work, 'hello.txt')
    hello2 = join(scratch.work, 'hello2.txt')
    await writeFile(hello, HELLO_WORLDS)
    await writeFile(hello2, 'Helloo Worlds!\n')
  })

  after(() => scratch.teardown())

  it("-w wraps every path in one folder, printed last and unnamed, as Kubo's", async () => {
    assert.equal(
      await ok(kit('add', '-w', hello)),
      `added ${HELLO_WORLDS_CID} hello.txt\nadded QmVJfrqd4ogGZME6LWkkikAGddYgh9dBs2U14DHZZUBk7W \n`
    )
    const both = (await ok(kit('add', '-w', '--progress=false', hello, hello2))).split('\n')
    assert.deepEqual(both.slice(0, 2), [
      `added ${HELLO_WORLDS_CID} hello.txt`,
      'added Qmf35k66MZNW2GijohUmXQEWKZU4cCGTCwK6idfnt152wJ hello2.txt'
    ])
    const root = /^added (\w+) $/.exec(both[2] ?? '')?.[1]
    assert.ok(root != null, both[2])
    assert.deepEqual(
      (await ok(kit('ls', root)))
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).at(-1)),
      ['hello.txt', 'hello2.txt']
    )
    // without -w, each path is a root of its own, both pinned
    await ok(kit('add', '--wrap-with-directory=false', hello, hello2))
    const pins = await ok(kit('pin', 'ls'))
    assert.match(pins, new RegExp(`${HELLO_WORLDS_CID} recursive`))
    assert.match(pins, /Qmf35k66MZNW2GijohUmXQEWKZU4cCGTCwK6idfnt152wJ recursive/)
  })

  it('standard input: --stdin-name, and with -w', async () => {
    const named = 'QmdFyxZXsFiP4csgfM5uPu99AvFiKH62CSPDw5TP92nr7w'
    // refused before the repo is opened: beside an add that opens it
    const [first, unnamed] = await Promise.all([
      ok(kit('add', '--stdin-name', 'file.txt'), { input: 'IPFS\n' }),
      run(kit('add', '-w', '-'), { input: 'IPFS\n' })
    ])
    assert.equal(first, `added ${named} file.txt\n`)
    assertOneError(unnamed, /pass --stdin-name/)
    const wrapped = (await ok(kit('add', '-w', '--stdin-name', 'file.txt'), { input: 'IPFS\n' })).split('\n')
    assert.equal(wrapped[0], `added ${named} file.txt`)
    const root = (await ok(kit('add', '-w', '-Q', '--stdin-name', 'file.txt'), { input: 'IPFS\n' })).trim()
    assert.equal(await ok(kit('cat', `/ipfs/${root}/file.txt`)), 'IPFS\n')
  })

  it("--chunker and -t: Kubo's CIDs; what Kubo refuses is one error line", async () => {
    // what is refused is refused before the repo is opened: beside the first add
    const [size64, size0, rabin12, buzhash] = await Promise.all([
      ok(kit('add', '-q', '--chunker', 'size-64', hello)),
      run(kit('add', '-Q', '--chunker=size-0', hello)),
      run(kit('add', '-Q', '--chunker', 'rabin-12-512-1024', hello)),
      run(kit('add', '--chunker', 'buzhash-1024', hello))
    ])
    assert.equal(size64, `${HELLO_WORLDS_CID}\n`, 'size-64')
    assertOneError(size0, /^Error: chunker size must be greater than 0$/)
    assertOneError(rabin12, /^Error: rabin min must be greater than 16$/)
    assertOneError(buzhash, /unrecognized chunker option/)
    for (const chunker of ['rabin', 'rabin-36-512-1024']) {
      assert.equal(await ok(kit('add', '-q', '--chunker', chunker, hello)), `${HELLO_WORLDS_CID}\n`, chunker)
    }
    assert.equal(
      await ok(kit('add', '-t', hello)),
      'added QmUkUQgxXeggyaD5Ckv8ZqfW8wHBX6cYyeiyqvVZYzq5Bi hello.txt\n'
    )
    assert.equal(await ok(kit('add', '-q', '--trickle=false', hello)), `${HELLO_WORLDS_CID}\n`)
    // a multi-chunk rabin file reads back whole
    const big = join(scratch.work, 'big.bin')
    const bytes = Buffer.alloc(300 * 1024)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251
    await writeFile(big, bytes)
    const cid = (await ok(kit('add', '-q', '--chunker=rabin-1024-4096-8192', big))).trim()
    assert.deepEqual((await run(kit('cat', cid))).stdout, bytes)
  })

  it("--hash: sha2-512 gives Kubo's CIDv1; others are one error line", async () => {
    const [sha512, sha3, nope, v0] = await Promise.all([
      ok(kit('add', '-q', '--hash=sha2-512'), { input: 'hello world' }),
      run(kit('add', '--hash', 'sha3-256', hello)),
      run(kit('add', '--hash', 'nope', hello)),
      run(kit('add', '--hash=sha2-512', '--cid-version=0', hello))
    ])
    assert.equal(
      sha512,
      'bafkrgqbqt3gerhas23vuzrapkdeqf4vu2dwxp3srdj6hvg6nhsug2tgyn6mj3u23yx7utftq3i2ckw2fwdh5qmhid5qf3t35yvkc5e5ottlw6\n'
    )
    assertOneError(sha3, /"sha3-256" is not supported/)
    assertOneError(nope, /unrecognized hash function: "nope"/)
    assertOneError(v0, /CIDv0 only supports sha2-256/)
  })

  it('--cid-base: CIDv0 printed as CIDv1 in that base, unless --upgrade-cidv0-in-output=false', async () => {
    const file = join(scratch.work, 'base32-test.txt')
    await writeFile(file, 'base32 test\n')
    const b32 = 'bafybeibyosqxljd2eptb4ebbtvk7pb4aoxzqa6ttdsflty6rsslz5y6i34'
    const [added32, base99] = await Promise.all([
      ok(kit('add', '--cid-base=base32', file)),
      run(kit('add', '--cid-base', 'base99', file))
    ])
    assert.equal(added32, `added ${b32} base32-test.txt\n`)
    assertOneError(base99, /unsupported multibase encoding: "base99"/)
    assert.equal(
      await ok(kit('add', '--cid-base=base32', '--only-hash', file)),
      `added ${b32} base32-test.txt\n`
    )
    const v0 = (await ok(kit('add', '-q', file))).trim()
    assert.match(v0, /^Qm/)
    assert.equal(
      await ok(kit('add', '--cid-base=base32', '--upgrade-cidv0-in-output=false', file)),
      `added ${v0} base32-test.txt\n`
    )
    assert.match((await ok(kit('add', '-q', '--cid-base', 'base36', file))).trim(), /^k2/)
    assert.equal(await ok(kit('cat', b32)), 'base32 test\n')
  })

  it("--enc json --progress: Kubo's {Name, Bytes} objects as the file is read, then the entry", async () => {
    const file = join(scratch.work, 'six-hundred.bin')
    await writeFile(file, Buffer.alloc(600 * 1024, 7))
    const lines = (await ok(kit('--enc', 'json', 'add', '--progress', file)))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Name: string; Bytes?: number; Hash?: string; Size?: string })
    const progress = lines.filter((l) => l.Hash == null)
    // once per 256 KiB read (at the read that crosses it), and once at the end
    assert.equal(progress.length, 3, JSON.stringify(progress))
    assert.ok(progress.every((p) => p.Name === 'six-hundred.bin'))
    const bytes = progress.map((p) => p.Bytes ?? 0)
    assert.ok(bytes[0]! >= 262144 && bytes[1]! - bytes[0]! >= 262144, JSON.stringify(bytes))
    assert.equal(bytes[2], 614400)
    const entry = lines.at(-1)
    assert.equal(entry?.Name, 'six-hundred.bin')
    assert.match(entry?.Hash ?? '', /^Qm/)
    assert.deepEqual(Object.keys(entry ?? {}), ['Name', 'Hash', 'Size'])
    // without --progress, only the entries
    const plain = (await ok(kit('--json', 'add', file))).trim().split('\n')
    assert.equal(plain.length, 1)
  })

  it('added lines stream: a file is printed while the next is still being read', async () => {
    const add = start(kit('add', '--stdin-name', 'slow.txt', hello, '-'))
    try {
      await add.waitFor(new RegExp(`^added ${HELLO_WORLDS_CID} hello.txt$`, 'm'))
      assert.equal(add.child.exitCode, null, 'the add is still reading standard input')
      add.child.stdin?.end('the last file\n')
      const code = add.child.exitCode ?? (await once(add.child, 'close'))[0]
      assert.equal(code, 0, add.stderr())
      assert.match(add.stdout(), /\nadded Qm\w+ slow\.txt\n$/)
    } finally {
      await add.stop('SIGKILL').catch(() => {})
    }
  })

  it('a leecher says once, on stderr, that it does not provide what it added (not with -q)', async () => {
    const r = await run(kit('add', hello))
    assert.equal(r.code, 0)
    const notes = r.stderr.split('\n').filter((l) => l !== '')
    assert.equal(notes.length, 1, r.stderr)
    assert.match(notes[0] ?? '', LEECHER_NOTE)
    for (const quiet of ['-q', '-Q']) assert.equal((await run(kit('add', quiet, hello))).stderr, '', quiet)
    assert.equal((await run(kit('add', '-n', hello))).stderr, '', 'nothing stored: nothing to provide')
  })

  it("--chunker=buzhash: Kubo's CIDs (t0040, kubo#6953), a multi-chunk file read back whole", async () => {
    assert.equal(await ok(kit('add', '-q', '--chunker=buzhash', hello)), `${HELLO_WORLDS_CID}\n`)
    // `yes "foo" | head -n 40000`: one chunk, Kubo's leaf
    const foo = join(scratch.work, 'foo.txt')
    await writeFile(foo, 'foo\n'.repeat(40_000))
    assert.equal(
      await ok(kit('add', '-q', '--chunker', 'buzhash', foo)),
      'QmcNJ4CKYGuya2ndNr9ymV7oQsT4S69SdwmTzaiW7c9vAC\n'
    )
    assert.equal(
      await ok(kit('add', '-q', '--chunker=buzhash', '--cid-version=1', foo)),
      'bafkreigqq7maj23te3dkn4j76n7haab7lgmdz5fztubrdgsv44k4vyipsa\n'
    )
    // 1.2 MiB with a run of zero bytes: chunks cut by content, not at 256 KiB
    const big = join(scratch.work, 'buz.bin')
    const bytes = Buffer.alloc(1200 * 1024)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >>> 9)) % 251
    bytes.fill(0, 200_000, 200_032)
    await writeFile(big, bytes)
    const cid = (await ok(kit('add', '-q', '--chunker=buzhash', big))).trim()
    assert.notEqual(cid, (await ok(kit('add', '-q', '-n', big))).trim())
    assert.deepEqual((await run(kit('cat', cid))).stdout, bytes)
    assertOneError(
      await run(kit('add', '--chunker', 'buzhash-64', hello)),
      /^Error: unrecognized chunker option: buzhash-64$/
    )
  })
})
