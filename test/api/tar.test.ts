/**
 * The tar streams of `get`: our writer and reader against each other and against GNU tar
 * (an independent implementation), and the daemon's `get` read by our HTTP client, the
 * CLI's path to a daemon: entry names cannot desynchronise it, symlinks arrive as links
 * (or are refused), a failure after the archive began arrives as the typed error.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { HttpKitClient } from '../../src/api/client.ts'
import { type TarEntry, tarStream, untar } from '../../src/api/tar.ts'
import { pseudoRandomBytes, tempDir } from '../helpers.ts'
import { type ApiNode, apiNode } from './helpers.ts'

const encoder = new TextEncoder()

async function* listOf<T>(items: T[]): AsyncGenerator<T> {
  yield* items
}

async function* bytesOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

/** Every entry of an archive, content read, fed in chunks of `chunk` bytes. */
async function readAll(
  archive: Uint8Array,
  chunk = 1000
): Promise<Array<{ name: string; type: string; linkname: string; content: string }>> {
  const out: Array<{ name: string; type: string; linkname: string; content: string }> = []
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < archive.byteLength; i += chunk) yield archive.subarray(i, i + chunk)
  }
  for await (const e of untar(pieces())) {
    out.push({
      name: e.name,
      type: e.type,
      linkname: e.linkname,
      content: (await collect(e.content)).toString()
    })
  }
  return out
}

const hasGnuTar = spawnSync('tar', ['--version']).stdout?.toString().includes('GNU tar') === true

/** A 1 KiB tar fragment: a header for `name` with `body` (what a crafted file could hold). */
async function tarFragment(name: string, body: string): Promise<Buffer> {
  const all = await collect(
    tarStream(
      listOf<TarEntry>([{ name, type: 'file', size: body.length, content: bytesOf(encoder.encode(body)) }])
    )
  )
  return all.subarray(0, all.byteLength - 1024)
}

/** A dag-pb node's CID (CIDv0), after putting it in `node`'s blockstore. */
async function putPb(node: ApiNode, value: dagPb.PBNode): Promise<CID> {
  const bytes = dagPb.encode(dagPb.prepare(value))
  const cid = CID.createV0(await sha256.digest(bytes))
  await node.kit.helia.blockstore.put(cid, bytes)
  return cid
}

describe('tar streams (tar-stream on both sides)', () => {
  it('reads a PAX path by its length: a name holding a newline and `size=` keeps every byte', async () => {
    // no `/` after the root: the name cannot be split into ustar's prefix and name, so PAX holds it
    const tricky = `root/${'a'.repeat(120)}\n11 size=0\n20 path=evil\n`
    const nonAscii = `root/${'é'.repeat(80)}=.txt`
    const archive = await collect(
      tarStream(
        listOf<TarEntry>([
          { name: 'root', type: 'directory' },
          { name: tricky, type: 'file', size: 5, content: bytesOf(encoder.encode('hello')) },
          { name: nonAscii, type: 'file', size: 3, content: bytesOf(encoder.encode('abc')) },
          { name: 'root/after', type: 'file', size: 4, content: bytesOf(encoder.encode('last')) }
        ])
      )
    )
    for (const chunk of [1, 511, 512, 4096]) {
      assert.deepEqual(
        (await readAll(archive, chunk)).map((e) => [e.name, e.type, e.content]),
        [
          ['root', 'directory', ''],
          [tricky, 'file', 'hello'],
          [nonAscii, 'file', 'abc'],
          ['root/after', 'file', 'last']
        ],
        `read in chunks of ${chunk}`
      )
    }
  })

  it('writes and reads symlinks, long targets included (PAX linkpath)', async () => {
    const long = `${'../'.repeat(3)}${'t'.repeat(150)}`
    const archive = await collect(
      tarStream(
        listOf<TarEntry>([
          { name: 'root', type: 'directory' },
          { name: 'root/short', type: 'symlink', linkname: 'target' },
          { name: 'root/long', type: 'symlink', linkname: long }
        ])
      )
    )
    assert.deepEqual(
      (await readAll(archive)).map((e) => [e.name, e.type, e.linkname]),
      [
        ['root', 'directory', ''],
        ['root/short', 'symlink', 'target'],
        ['root/long', 'symlink', long]
      ]
    )
  })

  it('refuses a truncated archive, or one without its end blocks, with InvalidArchiveError', async () => {
    const archive = await collect(
      tarStream(
        listOf<TarEntry>([
          { name: 'root', type: 'directory' },
          { name: 'root/f', type: 'file', size: 2000, content: bytesOf(new Uint8Array(2000).fill(7)) }
        ])
      )
    )
    for (const cut of [700, archive.byteLength - 1024, archive.byteLength - 1]) {
      await assert.rejects(
        readAll(archive.subarray(0, cut)),
        { name: 'InvalidArchiveError' },
        `cut at ${cut}`
      )
    }
  })

  it('streams: a 64 MiB file passes through writer and reader with memory bounded', async () => {
    const size = 64 * 1024 * 1024
    const piece = new Uint8Array(256 * 1024).fill(1)
    let produced = 0
    let consumed = 0
    let most = 0
    async function* content(): AsyncGenerator<Uint8Array> {
      while (produced < size) {
        produced += piece.byteLength
        most = Math.max(most, produced - consumed)
        yield piece
      }
    }
    const archive = tarStream(listOf<TarEntry>([{ name: 'big', type: 'file', size, content: content() }]))
    for await (const entry of untar(archive)) {
      for await (const chunk of entry.content) consumed += chunk.byteLength
    }
    assert.equal(consumed, size)
    assert.ok(most <= 8 * 1024 * 1024, `at most 8 MiB between producer and consumer, saw ${most}`)
  })

  it('GNU tar reads what we write, and we read what GNU tar writes (PAX, newline in a long name)', {
    skip: hasGnuTar ? false : 'GNU tar is not installed'
  }, async () => {
    const dir = await tempDir()
    try {
      const tricky = `${'b'.repeat(110)}\n11 size=0`
      const archive = await collect(
        tarStream(
          listOf<TarEntry>([
            { name: 'root', type: 'directory' },
            { name: `root/${tricky}`, type: 'file', size: 2, content: bytesOf(encoder.encode('ok')) },
            { name: 'root/link', type: 'symlink', linkname: tricky }
          ])
        )
      )
      await writeFile(join(dir.path, 'ours.tar'), archive)
      await mkdir(join(dir.path, 'x'))
      const x = spawnSync('tar', ['-xf', join(dir.path, 'ours.tar'), '-C', join(dir.path, 'x')])
      assert.equal(x.status, 0, x.stderr.toString())
      assert.deepEqual((await readdir(join(dir.path, 'x', 'root'))).sort(), [tricky, 'link'].sort())
      assert.equal(await readFile(join(dir.path, 'x', 'root', tricky), 'utf8'), 'ok')
      assert.equal(await readlink(join(dir.path, 'x', 'root', 'link')), tricky)

      const c = spawnSync('tar', ['--format=pax', '-cf', '-', '-C', join(dir.path, 'x'), 'root'], {
        maxBuffer: 1 << 24
      })
      assert.equal(c.status, 0, c.stderr.toString())
      const entries = await readAll(new Uint8Array(c.stdout))
      const file = entries.find((e) => e.type === 'file')
      assert.equal(file?.name, `root/${tricky}`)
      assert.equal(file?.content, 'ok')
      assert.equal(entries.find((e) => e.type === 'symlink')?.linkname, tricky)
    } finally {
      await dir.cleanup()
    }
  })
})

describe("the daemon's get, unpacked by the HTTP client", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: ApiNode
  let client: HttpKitClient

  before(async () => {
    dir = await tempDir()
    node = await apiNode(dir.path)
    client = new HttpKitClient({ url: node.url })
  })

  after(async () => {
    await node?.stop()
    await dir?.cleanup()
  })

  it('an entry name cannot desynchronise the archive: nothing outside the DAG is written', async () => {
    // a file whose name would end its PAX record early (`\n11 size=0`) and whose bytes are a
    // tar header: a reader that splits PAX records on newlines writes `planted.txt`
    const tricky = `${'a'.repeat(120)}\n11 size=0`
    const content = await tarFragment('sub/planted.txt', 'pwned')
    let root: CID | undefined
    for await (const e of importer(
      [
        { path: 'top/sub/ok.txt', content: [encoder.encode('fine')] },
        { path: `top/sub/${tricky}`, content: [content] }
      ],
      node.kit.helia.blockstore,
      { cidVersion: 0, rawLeaves: false }
    )) {
      if (e.path === 'top') root = e.cid
    }
    assert.ok(root)
    const out = join(dir.path, 'desync')
    await client.ipfsGet(`${root}/sub`, out)
    assert.deepEqual((await readdir(out)).sort(), ['ok.txt', tricky].sort())
    assert.ok((await readFile(join(out, tricky))).equals(content), 'the file holds its bytes')
    assert.equal(await readFile(join(out, 'ok.txt'), 'utf8'), 'fine')
  })

  it('writes symlinks as links and refuses, writing nothing, a target that is absolute or leaves the output', async () => {
    const blockstore = node.kit.helia.blockstore
    const folder = async (links: Array<{ name: string; link?: string; text?: string }>): Promise<CID> => {
      let cid: CID | undefined
      for await (const e of importer(
        links.map((l) =>
          l.link != null
            ? { path: `d/${l.name}`, link: l.link }
            : { path: `d/${l.name}`, content: [encoder.encode(l.text ?? '')] }
        ),
        blockstore,
        { cidVersion: 0, rawLeaves: false }
      )) {
        if (e.path === 'd') cid = e.cid
      }
      assert.ok(cid)
      return cid
    }
    const good = await folder([
      { name: 'a.txt', text: 'A' },
      { name: 'link', link: 'a.txt' },
      { name: 'sub/up', link: '../a.txt' }
    ])
    const out = join(dir.path, 'links')
    await client.ipfsGet(good, out)
    assert.equal(await readlink(join(out, 'link')), 'a.txt')
    assert.equal(await readFile(join(out, 'link'), 'utf8'), 'A')
    assert.equal(await readlink(join(out, 'sub', 'up')), '../a.txt')

    for (const [i, target] of ['/etc/passwd', '../outside', 'sub/../../outside'].entries()) {
      const bad = await folder([{ name: 'z', link: target }])
      const to = join(dir.path, `bad-${i}`)
      await assert.rejects(client.ipfsGet(bad, to), { name: 'UnsafeSymlinkError' }, target)
      await assert.rejects(lstat(join(to, 'z')), { code: 'ENOENT' }, `nothing written for ${target}`)
    }
  })

  it('a refusal after the archive began reaches the client as its typed error (X-Stream-Error trailer)', async () => {
    const blockstore = node.kit.helia.blockstore
    let file: CID | undefined
    for await (const e of importer([{ content: [pseudoRandomBytes(2 * 1024 * 1024, 5)] }], blockstore, {
      cidVersion: 0,
      rawLeaves: false
    })) {
      file = e.cid
    }
    assert.ok(file)
    // a folder whose second entry has a name a tar cannot hold as one entry ("z/évil")
    const root = await putPb(node, {
      // UnixFS Data { Type: Directory }
      Data: new Uint8Array([0x08, 0x01]),
      Links: [
        { Name: 'a.bin', Hash: file, Tsize: 2 * 1024 * 1024 },
        { Name: 'z/évil', Hash: file, Tsize: 2 * 1024 * 1024 }
      ]
    })
    const out = join(dir.path, 'refused')
    await assert.rejects(client.ipfsGet(root, out), (err: Error) => {
      assert.equal(err.name, 'InvalidParametersError')
      assert.match(err.message, /refusing a folder entry named "z\/évil": not a plain name/)
      return true
    })

    // on the wire: status 200, the reason in the trailer, and a body no tar reader accepts
    const raw = await new Promise<{ status: number; body: Buffer; trailers: NodeJS.Dict<string> }>(
      (resolve, reject) => {
        const req = request(`${node.url}/api/v0/get?arg=${root}`, { method: 'POST' }, (res) => {
          const parts: Buffer[] = []
          res.on('data', (b: Buffer) => parts.push(b))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), trailers: res.trailers })
          )
          res.on('error', reject)
        })
        req.on('error', reject)
        req.end()
      }
    )
    assert.equal(raw.status, 200)
    // UTF-8 bytes on the wire (Node reads header bytes as latin1)
    assert.match(
      Buffer.from(raw.trailers['x-stream-error'] ?? '', 'latin1').toString('utf8'),
      /refusing a folder entry named "z\/évil"/
    )
    assert.equal(raw.trailers['x-stream-error-name'], 'InvalidParametersError')
    await assert.rejects(readAll(raw.body), { name: 'InvalidArchiveError' })
  })
})
