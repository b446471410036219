/**
 * `npm run lock:platforms`: add to package-lock.json the platform builds of native packages that
 * the registry this project installs from does not hold (`@chainsafe/libp2p-quic-darwin-arm64`
 * and the like). npm records every optional platform build in the lock and `npm ci` refuses a
 * lock that misses one, even though it installs only the build for its own OS and CPU; this
 * writes the entries npm would have written (version, os, cpu, libc; no download address, as
 * npm never fetches a build for another platform). Run it after an `npm install` that changes
 * such a package; `test/package.test.ts` fails while an entry is missing.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'

interface LockEntry {
  version?: string
  optional?: boolean
  os?: string[]
  cpu?: string[]
  libc?: string[]
  optionalDependencies?: Record<string, string>
  [key: string]: unknown
}

/** napi-rs platform suffixes, as these packages name their builds. */
const PLATFORMS: Record<string, Pick<LockEntry, 'os' | 'cpu' | 'libc'>> = {
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'darwin-universal': { os: ['darwin'], cpu: ['x64', 'arm64'] },
  'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'linux-arm64-musl': { os: ['linux'], cpu: ['arm64'], libc: ['musl'] },
  'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-x64-musl': { os: ['linux'], cpu: ['x64'], libc: ['musl'] },
  'linux-arm-gnueabihf': { os: ['linux'], cpu: ['arm'] },
  'win32-x64-msvc': { os: ['win32'], cpu: ['x64'] },
  'win32-arm64-msvc': { os: ['win32'], cpu: ['arm64'] },
  'win32-ia32-msvc': { os: ['win32'], cpu: ['ia32'] },
  'freebsd-x64': { os: ['freebsd'], cpu: ['x64'] },
  'android-arm64': { os: ['android'], cpu: ['arm64'] }
}

/** The lock key an optional dependency of the package at `from` resolves to, if any. */
export function resolvedKey(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let dir = from
  for (;;) {
    const key = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`
    if (packages[key] != null) return key
    if (dir === '') return undefined
    const at = dir.lastIndexOf('node_modules/')
    dir = at <= 0 ? '' : dir.slice(0, at - 1)
  }
}

/** Optional dependencies the lock holds no entry for: `[dependent, name, version]`. */
export function missingOptional(packages: Record<string, LockEntry>): Array<[string, string, string]> {
  const missing: Array<[string, string, string]> = []
  for (const [key, entry] of Object.entries(packages)) {
    for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
      if (resolvedKey(packages, key, name) == null) missing.push([key, name, version])
    }
  }
  return missing
}

async function main(): Promise<void> {
  const file = resolve(import.meta.dirname, '..', 'package-lock.json')
  const lock = JSON.parse(await readFile(file, 'utf8')) as { packages: Record<string, LockEntry> }
  const missing = missingOptional(lock.packages)
  for (const [, name, version] of missing) {
    const platform = Object.entries(PLATFORMS).find(([suffix]) => name.endsWith(`-${suffix}`))
    if (platform == null) throw new Error(`${name}: not a platform build this script knows; add its suffix`)
    if (!/^\d+\.\d+\.\d+/.test(version)) throw new Error(`${name}: "${version}" is not an exact version`)
    lock.packages[`node_modules/${name}`] = { version, ...platform[1], license: 'MIT', optional: true }
    console.log(`added ${name}@${version}`)
  }
  // npm's own order, so a later `npm install` rewrites nothing
  const [root, ...rest] = Object.entries(lock.packages)
  lock.packages = Object.fromEntries([root!, ...rest.sort(([a], [b]) => a.localeCompare(b, 'en'))])
  await writeFile(file, `${JSON.stringify(lock, null, 2)}\n`)
  if (missing.length === 0) console.log('the lock holds every platform build')
}

if (import.meta.filename === process.argv[1]) await main()
