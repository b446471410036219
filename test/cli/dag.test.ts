/**
 * `dag`, `refs`, `block rm`, `pin update` and `pin ls --type` through the real binary: against
 * a running daemon (one for the file), and on repos with no daemon (the command's own kit).
 * CIDs and outputs are Kubo's, from its own tests (test/sharness/t0053-dag.sh).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CarBlockIterator } from '@ipld/car/iterator'
import { CarWriter } from '@ipld/car/writer'
import * as dagCbor from '@ipld/dag-cbor'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { assertOneError, CliScratch, initLocal, type LiveProcess, ok, run, start } from './helpers.ts'

/** Kubo's expected CIDs (t0053-dag.sh) */
const KUBO = {
  /** the hello-world object, dag-json in, dag-cbor stored (the defaults) */
  objectCbor: 'bafyreiblwimnjbqcdoeafiobk6q27jcw64ew7n2fmmhdpldd63edmjecde',
  /** the same, stored as dag-json */
  objectJson: 'baguqeera6gviseelmbzn2ugoddo5vulxlshqs3kw5ymgsb6w4cabnoh4ldpa',
  /** codec-fixtures dagpb_Data_some as dag-cbor, dag-pb and dag-json */
  someCbor: 'bafyreieculsmrexh3ty5jentbvuku452o27mst4h2tq2rb2zntqhgcstji',
  somePb: 'bafybeibazl2z4vqp2tmwcfag6wirmtpnomxknqcgrauj7m2yisrz3qjbom',
  someJson: 'baguqeerajwksxu3lxpomdwxvosl542zl3xknhjgxtq3277gafrhl6vdw5tcq',
  /** {"foo":"bar"} and {"foo":"baz"} */
  fooBar: 'bafyreiblaotetvwobe7cu2uqvnddr6ew2q3cu75qsoweulzku2egca4dxq',
  fooBaz: 'bafyreibqp7zvp6dvrqhtkbwuzzk7jhtmfmngtiqjajqpm6gtw55o7kqzfi'
}
const SOME_CBOR = Buffer.from('omREYXRhRQABAgMEZUxpbmtzgA==', 'base64')
const SOME_PB = Buffer.from('CgUAAQIDBA==', 'base64')
const SOME_JSON = '{"Data":{"/":{"bytes":"AAECAwQ"}},"Links":[]}'

describe('ipfs-kit CLI: dag, refs, block rm, pin update, pin ls --type', () => {
  const scratch = new CliScratch()
  const { kit } = scratch
  let daemon: LiveProcess | undefined
  let objectFile = ''
  const hash = { foo: '', bar: '', baz: '' }

  before(async () => {
    await scratch.setup()
    daemon = start(kit('daemon'))
    await daemon.waitFor(/^Daemon is ready$/m)
    // independent commands through the daemon run at once
    const words = ['foo', 'bar', 'baz'] as const
    const added = await Promise.all(
      words.map((word) => ok(kit('add', '-q', '--pin=false'), { input: `${word}\n` }))
    )
    for (const [i, word] of words.entries()) hash[word] = (added[i] ?? '').trim()
    objectFile = join(scratch.work, 'ipld_object')
    await writeFile(
      objectFile,
      `{"hello":"world","cats":[{"/":"${hash.foo}"},{"water":{"/":"${hash.bar}"}}],"magic":{"/":"${hash.baz}"},"sub":{"dict":"ionary","beep":[0,"bop"]}}`
    )
  })

  after(async () => {
    await daemon?.stop()
    await scratch.teardown()
  })

  it("dag put gives Kubo's CIDs: defaults, every store codec, several files, standard input", async () => {
    const a = join(scratch.work, 'a.json')
    const b = join(scratch.work, 'b.json')
    await writeFile(a, '{"foo":"bar"}')
    await writeFile(b, '{"foo":"baz"}')
    // Kubo's codec fixture given in each codec, stored in another (or the same)
    const fixtures = [
      [SOME_CBOR, 'dag-cbor', 'dag-pb', KUBO.somePb],
      [SOME_PB, 'dag-pb', 'dag-json', KUBO.someJson],
      [SOME_JSON, 'dag-json', 'dag-cbor', KUBO.someCbor],
      [SOME_PB, 'dag-pb', 'dag-pb', KUBO.somePb]
    ] as const
    const [object, objectJson, several, json, rawOut, ...stored] = await Promise.all([
      ok(kit('dag', 'put', objectFile)),
      readFile(objectFile).then((input) => ok(kit('dag', 'put', '--store-codec', 'dag-json'), { input })),
      ok(kit('dag', 'put', a, b)),
      ok(kit('--enc', 'json', 'dag', 'put', a)),
      ok(kit('dag', 'put', '--store-codec', 'raw', '--input-codec', 'raw'), { input: 'foo bar\n' }),
      ...fixtures.map(([input, codec, store]) =>
        ok(kit('dag', 'put', '--input-codec', codec, '--store-codec', store), { input })
      )
    ])
    assert.equal(object, `${KUBO.objectCbor}\n`)
    assert.equal(objectJson, `${KUBO.objectJson}\n`)
    for (const [i, [, codec, store, cid]] of fixtures.entries()) {
      assert.equal(stored[i], `${cid}\n`, `${codec} stored as ${store}`)
    }
    assert.equal(several, `${KUBO.fooBar}\n${KUBO.fooBaz}\n`)
    assert.deepEqual(JSON.parse(json), { Cid: { '/': KUBO.fooBar } })
    assert.equal(await ok(kit('dag', 'get', '--output-codec', 'raw', rawOut.trim())), 'foo bar\n')
  })

  it('dag put: bad input is one typed error line', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1)
    const cases: Array<[string[], string | Buffer | undefined, RegExp]> = [
      [['dag', 'put'], '{"a":', /the input is not valid dag-json/],
      [['dag', 'put', '--store-codec', 'nope'], '{}', /unsupported codec "nope"/],
      [['dag', 'put', '--hash', 'md5'], '{}', /unsupported hash function "md5"/],
      [['dag', 'put', join(scratch.work, 'missing.json')], undefined, /no such file/],
      [['dag', 'put', '--store-codec', 'dag-pb'], '{"a":1}', /cannot be encoded as dag-pb/],
      [['dag', 'put', '--input-codec', 'raw', '--store-codec', 'raw'], big, /produced block is over 1MiB/]
    ]
    const [allowed, ...failed] = await Promise.all([
      ok(kit('dag', 'put', '--input-codec', 'raw', '--store-codec', 'raw', '--allow-big-block'), {
        input: big
      }),
      ...cases.map(([args, input]) => run(kit(...args), input == null ? {} : { input }))
    ])
    for (const [i, [, , pattern]] of cases.entries()) {
      const r = failed[i]
      assert.ok(r != null)
      assertOneError(r, pattern)
    }
    assert.match(allowed, /^bafk/)
  })

  it("dag get and dag resolve walk paths through links, with Kubo's output", async () => {
    const c = KUBO.objectCbor
    // the reads, the puts they need and the failures, at once; then what depends on them
    const [hello, sub, bop, cat0, data, cbor, printed, foobar, nested, noLink, notCid, notRaw] =
      await Promise.all([
        ok(kit('dag', 'get', `${c}/hello`)),
        ok(kit('dag', 'get', `${c}/sub`)),
        ok(kit('dag', 'get', `/ipfs/${c}/sub/beep/1`)),
        ok(kit('dag', 'get', `${c}/cats/0`)),
        ok(kit('dag', 'get', `/ipld/${KUBO.somePb}/Data`)),
        run(kit('dag', 'get', '--output-codec=dag-cbor', KUBO.somePb)),
        ok(kit('dag', 'get', c)),
        ok(kit('add', '-q'), { input: 'foobar\n' }),
        ok(kit('dag', 'put'), { input: '{"data":123}' }),
        run(kit('dag', 'get', `${c}/nope`)),
        run(kit('dag', 'get', 'not-a-cid')),
        run(kit('dag', 'get', '--output-codec', 'raw', c))
      ])
    assert.equal(hello, '"world"')
    assert.equal(sub, '{"beep":[0,"bop"],"dict":"ionary"}')
    assert.equal(bop, '"bop"')
    // a link is followed: the UnixFS node of "foo\n", as dag-json
    assert.equal(cat0, '{"Data":{"/":{"bytes":"CAISBGZvbwoYBA"}},"Links":[]}')
    assert.equal(data, '{"/":{"bytes":"AAECAwQ"}}')
    // dag-pb transcoded to dag-cbor: the bytes Kubo's test hashes
    assert.equal(
      createHash('sha256').update(cbor.stdout).digest('hex'),
      '82a2e4c892e7dcf1d491b30d68aa73ba76bec94f87d4e1a887596ce0730a534a'
    )
    assertOneError(noLink, /no link named "nope"/)
    assertOneError(notCid, /not a valid CID/)
    assertOneError(notRaw, /cannot be encoded as raw/)
    const inner = nested.trim()
    // what dag get prints puts back to the same CID
    const [again, foobarNode, outer] = await Promise.all([
      ok(kit('dag', 'put'), { input: printed }),
      ok(kit('dag', 'get', foobar.trim())),
      ok(kit('dag', 'put'), { input: `{"obj":{"/":"${inner}"}}` })
    ])
    assert.equal(again, `${c}\n`)
    assert.equal(foobarNode, '{"Data":{"/":{"bytes":"CAISB2Zvb2JhcgoYBw"}},"Links":[]}')
    const top = outer.trim()
    const [obj, objData, objJson] = await Promise.all([
      ok(kit('dag', 'resolve', `${top}/obj`)),
      ok(kit('dag', 'resolve', `${top}/obj/data`)),
      ok(kit('--enc', 'json', 'dag', 'resolve', `${top}/obj/data`))
    ])
    assert.equal(obj, inner)
    assert.equal(objData, `${inner}/data`)
    assert.deepEqual(JSON.parse(objJson), { Cid: { '/': inner }, RemPath: 'data' })
  })

  it("dag stat prints Kubo's table and summary, and its JSON", async () => {
    const shared = hash.foo
    const [one, two] = (
      await Promise.all([
        ok(kit('dag', 'put'), { input: `{"one":{"/":"${shared}"}}` }),
        ok(kit('dag', 'put'), { input: `{"two":{"/":"${shared}"}}` })
      ])
    ).map((out) => out.trim()) as [string, string]
    const [statJson, text, notOnBlock] = await Promise.all([
      ok(kit('--enc', 'json', 'dag', 'stat', '--progress=false', one, two)),
      ok(kit('dag', 'stat', one, two)),
      run(kit('dag', 'stat', `${one}/one/Data`))
    ])
    const stat = JSON.parse(statJson) as {
      UniqueBlocks: number
      TotalSize: number
      SharedSize: number
      Ratio: number
      DagStats: Array<{ Cid: string; Size: number; NumBlocks: number }>
    }
    // the UnixFS node of "foo\n" is 12 bytes; each dag-cbor node as @ipld/dag-cbor encodes it
    const size = dagCbor.encode({ one: CID.parse(shared) }).byteLength
    const total = 2 * size + 12
    assert.deepEqual(stat, {
      UniqueBlocks: 3,
      TotalSize: total,
      SharedSize: 12,
      Ratio: (total + 12) / total,
      DagStats: [
        { Cid: one, Size: size + 12, NumBlocks: 2 },
        { Cid: two, Size: size + 12, NumBlocks: 2 }
      ]
    })
    assert.equal(
      text,
      [
        '',
        `${'CID'.padEnd(one.length)}\t${'Blocks'.padEnd(15)}\tSize`,
        `${one}\t${'2'.padEnd(15)}\t${size + 12}`,
        `${two}\t${'2'.padEnd(15)}\t${size + 12}`,
        '',
        'Summary',
        `Total Size: ${total}`,
        'Unique Blocks: 3',
        'Shared Size: 12',
        `Ratio: ${((total + 12) / total).toFixed(6)}`,
        '',
        '',
        ''
      ].join('\n')
    )
    assertOneError(notOnBlock, /not on a block|no link named/)
  })

  it('dag export streams a CARv1 that dag import takes into another repo: same CIDs, roots pinned', async () => {
    const other = join(scratch.work, 'other')
    scratch.dirs.push(other)
    const [exported, stat] = await Promise.all([
      run(kit('dag', 'export', KUBO.objectCbor)),
      ok(kit('--enc', 'json', 'dag', 'stat', '--progress=false', KUBO.objectCbor)),
      initLocal(other)
    ])
    const car = exported.stdout
    const reader = await CarBlockIterator.fromBytes(car)
    assert.deepEqual((await reader.getRoots()).map(String), [KUBO.objectCbor])
    const cids: string[] = []
    for await (const block of reader) {
      assert.ok(equals((await sha256.digest(block.bytes)).digest, block.cid.multihash.digest))
      cids.push(block.cid.toString())
    }
    // depth first, first seen
    assert.deepEqual(cids, [KUBO.objectCbor, hash.foo, hash.bar, hash.baz])
    const file = join(scratch.work, 'object.car')
    await writeFile(file, car)

    const at = (...args: string[]): string[] => ['--repo', other, ...args]
    const total = (JSON.parse(stat) as { TotalSize: number }).TotalSize
    assert.equal(
      await ok(at('dag', 'import', '--stats', file)),
      `Pinned root\t${KUBO.objectCbor}\tsuccess\nImported 4 blocks (${total} bytes)\n`
    )
    assert.equal(await ok(at('pin', 'ls', '--type', 'recursive')), `${KUBO.objectCbor} recursive\n`)
    assert.equal(await ok(at('refs', '-r', KUBO.objectCbor)), `${hash.foo}\n${hash.bar}\n${hash.baz}\n`)
    assert.equal(await ok(at('dag', 'get', `${KUBO.objectCbor}/sub`)), '{"beep":[0,"bop"],"dict":"ionary"}')
    assert.equal(await ok(at('cat', `${KUBO.objectCbor}/magic`)), 'baz\n')
    // from standard input, without pinning; --silent prints nothing
    assert.equal(await ok(at('dag', 'import', '--pin-roots=false', '--silent'), { input: car }), '')
    assert.deepEqual(
      JSON.parse(await ok(at('--enc', 'json', 'dag', 'import', '--stats', '--pin-roots=false', file))),
      {
        Stats: { BlockCount: 4, BlockBytesCount: total }
      }
    )
  })

  it('dag import refuses a CAR with a bad block or a malformed file: one typed error, nothing kept', async () => {
    const fresh = join(scratch.work, 'fresh')
    scratch.dirs.push(fresh)
    const [exported] = await Promise.all([run(kit('dag', 'export', KUBO.objectCbor)), initLocal(fresh)])
    const car = exported.stdout
    const bad = Buffer.from(car)
    bad[bad.byteLength - 2] = (bad[bad.byteLength - 2] ?? 0) ^ 0xff
    const at = (...args: string[]): string[] => ['--repo', fresh, ...args]
    assertOneError(await run(at('dag', 'import'), { input: bad }), /does not match its CID/)
    assert.equal(await ok(at('refs', 'local')), '')
    assertOneError(
      await run(at('dag', 'import'), { input: car.subarray(0, car.byteLength - 5) }),
      /malformed|Unexpected end/
    )
    assert.equal(await ok(at('refs', 'local')), '')
    assertOneError(await run(at('dag', 'import'), { input: 'hello\n' }), /not a CAR file/)
    // a well-formed CAR without all the root's blocks: its blocks are imported, its root's pin fails
    const { writer, out } = CarWriter.create([CID.parse(KUBO.objectCbor)])
    const chunks: Uint8Array[] = []
    const reading = (async () => {
      for await (const chunk of out) chunks.push(chunk)
    })()
    for await (const block of await CarBlockIterator.fromBytes(car)) {
      if (block.cid.toString() === KUBO.objectCbor) await writer.put(block)
    }
    await writer.close()
    await reading
    assertOneError(
      await run(at('dag', 'import'), { input: Buffer.concat(chunks) }),
      new RegExp(`pinning root "${KUBO.objectCbor}" FAILED`)
    )
    assert.equal(await ok(at('dag', 'get', `${KUBO.objectCbor}/hello`)), '"world"')
    assert.equal(await ok(at('pin', 'ls')), '')
  })

  it('refs: -r, --unique, --edges, --format, --max-depth; refs local', async () => {
    const c = KUBO.objectCbor
    const leaf = (await ok(kit('dag', 'put'), { input: '{"leaf":true}' })).trim()
    const mid = (await ok(kit('dag', 'put'), { input: `{"a":{"/":"${leaf}"},"b":{"/":"${leaf}"}}` })).trim()
    const top = (await ok(kit('dag', 'put'), { input: `{"m":{"/":"${mid}"},"l":{"/":"${leaf}"}}` })).trim()
    const [refs, recursive, unique, depth1, edges, format, edgesFormat, badDepth, localOut] =
      await Promise.all([
        ok(kit('refs', c)),
        ok(kit('refs', '-r', top)),
        ok(kit('refs', '-r', '--unique', top)),
        ok(kit('refs', '-r', '--max-depth', '1', top)),
        ok(kit('refs', '-e', mid)),
        ok(kit('refs', '--format', '<linkname> <dst>', mid)),
        run(kit('refs', '-e', '--format', '<src>', mid)),
        run(kit('refs', '--max-depth', 'x', mid)),
        ok(kit('refs', 'local'))
      ])
    assert.equal(refs, `${hash.foo}\n${hash.bar}\n${hash.baz}\n`)
    assert.equal(recursive, `${leaf}\n${mid}\n${leaf}\n${leaf}\n`)
    assert.equal(unique, `${leaf}\n${mid}\n`)
    assert.equal(depth1, `${leaf}\n${mid}\n`)
    assert.equal(edges, `${mid} -> ${leaf}\n${mid} -> ${leaf}\n`)
    assert.equal(format, `a ${leaf}\nb ${leaf}\n`)
    assertOneError(edgesFormat, /format argument with edges is not allowed/)
    assertOneError(badDepth, /whole number/)
    const local = localOut.trim().split('\n')
    assert.ok(local.length >= 8)
    assert.ok(local.every((l) => l.startsWith('bafkrei')))
  })

  it("block rm removes blocks and refuses pinned ones with Kubo's message; -f, -q", async () => {
    const [loose, loose2, kept] = (
      await Promise.all([
        ok(kit('dag', 'put'), { input: '{"loose":1}' }),
        ok(kit('dag', 'put'), { input: '{"loose":2}' }),
        ok(kit('dag', 'put', '--pin'), { input: '{"kept":1}' })
      ])
    ).map((out) => out.trim()) as [string, string, string]
    const [removed, pinned, quiet, notCid] = await Promise.all([
      ok(kit('block', 'rm', loose)),
      run(kit('block', 'rm', kept)),
      ok(kit('-q', 'block', 'rm', loose2)),
      run(kit('block', 'rm', 'nope'))
    ])
    assert.equal(removed, `removed ${loose}\n`)
    assertOneError(pinned, new RegExp(`cannot remove ${kept}: pinned: recursive`))
    assert.equal(quiet, '')
    assertOneError(notCid, /not a valid CID/)
    // once removed: an error, unless forced; the pinned block is still there
    const [again, forced, gone, still] = await Promise.all([
      run(kit('block', 'rm', loose)),
      ok(kit('block', 'rm', '-f', loose)),
      run(kit('dag', 'get', loose2)),
      ok(kit('dag', 'get', kept))
    ])
    assertOneError(again, /could not find/)
    assert.equal(forced, `removed ${loose}\n`)
    assertOneError(gone, /not found|missing/)
    assert.equal(still, '{"kept":1}')
  })

  it('pin update moves a recursive pin; pin ls --type direct|indirect|recursive|all, -q, --stream', async () => {
    const [v1, v2, direct] = (
      await Promise.all([
        ok(kit('dag', 'put', '--pin'), { input: `{"v":1,"f":{"/":"${hash.foo}"}}` }),
        ok(kit('dag', 'put'), { input: `{"v":2,"f":{"/":"${hash.bar}"}}` }),
        ok(kit('dag', 'put'), { input: '{"direct":1}' })
      ])
    ).map((out) => out.trim()) as [string, string, string]
    // pins change one at a time; the listings of the result are read at once
    assert.equal(await ok(kit('pin', 'add', '--recursive=false', direct)), `pinned ${direct} directly\n`)
    assert.equal(await ok(kit('pin', 'update', v1, v2)), `updated ${v1} to ${v2}\n`)
    const [recursive, directs, indirect, all, quiet, streamed, keys, sideways] = await Promise.all([
      ok(kit('pin', 'ls', '--type', 'recursive')),
      ok(kit('pin', 'ls', '-t', 'direct')),
      ok(kit('pin', 'ls', '--type=indirect')),
      ok(kit('pin', 'ls')),
      ok(kit('-q', 'pin', 'ls', '--type', 'direct')),
      ok(kit('--enc', 'json', 'pin', 'ls', '--stream', '--type', 'direct')),
      ok(kit('--enc', 'json', 'pin', 'ls', '--type', 'direct')),
      run(kit('pin', 'ls', '--type', 'sideways'))
    ])
    assert.match(recursive, new RegExp(`^${v2} recursive$`, 'm'))
    assert.doesNotMatch(recursive, new RegExp(v1))
    assert.match(directs, new RegExp(`^${direct} direct$`, 'm'))
    assert.match(indirect, new RegExp(`^${hash.bar} indirect$`, 'm'))
    for (const line of [`${v2} recursive`, `${direct} direct`, `${hash.bar} indirect`]) {
      assert.match(all, new RegExp(`^${line}$`, 'm'))
    }
    assert.equal(quiet, `${direct}\n`)
    assert.deepEqual(
      streamed
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
      [{ Cid: direct, Type: 'direct' }]
    )
    assert.deepEqual(JSON.parse(keys), { Keys: { [direct]: { Type: 'direct' } } })
    assertOneError(sideways, /sideways/)
    assert.deepEqual(JSON.parse(await ok(kit('--enc', 'json', 'pin', 'update', '--unpin=false', v2, v1))), {
      Pins: [v2, v1]
    })
    const [stillRecursive, notRecursive] = await Promise.all([
      ok(kit('pin', 'ls', '--type', 'recursive')),
      run(kit('pin', 'update', direct, v1))
    ])
    assert.match(stillRecursive, new RegExp(`^${v2} recursive$`, 'm'))
    assertOneError(notRecursive, /not recursively pinned/)
  })
})
