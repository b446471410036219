/**
 * The npm package: what `npm pack` puts in the tarball (only what a user needs), the fields a
 * registry user reads, and runtime dependencies that install on any OS and CPU.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { missingOptional } from '../scripts/lock-platforms.ts'

const run = promisify(execFile)
const ROOT = resolve(import.meta.dirname, '..')

interface PackageJson {
  license?: string
  repository?: { url?: string }
  engines?: { node?: string }
  files?: string[]
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  os?: string[] | string
  cpu?: string[] | string
}

const readJson = async (path: string): Promise<PackageJson> =>
  JSON.parse(await readFile(path, 'utf8')) as PackageJson

describe('the npm package', () => {
  it('packs the built code, its sources, README and LICENSE, and nothing else', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024
    })
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map(
      (f) => f.path
    )
    const outside = files.filter(
      (f) => !/^(dist\/src\/.+\.(js|d\.ts|js\.map)|src\/.+\.ts|LICENSE|README\.md|package\.json)$/.test(f)
    )
    assert.deepEqual(outside, [], 'files a user does not need')
    for (const needed of [
      'LICENSE',
      'README.md',
      'package.json',
      'dist/src/index.js',
      'dist/src/cli/bin.js'
    ]) {
      assert.ok(files.includes(needed), `${needed} is in the package`)
    }
    assert.ok(!files.some((f) => /(^|\/)(test|bench|\.ci)\//.test(f) || f.includes('tsbuildinfo')))
  })

  it('names its license and repository, and needs Node 22 or later', async () => {
    const pkg = await readJson(join(ROOT, 'package.json'))
    assert.equal(pkg.license, 'MIT')
    assert.match(pkg.repository?.url ?? '', /^git\+https:\/\//)
    assert.equal(pkg.engines?.node, '>=22')
    assert.match(await readFile(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License/)
  })

  it('no runtime dependency is tied to one OS or CPU (optional ones may be)', async () => {
    const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--json', '--long'], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024
    }).catch((err: { stdout: string }) => ({ stdout: err.stdout }))
    interface Node {
      path?: string
      extraneous?: boolean
      dependencies?: Record<string, Node>
    }
    // what the tree needs at run time (not what an earlier install left behind)
    const dirs = new Set<string>()
    const walk = (node: Node): void => {
      for (const child of Object.values(node.dependencies ?? {})) {
        if (child.extraneous === true || child.path == null || dirs.has(child.path)) continue
        dirs.add(child.path)
        walk(child)
      }
    }
    walk(JSON.parse(stdout) as Node)
    assert.ok(dirs.size > 100, `runtime dependencies found: ${dirs.size}`)
    // a package another lists as optional may be platform-bound: npm skips it elsewhere
    const optional = new Set<string>()
    const pinned: string[] = []
    const manifests = await Promise.all(
      [...dirs].map(async (d) => ({ d, pkg: await readJson(join(d, 'package.json')) }))
    )
    for (const { pkg } of manifests) {
      for (const name of Object.keys(pkg.optionalDependencies ?? {})) optional.add(name)
    }
    for (const { d, pkg } of manifests) {
      const name = d.slice(d.lastIndexOf('node_modules/') + 'node_modules/'.length)
      if ((pkg.os != null || pkg.cpu != null) && !optional.has(name)) pinned.push(name)
    }
    assert.deepEqual(pinned, [], 'runtime dependencies bound to one platform')
  })

  it('the lock holds every optional platform build, so `npm ci` accepts it on any machine', async () => {
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Parameters<typeof missingOptional>[0]
    }
    assert.ok(lock.packages['node_modules/@chainsafe/libp2p-quic-darwin-arm64'] != null)
    assert.deepEqual(missingOptional(lock.packages), [], 'run `npm run lock:platforms`')
  })
})
