/**
 * Files holding secrets: the config (with the node's private key) is the owner's only,
 * whatever the umask, and is made so when an older repo opens; a token file others can
 * read is a warning.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { chmod, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { repoToken } from '../../src/api/auth.ts'
import { openRepo } from '../../src/kit/repo.ts'
import { tempDir } from '../helpers.ts'

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777
}

describe('repo file modes', { skip: process.platform === 'win32' }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    await dir?.cleanup()
  })

  it("a new repo's config, which holds the private key, is 0600 even under umask 0", async () => {
    const repo = join(dir.path, 'umask0')
    const old = process.umask(0)
    try {
      const opened = await openRepo({ repo, profile: 'local' })
      await opened.close()
      await repoToken(repo)
    } finally {
      process.umask(old)
    }
    assert.equal((await modeOf(join(repo, 'config'))).toString(8), '600')
    assert.equal((await modeOf(join(repo, 'api.token'))).toString(8), '600')
    assert.deepEqual(
      (await readdir(repo)).filter((name) => name.includes('tmp')),
      [],
      'no temp file left'
    )
  })

  it("an existing repo's config that others can read is made 0600 when it opens, with a warning", async () => {
    const repo = join(dir.path, 'old')
    await (await openRepo({ repo, profile: 'local' })).close()
    const config = join(repo, 'config')
    await chmod(config, 0o644)
    const warnings: string[] = []
    const opened = await openRepo({ repo, onWarning: (w) => warnings.push(w) })
    await opened.close()
    assert.equal((await modeOf(config)).toString(8), '600')
    assert.equal(warnings.length, 1, warnings.join('\n'))
    assert.match(
      warnings[0] ?? '',
      /config \(the node's private key\) could be read by other users \(mode 0644\); it is now 0600/
    )

    // no warning for a private one
    await (await openRepo({ repo, onWarning: (w) => warnings.push(w) })).close()
    assert.equal(warnings.length, 1)

    // by default, a process warning (what the CLI and daemon print on standard error)
    await chmod(config, 0o640)
    const warned = once(process, 'warning')
    await (await openRepo({ repo })).close()
    const [warning] = (await warned) as [Error & { code?: string }]
    assert.equal(warning.code, 'IPFS_KIT_FILE_MODE')
    assert.match(warning.message, /mode 0640/)
    assert.equal((await modeOf(config)).toString(8), '600')
  })

  it('an api.token others can read is a warning (left as it is)', async () => {
    const repo = join(dir.path, 'token')
    await (await openRepo({ repo, profile: 'local' })).close()
    const file = join(repo, 'api.token')
    await writeFile(file, 'a'.repeat(64))
    await chmod(file, 0o644)
    const warnings: string[] = []
    assert.equal(await repoToken(repo, { onWarning: (w) => warnings.push(w) }), 'a'.repeat(64))
    assert.equal(warnings.length, 1, warnings.join('\n'))
    assert.match(warnings[0] ?? '', /api\.token \(the API token.*\) can be read by other users \(mode 0644\)/)
    assert.match(warnings[0] ?? '', /chmod 600 /)
    assert.equal((await modeOf(file)).toString(8), '644')

    await chmod(file, 0o600)
    await repoToken(repo, { onWarning: (w) => warnings.push(w) })
    assert.equal(warnings.length, 1, 'a private token is no warning')
  })
})
