import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { assertOneError, CliScratch, ok, run } from './helpers.ts'

const HELLO = 'hello world\n'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

describe('ipfs-kit CLI: large files and add options', () => {
  const scratch = new CliScratch()
  const { kit } = scratch
  let work = ''

  before(async () => {
    await scratch.setup()
    work = scratch.work
  })

  after(() => scratch.teardown())

  it('a 20 MiB file round-trips through add and cat in separate processes', async () => {
    const big = join(work, 'big.bin')
    const bytes = randomBytes(20 * 1024 * 1024)
    await writeFile(big, bytes)
    const cid = (await ok(kit('add', '-q', big), { timeoutMs: 60_000 })).trim()
    assert.match(cid, /^Qm\w{44}$/)
    const r = await run(kit('cat', cid), { timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.byteLength, bytes.byteLength)
    assert.equal(sha256(r.stdout), sha256(bytes))
    const tail = await run(kit('cat', cid, '-o', String(bytes.byteLength - 10)))
    assert.deepEqual(tail.stdout, bytes.subarray(bytes.byteLength - 10))
  })

  it('add flags: --cid-version 1, --raw-leaves, --chunker', async () => {
    const v1 = (await ok(kit('add', '-q', '--cid-version', '1'), { input: HELLO })).trim()
    assert.match(v1, /^bafkrei\w+$/)
    const v1dagpb = (
      await ok(kit('add', '-q', '--cid-version', '1', '--raw-leaves=false'), { input: HELLO })
    ).trim()
    assert.match(v1dagpb, /^bafybei\w+$/)
    const file = join(work, 'hello.txt')
    await writeFile(file, HELLO)
    assert.equal(await ok(kit('add', '--cid-version=1', '--no-raw-leaves', '-q', file)), `${v1dagpb}\n`)
    assert.equal(await ok(kit('add', '--raw-leaves', '--cid-version', '1', file)), `added ${v1} hello.txt\n`)
    assertOneError(await run(kit('add', '--raw-leaves', file)), /raw leaves need CIDv1/)
    assert.equal(await ok(kit('cat', v1)), HELLO)
    const data = randomBytes(4096)
    const whole = (await ok(kit('add', '-q'), { input: data })).trim()
    const chunked = (await ok(kit('add', '-q', '--chunker', 'size-1024'), { input: data })).trim()
    assert.notEqual(whole, chunked)
    assert.deepEqual((await run(kit('cat', chunked))).stdout, data)
    assertOneError(
      await run(kit('add', '--chunker', 'rabin-10'), { input: data }),
      /rabin min must be greater than 16/
    )
  })
})
