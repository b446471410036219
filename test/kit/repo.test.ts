import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { collectBytes } from '../../src/blocks/bytes.ts'
import { ipfsKit } from '../../src/kit/index.ts'
import { tempDir } from '../helpers.ts'

describe('repo', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    dir = await tempDir()
  })
  after(async () => {
    await dir?.cleanup()
  })

  it('peer id, pins and blocks survive a restart; unpinned blocks go on gc', async () => {
    const repo = join(dir.path, 'restart')
    const first = await ipfsKit({ repo, profile: 'local', role: 'worker', offline: true })
    const id = (await first.ipfsId()).ID
    const pinned = await first.ipfsAddString('keep me')
    const loose = await first.ipfsAddString('drop me', { pin: false })
    await first.stop()

    const second = await ipfsKit({ repo, offline: true })
    try {
      assert.equal((await second.ipfsId()).ID, id)
      assert.equal(second.role, 'worker')
      const pins = await second.ipfsPinLs()
      assert.deepEqual(
        pins.map((p) => p.Hash),
        [pinned.Hash]
      )
      assert.equal(new TextDecoder().decode(await second.ipfsCat(pinned.Hash)), 'keep me')
      const removed = await second.ipfsGc()
      assert.ok(
        removed.some((cid) => cid.multihash.bytes.toString() === loose.cid.multihash.bytes.toString())
      )
      assert.equal(await second.helia.blockstore.has(loose.cid), false)
      assert.equal(new TextDecoder().decode(await second.ipfsCat(pinned.Hash)), 'keep me')
      await second.ipfsPinRm(pinned.Hash)
      assert.deepEqual(await second.ipfsPinLs(), [])
      await assert.rejects(second.ipfsPinRm(pinned.Hash), { name: 'NotFoundError' })
      const stat = await second.ipfsRepoStat()
      assert.ok(stat.NumObjects >= 1 && stat.RepoSize > stat.BlocksSize)
    } finally {
      await second.stop()
    }
  })

  it('a second process opening a repo in use gets RepoLockedError', async () => {
    const repo = join(dir.path, 'locked')
    const kit = await ipfsKit({ repo, profile: 'local', offline: true })
    try {
      const script = `
        import { ipfsKit } from ${JSON.stringify(new URL('../../src/kit/index.ts', import.meta.url).href)}
        try { await ipfsKit({ repo: ${JSON.stringify(repo)}, offline: true }); console.log('opened') }
        catch (err) { console.log(err.name) }`
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit']
      })
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
      })
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
      assert.equal(code, 0)
      assert.equal(out.trim(), 'RepoLockedError')
    } finally {
      await kit.stop()
    }
    // released on stop: opens again
    const again = await ipfsKit({ repo, offline: true })
    await again.stop()
  })

  it('a repo path that is a file, a corrupt config, and bad CIDs are typed errors', async () => {
    const file = join(dir.path, 'a-file')
    await writeFile(file, 'x')
    await assert.rejects(ipfsKit({ repo: file, profile: 'local' }), {
      name: 'RepoError',
      message: /is a file/
    })

    const repo = join(dir.path, 'corrupt')
    const kit = await ipfsKit({ repo, profile: 'local', offline: true })
    await assert.rejects(kit.ipfsCat('not-a-cid'), { name: 'InvalidCIDError' })
    await assert.rejects(kit.ipfsCat('/etc/passwd'), { name: 'InvalidCIDError' })
    await assert.rejects(kit.ipfsAddFile(join(dir.path, 'missing')), { name: 'PathNotFoundError' })
    await assert.rejects(kit.ipfsCat('QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'), {
      name: 'NotFoundError'
    })
    await kit.stop()
    await writeFile(join(repo, 'config'), '{ "Identity": ')
    await assert.rejects(ipfsKit({ repo }), { name: 'RepoError', message: /config/ })
  })

  it('an unreachable bootstrap peer is a DialError the node keeps, and the node still works', async () => {
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const kit = await ipfsKit({
      repo: join(dir.path, 'unreachable'),
      profile: 'local',
      bootstrapPeers: [`/ip4/127.0.0.1/tcp/1/p2p/${stranger.toString()}`]
    })
    try {
      await kit.peer.waitForBootstrap()
      assert.equal(kit.peer.bootstrapErrors.length, 1)
      const err = kit.peer.bootstrapErrors[0]!
      assert.equal(err.name, 'DialError')
      assert.match(err.message, /127\.0\.0\.1\/tcp\/1/)
      assert.ok((await kit.ipfsAddString('still works')).Hash.startsWith('Qm'))
    } finally {
      await kit.stop()
    }
  })

  it('pinning a CID that a parent pin already holds records its own pin, which outlives the parent', async () => {
    const kit = await ipfsKit({ repo: join(dir.path, 'pin-child'), profile: 'local', offline: true })
    try {
      const parent = await kit.ipfsAddBytes(
        new Uint8Array(1024 * 1024).map((_, i) => i % 241),
        { pin: false }
      )
      const child = dagPb.decode(await collectBytes(kit.helia.blockstore.get(parent.cid))).Links[1]!.Hash
      await kit.ipfsPinAdd(parent.Hash)
      await kit.ipfsPinAdd(child)
      assert.deepEqual(
        (await kit.ipfsPinLs()).map((p) => p.Hash).sort(),
        [parent.Hash, child.toString()].sort()
      )
      await kit.ipfsPinRm(parent.Hash)
      await kit.ipfsGc()
      assert.equal(await kit.helia.blockstore.has(parent.cid), false, 'the parent went on gc')
      assert.equal(await kit.helia.blockstore.has(child), true, 'the child kept by its own pin')
      assert.deepEqual(
        (await kit.ipfsPinLs()).map((p) => p.Hash),
        [child.toString()]
      )
    } finally {
      await kit.stop()
    }
  })

  it('pinning a DAG with a missing block fails and records no pin', async () => {
    const kit = await ipfsKit({ repo: join(dir.path, 'pin-missing'), profile: 'local', offline: true })
    try {
      const r = await kit.ipfsAddBytes(
        new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251),
        { pin: false }
      )
      const root = dagPb.decode(await collectBytes(kit.helia.blockstore.get(r.cid)))
      await kit.helia.blockstore.delete(root.Links[3]!.Hash)
      await assert.rejects(kit.ipfsPinAdd(r.Hash), { name: 'NotFoundError' })
      assert.deepEqual(await kit.ipfsPinLs(), [])
    } finally {
      await kit.stop()
    }
  })

  it('invalid bootstrap addresses are refused before anything starts', async () => {
    await assert.rejects(
      ipfsKit({
        repo: join(dir.path, 'boot'),
        profile: 'local',
        bootstrapPeers: ['/ip4/127.0.0.1/tcp/4001']
      }),
      {
        name: 'InvalidMultiaddrError'
      }
    )
    await assert.rejects(
      ipfsKit({ repo: join(dir.path, 'boot2'), profile: 'local', bootstrapPeers: ['garbage'] }),
      {
        name: 'InvalidMultiaddrError'
      }
    )
  })
})
