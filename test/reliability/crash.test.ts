/**
 * Faults a node must survive: a provider killed in the middle of a transfer, and the node itself
 * killed with SIGKILL during a 100 MiB add (the real daemon binary) and during cache writes
 * (a kit in a child process). After each restart the repo opens, the stale lock is taken over,
 * every stored block verifies, pins are intact, and the interrupted item is whole or absent.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { type IPFSKit, ipfsKit } from '../../src/kit/index.ts'
import { registerLibp2pWithIpfsKit } from '../../src/kit/integration.ts'
import { readLockHolder } from '../../src/kit/lock.ts'
import { BIN, requireBuild } from '../cli/helpers.ts'
import { localKit, pseudoRandomBytes, tempDir, waitFor } from '../helpers.ts'
import { cacheBlock } from './fixtures/node-process.ts'
import { killAllChildren, startChild, startNodeProcess } from './fixtures/processes.ts'
import { verifyEveryBlock } from './fixtures/stores.ts'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const MiB = 1024 * 1024

/** Environment of CLI processes: local profile, no debug output. */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, IPFS_KIT_PROFILE: 'local' }
  delete env.DEBUG
  delete env.IPFS_KIT_PATH
  return env
}

/** Run the CLI to completion (bounded). */
async function cli(args: string[], ms = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  const child = startChild(process.execPath, [BIN, ...args], { env: cliEnv() })
  const timer = setTimeout(() => void child.kill(), ms)
  const { code } = await child.exited
  clearTimeout(timer)
  return { code, out: child.stdout(), err: child.stderr() }
}

async function countBlockFiles(repo: string): Promise<number> {
  const entries = await readdir(join(repo, 'blocks'), { recursive: true }).catch(() => [] as string[])
  return entries.filter((e) => e.endsWith('.data') && !e.split('/').at(-1)!.startsWith('.')).length
}

describe('faults', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  const kits: IPFSKit[] = []

  before(async () => {
    requireBuild()
    dir = await tempDir('ipfs-kit-rel-crash-')
  })
  after(async () => {
    await killAllChildren()
    await Promise.all(kits.map((k) => k.stop()))
    await dir?.cleanup()
  })

  it('a provider killed mid-transfer: the retrieval completes from another provider', async () => {
    const size = 16 * MiB
    const [a, b] = [
      startNodeProcess('provider', ['77', String(size)]),
      startNodeProcess('provider', ['77', String(size)])
    ]
    const infoA = JSON.parse((await a.waitFor(/^\{.*\}$/m))[0]) as { addr: string; cid: string }
    const infoB = JSON.parse((await b.waitFor(/^\{.*\}$/m))[0]) as { addr: string; cid: string }
    assert.equal(infoA.cid, infoB.cid)
    const seeker = await localKit('leecher', dir.path)
    kits.push(seeker)
    const integration = await registerLibp2pWithIpfsKit(seeker, seeker.peer)
    await seeker.ipfsSwarmConnect(infoA.addr)
    await seeker.ipfsSwarmConnect(infoB.addr)
    const providerA = seeker.peer.host
      .getConnections()
      .find((c) => infoA.addr.endsWith(c.remotePeer.toString()))!.remotePeer

    const parts: Uint8Array[] = []
    let received = 0
    let killedAt = -1
    for await (const chunk of integration.router.retrieveContentStream(infoA.cid, {
      preferredPeers: [providerA],
      timeout: 90_000
    })) {
      parts.push(chunk)
      received += chunk.byteLength
      if (killedAt < 0) {
        // the first bytes are in (from A, asked first): kill A now
        killedAt = received
        await a.kill()
      }
    }
    const { signal } = await a.exited
    assert.equal(signal, 'SIGKILL')
    assert.ok(killedAt > 0 && killedAt < size, `killed after ${killedAt} of ${size} bytes`)
    const got = new Uint8Array(Buffer.concat(parts))
    assert.equal(got.byteLength, size)
    assert.equal(sha(got), sha(pseudoRandomBytes(size, 77)), 'every byte, verified, from the other provider')
    await verifyEveryBlock(seeker.repo.blockstore)
    console.log(
      `provider killed after ${(killedAt / MiB).toFixed(2)} MiB of ${size / MiB} MiB; B served the rest`
    )
    await b.kill()
  })

  it('the daemon killed with SIGKILL during a 100 MiB add: the repo opens, blocks verify, pins intact, the file whole or absent', async () => {
    const repo = join(dir.path, 'daemon-repo')
    assert.equal((await cli(['--repo', repo, 'init', '--profile', 'local', '-q'])).code, 0)
    const keep = join(dir.path, 'keep.txt')
    await writeFile(keep, 'pinned before the crash\n')
    const kept = (await cli(['--repo', repo, 'add', '-Q', keep])).out.trim()
    assert.match(kept, /^Qm/)

    const big = join(dir.path, 'big.bin')
    const bigBytes = pseudoRandomBytes(100 * MiB, 100)
    await writeFile(big, bigBytes)
    // its CID, computed without storing anything
    const hasher = await localKit('leecher', dir.path, { offline: true })
    const bigCid = (await hasher.ipfsAddFile(big, { onlyHash: true })).cid
    await hasher.stop()

    const daemon = startChild(process.execPath, [BIN, '--repo', repo, 'daemon'], { env: cliEnv() })
    await daemon.waitFor(/Daemon is ready/)
    const before = await countBlockFiles(repo)
    const add = startChild(process.execPath, [BIN, '--repo', repo, 'add', '-Q', big], { env: cliEnv() })
    // let it write a good part of the file, then kill the daemon mid-way
    await waitFor(async () => (await countBlockFiles(repo)) - before >= 60, 'the add to be under way', 60_000)
    await daemon.kill()
    assert.equal((await daemon.exited).signal, 'SIGKILL')
    const addTimer = setTimeout(() => void add.kill(), 30_000)
    const addResult = await add.exited
    clearTimeout(addTimer)
    assert.equal(addResult.signal, null, 'the add ended by itself')
    assert.notEqual(addResult.code, 0, 'the add failed with the daemon')
    assert.match(add.stderr(), /^Error: [^\n]+\n$/, 'one line says why')
    const written = (await countBlockFiles(repo)) - before
    assert.ok(written < 400 + 3, `killed mid-way (${written} blocks written)`)

    // the killed daemon's lock is still there, naming a process that is gone
    const lockPid = (await readLockHolder(repo))?.pid
    assert.equal(lockPid, daemon.pid)

    // 1. the real binary starts on it again (taking the stale lock over) and stops cleanly
    const again = startChild(process.execPath, [BIN, '--repo', repo, 'daemon'], { env: cliEnv() })
    await again.waitFor(/Daemon is ready/)
    process.kill(again.pid, 'SIGTERM')
    assert.equal((await again.exited).code, 0)

    // 2. and every block in it verifies, the pin is there, the big file is whole or absent
    const kit = await ipfsKit({ repo, offline: true })
    try {
      const blocks = await verifyEveryBlock(kit.repo.blockstore)
      assert.ok(blocks.length >= written, `${blocks.length} blocks, each verified`)
      const pins = (await kit.ipfsPinLs()).map((p) => p.Hash)
      assert.ok(pins.includes(kept), 'the earlier pin is intact')
      assert.equal(new TextDecoder().decode(await kit.ipfsCat(kept)), 'pinned before the crash\n')
      const bigPinned = pins.some((p) => CID.parse(p).equals(bigCid))
      if (bigPinned) {
        assert.equal(sha(await kit.ipfsCat(bigCid)), sha(bigBytes), 'pinned, so whole')
      } else {
        await assert.rejects(
          kit.ipfsCat(bigCid),
          { name: 'NotFoundError' },
          'absent: not readable, never partial'
        )
        // the blocks it left are unpinned and go on gc; the pin stays
        await kit.ipfsGc()
        assert.ok((await kit.ipfsPinLs()).some((p) => p.Hash === kept))
        assert.ok((await verifyEveryBlock(kit.repo.blockstore)).length < blocks.length)
      }
      console.log(
        `daemon killed after ${written} of ~400 blocks; the 100 MiB file is ${bigPinned ? 'whole' : 'absent'}`
      )
    } finally {
      await kit.stop()
    }
  })

  it('a kit killed with SIGKILL during cache writes: acknowledged writes survive, the interrupted one is whole or absent', async () => {
    const repo = join(dir.path, 'cache-repo')
    const size = 2 * MiB
    const writer = startNodeProcess('cache-writer', [repo, String(size)])
    await writer.waitFor(/put 4\n/)
    // kill while the next writes are in flight (temp file, fsync, rename, index)
    await new Promise((resolve) => setTimeout(resolve, 15))
    await writer.kill()
    const acknowledged = Math.max(...[...writer.stdout().matchAll(/put (\d+)/g)].map((m) => Number(m[1])))
    assert.ok(acknowledged >= 4)
    const lockPid = (await readLockHolder(repo))?.pid
    assert.equal(lockPid, writer.pid, 'a stale lock is left')

    const kit = await ipfsKit({ repo, offline: true })
    kits.push(kit)
    const cache = await kit.getCache()
    let present = 0
    for (let i = 0; i <= acknowledged + 3; i++) {
      const { cid, bytes } = await cacheBlock(i, size)
      const got = await cache.get(cid)
      if (i <= acknowledged) assert.ok(got != null, `acknowledged write ${i} survived`)
      if (got != null) {
        assert.equal(sha(got), sha(bytes), `block ${i} is whole`)
        present++
      }
    }
    const disk = cache.getStats().disk!
    assert.equal(disk.corruptDropped, 0, 'no torn block was ever indexed')
    assert.deepEqual(await readdir(join(repo, 'cache', 'tmp')), [], 'interrupted temp files are gone')
    console.log(
      `cache writer killed after ${acknowledged + 1} acknowledged puts; ${present} blocks present, ${disk.orphansRemoved} orphans removed on restart`
    )
  })
})
