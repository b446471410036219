/**
 * The MFS gives Kubo's CIDs: the operations of Kubo's own MFS test (test/sharness/t0250-files-api.sh,
 * `test_files_api`) run on a kit, with the CIDs that test expects (the root, /cats, a file written
 * at an offset, a truncated file) for dag-pb leaves, raw leaves, CIDv1 folders, and a CIDv1 root.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import type { IPFSKit } from '../../src/kit/index.ts'
import { suiteKit } from '../helpers.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

async function text(source: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts).toString('utf8')
}

async function names(kit: IPFSKit, path: string): Promise<string[]> {
  return (await kit.files.ls(path)).map((e) => e.name).sort()
}

/** The same CID, whatever base it is printed in (the sharness prints CIDv1 in base32). */
function sameCid(actual: CID, expected: string, what: string): void {
  assert.equal(actual.toString(), CID.parse(expected).toString(), what)
}

interface Expected {
  root: string
  cats: string
  file: string
  trunc: string
}

/** `test_files_api`: `args` go to mkdir and write (`--cid-version=1`), `rawLeaves` to write. */
async function filesApi(
  kit: IPFSKit,
  files: { file1: string; file2: string; file3: string },
  args: { cidVersion?: 0 | 1 },
  rawLeaves: boolean | undefined,
  want: Expected
): Promise<void> {
  const f = kit.files
  const w = { ...args, ...(rawLeaves == null ? {} : { rawLeaves }) }
  await f.mkdir('/cats', args)
  assert.deepEqual(await names(kit, '/'), ['cats'])
  await assert.rejects(f.mkdir('/', args), { name: 'AlreadyExistsError' })
  await f.cp(`/ipfs/${files.file1}`, '/cats/file1')
  const [listed] = await f.ls('/cats', { long: true })
  assert.equal(listed?.cid?.toString(), files.file1)
  assert.equal(listed?.size, 4)
  assert.equal(await text(f.read('/cats/file1')), 'foo\n')
  await f.cp(`/ipfs/${files.file2}`, '/file2')
  assert.deepEqual(await names(kit, '/'), ['cats', 'file2'])
  await f.mkdir('/cats/this/is/a/dir', { ...args, parents: true })
  assert.deepEqual(await names(kit, '/cats/this/is/a'), ['dir'])
  await f.cp(`/ipfs/${files.file3}`, '/cats/this/is/a/dir/file3')
  await f.cp(`/ipfs/${files.file3}`, '/cats/some/other/dir/file3', { parents: true })
  assert.equal(await text(f.read('/cats/some/other/dir/file3')), 'baz\n')
  await f.rm(['/cats/some'], { recursive: true })
  await f.rm(['/cats/this/is/a/dir/file3'])
  await f.rm(['/cats/this/is/a/dir'], { recursive: true })
  await f.rm(['/file2'])
  await assert.rejects(f.rm(['/'], { recursive: true }), /cannot delete root/)
  assert.equal(await text(f.read('/cats/file1', { offset: 1 })), 'oo\n')
  assert.equal(await text(f.read('/cats/file1', { count: 2 })), 'fo')
  assert.equal(await text(f.read('/cats/file1', { offset: 2 })), 'o\n')
  await assert.rejects(text(f.read('/cats/file1', { offset: 5 })), /offset was past end of file \(5 > 4\)/)
  assert.equal(await text(f.read('/cats/file1', { count: 0 })), '')

  await f.write('/cats/ipfs', [enc('ipfs rocks\n')], { ...w, create: true })
  await f.write('/cats/ipfs', [enc('is super cool\n')], { ...w, offset: 5 })
  assert.equal(await text(f.read('/cats/ipfs')), 'ipfs is super cool\n')
  sameCid((await f.stat('/cats/ipfs')).cid, want.file, 'a file written at an offset')
  await f.write('/fun', [enc('foobar\n')], { ...w, create: true })
  await f.write('/fun', [enc('blah\n')], { ...w, offset: 50 })
  const sparse = Buffer.alloc(55)
  sparse.write('foobar\n')
  sparse.write('blah\n', 50)
  assert.equal(await text(f.read('/fun')), sparse.toString('utf8'))
  await f.rm(['/fun'])
  const catsBefore = (await f.stat('/cats')).cid
  await assert.rejects(f.write('/cats', [enc('x')], w), { name: 'NotAFileError' })
  await assert.rejects(f.write('/cats/bar/', [enc('x')], w), { name: 'NotFoundError' })
  assert.ok((await f.stat('/cats')).cid.equals(catsBefore))
  await f.write('/cats/walrus', [enc('testing\n')], { ...w, create: true })
  sameCid((await f.stat('/')).cid, want.root, 'the root')
  sameCid((await f.stat('/cats')).cid, want.cats, '/cats')
  sameCid(await f.flush('/'), want.root, 'flush /')

  await f.mv('/cats/this/is', '/cats/')
  await f.mv('/cats/is', '/')
  await f.mv('/is', '/cats')
  assert.deepEqual(await names(kit, '/cats'), ['file1', 'ipfs', 'is', 'this', 'walrus'])
  assert.deepEqual(await names(kit, '/cats/this'), [])
  await f.rm(['/cats'], { recursive: true })
  assert.deepEqual(await names(kit, '/'), [])

  await f.write('/cats', [enc('some content\n')], { ...w, create: true })
  await f.write('/cats', [enc('fish\n')], { ...w, truncate: true })
  assert.equal(await text(f.read('/cats')), 'fish\n')
  sameCid((await f.stat('/cats')).cid, want.trunc, 'a truncated file')
  await f.rm(['/cats'])

  await f.mkdir('/flushed/deep', { ...args, parents: true })
  await f.mkdir('/flushed/deep', { ...args, parents: true })
  await f.rm(['/flushed'], { recursive: true })
  await f.mkdir('/adir', args)
  await f.write('/foobar', [enc('blah\n')], { ...w, create: true })
  await f.cp('/foobar', '/adir/')
  assert.deepEqual(await names(kit, '/adir'), ['foobar'])
  await assert.rejects(f.write('/parents/foo/ipfs.txt', [enc('ipfs rocks\n')], { create: true }), {
    name: 'NotFoundError'
  })
  await f.write('/parents/foo/bar/baz/ipfs.txt', [enc('ipfs rocks\n')], { create: true, parents: true })
  assert.equal((await f.stat('/parents/foo/bar/baz/ipfs.txt')).type, 'file')
  await f.rm(['/foobar', '/adir', '/parents'], { recursive: true })
  assert.deepEqual(await names(kit, '/'), [])
}

describe('MFS: the CIDs of Kubo’s own files test', () => {
  const node = suiteKit()

  it('gives Kubo’s CIDs with dag-pb leaves, raw leaves, CIDv1 folders and a CIDv1 root', async () => {
    const kit = node.kit
    const add = async (s: string, raw: boolean): Promise<string> =>
      (await kit.ipfsAddBytes(enc(s), raw ? { cidVersion: 1, rawLeaves: true } : {})).Hash
    const create = async (raw: boolean) => ({
      file1: await add('foo\n', raw),
      file2: await add('bar\n', raw),
      file3: await add('baz\n', raw)
    })
    const plain = await create(false)
    await filesApi(kit, plain, {}, undefined, {
      root: 'QmcwKfTMCT7AaeiD92hWjnZn9b6eh9NxnhfSzN5x2vnDpt',
      cats: 'Qma88m8ErTGkZHbBWGqy1C7VmEmX8wwNDWNpGyCaNmEgwC',
      file: 'QmQdQt9qooenjeaNhiKHF3hBvmNteB4MQBtgu3jxgf9c7i',
      trunc: 'QmPVnT9gocPbqzN4G6SMp8vAPyzcjDbUJrNdKgzQquuDg4'
    })
    const raw = await create(true)
    await filesApi(kit, raw, {}, true, {
      root: 'QmW3dMSU6VNd1mEdpk9S3ZYRuR1YwwoXjGaZhkyK6ru9YU',
      cats: 'QmPqWDEg7NoWRX8Y4vvYjZtmdg5umbfsTQ9zwNr12JoLmt',
      file: 'QmRCgHeoKxCqK2Es6M6nPUDVWz19yNQPnsXGsXeuTkSKpN',
      trunc: 'QmckstrVxJuecVD1FHUiURJiU9aPURZWJieeBVHJPACj8L'
    })
    const v1 = {
      root: 'QmageRWxC7wWjPv5p36NeAgBAiFdBHaNfxAehBSwzNech2',
      cats: 'bafybeig4cpvfu2qwwo3u4ffazhqdhyynfhnxqkzvbhrdbamauthf5mfpuq',
      file: 'bafybeibkrazpbejqh3qun7xfnsl7yofl74o4jwhxebpmtrcpavebokuqtm',
      trunc: 'bafybeigwhb3q36yrm37jv5fo2ap6r6eyohckqrxmlejrenex4xlnuxiy3e'
    }
    await filesApi(kit, raw, { cidVersion: 1 }, undefined, v1)
    await kit.files.chcid('/', { cidVersion: 1 })
    sameCid(
      await kit.files.flush('/'),
      'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354',
      'a CIDv1 root'
    )
    await filesApi(kit, raw, {}, undefined, {
      ...v1,
      root: 'bafybeifxnoetaa2jetwmxubv3gqiyaknnujwkkkhdeua63kulm63dcr5wu'
    })
    await kit.files.chcid('/', { cidVersion: 0 })
    sameCid(await kit.files.flush('/'), 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn', 'back to CIDv0')
  })

  it('refuses what Kubo refuses, with one typed error, and changes nothing', async () => {
    const f = node.kit.files
    await f.mkdir('/full/sub', { parents: true })
    await f.write('/full/sub/a', [enc('a')], { create: true })
    const before = await f.flush('/')
    await assert.rejects(f.mkdir('/missing/child'), { name: 'NotFoundError', message: /--parents/ })
    await assert.rejects(f.mkdir('/full'), { name: 'AlreadyExistsError' })
    await assert.rejects(f.write('/full', [enc('x')], { create: true }), { name: 'NotAFileError' })
    await assert.rejects(f.rm(['/full']), { name: 'IsADirectoryError', message: /use -r/ })
    await assert.rejects(f.write('/full/sub/a/b', [enc('x')], { create: true }), {
      name: 'NotADirectoryError'
    })
    await assert.rejects(f.ls('relative/path'), { name: 'InvalidParametersError', message: /leading slash/ })
    await assert.rejects(f.cp('/full/sub/a', '/full/sub/a'), { name: 'AlreadyExistsError' })
    await assert.rejects(f.mv('/full', '/full/sub/inside'), { name: 'InvalidParametersError' })
    await assert.rejects(f.rm(['/nope', '/full']), /can't remove some files/)
    assert.ok((await f.flush('/')).equals(before))
    await f.rm(['/nope', '/deeply/nope'], { force: true })
    await f.rm(['/full'], { recursive: true })
  })

  it('writes with --count, in the middle, and a file larger than one chunk', async () => {
    const f = node.kit.files
    await f.write('/c', [enc('hello world')], { create: true, count: 5 })
    assert.equal(await text(f.read('/c')), 'hello')
    await f.write('/c', [enc('J')], { offset: 0 })
    assert.equal(await text(f.read('/c')), 'Jello')
    const big = new Uint8Array(600 * 1024).map((_, i) => i % 251)
    await f.write('/big', [big.subarray(0, 100_000), big.subarray(100_000)], { create: true })
    const read = Buffer.from(await text(f.read('/big')), 'latin1')
    const s = await f.stat('/big')
    assert.equal(s.size, big.byteLength)
    assert.equal(s.blocks, 3, 'three 256 KiB leaves under a trickle root')
    assert.ok(read.byteLength > 0)
    const parts: Uint8Array[] = []
    for await (const p of f.read('/big', { offset: 300_000, count: 10 })) parts.push(p)
    assert.deepEqual(Buffer.concat(parts), Buffer.from(big.subarray(300_000, 300_010)))
    await f.rm(['/c', '/big'])
  })
})
