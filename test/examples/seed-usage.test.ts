import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { tempDir } from '../helpers.ts'
import { numberAfter, runExample } from './run.ts'

describe("the seed's usage snippets, in TypeScript, as separate processes", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    await dir?.cleanup()
  })

  it('Basic Usage: add, read through the filesystem, a cache miss served by a peer', async () => {
    const { code, stdout, stderr } = await runExample('basic-usage.ts', {
      IPFS_KIT_PATH: join(dir.path, 'basic')
    })
    assert.equal(code, 0, stderr)
    assert.match(stdout, /^cat Qm\w+: Hello from IPFS!$/m)
    assert.match(stdout, /^cat Qm\w+: Hello from a peer!$/m)
    assert.match(stdout, /^second read, from the cache: Hello from a peer!$/m)
    assert.ok(numberAfter(stdout, 'Cache misses handled') >= 1)
    assert.equal(numberAfter(stdout, 'Success rate'), 1)
    assert.ok(numberAfter(stdout, 'Successful retrievals') >= 1)
    const reads = JSON.parse(stdout.match(/^Filesystem reads: (.*)$/m)![1]!) as Record<string, number>
    assert.ok(reads.blocksFromLibp2p! >= 1, 'a block came from a peer')
    assert.ok(reads.blocksFromMemory! >= 1, 'the second read was a cache hit')
  })

  it('Advanced Usage: a registered peer, discovery and a router retrieve content', async () => {
    const { code, stdout, stderr } = await runExample('advanced-usage.ts', {
      IPFS_KIT_PATH: join(dir.path, 'advanced')
    })
    assert.equal(code, 0, stderr)
    assert.match(stdout, /^retrieved Qm\w+: 3145728 bytes, identical$/m)
    assert.match(stdout, /^cat Qm\w+: a file only the provider has$/m)
    const router = JSON.parse(stdout.match(/^Router retrievals: (.*)$/m)![1]!) as Record<string, number>
    assert.equal(router.successfulRetrievals, 1)
    assert.equal(router.totalBytesRetrieved, 3145728)
    assert.ok(router.blocksFetched! > 1, 'a multi-block file came block by block')
    assert.ok(numberAfter(stdout, 'Cache misses handled') >= 1)
    assert.ok(numberAfter(stdout, 'Successful retrievals') >= 1)
    const rates = [...stdout.matchAll(/^Cache miss success rate: ([0-9.]+)$/gm)].map((m) => Number(m[1]))
    assert.equal(rates.at(-1), 1)
  })
})
