/**
 * `repo verify`, `pin verify` and `pin ls` of an indirect pin through the real CLI, offline and
 * through a running daemon that heals from a peer.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { NextToLast } from 'blockstore-fs/sharding'
import { CID } from 'multiformats/cid'
import type { IPFSKit } from '../../src/kit/index.ts'
import { tempDir as kitTempDir, localKit, pseudoRandomBytes } from '../helpers.ts'
import { assertOneError, CliScratch, ok, run, start } from './helpers.ts'

function blockFile(repo: string, cid: CID): string {
  const { dir, file } = new NextToLast().encode(cid)
  return join(repo, 'blocks', dir, file)
}

async function flipByte(repo: string, cid: CID): Promise<void> {
  const path = blockFile(repo, cid)
  const bytes = await readFile(path)
  bytes[10] = (bytes[10] ?? 0) ^ 0xff
  await writeFile(path, bytes)
}

async function leaves(repo: string, root: string): Promise<CID[]> {
  return dagPb.decode(await readFile(blockFile(repo, CID.parse(root)))).Links.map((l) => l.Hash)
}

describe('ipfs-kit CLI: repo verify, pin verify, indirect pins', () => {
  const scratch = new CliScratch()
  const { kit } = scratch
  let input: Uint8Array
  let root = ''

  before(async () => {
    await scratch.setup()
    input = pseudoRandomBytes(3 * 256 * 1024, 31)
    root = (await ok(kit('add', '-q'), { input })).trim()
  })
  after(() => scratch.teardown())

  it('pin ls of a block held by a recursive pin says "indirect through" it, as Kubo', async () => {
    const [leaf] = await leaves(scratch.repo, root)
    assert.equal(await ok(kit('pin', 'ls', leaf!.toString())), `${leaf} indirect through ${root}\n`)
    const json = JSON.parse(await ok(kit('--json', 'pin', 'ls', leaf!.toString()))) as {
      Keys: Record<string, { Type: string }>
    }
    assert.deepEqual(json.Keys, { [leaf!.toString()]: { Type: `indirect through ${root}` } })
  })

  it('offline, a corrupt pinned block is removed and reported: one line on stderr, exit 1', async () => {
    const [, second] = await leaves(scratch.repo, root)
    await flipByte(scratch.repo, second!)
    const r = await run(kit('--offline', 'repo', 'verify'))
    assert.match(
      r.out,
      new RegExp(`^block ${second} was corrupt .*: removed; it is pinned, and the node is offline`, 'm')
    )
    assertOneError(r, /1 of \d+ blocks were corrupt; 1 pinned block\(s\) could not be fetched again/)
    const pins = await run(kit('--offline', 'pin', 'verify'))
    assert.match(pins.out, new RegExp(`^${root} broken\\n  ${second}: `, 'm'))
    assertOneError(pins, /1 pin\(s\) have blocks that are missing or bad/)
  })

  describe('through a daemon, with a peer that holds the content', () => {
    let dir: Awaited<ReturnType<typeof kitTempDir>>
    let peer: IPFSKit
    before(async () => {
      dir = await kitTempDir()
      peer = await localKit('worker', dir.path)
      await peer.ipfsAddBytes(input)
    })
    after(async () => {
      await peer?.stop()
      await dir?.cleanup()
    })

    it('pin verify fetches the lost block again, and repo verify then finds nothing wrong', async () => {
      const daemon = start(kit('daemon'))
      try {
        await daemon.waitFor(/^Daemon is ready$/m)
        await ok(kit('swarm', 'connect', peer.peer.getMultiaddrs()[0]!.toString()))
        assert.equal(await ok(kit('pin', 'verify')), '')
        assert.match(await ok(kit('pin', 'verify', '--verbose')), new RegExp(`^${root} ok$`, 'm'))
        assert.match(await ok(kit('repo', 'verify')), /^verify complete, all \d+ blocks validated\.$/m)
        const [, second] = await leaves(scratch.repo, root)
        assert.deepEqual(
          await readFile(blockFile(scratch.repo, second!)),
          await readFile(blockFile(peer.repo.path, second!))
        )
      } finally {
        await daemon.stop()
      }
    })
  })
})
