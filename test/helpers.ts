import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before } from 'node:test'
import type { Role } from '../src/constants.ts'
import { type IPFSKit, type IPFSKitInit, ipfsKit } from '../src/kit/index.ts'

/** A fresh temp folder, removed by the returned cleanup. */
export async function tempDir(
  prefix = 'ipfs-kit-test-'
): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) }
}

/** A kit on a temp repo, local profile (loopback only, no mDNS, no bootstrap). */
export async function localKit(role: Role, dir: string, init: IPFSKitInit = {}): Promise<IPFSKit> {
  return ipfsKit({
    repo: join(dir, `${role}-${Math.random().toString(36).slice(2)}`),
    profile: 'local',
    role,
    ...init
  })
}

/**
 * A kit on a temp repo for the enclosing `describe`: made in `before`, stopped (and its repo
 * removed) in `after`. Offline unless `init` says otherwise.
 */
export function suiteKit(
  role: Role = 'worker',
  init: IPFSKitInit = { offline: true }
): { readonly kit: IPFSKit } {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let kit: IPFSKit | undefined
  before(async () => {
    dir = await tempDir()
    kit = await localKit(role, dir.path, init)
  })
  after(async () => {
    await kit?.stop()
    await dir?.cleanup()
  })
  return {
    get kit(): IPFSKit {
      if (kit == null) throw new Error('the suite kit is made in before()')
      return kit
    }
  }
}

/** Poll `check` until it is true, at most `ms`; throws with `what` on time-out. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 30_000
): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

/**
 * Values a whole-number parameter (API option or CLI flag) must refuse, as Kubo's strconv
 * parsing does: exponents, hex, spaces, points, signs, separators, other digits, too large.
 */
export const NOT_WHOLE_NUMBERS: readonly string[] = [
  '1e3',
  '0x10',
  ' 5',
  '5 ',
  '5.0',
  '-1',
  '+5',
  '1_000',
  '٣',
  'Infinity',
  '9007199254740992',
  '99999999999999999999999'
]

/** Deterministic pseudo-random bytes. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}
