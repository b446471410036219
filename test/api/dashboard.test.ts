/**
 * The dashboard in real headless Chromium (Debian's, driven by playwright-core): after
 * retrievals between two kits it shows the peer table, the reputation table and both
 * plots with data, updates live, and a screenshot is saved to test-artifacts/.
 */
import assert from 'node:assert/strict'
import { mkdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Browser, chromium } from 'playwright-core'
import type { IPFSKit } from '../../src/kit/index.ts'
import { localKit, pseudoRandomBytes, tempDir, waitFor } from '../helpers.ts'
import { type ApiNode, apiNode, connect } from './helpers.ts'

const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts')
const CHROMIUM = '/usr/bin/chromium'

describe('dashboard in headless Chromium', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let provider: IPFSKit
  let node: ApiNode
  let browser: Browser | undefined

  before(async () => {
    dir = await tempDir()
    provider = await localKit('worker', dir.path)
    node = await apiNode(dir.path)
    await connect(node.kit, provider)
    // retrievals: files only the provider holds, read through the gateway and the API
    for (let i = 0; i < 3; i++) {
      const bytes = pseudoRandomBytes(400_000 + i * 1000, 40 + i)
      const { cid } = await provider.ipfsAddBytes(bytes, { cidVersion: 1 })
      for (let round = 0; round < 3; round++) {
        const res = await fetch(`${node.url}/ipfs/${cid}`, { signal: AbortSignal.timeout(30_000) })
        assert.equal(res.status, 200)
        assert.equal((await res.arrayBuffer()).byteLength, bytes.byteLength)
      }
      const cat = await fetch(`${node.url}/api/v0/cat?arg=${cid}&length=1000`, { method: 'POST' })
      assert.equal((await cat.arrayBuffer()).byteLength, 1000)
    }
    await waitFor(() => node.api.activity.history().length >= 3, 'three history samples', 60_000)
  })

  after(async () => {
    await browser?.close()
    await node?.stop()
    await provider?.stop()
    await dir?.cleanup()
  })

  it('the retrievals show in kit/stats, kit/reputation and /metrics (bounded labels)', async () => {
    const stats = (await (await fetch(`${node.url}/api/v0/kit/stats`, { method: 'POST' })).json()) as {
      Retrievals: Array<{ kind: string; outcome: string; blocks?: { peers: number; memory: number } }>
      Cache: { hits: number }
      Reachability: string
    }
    // what the dashboard's header shows (local profile: loopback counts as dialable)
    assert.equal(stats.Reachability, 'public')
    const files = stats.Retrievals.filter((r) => r.kind === 'gateway-file' && r.outcome === 'success')
    assert.equal(files.length, 9)
    assert.ok(
      files.some((r) => (r.blocks?.peers ?? 0) > 0),
      'some blocks came from the provider'
    )
    assert.ok(
      files.some((r) => (r.blocks?.memory ?? 0) > 0),
      'repeated reads hit the memory tier'
    )
    assert.ok(stats.Cache.hits > 0)
    const reputation = (await (
      await fetch(`${node.url}/api/v0/kit/reputation`, { method: 'POST' })
    ).json()) as {
      Peers: Array<{ ID: string; Successes: number }>
    }
    const row = reputation.Peers.find((p) => p.ID === provider.repo.config.Identity.PeerID)
    assert.ok(row != null && row.Successes > 0, JSON.stringify(reputation))
    const metrics = await (await fetch(`${node.url}/metrics`)).text()
    for (const name of [
      'ipfs_kit_retrievals_total{kind="gateway-file",outcome="success"} 9',
      'ipfs_kit_retrieval_duration_seconds_bucket',
      'ipfs_kit_cache_hit_ratio{tier="memory"}',
      'ipfs_kit_dht_bucket_peers{bucket=',
      'ipfs_kit_peers_in_backoff',
      'ipfs_kit_routing_state_entries{map="discovery.reputation"}',
      'ipfs_kit_routing_state_bound{map="routing.recentWants.cids"} 65536'
    ]) {
      assert.ok(metrics.includes(name), `${name} in /metrics`)
    }
    // every map under its bound, as the node reports them
    const entries = new Map(
      [...metrics.matchAll(/^ipfs_kit_routing_state_entries\{map="([^"]+)"\} (\d+)$/gm)].map((m) => [
        m[1],
        Number(m[2])
      ])
    )
    const bounds = [...metrics.matchAll(/^ipfs_kit_routing_state_bound\{map="([^"]+)"\} (\d+)$/gm)]
    assert.ok(bounds.length >= 10, 'the bounds are exported')
    for (const [, map, max] of bounds)
      assert.ok((entries.get(map) ?? 0) <= Number(max), `${map} under its bound`)
    assert.ok(!metrics.includes(provider.repo.config.Identity.PeerID), 'no peer id in a label')
  })

  it('Chromium loads the dashboard: peer table, reputation, both plots with data, live updates; screenshot saved', async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text())
    })
    const external: string[] = []
    page.on('request', (req) => {
      if (!req.url().startsWith(node.url)) external.push(req.url())
    })
    await page.goto(`${node.url}/`, { timeout: 30_000 })
    await page.waitForSelector('#peers tbody tr.row', { timeout: 15_000 })
    // locators only: they work under the page's CSP (no eval), and need no DOM types here
    const rows = page.locator('#peers tbody tr.row')
    const peerRows: string[][] = []
    for (let i = 0; i < (await rows.count()); i++) {
      const cells = rows.nth(i).locator('td')
      peerRows.push([
        (await cells.nth(0).getAttribute('title')) ?? '',
        (await cells.nth(1).textContent()) ?? ''
      ])
    }
    assert.ok(
      peerRows.some(
        (cells) => cells[0] === provider.repo.config.Identity.PeerID && /^\d+$/.test(cells[1] ?? '')
      ),
      `the provider with its k-bucket: ${JSON.stringify(peerRows)}`
    )
    await page.waitForSelector('#reputation tbody tr.row', { timeout: 15_000 })
    const repCells = await page.locator('#reputation tbody tr.row').first().locator('td').allTextContents()
    assert.match(repCells[1] ?? '', /^[01]\.\d{3}$/, 'a score')
    assert.match(repCells[2] ?? '', /%$/, 'a success rate')
    assert.match(repCells[3] ?? '', /ms$/, 'a latency')
    // the local profile: loopback addresses count as dialable, so the node is reachable
    assert.equal(await page.textContent('#reachability'), 'reachability: public')
    const retrievalRows = await page.locator('#retrievals tbody tr.row').count()
    assert.ok(retrievalRows >= 9, `retrieval rows: ${retrievalRows}`)

    const line = page.locator('#plot-hit-ratio polyline[data-series="all"]')
    await waitFor(async () => Number(await line.getAttribute('data-points')) >= 3, 'three points on the plot')
    const points = (await line.getAttribute('points')) ?? ''
    const ys = points.split(' ').map((p) => Number(p.split(',')[1]))
    assert.ok(ys.length >= 3 && ys.every(Number.isFinite))
    assert.ok(Math.min(...ys) < 180, 'the hit ratio is above zero somewhere (the line leaves the x axis)')
    // the plot is drawn anew at every poll: a box read while the old line is being replaced is null
    await waitFor(
      async () => ((await line.boundingBox())?.width ?? 0) > 10,
      'the line to be drawn with a width',
      15_000
    )
    const dots = await page.locator('#plot-latency g[data-series="retrievals"] circle').count()
    assert.ok(dots >= 9, `latency dots: ${dots}`)

    // live: the status line changes as the page polls
    const first = await page.textContent('#status')
    await waitFor(async () => (await page.textContent('#status')) !== first, 'the status line to change')
    assert.match((await page.textContent('#status')) ?? '', /^live/)

    await mkdir(ARTIFACTS, { recursive: true })
    const file = join(ARTIFACTS, 'dashboard.png')
    await page.screenshot({ path: file, fullPage: true })
    assert.ok((await stat(file)).size > 10_000)
    assert.deepEqual(errors, [])
    assert.deepEqual(external, [], 'nothing fetched from anywhere else')
  })
})
