/**
 * Security of the HTTP API: a token off loopback, origin and host checks, body and
 * header limits. Listeners bound to 0.0.0.0 are only ever dialled on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { create } from 'kubo-rpc-client'
import {
  tempDir as cliTempDir,
  initLocal,
  killAll,
  type LiveProcess,
  ok,
  removeAll,
  requireBuild,
  start
} from '../cli/helpers.ts'
import { tempDir } from '../helpers.ts'
import { type ApiNode, apiNode } from './helpers.ts'

interface RawResponse {
  status: number
  body: string
}

/** A raw request to 127.0.0.1:`port`: `body` chunks are written one by one (chunked unless `length` is set). */
function raw(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; chunks?: number; chunkBytes?: number } = {}
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'POST', headers: options.headers },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body }))
      }
    )
    req.on('error', reject)
    req.setTimeout(20_000, () => req.destroy(new Error('request timed out')))
    const chunk = new Uint8Array(options.chunkBytes ?? 64 * 1024)
    let left = options.chunks ?? 0
    const pump = (): void => {
      while (left > 0) {
        left--
        if (req.destroyed) return
        if (!req.write(chunk)) {
          req.once('drain', pump)
          return
        }
      }
      req.end()
    }
    req.on('error', () => undefined)
    pump()
  })
}

function portOf(url: string): number {
  return Number(new URL(url).port)
}

describe('API security (in process)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let open: ApiNode
  let guarded: ApiNode

  before(async () => {
    dir = await tempDir()
    open = await apiNode(dir.path, 'worker', { maxBodyBytes: 1024 * 1024 })
    guarded = await apiNode(dir.path, 'worker', { listen: '/ip4/0.0.0.0/tcp/0' })
  })

  after(async () => {
    await open?.stop()
    await guarded?.stop()
    await dir?.cleanup()
  })

  it('bound to 0.0.0.0: requests without the right token are refused (401); the token is in <repo>/api.token, mode 0600', async () => {
    assert.equal(guarded.api.addresses.tokenRequired, true)
    assert.match(guarded.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const port = portOf(guarded.url)
    for (const path of ['/api/v0/id', '/', '/metrics', '/ipfs/bafkqaaa']) {
      const res = await raw(port, path, { method: path.startsWith('/api') ? 'POST' : 'GET' })
      assert.equal(res.status, 401, path)
    }
    const wrong = await raw(port, '/api/v0/id', { headers: { authorization: 'Bearer nope' } })
    assert.equal(wrong.status, 401)
    assert.equal(JSON.parse(wrong.body).Type, 'error')
    const file = join(guarded.kit.repo.path, 'api.token')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const token = (await readFile(file, 'utf8')).trim()
    const id = await raw(port, '/api/v0/id', { headers: { authorization: `Bearer ${token}` } })
    assert.equal(id.status, 200)
    assert.equal(JSON.parse(id.body).ID, guarded.kit.repo.config.Identity.PeerID)
    // the dashboard in a browser passes it in the query
    assert.equal((await raw(port, `/?token=${token}`, { method: 'GET' })).status, 200)
    // kubo-rpc-client with the header works unchanged
    const client = create({ url: `${guarded.url}/api/v0`, headers: { authorization: `Bearer ${token}` } })
    assert.equal((await client.id()).id.toString(), guarded.kit.repo.config.Identity.PeerID)
  })

  it('on loopback no token is needed; CORS is off: other origins and non-loopback Host names are refused', async () => {
    const port = portOf(open.url)
    assert.equal(open.api.addresses.tokenRequired, false)
    assert.equal((await raw(port, '/api/v0/id')).status, 200)
    const cross = await raw(port, '/api/v0/id', { headers: { origin: 'https://evil.example' } })
    assert.equal(cross.status, 403)
    const same = await raw(port, '/api/v0/id', { headers: { origin: `http://127.0.0.1:${port}` } })
    assert.equal(same.status, 200)
    const rebound = await raw(port, '/api/v0/id', { headers: { host: `evil.example:${port}` } })
    assert.equal(rebound.status, 403)
    const preflight = await raw(port, '/api/v0/id', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' }
    })
    assert.equal(preflight.status, 403)
  })

  it('an oversized body gets 413 (declared, or streamed past the limit) and the server keeps serving', async () => {
    const port = portOf(open.url)
    const declared = await raw(port, '/api/v0/add', {
      headers: {
        'content-type': 'multipart/form-data; boundary=x',
        'content-length': String(2 * 1024 * 1024 * 1024)
      },
      chunks: 1,
      chunkBytes: 16
    })
    assert.equal(declared.status, 413)
    assert.equal(JSON.parse(declared.body).Type, 'error')
    const streamed = await raw(port, '/api/v0/add', {
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      chunks: 64,
      chunkBytes: 64 * 1024
    }).catch((err: Error) => ({ status: -1, body: err.message }))
    assert.equal(streamed.status, 413, streamed.body)
    // a command that takes no body refuses a large one too
    const small = await raw(port, '/api/v0/id', { chunks: 4, chunkBytes: 64 * 1024 }).catch((err: Error) => ({
      status: -1,
      body: err.message
    }))
    assert.equal(small.status, 413, small.body)
    assert.equal((await raw(port, '/api/v0/version')).status, 200)
  })

  it('headers over the limit get 431; no endpoint writes outside the repo (get streams a tar)', async () => {
    const port = portOf(open.url)
    const big = await raw(port, '/api/v0/version', { headers: { 'x-big': 'a'.repeat(32 * 1024) } })
    assert.equal(big.status, 431)
    assert.equal((await raw(port, '/api/v0/version')).status, 200)
    const { Hash } = await open.kit.ipfsAddString('tar me')
    const tar = await raw(port, `/api/v0/get?arg=${Hash}&output=/tmp/should-not-exist`)
    assert.equal(tar.status, 200)
    assert.ok(tar.body.includes('tar me'))
    await assert.rejects(stat('/tmp/should-not-exist'))
  })
})

describe('API security (the daemon binary on 0.0.0.0)', () => {
  const dirs: string[] = []
  let repo = ''
  let daemon: LiveProcess | undefined
  let port = 0

  before(async () => {
    requireBuild()
    const work = await cliTempDir()
    dirs.push(work)
    repo = join(work, 'guarded')
    await initLocal(repo, '--role', 'worker')
    daemon = start(['--repo', repo, 'daemon', '--api', '/ip4/0.0.0.0/tcp/0'])
    await daemon.waitFor(/^Daemon is ready$/m, 'stdout', 30_000)
    port = Number((await daemon.waitFor(/^RPC API server listening on \/ip4\/0\.0\.0\.0\/tcp\/(\d+)$/m))[1])
  })

  after(async () => {
    if (daemon != null) await daemon.stop('SIGTERM').catch(() => undefined)
    killAll()
    await removeAll(dirs)
  })

  it('refuses requests without the token, answers 413 to an oversized body and keeps serving; the CLI uses the token', async () => {
    assert.ok(daemon)
    assert.match(daemon.stdout(), /API token required/)
    assert.equal((await raw(port, '/api/v0/id')).status, 401)
    assert.equal((await raw(port, '/', { method: 'GET' })).status, 401)
    const token = (await readFile(join(repo, 'api.token'), 'utf8')).trim()
    const auth = { authorization: `Bearer ${token}` }
    const tooBig = await raw(port, '/api/v0/block/put', {
      headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' },
      chunks: 96,
      chunkBytes: 64 * 1024
    }).catch((err: Error) => ({ status: -1, body: err.message }))
    assert.equal(tooBig.status, 413, tooBig.body)
    assert.equal((await raw(port, '/api/v0/version', { headers: auth })).status, 200)
    // the CLI reads <repo>/api (loopback form) and <repo>/api.token
    const cid = (await ok(['--repo', repo, 'add', '-q'], { input: 'guarded\n' })).trim()
    assert.equal(await ok(['--repo', repo, 'cat', cid]), 'guarded\n')
    assert.equal(await readFile(join(repo, 'api'), 'utf8'), `/ip4/127.0.0.1/tcp/${port}`)
    assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr())
    daemon = undefined
  })
})
