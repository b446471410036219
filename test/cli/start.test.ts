/**
 * CLI start: a one-shot command that never goes online loads no networking module (no
 * libp2p, transports, DHT, gossipsub, auto-TLS with its ACME and X.509 stack, WebRTC, HTTP
 * gateways): they are loaded only when the node goes online. Each command runs the built
 * CLI with a preload that records every module the process loaded.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { initLocal, killAll, ok, removeAll, requireBuild, tempDir } from './helpers.ts'

const RECORDER = pathToFileURL(resolve(import.meta.dirname, 'fixtures/record-modules.mjs')).href

/** Packages an offline command must not load: networking, and what only networking needs. */
const NETWORKING = [
  'libp2p',
  '@helia/libp2p',
  '@helia/bitswap',
  '@helia/http',
  '@libp2p/tcp',
  '@libp2p/websockets',
  '@libp2p/webrtc',
  '@libp2p/kad-dht',
  '@libp2p/gossipsub',
  '@libp2p/noise',
  '@libp2p/yamux',
  '@libp2p/identify',
  '@libp2p/mdns',
  '@libp2p/bootstrap',
  '@libp2p/upnp-nat',
  '@libp2p/circuit-relay-v2',
  '@ipshipyard/libp2p-auto-tls',
  'acme-client',
  '@peculiar/x509',
  'node-forge',
  'ws',
  'undici'
]

/** The networking packages among the loaded module URLs (`…/node_modules/<package>/…`). */
function networkingIn(urls: string[]): string[] {
  const found = new Set<string>()
  for (const url of urls) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(url)
    if (m?.[1] != null && NETWORKING.includes(m[1])) found.add(m[1])
  }
  return [...found].sort()
}

describe('ipfs-kit start: offline commands load no networking module', () => {
  let work: string
  let repo: string
  let file: string
  let runs = 0

  /** Run `ipfs-kit <args>` (success expected); its output and the module URLs it loaded. */
  async function recorded(args: string[]): Promise<{ out: string; modules: string[] }> {
    const list = join(work, `modules-${++runs}.txt`)
    const out = await ok(args, { env: { NODE_OPTIONS: `--import=${RECORDER}`, RECORD_MODULES_TO: list } })
    const modules = (await readFile(list, 'utf8')).split('\n').filter((l) => l !== '')
    return { out, modules }
  }

  before(async () => {
    requireBuild()
    work = await tempDir()
    repo = join(work, 'repo')
    await initLocal(repo)
    file = join(work, 'one-byte.txt')
    await writeFile(file, 'x')
  })

  after(async () => {
    killAll()
    await removeAll([work])
  })

  it('the recorder sees the modules a command loads', async () => {
    const { modules } = await recorded(['--version'])
    assert.ok(
      modules.some((u) => u.endsWith('/dist/src/cli/bin.js')),
      'bin.js was not recorded'
    )
    assert.ok(
      modules.some((u) => u.includes('/node_modules/commander/')),
      'commander was not recorded'
    )
  })

  it('--version', async () => {
    const { out, modules } = await recorded(['--version'])
    assert.match(out, /^\d+\.\d+\.\d+/)
    assert.deepEqual(networkingIn(modules), [])
  })

  it('add of a 1-byte file, then cat, ls, pin ls, repo stat, gc and id on the stopped node', async () => {
    const added = await recorded(['--repo', repo, 'add', '-q', file])
    const cid = added.out.trim()
    assert.match(cid, /^Qm/)
    // the node really opened the repo and stored the block: Helia's core is among the modules
    assert.ok(
      added.modules.some((u) => u.includes('/node_modules/helia/')),
      'Helia was not loaded'
    )
    assert.deepEqual(networkingIn(added.modules), [], 'add')

    const cat = await recorded(['--repo', repo, 'cat', cid])
    assert.equal(cat.out, 'x')
    assert.deepEqual(networkingIn(cat.modules), [], 'cat')

    for (const args of [['ls', cid], ['pin', 'ls'], ['repo', 'stat'], ['gc'], ['id']]) {
      const { modules } = await recorded(['--repo', repo, ...args])
      assert.deepEqual(networkingIn(modules), [], args.join(' '))
    }
  })
})
