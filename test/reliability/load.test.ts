/**
 * Load through the HTTP API of the real daemon binary: 50 connected peers and 1,000 concurrent
 * `cat` requests over 100 CIDs (80 held by the daemon, 20 only by peers, fetched on the first
 * miss). Every request is answered with the right bytes, and the daemon's peak RSS is reported
 * and bounded.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { unixfs } from '@helia/unixfs'
import type { CID } from 'multiformats/cid'
import { IPFSLibp2pPeer } from '../../src/libp2p/peer/index.ts'
import { BIN, initLocal, requireBuild } from '../cli/helpers.ts'
import { pseudoRandomBytes, tempDir, waitFor } from '../helpers.ts'
import { type Child, startChild } from './fixtures/processes.ts'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const MiB = 1024 * 1024
const PEERS = 50
const CIDS = 100
const ON_PEERS_ONLY = 20
const REQUESTS = 1_000
const FILE_BYTES = 200 * 1024
/** the daemon's peak RSS may not exceed this (it is reported either way) */
const PEAK_RSS_LIMIT = 1_024 * MiB

function routingTableSize(peer: IPFSLibp2pPeer): number {
  return (peer.host.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
}

/** A process's memory from /proc: current and peak resident set, bytes. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

describe('load through the API', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let daemon: Child
  let url: string
  const peers: IPFSLibp2pPeer[] = []

  before(async () => {
    requireBuild()
    dir = await tempDir('ipfs-kit-rel-load-')
    const repo = join(dir.path, 'repo')
    await initLocal(repo, '--role', 'worker')
    const env: NodeJS.ProcessEnv = { ...process.env, IPFS_KIT_PROFILE: 'local' }
    delete env.DEBUG
    daemon = startChild(process.execPath, [BIN, '--repo', repo, 'daemon'], { env })
    await daemon.waitFor(/Daemon is ready/)
    const addr = (await daemon.waitFor(/API server listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+)/))[1]!
    url = `http://127.0.0.1:${addr.split('/').at(-1)}`
  })
  after(async () => {
    await Promise.all(peers.map((p) => p.stop()))
    await daemon?.kill()
    await dir?.cleanup()
  })

  it(`${PEERS} peers connected, ${REQUESTS} concurrent cats over ${CIDS} CIDs: all answered, memory bounded`, async () => {
    const files = Array.from({ length: CIDS }, (_, i) => pseudoRandomBytes(FILE_BYTES, 9_000 + i))
    // the daemon holds the first 80 (one multipart add)
    const form = new FormData()
    for (let i = 0; i < CIDS - ON_PEERS_ONLY; i++) form.append('file', new Blob([files[i]!]), `f${i}`)
    const added = await fetch(`${url}/api/v0/add?cid-version=1&raw-leaves=true`, {
      method: 'POST',
      body: form
    })
    assert.equal(added.status, 200)
    const lines = (await added.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Name: string; Hash: string })
    const cids: string[] = []
    for (let i = 0; i < CIDS - ON_PEERS_ONLY; i++) cids.push(lines.find((l) => l.Name === `f${i}`)!.Hash)

    // 50 peers; the last 20 files are held by peers only
    for (let i = 0; i < PEERS; i++) {
      peers.push(
        new IPFSLibp2pPeer({ role: 'leecher', profile: 'local', listenAddrs: ['/ip4/127.0.0.1/tcp/0'] })
      )
    }
    await Promise.all(peers.map((p) => p.start()))
    const held: Array<{ peer: IPFSLibp2pPeer; cid: CID }> = []
    for (let i = CIDS - ON_PEERS_ONLY; i < CIDS; i++) {
      const peer = peers[i % PEERS]!
      const cid = await unixfs(peer.helia).addBytes(files[i]!, { cidVersion: 1, rawLeaves: true })
      held.push({ peer, cid })
      cids.push(cid.toString())
    }
    // the daemon dials them all (outbound: libp2p rate-limits inbound connections per host); a
    // busy machine fails some dials or drops some connections, so it dials again the ones it
    // is not connected to, until all are at once
    const wanted = new Set(peers.map((p) => p.peerId.toString()))
    const connectedPeers = async (): Promise<Set<string>> => {
      const res = await fetch(`${url}/api/v0/swarm/peers`, { method: 'POST' })
      assert.equal(res.status, 200)
      const body = (await res.json()) as { Peers: Array<{ Peer: string }> | null }
      return new Set((body.Peers ?? []).map((p) => p.Peer).filter((id) => wanted.has(id)))
    }
    let connectedNow = new Set<string>()
    const dialErrors: string[] = []
    await waitFor(
      async () => {
        connectedNow = await connectedPeers()
        const missing = peers.filter((p) => !connectedNow.has(p.peerId.toString()))
        if (missing.length === 0) return true
        // one request per peer: a failed dial must not stop the others
        await Promise.all(
          missing.map(async (p) => {
            const arg = new URLSearchParams({ arg: p.getMultiaddrs()[0]!.toString() })
            try {
              const res = await fetch(`${url}/api/v0/swarm/connect?${arg}`, {
                method: 'POST',
                signal: AbortSignal.timeout(60_000)
              })
              if (res.status !== 200) dialErrors.push(await res.text())
            } catch (err) {
              dialErrors.push((err as Error).message)
            }
          })
        )
        return false
      },
      `all ${PEERS} peers connected to the daemon at once`,
      180_000
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${connectedNow.size} connected; dial errors: ${dialErrors.slice(-3).join(' | ')}`
      )
    })
    if (dialErrors.length > 0) console.log(`${dialErrors.length} dials failed and were retried`)
    assert.equal(connectedNow.size, PEERS, `${connectedNow.size} peers connected`)
    // the holders tell the DHT (the daemon is its only server here) that they provide their files
    await Promise.all(
      held.map(async ({ peer, cid }) => {
        await waitFor(() => routingTableSize(peer) >= 1, 'the daemon in the DHT routing table', 60_000)
        await peer.helia.routing.provide(cid, { signal: AbortSignal.timeout(60_000) })
      })
    )

    const baseline = await memoryOf(daemon.pid)
    const started = Date.now()
    const results = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, r) => {
        const i = (r * 37) % CIDS
        const res = await fetch(`${url}/api/v0/cat?arg=${cids[i]}`, {
          method: 'POST',
          signal: AbortSignal.timeout(120_000)
        })
        const body = new Uint8Array(await res.arrayBuffer())
        const ok = res.status === 200 && sha(body) === sha(files[i]!)
        return { i, status: res.status, ok, error: ok ? '' : new TextDecoder().decode(body.subarray(0, 300)) }
      })
    )
    const took = Date.now() - started
    const mem = await memoryOf(daemon.pid)
    const failed = results.filter((r) => !r.ok)
    if (failed.length > 0) console.log('first failure:', failed[0]?.error)
    console.log(
      `${REQUESTS} cats in ${took} ms (${Math.round((REQUESTS * 1000) / took)}/s), ${failed.length} failed; daemon RSS ${Math.round(baseline.rss / MiB)} MiB before, ${Math.round(mem.rss / MiB)} MiB after, peak ${Math.round(mem.peak / MiB)} MiB`
    )
    assert.deepEqual(
      failed.map((f) => `${f.i}:${f.status}`),
      [],
      'every request answered with the right bytes'
    )
    assert.ok(
      mem.peak < PEAK_RSS_LIMIT,
      `peak RSS ${Math.round(mem.peak / MiB)} MiB < ${PEAK_RSS_LIMIT / MiB} MiB`
    )
    assert.equal(daemon.process.exitCode, null, 'the daemon is still running')
  })
})
