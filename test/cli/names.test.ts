/**
 * `ipfs-kit key …`, `name publish|resolve`, `resolve` and `routing get|put`, run as the real
 * binary: key management through the repo's daemon (the same `/api/v0` handlers a one-shot
 * command serves itself, and many commands at once), then one-shot on the repo (offline, as
 * Kubo without a daemon: key export and import, names, records), then through daemons on
 * loopback: a name survives a daemon restart, another daemon resolves it over the DHT, and
 * the gateway serves `/ipns/`.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../helpers.ts'
import { assertOneError, CliScratch, initLocal, type LiveProcess, ok, run, start } from './helpers.ts'

const TCP_ADDR = /Swarm listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)\n/
const GATEWAY = /Gateway: (http:\/\/127\.0\.0\.1:\d+)\/ipfs/

interface Key {
  Name: string
  Id: string
}

describe('ipfs-kit CLI: key, name, resolve, routing', () => {
  const s = new CliScratch()
  let selfId = ''
  let fileCid = ''
  let dirCid = ''
  let blogId = ''
  /** the repo's daemon, for the key management tests (stopped before the one-shot tests) */
  let keysDaemon: LiveProcess | undefined

  before(async () => {
    await s.setup()
    keysDaemon = start(s.kit('daemon'))
    await keysDaemon.waitFor(/^Daemon is ready$/m)
    const tree = join(s.work, 'tree')
    await mkdir(join(tree, 'sub'), { recursive: true })
    await writeFile(join(tree, 'sub', 'page.txt'), 'in a folder\n')
    const [keys, file, dir] = await Promise.all([
      ok(s.kit('key', 'list', '--json')),
      ok(s.kit('add', '-q'), { input: 'hello names\n' }),
      ok(s.kit('add', '-Q', '-r', tree))
    ])
    selfId = JSON.parse(keys).Keys[0].Id
    fileCid = file.trim()
    dirCid = dir.trim()
  })

  after(async () => {
    await keysDaemon?.stop()
    await s.teardown()
  })

  it('key gen, list (-l, --json), rename, rm: Kubo output, self first', async () => {
    const id = (await ok(s.kit('key', 'gen', 'blog'))).trim()
    assert.match(id, /^k51qzi5uqu5/)
    blogId = id
    assert.match(selfId, /^k51qzi5uqu5/)
    const [names, long, ls, b58Out] = await Promise.all([
      ok(s.kit('key', 'list')),
      ok(s.kit('key', 'list', '-l')),
      ok(s.kit('--enc', 'json', 'key', 'ls')),
      ok(s.kit('key', 'list', '--json', '--ipns-base', 'b58mh'))
    ])
    assert.equal(names, 'self\nblog\n')
    assert.equal(long, `${selfId} self\n${id} blog\n`)
    const keys = JSON.parse(ls) as { Keys: Key[] }
    assert.deepEqual(keys.Keys, [
      { Name: 'self', Id: selfId },
      { Name: 'blog', Id: id }
    ])
    // b58mh: the peer id form
    const b58 = JSON.parse(b58Out) as { Keys: Key[] }
    assert.match(b58.Keys[1]?.Id ?? '', /^12D3KooW/)
    const rsa = JSON.parse(await ok(s.kit('key', 'gen', 'old', '--type', 'rsa', '--json'))) as Key
    assert.equal(rsa.Name, 'old')
    assert.match(rsa.Id, /^k2k4r8/)
    assert.equal(await ok(s.kit('key', 'rename', 'old', 'older')), `Key ${rsa.Id} renamed to older\n`)
    const renamed = JSON.parse(await ok(s.kit('key', 'rename', 'older', 'blog', '--force', '--json')))
    assert.deepEqual(renamed, { Was: 'older', Now: 'blog', Id: rsa.Id, Overwrite: true })
    // blog is now the renamed RSA key: removed, and a new ed25519 blog made
    assert.equal(await ok(s.kit('key', 'rm', 'blog', '-l')), `${rsa.Id} blog\n`)
    blogId = (await ok(s.kit('key', 'gen', 'blog'))).trim()
    assert.equal(await ok(s.kit('key', 'list')), 'self\nblog\n')
  })

  it('bad key input is one typed error and changes nothing', async () => {
    // each refused command changes nothing, so they run at once
    const cases: Array<[string[], RegExp]> = [
      [['key', 'gen', 'blog'], /already exists/],
      [['key', 'gen', 'self'], /cannot create key with name 'self'/],
      [['key', 'gen', 'x', '--type', 'dsa'], /unrecognized key type: dsa/],
      [['key', 'gen', 'x', '--type', 'rsa', '--size', '1024'], /2048/],
      [['key', 'gen', 'a/b'], /may not contain "\/"/],
      [['key', 'rm', 'blog', 'nope'], /no key named "nope".*nothing was removed/],
      [['key', 'rm', 'self'], /cannot remove key with name 'self'/],
      [['key', 'rename', 'self', 'x'], /cannot rename key with name 'self'/],
      [['key', 'rename', 'nope', 'x'], /no key named "nope"/],
      [['key', 'rename', 'blog', 'self'], /cannot overwrite key with name 'self'/]
    ]
    const results = await Promise.all(cases.map(([args]) => run(s.kit(...args))))
    for (const [i, r] of results.entries()) assertOneError(r, cases[i]?.[1] ?? /./)
    assert.equal(await ok(s.kit('key', 'list')), 'self\nblog\n')
    // the one-shot tests below open the repo themselves
    assert.equal(await keysDaemon?.stop(), 0)
    keysDaemon = undefined
  })

  it('key export and import, both formats: the same key comes back; bad files are refused', async () => {
    const pb = join(s.work, 'blog.key')
    const pem = join(s.work, 'blog.pem')
    await ok(s.kit('key', 'export', 'blog', '-o', pb))
    await ok(s.kit('key', 'export', 'blog', '-o', pem, '--format', 'pem-pkcs8-cleartext'))
    assert.equal((await stat(pb)).mode & 0o777, 0o600)
    assert.match(await readFile(pem, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/)
    assert.equal((await ok(s.kit('key', 'import', 'copy1', pb))).trim(), blogId)
    assertOneError(await run(s.kit('key', 'rename', 'blog', 'copy1')), /already exists.*--force/)
    assert.equal(
      (await ok(s.kit('key', 'import', 'copy2', pem, '--format', 'pem-pkcs8-cleartext'))).trim(),
      blogId
    )
    assertOneError(await run(s.kit('key', 'import', 'copy1', pb)), /already exists/)
    assertOneError(await run(s.kit('key', 'import', 'x', pem)), /not a libp2p private key/)
    assertOneError(
      await run(s.kit('key', 'import', 'x', pb, '--format', 'pem-pkcs8-cleartext')),
      /not a PKCS #8 PEM/
    )
    assertOneError(await run(s.kit('key', 'import', 'x', join(s.work, 'missing.key'))), /cannot read/)
    assertOneError(await run(s.kit('key', 'export', 'nope')), /no key named "nope"/)
    await ok(s.kit('key', 'rm', 'copy1', 'copy2'))
  })

  it('name publish needs --allow-offline without a daemon; name resolve and resolve follow it', async () => {
    assertOneError(
      await run(s.kit('name', 'publish', fileCid)),
      /can't publish while offline.*--allow-offline/
    )
    const out = await ok(s.kit('name', 'publish', '--allow-offline', fileCid))
    const m = /^Published to (k51\w+): (\/ipfs\/\w+)\n$/.exec(out)
    assert.ok(m != null, out)
    assert.equal(m[1], selfId)
    const value = m[2] ?? ''
    // the node's own name by default, the name with or without /ipns/
    assert.equal(await ok(s.kit('name', 'resolve')), `${value}\n`)
    assert.equal(await ok(s.kit('name', 'resolve', selfId)), `${value}\n`)
    assert.deepEqual(JSON.parse(await ok(s.kit('name', 'resolve', `/ipns/${selfId}`, '--json'))), {
      Path: value
    })
    assert.equal(await ok(s.kit('cat', value)), 'hello names\n')
    // another key, a folder: resolve walks the path below the name to the file's CID
    const pub = JSON.parse(
      await ok(
        s.kit(
          'name',
          'publish',
          '--allow-offline',
          '--key',
          'blog',
          '-t',
          '1h',
          '--ttl',
          '30s',
          `/ipfs/${dirCid}`,
          '--json'
        )
      )
    ) as { Name: string; Value: string }
    assert.equal(pub.Name, blogId)
    assert.equal(
      await ok(s.kit('name', 'publish', '-Q', '--allow-offline', '-k', 'blog', dirCid)),
      `${blogId}\n`
    )
    const resolved = (await ok(s.kit('resolve', `/ipns/${blogId}/sub/page.txt`))).trim()
    assert.match(resolved, /^\/ipfs\/\w+$/)
    assert.equal(await ok(s.kit('cat', resolved)), 'in a folder\n')
    assert.equal(await ok(s.kit('name', 'resolve', `/ipns/${blogId}/sub`)), `${pub.Value}/sub\n`)
    assert.equal(await ok(s.kit('resolve', '--recursive=false', `/ipns/${blogId}`)), `${pub.Value}\n`)
    assert.equal(await ok(s.kit('resolve', `/ipfs/${fileCid}`)), `/ipfs/${fileCid}\n`)
  })

  it('bad name input is one typed error', async () => {
    assertOneError(
      await run(s.kit('name', 'publish', '--allow-offline', '-t', 'forever', fileCid)),
      /lifetime.*invalid/
    )
    assertOneError(
      await run(s.kit('name', 'publish', '--allow-offline', '-k', 'nope', fileCid)),
      /no key named "nope"/
    )
    assertOneError(await run(s.kit('name', 'publish', '--allow-offline', 'not-a-cid')), /not a valid CID/)
    assertOneError(await run(s.kit('name', 'resolve', 'example.com')), /not an IPNS name/)
    const other = JSON.parse(await ok(s.kit('key', 'gen', 'unpublished', '--json'))) as Key
    assertOneError(await run(s.kit('name', 'resolve', other.Id)), /could not resolve name/)
    await ok(s.kit('key', 'rm', 'unpublished'))
  })

  it('routing get and put: a record moves between repos; one signed by another key is refused', async () => {
    const record = join(s.work, 'self.record')
    const other = join(s.work, 'other')
    s.dirs.push(other)
    const [got] = await Promise.all([run(s.kit('routing', 'get', `/ipns/${selfId}`)), initLocal(other)])
    assert.equal(got.code, 0, got.stderr)
    assert.ok(got.stdout.byteLength > 100)
    await writeFile(record, got.stdout)
    const otherKit = (...a: string[]): string[] => ['--repo', other, ...a]
    assertOneError(
      await run(otherKit('routing', 'put', `/ipns/${selfId}`, record)),
      /offline.*--allow-offline/
    )
    const put = await ok(otherKit('routing', 'put', '--allow-offline', `/ipns/${selfId}`, record))
    assert.match(put, /^12D3KooW\w+\n$/)
    assert.equal(await ok(otherKit('name', 'resolve', selfId)), await ok(s.kit('name', 'resolve')))
    // the record under another key's name: its signature does not match that name
    const otherSelf = (JSON.parse(await ok(otherKit('key', 'list', '--json'))) as { Keys: Key[] }).Keys[0]?.Id
    assertOneError(
      await run(otherKit('routing', 'put', '--allow-offline', `/ipns/${otherSelf}`, record)),
      /not a valid IPNS record.*signature/i
    )
    await writeFile(join(s.work, 'junk'), 'not a record')
    assertOneError(
      await run(otherKit('routing', 'put', '--allow-offline', `/ipns/${selfId}`, join(s.work, 'junk'))),
      /not a valid IPNS record/
    )
    assertOneError(await run(otherKit('routing', 'get', '/pk/abc')), /routing keys must be \/ipns\//)
  })

  describe('through daemons on loopback', () => {
    let daemonA: LiveProcess | undefined
    let daemonB: LiveProcess | undefined
    const repoB = (): string => join(s.work, 'b')
    let gatewayA = ''

    after(async () => {
      await daemonA?.stop()
      await daemonB?.stop()
    })

    it('a name published on a daemon survives its restart and is served by the gateway', async () => {
      daemonA = start(s.kit('daemon'))
      await daemonA.waitFor(/^Daemon is ready$/m)
      const cid = (await ok(s.kit('add', '-q'), { input: 'version 2\n' })).trim()
      // online: no --allow-offline needed
      const pub = JSON.parse(await ok(s.kit('name', 'publish', cid, '--json'))) as {
        Name: string
        Value: string
      }
      assert.equal(pub.Name, selfId)
      assert.equal(await daemonA.stop(), 0)
      daemonA = start(s.kit('daemon'))
      await daemonA.waitFor(/^Daemon is ready$/m)
      assert.equal(await ok(s.kit('name', 'resolve')), `${pub.Value}\n`)
      const gateway = (await daemonA.waitFor(GATEWAY))[1] ?? ''
      gatewayA = gateway
      const res = await fetch(`${gateway}/ipns/${selfId}`)
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'version 2\n')
      assert.equal(res.headers.get('x-ipfs-path'), `/ipns/${selfId}`)
      assert.doesNotMatch(res.headers.get('cache-control') ?? '', /immutable/)
      const page = await fetch(`${gateway}/ipns/${blogId}/sub/page.txt`)
      assert.equal(await page.text(), 'in a folder\n')
      const unknown = JSON.parse(await ok(s.kit('key', 'gen', 'never-published', '--json'))) as Key
      assert.equal((await fetch(`${gateway}/ipns/${unknown.Id}`)).status, 404)
    })

    it('a name published on one daemon resolves on another over the DHT', async () => {
      // B is a worker: a DHT server that takes records (A, a leecher, is a DHT client)
      await initLocal(repoB(), '--role', 'worker')
      daemonB = start(['--repo', repoB(), 'daemon'])
      await daemonB.waitFor(/^Daemon is ready$/m)
      const addrB = (await daemonB.waitFor(TCP_ADDR))[1] ?? ''
      const idB = addrB.split('/p2p/')[1]
      await ok(s.kit('swarm', 'connect', addrB))
      // a put reaches the peers in A's DHT routing table: wait (bounded) until B is in it
      await waitFor(async () => {
        const res = await fetch(`${gatewayA}/api/v0/kit/buckets`, { method: 'POST' })
        const view = (await res.json()) as { Connected: Array<{ ID: string; InTable: boolean }> }
        return view.Connected.some((c) => c.ID === idB && c.InTable)
      }, "B in A's DHT routing table")
      const cid = (await ok(s.kit('add', '-q'), { input: 'version 3\n' })).trim()
      const pub = JSON.parse(await ok(s.kit('name', 'publish', cid, '--json'))) as { Value: string }
      assert.equal(await ok(['--repo', repoB(), 'name', 'resolve', `/ipns/${selfId}`]), `${pub.Value}\n`)
      assert.equal(await ok(['--repo', repoB(), 'cat', pub.Value]), 'version 3\n')
    })
  })
})
