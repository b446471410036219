/**
 * The seed's Content Distribution Network as a program: one process per node.
 *
 * - `master` adds files (given with `--file`, or `--generate N` files of `--size` random
 *   bytes), announces each with `libp2pIntegration.announceContent(cid)`, prints the CIDs
 *   and its addresses, and serves until SIGTERM/SIGINT (or `--lifetime-ms`).
 * - `worker` connects to `--connect` peers, reads every CID given as an argument through
 *   `getFilesystem({ useLibp2p: true }).cat(cid)` (cache misses served by peers), "processes"
 *   it (SHA-256 and length), announces what it fetched (a worker serves what it holds),
 *   prints the results and the integration stats, and exits; with `--serve` it stays up
 *   serving the fetched content until SIGTERM.
 * - `leecher` does the same as a worker but announces nothing and never serves.
 *
 * Every line on standard output is one JSON object with an `event` field (`added`,
 * `announced`, `ready`, `connected`, `fetched`, `fetch-failed`, `stats`, `done`, `serving`,
 * `stopped`); failures go to standard error and the exit code is 1.
 *
 * Run (three terminals):
 *   node examples/content-distribution.ts --role master --repo /tmp/m --generate 3
 *   node examples/content-distribution.ts --role worker --repo /tmp/w --serve --connect <master addr> <cid>…
 *   node examples/content-distribution.ts --role leecher --repo /tmp/l --connect <worker addr> <cid>…
 *
 * Options: `--repo` (else `$IPFS_KIT_PATH`), `--profile` (else `$IPFS_KIT_PROFILE`, else
 * `local`), `--listen` (repeatable), `--connect` (repeatable), `--timeout-ms` (whole fetch
 * phase, default 60000).
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { parseArgs } from 'node:util'
import { applyIpfsKitIntegration, type IPFSKit, ipfsKit, type Profile, type Role } from 'ipfs-kit'
import { parseCommandLine, usageError, wholeNumber } from './args.ts'

/** Print one machine-readable progress line. */
function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)
}

/** SHA-256 of some bytes, hex. */
function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Aborted (with the signal's name) when the process is asked to stop: SIGTERM or SIGINT. */
const shutdown = new AbortController()
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => shutdown.abort(signal))

/** Resolve when the process is asked to stop, or after `ms`; the reason. */
function stopRequested(ms: number): Promise<string> {
  if (shutdown.signal.aborted) return Promise.resolve(String(shutdown.signal.reason))
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('lifetime'), ms)
    shutdown.signal.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve(String(shutdown.signal.reason))
    })
  })
}

const { values, positionals } = parseCommandLine(() =>
  parseArgs({
    allowPositionals: true,
    options: {
      role: { type: 'string', default: 'leecher' },
      repo: { type: 'string' },
      profile: { type: 'string' },
      listen: { type: 'string', multiple: true },
      connect: { type: 'string', multiple: true, default: [] },
      file: { type: 'string', multiple: true, default: [] },
      generate: { type: 'string', default: '3' },
      size: { type: 'string', default: String(300 * 1024) },
      serve: { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '60000' },
      'lifetime-ms': { type: 'string', default: '600000' }
    }
  })
)

const role = values.role as Role
if (!['master', 'worker', 'leecher'].includes(role)) {
  usageError(`--role must be master, worker or leecher, not "${values.role}"`)
}
const profile = (values.profile ?? process.env.IPFS_KIT_PROFILE ?? 'local') as Profile
const timeoutMs = wholeNumber('timeout-ms', values['timeout-ms'])
const lifetimeMs = wholeNumber('lifetime-ms', values['lifetime-ms'])
const generate = wholeNumber('generate', values.generate)
const size = wholeNumber('size', values.size)

/** The master: add the files, announce them, print where to find them, serve. */
async function runMaster(kit: IPFSKit): Promise<void> {
  let files = values.file
  let scratch: string | undefined
  if (files.length === 0) {
    // no files given: generate some (random bytes, several blocks each)
    scratch = await mkdtemp(join(tmpdir(), 'ipfs-kit-cdn-'))
    files = []
    for (let i = 0; i < generate; i++) {
      const path = join(scratch, `file-${i}.bin`)
      await writeFile(path, randomBytes(size))
      files.push(path)
    }
  }
  const integration = kit.libp2pIntegration!
  for (const path of files) {
    const result = await kit.ipfsAddFile(path)
    const bytes = await kit.ipfsCat(result.Hash)
    emit('added', {
      cid: result.Hash,
      name: basename(path),
      size: bytes.byteLength,
      sha256: sha256Hex(bytes)
    })
    await integration.announceContent(result.Hash, {
      size: bytes.byteLength,
      metadata: { name: basename(path) }
    })
    emit('announced', { cid: result.Hash })
  }
  if (scratch != null) await rm(scratch, { recursive: true, force: true })
  emit('ready', {
    role,
    peerId: kit.peer.peerId.toString(),
    addrs: kit.peer.getMultiaddrs().map((ma) => ma.toString())
  })
  const why = await stopRequested(lifetimeMs)
  emit('stats', { reason: why, ...kit.libp2pIntegration!.getStats() })
}

/** A worker or a leecher: fetch every CID through the libp2p filesystem and process it. */
async function runFetcher(kit: IPFSKit): Promise<boolean> {
  emit('ready', {
    role,
    peerId: kit.peer.peerId.toString(),
    addrs: kit.peer.getMultiaddrs().map((ma) => ma.toString())
  })
  for (const addr of values.connect) {
    const peer = await kit.ipfsSwarmConnect(addr)
    emit('connected', { peer })
  }
  const fs = kit.getFilesystem({ useLibp2p: true })
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), shutdown.signal])
  let ok = true
  for (const cid of positionals) {
    const started = Date.now()
    try {
      // Will retrieve from peers if not locally available
      const content = await fs.cat(cid, { signal })
      emit('fetched', {
        cid,
        size: content.byteLength,
        sha256: sha256Hex(content),
        ms: Date.now() - started
      })
      if (role === 'worker') {
        // a worker holds what it fetched and offers it to the network in turn
        await kit.libp2pIntegration!.announceContent(cid, {
          size: content.byteLength,
          metadata: { role }
        })
        emit('announced', { cid })
      }
    } catch (err) {
      ok = false
      emit('fetch-failed', { cid, error: (err as Error).message })
    }
  }
  emit('stats', { ...kit.libp2pIntegration!.getStats(), filesystem: fs.getStats() })
  emit('done', { fetched: positionals.length, ok })
  if (role === 'worker' && values.serve) {
    emit('serving', { cids: positionals })
    const why = await stopRequested(lifetimeMs)
    emit('stats', { reason: why, ...kit.libp2pIntegration!.getStats() })
  }
  return ok
}

// The seed applies the integration first, so every kit made afterwards has `libp2pIntegration`
applyIpfsKitIntegration()
const kit = await ipfsKit({ repo: values.repo, profile, role, listenAddrs: values.listen })
let ok = true
try {
  if (role === 'master') await runMaster(kit)
  else ok = await runFetcher(kit)
} catch (err) {
  ok = false
  process.stderr.write(`Error: ${(err as Error).message}\n`)
} finally {
  await kit.stop()
  emit('stopped', { ok })
}
process.exitCode = ok ? 0 : 1
// libp2p closes its sockets on stop; do not wait for stragglers
setTimeout(() => process.exit(), 2000).unref()
