/**
 * The HTTP API's query parameters and multipart bodies, fuzzed with fast-check (10 000 requests
 * each, sampled with a fixed seed, eight in flight at a time) against the real daemon binary (offline, so nothing waits on the network) on
 * 127.0.0.1: every answer is a success or an error in Kubo's shape naming one of our typed
 * errors (plain text with a 4xx or 504 status from the gateway), never an untyped error or a
 * hang, and the daemon is still up and serving at the end.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import * as errors from '../../src/errors.ts'
import { BIN, initLocal, requireBuild, run } from '../cli/helpers.ts'
import { tempDir } from '../helpers.ts'
import { type Child, startChild } from './fixtures/processes.ts'

const SEED = 0x5eed
const RUNS = 10_000
/** a request slower than this counts as a hang */
const REQUEST_TIMEOUT_MS = 10_000

/** Every error class of ours, by name: what an error response may name. */
const TYPED: ReadonlySet<string> = new Set(
  Object.values(errors)
    .filter(
      (v): v is typeof errors.IpfsKitError =>
        typeof v === 'function' && (v.prototype instanceof errors.IpfsKitError || v === errors.IpfsKitError)
    )
    .map((c) => c.name)
    .concat('AllProvidersFailedError')
)

const V0 = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'
const V1 = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const COMMANDS = [
  'add',
  'cat',
  'get',
  'ls',
  'block/get',
  'block/put',
  'block/stat',
  'pin/add',
  'pin/rm',
  'pin/ls',
  'id',
  'version',
  'swarm/peers',
  'swarm/connect',
  'routing/findprovs',
  'repo/stat',
  'stats/bw',
  'pubsub/pub',
  'pubsub/ls',
  'pubsub/peers',
  'kit/stats',
  'kit/reputation',
  'kit/buckets',
  'kit/providers'
]
const KEYS = [
  'arg',
  'arg',
  'arg',
  'cid-version',
  'chunker',
  'raw-leaves',
  'pin',
  'only-hash',
  'progress',
  'hash',
  'offset',
  'length',
  'recursive',
  'type',
  'format',
  'num-providers',
  'n',
  'verbose',
  'quiet',
  'wrap-with-directory',
  'stream-channels',
  'timeout',
  'topic',
  'archive',
  'compress',
  'output',
  'limit',
  'peer'
]
const VALUES = [
  V0,
  V1,
  `/ipfs/${V0}/a`,
  `${V1}/x/y`,
  'not-a-cid',
  '',
  ' ',
  'true',
  'false',
  '1',
  '0',
  '-1',
  '2',
  'NaN',
  '1e309',
  '9007199254740993',
  '0x10',
  'size-1',
  'size-0',
  'size-99999999',
  'rabin',
  'sha2-512',
  'identity',
  'recursive',
  'direct',
  'indirect',
  'all',
  'raw',
  'car',
  '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
  '/ip4/10.0.0.1/tcp/1',
  '/dns4/x',
  'ü',
  '\u0000',
  '%',
  '..',
  '../../etc/passwd',
  'x'.repeat(2_000)
]

/** Typed errors answered with a 5xx status, by name (reported). */
const serverErrors = new Map<string, number>()

/** Requests in flight at once: the server is another process, so they overlap. */
const CONCURRENCY = 8

/**
 * Run `check` on every case (sampled with the seed), a few at a time; the first failure fails
 * the test with its input. (Sampled rather than `fc.assert`, which runs one case at a time: the
 * cases are the same, only shrinking is lost.)
 */
async function runAll<T>(cases: T[], check: (c: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: Error | undefined
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (failure == null && next < cases.length) {
        const c = cases[next++]!
        try {
          await check(c)
        } catch (err) {
          failure ??= new Error(`case ${fc.stringify(c)}: ${(err as Error).message}`, { cause: err })
        }
      }
    })
  )
  if (failure != null) throw failure
  assert.equal(next, cases.length)
}

/** Check one response: a success, or a Kubo-shaped error naming a typed error. Returns the status. */
async function checkResponse(res: Response, what: string, method = 'POST'): Promise<number> {
  if (new URL(res.url).pathname.startsWith('/ipfs/')) {
    // the gateway answers errors as plain text: 400 bad path, 404, 412, 416, 504; 500 is a bug
    await res.arrayBuffer().catch(() => undefined)
    assert.ok(res.status !== 500, `${what}: 500 from the gateway`)
    return res.status
  }
  if (method === 'HEAD') {
    // no body by definition: the status alone
    assert.ok(res.status < 500, `${what}: ${res.status}`)
    return res.status
  }
  if (res.status >= 200 && res.status < 400) {
    await res.arrayBuffer().catch(() => undefined)
    return res.status
  }
  const text = await res.text()
  if (res.status === 431 || res.status === 400) {
    // node's HTTP parser answers malformed requests itself, without a body
    if (text === '') return res.status
  }
  let body: { Name?: string; Message?: string; Type?: string }
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    throw new Error(`${what}: ${res.status} with a body that is not Kubo's error JSON: ${text.slice(0, 200)}`)
  }
  assert.equal(body.Type, 'error', `${what}: ${text.slice(0, 200)}`)
  assert.ok(
    body.Name != null && TYPED.has(body.Name),
    `${what}: ${res.status} names an untyped error ${body.Name}: ${body.Message}`
  )
  if (res.status >= 500) {
    // a server error must be one of ours that means "the node could not", not a bug
    assert.ok(body.Name !== 'IpfsKitError', `${what}: ${body.Message}`)
    serverErrors.set(body.Name, (serverErrors.get(body.Name) ?? 0) + 1)
  }
  return res.status
}

describe('fuzzed HTTP API requests', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let daemon: Child
  let url: string
  const statuses = new Map<number, number>()
  const count = (s: number): void => {
    statuses.set(s, (statuses.get(s) ?? 0) + 1)
  }

  before(async () => {
    requireBuild()
    dir = await tempDir('ipfs-kit-rel-api-')
    const repo = join(dir.path, 'repo')
    await initLocal(repo)
    const env: NodeJS.ProcessEnv = { ...process.env, IPFS_KIT_PROFILE: 'local' }
    delete env.DEBUG
    // offline: every request is answered from the repo (no network waits to time out)
    daemon = startChild(process.execPath, [BIN, '--repo', repo, '--offline', 'daemon'], { env })
    await daemon.waitFor(/Daemon is ready/)
    const addr = (await daemon.waitFor(/API server listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+)/))[1]!
    url = `http://127.0.0.1:${addr.split('/').at(-1)}`
    assert.equal((await run(['--repo', repo, 'add', '-Q', BIN])).code, 0)
  })
  after(async () => {
    console.log('API fuzz statuses:', JSON.stringify(Object.fromEntries(statuses)))
    console.log('5xx answers by error:', JSON.stringify(Object.fromEntries(serverErrors)))
    if (daemon != null && (daemon.process.exitCode != null || daemon.process.signalCode != null)) {
      console.log(
        `the daemon exited (${daemon.process.exitCode ?? daemon.process.signalCode}):`,
        daemon.stderr().slice(-3000)
      )
    }
    await daemon?.kill()
    await dir?.cleanup()
  })

  /** The daemon is still running and answering. */
  async function stillServing(): Promise<void> {
    assert.equal(daemon.process.exitCode, null, `the daemon is still running: ${daemon.stderr()}`)
    const version = await fetch(`${url}/api/v0/version`, { method: 'POST' })
    assert.equal(version.status, 200, 'still serving')
  }

  it(`${RUNS} requests with fuzzed commands, methods and query parameters`, async () => {
    const value = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...VALUES) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) }
    )
    const key = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...KEYS) },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }
    )
    const request = fc.record({
      path: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...COMMANDS).map((c) => `/api/v0/${c}`) },
        { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => `/api/v0/${encodeURIComponent(s)}`) },
        {
          weight: 1,
          arbitrary: fc
            .constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf')
            .map((s) => `/api/v0/${s}`)
        },
        { weight: 2, arbitrary: value.map((v) => `/ipfs/${encodeURIComponent(v)}`) },
        { weight: 1, arbitrary: fc.constantFrom('/', '/metrics', '/dashboard', '/nothing', '/api/v0/') }
      ),
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constant('POST') },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE') }
      ),
      query: fc.array(fc.tuple(key, value), { maxLength: 5 })
    })
    await runAll(fc.sample(request, { numRuns: RUNS, seed: SEED }), async ({ path, method, query }) => {
      const qs = new URLSearchParams(query).toString()
      const target = `${url}${path}${qs === '' ? '' : `?${qs}`}`
      const res = await fetch(target, { method, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      count(await checkResponse(res, `${method} ${path}?${qs}`, method))
    })
    await stillServing()
  })

  it(`${RUNS} add requests with fuzzed multipart bodies`, async () => {
    const boundary = 'fuzzboundary'
    const part = fc.record({
      name: fc.constantFrom('file', 'file', 'data', ''),
      filename: fc.oneof(
        fc.constantFrom('a.txt', 'dir/b.txt', '/abs.txt', '%E0%A4%A', '..%2F..%2Fx', 'nul%00byte', ''),
        fc.string({ maxLength: 30 })
      ),
      type: fc.constantFrom('application/octet-stream', 'application/x-directory', 'text/plain', ''),
      content: fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'))
      )
    })
    const wellFormed = fc.array(part, { maxLength: 4 }).map((parts) => {
      let body = ''
      for (const p of parts) {
        body += `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename === '' ? '' : `; filename="${p.filename}"`}\r\n`
        if (p.type !== '') body += `Content-Type: ${p.type}\r\n`
        body += `\r\n${p.content}\r\n`
      }
      return `${body}--${boundary}--\r\n`
    })
    const mutated = fc
      .tuple(
        wellFormed,
        fc.array(fc.record({ at: fc.nat(), cut: fc.nat({ max: 40 }), insert: fc.string({ maxLength: 8 }) }), {
          maxLength: 3
        })
      )
      .map(([body, edits]) => {
        let s = body
        for (const e of edits) {
          const at = s.length === 0 ? 0 : e.at % s.length
          s = s.slice(0, at) + e.insert + s.slice(at + e.cut)
        }
        return s
      })
    const contentType = fc.oneof(
      { weight: 6, arbitrary: fc.constant(`multipart/form-data; boundary=${boundary}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'multipart/form-data',
          'multipart/form-data; boundary=',
          'multipart/form-data; boundary=other',
          'multipart/mixed; boundary=fuzzboundary',
          'application/json',
          'text/plain'
        )
      },
      {
        weight: 1,
        arbitrary: fc
          .string({ maxLength: 40 })
          .map((s) => `multipart/form-data; ${s.replace(/[^\x20-\x7e]/g, '')}`)
      }
    )
    const request = fc.record({
      body: fc.oneof(
        { weight: 2, arbitrary: wellFormed },
        { weight: 3, arbitrary: mutated },
        { weight: 1, arbitrary: fc.string({ maxLength: 200 }) }
      ),
      contentType,
      // mostly only-hash: the multipart parsing and the importer run in full, the repo stays small
      query: fc.constantFrom(
        'only-hash=true',
        'only-hash=true&cid-version=1',
        'only-hash=true&wrap-with-directory=true',
        'only-hash=true&progress=true',
        'pin=false'
      )
    })
    await runAll(
      fc.sample(request, { numRuns: RUNS, seed: SEED }),
      async ({ body, contentType: type, query }) => {
        const res = await fetch(`${url}/api/v0/add?${query}`, {
          method: 'POST',
          headers: { 'Content-Type': type },
          body: Buffer.from(body, 'latin1'),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
        })
        count(await checkResponse(res, `add ${JSON.stringify(body.slice(0, 120))} as ${type}`))
      }
    )
    await stillServing()
    const form = new FormData()
    form.append('file', new Blob(['still adding']), 'last.txt')
    const last = await fetch(`${url}/api/v0/add`, { method: 'POST', body: form })
    assert.equal(last.status, 200, 'still serving adds')
    assert.match(await last.text(), /"Hash":"Qm/)
  })
})
