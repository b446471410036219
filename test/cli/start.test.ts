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
import {
  initLocal,
  killAll,
  type LiveProcess,
  ok,
  removeAll,
  requireBuild,
  start,
  tempDir
} from './helpers.ts'

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
  '@chainsafe/libp2p-quic',
  '@libp2p/autonat',
  '@libp2p/autonat-v2',
  '@libp2p/dcutr',
  '@ipshipyard/libp2p-auto-tls',
  'acme-client',
  '@peculiar/x509',
  'node-forge',
  'ws',
  'undici'
]

/**
 * Packages of the node itself (Helia, the repo's stores, UnixFS, libp2p and its crypto, OrbitDB):
 * a command that only prints (`version`, `--help`) or only talks to a running daemon loads none.
 */
const NODE_STACK = [
  'helia',
  '@helia/unixfs',
  '@helia/utils',
  '@helia/interface',
  'datastore-level',
  'classic-level',
  'blockstore-fs',
  'blockstore-core',
  'ipfs-unixfs-importer',
  'ipfs-unixfs-exporter',
  '@libp2p/crypto',
  '@orbitdb/core',
  ...NETWORKING.filter((p) => p !== 'undici')
]

/** The packages of `among` in the loaded module URLs (`…/node_modules/<package>/…`). */
function packagesIn(urls: string[], among: readonly string[]): string[] {
  const found = new Set<string>()
  for (const url of urls) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(url)
    if (m?.[1] != null && among.includes(m[1])) found.add(m[1])
  }
  return [...found].sort()
}

/** The networking packages among the loaded module URLs. */
function networkingIn(urls: string[]): string[] {
  return packagesIn(urls, NETWORKING)
}

let runs = 0

/** Run `ipfs-kit <args>` (success expected); its output and the module URLs it loaded (listed in `work`). */
async function recorded(work: string, args: string[]): Promise<{ out: string; modules: string[] }> {
  const list = join(work, `modules-${++runs}.txt`)
  const out = await ok(args, { env: { NODE_OPTIONS: `--import=${RECORDER}`, RECORD_MODULES_TO: list } })
  const modules = (await readFile(list, 'utf8')).split('\n').filter((l) => l !== '')
  return { out, modules }
}

/** A scratch folder with a local repo and a one-byte file in it. */
async function oneByteRepo(): Promise<{ work: string; repo: string; file: string }> {
  requireBuild()
  const work = await tempDir()
  const repo = join(work, 'repo')
  await initLocal(repo)
  const file = join(work, 'one-byte.txt')
  await writeFile(file, 'x')
  return { work, repo, file }
}

describe('ipfs-kit start: offline commands load no networking module', () => {
  let work: string
  let repo: string
  let file: string

  before(async () => {
    ;({ work, repo, file } = await oneByteRepo())
  })

  after(async () => {
    killAll()
    await removeAll([work])
  })

  it('the recorder sees the modules a command loads', async () => {
    const { modules } = await recorded(work, ['--version'])
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
    const { out, modules } = await recorded(work, ['--version'])
    assert.match(out, /^\d+\.\d+\.\d+/)
    assert.deepEqual(networkingIn(modules), [])
  })

  it('add of a 1-byte file, then cat, ls, pin ls, repo stat, gc and id on the stopped node', async () => {
    const added = await recorded(work, ['--repo', repo, 'add', '-q', file])
    const cid = added.out.trim()
    assert.match(cid, /^Qm/)
    // the node really opened the repo and stored the block: Helia's core is among the modules
    assert.ok(
      added.modules.some((u) => u.includes('/node_modules/helia/')),
      'Helia was not loaded'
    )
    assert.deepEqual(networkingIn(added.modules), [], 'add')

    const cat = await recorded(work, ['--repo', repo, 'cat', cid])
    assert.equal(cat.out, 'x')
    assert.deepEqual(networkingIn(cat.modules), [], 'cat')

    for (const args of [['ls', cid], ['pin', 'ls'], ['repo', 'stat'], ['gc'], ['id']]) {
      const { modules } = await recorded(work, ['--repo', repo, ...args])
      assert.deepEqual(networkingIn(modules), [], args.join(' '))
    }
  })
})

describe('ipfs-kit start: printing, and talking to a running daemon, load no node stack', () => {
  let work: string
  let repo: string
  let file: string
  let daemon: LiveProcess | undefined

  before(async () => {
    ;({ work, repo, file } = await oneByteRepo())
  })

  after(async () => {
    await daemon?.stop()
    killAll()
    await removeAll([work])
  })

  it("--version, version, --help and a command's --help", async () => {
    const runs = await Promise.all(
      [['--version'], ['version'], ['--help'], ['cat', '--help'], ['daemon', '--help']].map((args) =>
        recorded(work, args)
      )
    )
    assert.match(runs[1]?.out ?? '', /^ipfs-kit version \d+\.\d+\.\d+/)
    assert.match(runs[2]?.out ?? '', /^Usage: ipfs-kit/)
    for (const [i, { modules }] of runs.entries()) {
      assert.deepEqual(packagesIn(modules, NODE_STACK), [], `run ${i}`)
    }
  })

  it("add, cat, ls, pin ls, files stat, dag get and id through the repo's daemon", async () => {
    daemon = start(['--repo', repo, 'daemon'])
    await daemon.waitFor(/^Daemon is ready$/m)
    // the repo is the daemon's: a command that opened it itself would fail on its lock
    const added = await recorded(work, ['--repo', repo, 'add', '-q', file])
    const cid = added.out.trim()
    assert.match(cid, /^Qm/)
    assert.deepEqual(packagesIn(added.modules, NODE_STACK), [], 'add')
    const commands = [
      ['cat', cid],
      ['ls', cid],
      ['pin', 'ls'],
      ['files', 'stat', '/'],
      ['dag', 'get', cid],
      ['id']
    ]
    const runs = await Promise.all(commands.map((args) => recorded(work, ['--repo', repo, ...args])))
    assert.equal(runs[0]?.out, 'x')
    assert.match(runs[2]?.out ?? '', new RegExp(`^${cid} recursive$`, 'm'))
    for (const [i, { modules }] of runs.entries()) {
      assert.deepEqual(packagesIn(modules, NODE_STACK), [], commands[i]?.join(' '))
    }
  })
})
