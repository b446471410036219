/**
 * UnixFS symlinks over the HTTP API and the gateway: `add` takes Kubo's
 * `application/symlink` parts (same CIDs as Kubo), `ls` gives type 4 with the target, and
 * the gateway answers a symlink as Kubo's (boxo) does: its target as the body, typed
 * `inode/symlink`, with a correct Content-Length. A malformed percent-escape is a 400.
 */
import assert from 'node:assert/strict'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { importer } from 'ipfs-unixfs-importer'
import { HttpKitClient } from '../../src/api/client.ts'
import { tempDir } from '../helpers.ts'
import { type ApiNode, apiNode } from './helpers.ts'

/** Kubo 0.18.1's `ipfs add -Qr` of `foo` ("content\n") and `bar -> foo` (gateway-conformance fixture). */
const KUBO_ROOT = 'QmWvY6FaqFMS89YAQ9NAPjVP4WZKA1qbHbicc9HeSKQTgt'
const KUBO_BAR = 'QmTB8BaCJdCH5H3k7GrxJsxgDNmNYGGR71C58ERkivXoj5'

describe('UnixFS symlinks over the HTTP API and the gateway', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: ApiNode
  let client: HttpKitClient

  before(async () => {
    dir = await tempDir()
    node = await apiNode(dir.path)
    client = new HttpKitClient({ url: node.url })
    const testfiles = join(dir.path, 'testfiles')
    await mkdir(testfiles)
    await writeFile(join(testfiles, 'foo'), 'content\n')
    await symlink('foo', join(testfiles, 'bar'))
    // the fixture's blocks, imported without our `add` (so each test checks one thing)
    for await (const _ of importer(
      [
        { path: 'testfiles/foo', content: [new TextEncoder().encode('content\n')] },
        { path: 'testfiles/bar', link: 'foo' }
      ],
      node.kit.helia.blockstore,
      { cidVersion: 0, rawLeaves: false }
    )) {
      // stored
    }
  })

  after(async () => {
    await node?.stop()
    await dir?.cleanup()
  })

  it("add through the API sends a symlink as Kubo's application/symlink part: Kubo's CIDs", async () => {
    const added = await client.ipfsAddPath(join(dir.path, 'testfiles'))
    assert.deepEqual(
      added.map((a) => `${a.Name} ${a.Hash}`),
      [
        `testfiles/bar ${KUBO_BAR}`,
        'testfiles/foo Qme2y5HA5kvo2jAx13UsnV5bQJVijiAJCPvaW3JGQWhvJZ',
        `testfiles ${KUBO_ROOT}`
      ]
    )
  })

  it('ls gives Kubo type 4 and the target', async () => {
    const res = await fetch(`${node.url}/api/v0/ls?arg=${KUBO_ROOT}`, { method: 'POST' })
    const body = (await res.json()) as { Objects: Array<{ Links: Array<Record<string, unknown>> }> }
    assert.deepEqual(
      body.Objects[0]?.Links.find((l) => l.Name === 'bar'),
      { Name: 'bar', Hash: KUBO_BAR, Size: 0, Type: 4, Target: 'foo' }
    )
    const entries = await client.ipfsLs(KUBO_ROOT)
    assert.deepEqual(
      entries.filter((e) => e.Type === 'symlink').map((e) => [e.Name, e.Target]),
      [['bar', 'foo']]
    )
  })

  it('the gateway answers a symlink with its target as the body, typed inode/symlink (as boxo)', async () => {
    const res = await fetch(`${node.url}/ipfs/${KUBO_ROOT}/bar`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'inode/symlink')
    assert.equal(res.headers.get('content-length'), '3')
    assert.equal(await res.text(), 'foo')
    const head = await fetch(`${node.url}/ipfs/${KUBO_ROOT}/bar`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), '3')
    const listing = await (await fetch(`${node.url}/ipfs/${KUBO_ROOT}/`)).text()
    assert.match(listing, />bar</)
    assert.match(listing, />foo</)
    // the trustless forms are unchanged: the symlink's block
    const raw = await fetch(`${node.url}/ipfs/${KUBO_ROOT}/bar?format=raw`)
    assert.equal(raw.status, 200)
    assert.equal((await raw.arrayBuffer()).byteLength, 9)
  })

  it('a malformed percent-escape in a gateway path is a 400, not a 500', async () => {
    for (const path of [`/ipfs/${KUBO_ROOT}/%ZZ`, '/ipfs/%ZZ', `/ipfs/${KUBO_ROOT}/foo%`]) {
      const res = await fetch(`${node.url}${path}`)
      assert.equal(res.status, 400, path)
      assert.match(await res.text(), /not valid percent-encoding/, path)
    }
  })
})
