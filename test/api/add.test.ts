/**
 * `/api/v0/add` with Kubo's options through the real `kubo-rpc-client` (progress callbacks,
 * trickle, chunker, hash, wrap, cid-base) and through raw HTTP: entries stream as each file is
 * added, and a failure after the stream began ends it with one error line in Kubo's shape.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { importer } from 'ipfs-unixfs-importer'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import { lines } from '../../src/api/client.ts'
import { type AddOptions, kuboImporterOptions } from '../../src/kit/importer.ts'
import { pseudoRandomBytes, tempDir } from '../helpers.ts'
import { type ApiNode, apiNode } from './helpers.ts'

const enc = new TextEncoder()
const HELLO_WORLDS = 'Hello Worlds!\n'

/** A multipart body whose parts the test sends one by one. */
function manualBody(boundary: string): {
  stream: ReadableStream<Uint8Array>
  part: (name: string, content: string, type?: string) => void
  end: () => void
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const stream = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) })
  let first = true
  return {
    stream,
    part(name, content, type = 'application/octet-stream') {
      controller.enqueue(
        enc.encode(
          `${first ? '' : '\r\n'}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n${content}`
        )
      )
      first = false
    },
    end() {
      controller.enqueue(enc.encode(`\r\n--${boundary}--\r\n`))
      controller.close()
    }
  }
}

describe('HTTP RPC add: Kubo options, streaming', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: ApiNode
  let client: KuboRPCClient

  before(async () => {
    dir = await tempDir()
    node = await apiNode(dir.path, 'worker')
    client = create({ url: `${node.url}/api/v0` })
  })

  after(async () => {
    await node?.stop()
    await dir?.cleanup()
  })

  it("kubo-rpc-client: trickle, chunker, hash, wrap and cid-base give Kubo's CIDs", async () => {
    assert.equal(
      (await client.add(HELLO_WORLDS, { trickle: true })).cid.toString(),
      'QmUkUQgxXeggyaD5Ckv8ZqfW8wHBX6cYyeiyqvVZYzq5Bi'
    )
    assert.equal(
      (await client.add(HELLO_WORLDS, { chunker: 'rabin-36-512-1024' })).cid.toString(),
      'QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH'
    )
    assert.equal(
      (await client.add('hello world', { hashAlg: 'sha2-512' })).cid.toString(),
      'bafkrgqbqt3gerhas23vuzrapkdeqf4vu2dwxp3srdj6hvg6nhsug2tgyn6mj3u23yx7utftq3i2ckw2fwdh5qmhid5qf3t35yvkc5e5ottlw6'
    )
    const wrapped: string[] = []
    for await (const r of client.addAll([{ path: 'hello.txt', content: HELLO_WORLDS }], {
      wrapWithDirectory: true
    })) {
      wrapped.push(`${r.path} ${r.cid}`)
    }
    assert.deepEqual(wrapped, [
      'hello.txt QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH',
      ' QmVJfrqd4ogGZME6LWkkikAGddYgh9dBs2U14DHZZUBk7W'
    ])
    const b32 = await client.add('base32 test\n', { cidBase: 'base32' } as Parameters<
      KuboRPCClient['add']
    >[1])
    assert.equal(b32.cid.toString(), 'bafybeibyosqxljd2eptb4ebbtvk7pb4aoxzqa6ttdsflty6rsslz5y6i34')
    assert.equal(
      (await client.add(HELLO_WORLDS, { chunker: 'buzhash' })).cid.toString(),
      'QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH'
    )
    await assert.rejects(client.add('x', { chunker: 'buzhash-1' }), /unrecognized chunker option: buzhash-1/)
    await assert.rejects(client.add('x', { hashAlg: 'sha3-256' }), /"sha3-256" is not supported/)
  })

  it("/api/v0/add?chunker=buzhash: Kubo's CIDs (kubo#6953) and Kubo's cuts of a multi-chunk file", async () => {
    /** The root CID of one file added over raw HTTP with `query`. */
    const add = async (query: string, content: string | Uint8Array): Promise<string> => {
      const form = new FormData()
      form.append('file', new Blob([content]), 'file.bin')
      const res = await fetch(`${node.url}/api/v0/add?${query}`, { method: 'POST', body: form })
      assert.equal(res.status, 200)
      const entries = (await res.text()).trim().split('\n')
      return (JSON.parse(entries.at(-1)!) as { Hash: string }).Hash
    }
    /** The root CID of the same bytes imported here, with nothing but the importer and these options. */
    const imported = async (content: Uint8Array, options: AddOptions): Promise<string> => {
      let root = ''
      for await (const entry of importer(
        [{ content }],
        new MemoryBlockstore(),
        kuboImporterOptions(options)
      )) {
        root = entry.cid.toString()
      }
      return root
    }
    // `yes "foo" | head -n 40000`: no cut in it, one leaf
    const foo = 'foo\n'.repeat(40_000)
    assert.equal(await add('chunker=buzhash', foo), 'QmcNJ4CKYGuya2ndNr9ymV7oQsT4S69SdwmTzaiW7c9vAC')
    assert.equal(
      await add('chunker=buzhash&cid-version=1', foo),
      'bafkreigqq7maj23te3dkn4j76n7haab7lgmdz5fztubrdgsv44k4vyipsa'
    )
    // several chunks of 128 to 512 KiB: the same root as the importer fed Kubo's cuts
    const big = pseudoRandomBytes(1_500_000, 17)
    const expected = await imported(big, { chunker: 'buzhash' })
    assert.notEqual(expected, await imported(big, {}), 'buzhash cuts elsewhere than fixed 256 KiB chunks')
    assert.equal(await add('chunker=buzhash', big), expected)
    assert.deepEqual(await node.kit.ipfsCat(expected), big)
  })

  it("kubo-rpc-client's progress callback: Kubo's Bytes every 256 KiB and at the end", async () => {
    const seen: Array<[number, string | undefined]> = []
    const r = await client.add(
      { path: 'p.bin', content: new Uint8Array(600 * 1024).fill(1) },
      { progress: (bytes, path) => seen.push([bytes, path]) }
    )
    // once per 256 KiB read (at the read that crosses it), and once at the end
    assert.equal(seen.length, 3, JSON.stringify(seen))
    assert.ok(seen.every(([, path]) => path === 'p.bin'))
    const bytes = seen.map(([b]) => b)
    assert.ok(bytes[0]! >= 262144 && bytes[1]! - bytes[0]! >= 262144, JSON.stringify(bytes))
    assert.equal(bytes[2], 614400)
    assert.match(r.cid.toString(), /^Qm/)
  })

  it('entries stream: the first file is answered while the next is still being sent', async () => {
    const boundary = 'stream-test-boundary'
    const body = manualBody(boundary)
    body.part('first.txt', HELLO_WORLDS)
    body.part('second.txt', 'the second file, sent later\n')
    const res = await fetch(`${node.url}/api/v0/add?stream-channels=true`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      body: body.stream,
      duplex: 'half'
    } as RequestInit)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('X-Ipfs-Kit-Provides'), 'yes')
    const events = lines(res.body!)
    // the second part is still open: the first file's entry arrives all the same
    const first = (await events.next()).value as { Name: string; Hash: string }
    assert.deepEqual(
      [first.Name, first.Hash],
      ['first.txt', 'QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH']
    )
    body.end()
    const rest: Array<{ Name: string }> = []
    for await (const e of events) rest.push(e as { Name: string })
    assert.deepEqual(
      rest.map((e) => e.Name),
      ['second.txt']
    )
  })

  it('a failure after the stream began: one error line in Kubo shape, typed, and the stream is cut', async () => {
    const boundary = 'failing-boundary'
    const body = manualBody(boundary)
    body.part('fine.txt', HELLO_WORLDS)
    // a symlink whose target is over the limit, after a file that was added
    body.part('bad-link', 'a'.repeat(5000), 'application/symlink')
    body.end()
    const res = await fetch(`${node.url}/api/v0/add`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      body: body.stream,
      duplex: 'half'
    } as RequestInit)
    assert.equal(res.status, 200)
    const text: string[] = []
    const reader = res.body!.getReader()
    let cut = false
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        text.push(Buffer.from(value).toString('utf8'))
      }
    } catch {
      cut = true
    }
    const got = text
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.equal(got[0]?.Name, 'fine.txt')
    const last = got.at(-1)
    assert.equal(last?.Type, 'error')
    assert.equal(last?.Name, 'InvalidParametersError')
    assert.match(String(last?.Message), /symlink bad-link: its target is over 4096 bytes/)
    assert.ok(cut, 'the response was cut, not ended as if whole')
  })
})
