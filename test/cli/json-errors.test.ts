/**
 * With `--json` (or `--enc json`) a failure is still one line on stderr and a non-zero exit,
 * but the line is Kubo's error object, for scripts that parse it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CliScratch, run } from './helpers.ts'

describe('errors as JSON', () => {
  const scratch = new CliScratch()
  let repo = ''

  before(async () => {
    await scratch.setup()
    repo = scratch.repo
  })
  after(() => scratch.teardown())

  it('--json and --enc json: one JSON line in Kubo shape, with our error name', async () => {
    for (const flags of [['--json'], ['--enc', 'json'], ['--enc=json']]) {
      const r = await run(['--repo', repo, ...flags, 'cat', 'not-a-cid'])
      assert.notEqual(r.code, 0)
      assert.equal(r.stdout.length, 0)
      const lines = r.stderr.trim().split('\n')
      assert.equal(lines.length, 1, r.stderr)
      const body = JSON.parse(lines[0]!) as { Message: string; Code: number; Type: string; Name?: string }
      assert.equal(body.Type, 'error')
      assert.equal(body.Name, 'InvalidCIDError')
      assert.equal(body.Code, 1)
      assert.match(body.Message, /not-a-cid/)
    }
  })

  it('a usage error is Code 1; without --json the line stays text', async () => {
    const r = await run(['--repo', repo, '--json', 'cat', 'a', 'b', 'c'])
    assert.notEqual(r.code, 0)
    const body = JSON.parse(r.stderr.trim()) as { Code: number; Type: string }
    assert.deepEqual([body.Type, body.Code], ['error', 1])
    const text = await run(['--repo', repo, 'cat', 'not-a-cid'])
    assert.match(text.stderr, /^Error: .*not-a-cid/)
    assert.equal(text.stderr.trim().split('\n').length, 1)
  })
})
