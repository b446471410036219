/**
 * The gateway's plain responses as Kubo's gateway gives them: `Content-Type` by name or
 * sniffed from the first bytes, `?filename=` (and `download=true`), `?format=tar`,
 * `X-Ipfs-Roots`, and a slow reader that leaves no listeners piling up.
 */
import assert from 'node:assert/strict'
import { get as httpGet } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { CarReader } from '@ipld/car/reader'
import { extract } from 'tar-stream'
import { pseudoRandomBytes, tempDir } from '../helpers.ts'
import { type ApiNode, apiNode, connect } from './helpers.ts'

const enc = new TextEncoder()
/** The first bytes of a PNG (signature and IHDR) and of an MP4 (`ftyp` box), then filler. */
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex'),
  Buffer.alloc(64)
])
const MP4 = Buffer.concat([
  Buffer.from('0000001c667479706d703432000000006d7034326973736f6d', 'hex'),
  Buffer.alloc(64)
])

describe('gateway content types, filename, tar and roots', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: ApiNode
  let other: ApiNode
  let remote = ''
  const cids: Record<string, string> = {}
  let folder = ''
  let sub = ''

  before(async () => {
    dir = await tempDir()
    node = await apiNode(`${dir.path}/a`)
    other = await apiNode(`${dir.path}/b`)
    await connect(node.kit, other.kit)
    remote = (await other.kit.ipfsAddBytes(pseudoRandomBytes(8 * 1024 * 1024, 8))).cid.toString()
    const add = async (name: string, bytes: Uint8Array): Promise<void> => {
      cids[name] = (await node.kit.ipfsAddBytes(bytes)).cid.toString()
    }
    await add('png', PNG)
    await add('mp4', MP4)
    await add('html', enc.encode('\n  <!DOCTYPE html><html><body>hi</body></html>'))
    await add('text', enc.encode('plain words, ünïcode too\n'))
    await add('binary', Uint8Array.of(0, 1, 2, 3, 255, 254))
    await add('big', pseudoRandomBytes(8 * 1024 * 1024, 7))
    const added = await node.kit.ipfsAddAll([
      { path: 'site/a/page.txt', content: [enc.encode('a page')] },
      { path: 'site/a/pic', content: [PNG] },
      { path: 'site/top.md', content: [enc.encode('# top')] }
    ])
    folder = added.at(-1)!.cid.toString()
    sub = added.find((a) => a.Name === 'site/a')!.cid.toString()
  })

  after(async () => {
    await node?.stop()
    await other?.stop()
    await dir?.cleanup()
  })

  const fetchGateway = (path: string, init?: RequestInit): Promise<Response> =>
    fetch(`${node.url}${path}`, init)

  it('sniffs a bare CID: images, video, HTML, text and binary by their bytes', async () => {
    const expected: Record<string, RegExp> = {
      png: /^image\/png$/,
      mp4: /^video\/mp4$/,
      html: /^text\/html; charset=utf-8$/,
      text: /^text\/plain; charset=utf-8$/,
      binary: /^application\/octet-stream$/
    }
    for (const [name, type] of Object.entries(expected)) {
      const res = await fetchGateway(`/ipfs/${cids[name]}`)
      assert.equal(res.status, 200, name)
      assert.match(res.headers.get('content-type') ?? '', type, name)
      await res.arrayBuffer()
    }
  })

  it('sniffs a range request from the file start, not from the range', async () => {
    const res = await fetchGateway(`/ipfs/${cids.png}`, { headers: { Range: 'bytes=16-31' } })
    assert.equal(res.status, 206)
    assert.equal(res.headers.get('content-type'), 'image/png')
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array(PNG.subarray(16, 32)))
  })

  it('?filename= names the type and the Content-Disposition (attachment with download=true)', async () => {
    let res = await fetchGateway(`/ipfs/${cids.text}?filename=notes.csv`)
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8')
    assert.equal(res.headers.get('content-disposition'), 'inline; filename="notes.csv"')
    await res.arrayBuffer()
    res = await fetchGateway(`/ipfs/${cids.png}?filename=${encodeURIComponent('färg.png')}&download=true`)
    assert.equal(res.headers.get('content-type'), 'image/png')
    assert.equal(
      res.headers.get('content-disposition'),
      `attachment; filename="f_rg.png"; filename*=UTF-8''${encodeURIComponent('färg.png')}`
    )
    await res.arrayBuffer()
  })

  it('a file in a folder gets its type from its name; X-Ipfs-Roots lists every CID on the path', async () => {
    const res = await fetchGateway(`/ipfs/${folder}/a/page.txt`)
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
    const file = (await node.kit.ipfsLs(`/ipfs/${sub}`)).find((e) => e.Name === 'page.txt')!.Hash
    assert.equal(res.headers.get('x-ipfs-roots'), `${folder},${sub},${file}`)
    assert.equal(await res.text(), 'a page')
    // a file without an extension is sniffed
    const pic = await fetchGateway(`/ipfs/${folder}/a/pic`)
    assert.equal(pic.headers.get('content-type'), 'image/png')
    await pic.arrayBuffer()
  })

  it('?format=tar (and Accept: application/x-tar) streams the folder as a tar', async () => {
    for (const init of [{ query: '?format=tar' }, { query: '', accept: 'application/x-tar' }]) {
      const res = await fetchGateway(`/ipfs/${folder}/a${init.query}`, {
        headers: init.accept == null ? {} : { Accept: init.accept }
      })
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'application/x-tar')
      assert.equal(res.headers.get('content-disposition'), `attachment; filename="${sub}.tar"`)
      const entries: Record<string, string> = {}
      const ex = extract()
      const done = (async () => {
        for await (const entry of ex) {
          const parts: Buffer[] = []
          for await (const chunk of entry) parts.push(chunk as Buffer)
          entries[entry.header.name] =
            entry.header.type === 'file' ? Buffer.concat(parts).toString('latin1') : '<dir>'
        }
      })()
      ex.end(Buffer.from(await res.arrayBuffer()))
      await done
      assert.deepEqual(Object.keys(entries).sort(), ['a/', 'a/page.txt', 'a/pic'])
      assert.equal(entries['a/page.txt'], 'a page')
      assert.equal(entries['a/pic'], PNG.toString('latin1'))
    }
    const bad = await fetchGateway(`/ipfs/${folder}?format=zip`)
    assert.equal(bad.status, 400)
    assert.match(await bad.text(), /use raw, car or tar/)
  })

  it('dag-scope=entity: a folder is its own block, a file its whole DAG, the path blocks first', async () => {
    const car = async (path: string): Promise<string[]> => {
      const res = await fetchGateway(`${path}?format=car&dag-scope=entity`)
      assert.equal(res.status, 200)
      const reader = await CarReader.fromBytes(new Uint8Array(await res.arrayBuffer()))
      const cids: string[] = []
      for await (const block of reader.blocks()) cids.push(block.cid.toString())
      return cids
    }
    // the folder's own block: none of its children
    assert.deepEqual(await car(`/ipfs/${sub}`), [sub])
    // through a path: the blocks on the way, then the entity
    assert.deepEqual(await car(`/ipfs/${folder}/a`), [folder, sub])
    // a file: every block of it (an 8 MiB file is a root and 32 leaves)
    const big = await car(`/ipfs/${cids.big}`)
    assert.equal(big[0], cids.big)
    assert.equal(big.length, 1 + 32)
    assert.equal(new Set(big).size, big.length)
    // dag-scope=all of the folder takes its children too
    const all = await fetchGateway(`/ipfs/${sub}?format=car&dag-scope=all`)
    const reader = await CarReader.fromBytes(new Uint8Array(await all.arrayBuffer()))
    let blocks = 0
    for await (const _ of reader.blocks()) blocks++
    assert.equal(blocks, 3)
  })

  for (const where of ['held here', 'fetched from a peer'] as const) {
    it(`a slow reader of a large file ${where} leaves no listeners piling up (no MaxListenersExceededWarning)`, async () => {
      const cid = where === 'held here' ? cids.big : remote
      const warnings: Error[] = []
      const onWarning = (w: Error): void => {
        warnings.push(w)
      }
      process.on('warning', onWarning)
      try {
        const received = await new Promise<number>((resolve, reject) => {
          const req = httpGet(`${node.url}/ipfs/${cid}`, (res) => {
            let bytes = 0
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.byteLength
              // read a little, then stop long enough for the server to wait on `drain` again
              res.pause()
              setTimeout(() => res.resume(), 2)
            })
            res.on('end', () => resolve(bytes))
            res.on('error', reject)
          })
          req.on('error', reject)
        })
        assert.equal(received, 8 * 1024 * 1024)
        // warnings are emitted on the next tick
        await new Promise((r) => setImmediate(r))
      } finally {
        process.off('warning', onWarning)
      }
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
        []
      )
    })
  }
})
