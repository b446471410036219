/**
 * The CLI's number options: plain decimal digits only (as Kubo's strconv parsing), unit checks
 * of the parser and one real run of the built binary.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { InvalidArgumentError } from 'commander'
import { parseNonNegativeInt } from '../../src/cli/options.ts'
import { NOT_WHOLE_NUMBERS } from '../helpers.ts'
import { assertOneError, removeAll, requireBuild, run, tempDir } from './helpers.ts'

const HELLO_CID = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'

describe('CLI whole-number options', () => {
  it('parseNonNegativeInt takes plain decimal digits up to Number.MAX_SAFE_INTEGER', () => {
    assert.equal(parseNonNegativeInt('0'), 0)
    assert.equal(parseNonNegativeInt('42'), 42)
    assert.equal(parseNonNegativeInt('007'), 7)
    assert.equal(parseNonNegativeInt(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER)
  })

  it('parseNonNegativeInt refuses exponents, hex, spaces, points, signs and values past 2^53 - 1', () => {
    for (const v of [...NOT_WHOLE_NUMBERS, '']) {
      assert.throws(() => parseNonNegativeInt(v), InvalidArgumentError, `"${v}" must be refused`)
    }
  })

  it('ipfs-kit cat --offset 1e3 fails with one error line, before touching the repo', async () => {
    requireBuild()
    const work = await tempDir()
    try {
      const repo = join(work, 'no-repo')
      for (const v of ['1e3', '0x10']) {
        assertOneError(
          await run(['--repo', repo, 'cat', '--offset', v, HELLO_CID]),
          /offset.*whole number in decimal digits/
        )
      }
    } finally {
      await removeAll([work])
    }
  })
})
