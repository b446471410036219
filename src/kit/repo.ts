import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readdir, readFile, rename, stat, statfs, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { LevelDatastore } from 'datastore-level'
import { base64 } from 'multiformats/bases/base64'
import { RepoBlockstore } from '../blocks/fs-blockstore.ts'
import { VerifyingBlockstore } from '../blocks/verifying-blockstore.ts'
import type { Profile, Role } from '../constants.ts'
import { DEFAULT_PROFILE, REPO_FILE_MODE_WARNING, REPO_SECRET_FILE_MODE, REPO_VERSION } from '../constants.ts'
import { DiskFullError, isDiskFull, RepoError } from '../errors.ts'
import { defaultConfig, type KitConfig } from './config.ts'
import {
  createWhole,
  holderState,
  type LockHolder,
  type LockHolderKind,
  lockRepo,
  type RepoLock,
  readLockHolder,
  repoLockedError
} from './lock.ts'
import { readConfig, resolveRepoPath } from './repo-path.ts'

// where the repo is and its config: in their own module, which the CLI loads without LevelDB,
// the blockstore and libp2p's crypto (a command that talks to a running daemon needs no more)
export { findLocalRepo, readConfig, resolveRepoPath } from './repo-path.ts'

/** Options of {@link openRepo}. */
export interface OpenRepoInit {
  /** repo folder; see {@link resolveRepoPath} */
  repo?: string
  /** create the repo if it has no config yet @default true */
  init?: boolean
  /** role written into a new config; also overrides a stored role for this run */
  role?: Role
  /** profile of a new config @default DEFAULT_PROFILE ('public'), or `$IPFS_KIT_PROFILE` */
  profile?: Profile
  /** the kind of process named in `repo.lock` @default guessed from `process.argv` */
  holder?: LockHolderKind
  /**
   * told about a repo file other users can read (the config is made 0600 at once)
   * @default a process warning (`process.emitWarning`, code `REPO_FILE_MODE_WARNING`)
   */
  onWarning?: (message: string) => void
}

/** Emit `message` as a process warning (printed on standard error unless `--no-warnings`). */
export function emitRepoWarning(message: string): void {
  process.emitWarning(message, { code: REPO_FILE_MODE_WARNING })
}

/**
 * Check that a file holding a secret is readable by its owner only. If group or other
 * users have any access, tell `onWarning`, and with `fix` make it {@link REPO_SECRET_FILE_MODE}
 * (0600). Nothing on Windows, where modes mean little; a missing file is no warning.
 */
export async function checkSecretFileMode(
  file: string,
  what: string,
  options: { fix: boolean; onWarning?: (message: string) => void }
): Promise<void> {
  if (process.platform === 'win32') return
  const warn = options.onWarning ?? emitRepoWarning
  let mode: number
  try {
    mode = (await stat(file)).mode & 0o777
  } catch {
    return
  }
  if ((mode & 0o077) === 0) return
  const octal = `0${mode.toString(8)}`
  if (!options.fix) {
    warn(
      `${file} (${what}) can be read by other users (mode ${octal}): make it private with \`chmod 600 ${file}\``
    )
    return
  }
  try {
    await chmod(file, REPO_SECRET_FILE_MODE)
    warn(
      `${file} (${what}) could be read by other users (mode ${octal}); it is now 0600. If others could log in here, treat the secret as exposed`
    )
  } catch (err) {
    warn(
      `${file} (${what}) can be read by other users (mode ${octal}) and could not be made private (${(err as Error).message}): run \`chmod 600 ${file}\``
    )
  }
}

/** An open repo: its folders, config and identity, and the lock that keeps it ours. */
export interface Repo {
  readonly path: string
  readonly config: KitConfig
  readonly privateKey: PrivateKey
  readonly blockstore: VerifyingBlockstore
  readonly datastore: LevelDatastore
  /** folder for the disk cache tier */
  readonly cachePath: string
  close(): Promise<void>
}

async function isDirectory(path: string): Promise<boolean | undefined> {
  try {
    return (await stat(path)).isDirectory()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new RepoError(`cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** What a repo folder holds besides its config: if any is there, the folder is a repo. */
const REPO_DATA = ['datastore', 'blocks', 'version']

/**
 * Whether a LevelDB folder holds a database: `absent` (no folder, or nothing in it), `present`
 * (a CURRENT file), or `damaged` (tables, logs or manifests but no CURRENT file).
 */
async function levelDbState(dir: string): Promise<'absent' | 'present' | 'damaged'> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent'
    throw err
  }
  if (names.includes('CURRENT')) return 'present'
  if (names.some((n) => /^MANIFEST-|\.(ldb|sst|log)$/.test(n))) return 'damaged'
  return 'absent'
}

/**
 * Whether LevelDB refused to open because another process (or this one) holds its `LOCK`
 * file: `LEVEL_LOCKED`, or LevelDB's "IO error: lock …/LOCK: Resource temporarily
 * unavailable" / "already held by process".
 */
export function isLevelLocked(err: unknown): boolean {
  let e: unknown = err
  for (let depth = 0; depth < 8 && e != null; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown }
    if (code === 'LEVEL_LOCKED') return true
    if (
      typeof message === 'string' &&
      /\block\b.*\bLOCK\b.*(temporarily unavailable|already held|EAGAIN|EWOULDBLOCK)/i.test(message)
    )
      return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/**
 * The error for a datastore another process holds: LevelDB's lock is the kernel's, released
 * when its holder dies, so this is never a damaged repo. Names the holder `repo.lock`
 * names, once it has written it (it does so right after taking LevelDB's lock).
 */
async function datastoreLockedError(path: string, ours: LockHolder, err: unknown): Promise<Error> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const holder = await readLockHolder(path)
    if (holder != null && holder.token !== ours.token && (await holderState(holder)) !== 'dead') {
      return repoLockedError(path, holder, err)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return repoLockedError(path, undefined, err)
}

/** The error for a datastore that does not open: disk full, damaged (naming the file), or other. */
async function datastoreError(dir: string, err: unknown): Promise<Error> {
  let detail = (err as Error).message
  for (let e: unknown = err; e != null; e = (e as { cause?: unknown }).cause) {
    if (e instanceof Error) detail = e.message
  }
  if (!detail.includes(dir)) {
    // LevelDB names no file for a damaged manifest: name the one CURRENT points at
    const current = (await readFile(join(dir, 'CURRENT'), 'utf8').catch(() => '')).trim()
    if (/^MANIFEST-\d+$/.test(current)) detail += ` (in ${join(dir, current)}, the manifest CURRENT names)`
  }
  if (isDiskFull(err) || (await freeBytes(dir)) < 1024 * 1024) {
    return new DiskFullError(
      `cannot open the LevelDB datastore ${dir}: the disk holding the repo is full (${detail}); free space and start again`,
      { cause: err }
    )
  }
  return new RepoError(
    `cannot open the LevelDB datastore ${dir}: ${detail}; it is damaged or unreadable — restore it from a backup (it is never reset silently)`,
    { cause: err }
  )
}

async function freeBytes(dir: string): Promise<number> {
  try {
    const s = await statfs(dir)
    return s.bavail * s.bsize
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** mode the file is created with (the temp file has it from the start; the umask still applies) @default 0o666 */
  mode?: number
  /** only create: leave an existing file as it is and return false */
  exclusive?: boolean
}

/**
 * Write a file so that readers see the old or the new contents, never a part: written
 * whole to a temp file (created with `mode`, so a secret is never readable by others,
 * not even for a moment) and renamed (or, `exclusive`, linked) into place. Returns false
 * if `exclusive` and the file exists.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {}
): Promise<boolean> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  const mode = options.mode ?? 0o666
  try {
    await writeFile(tmp, data, { flush: true, flag: 'wx', mode })
    if (options.exclusive === true) return await createWhole(tmp, file, data, mode)
    await rename(tmp, file)
    return true
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

function envProfile(): Profile | undefined {
  const p = process.env.IPFS_KIT_PROFILE
  if (p == null || p === '') return undefined
  if (p !== 'public' && p !== 'local')
    throw new RepoError(`IPFS_KIT_PROFILE must be public or local, not "${p}"`)
  return p
}

/**
 * Create a repo's config and identity if it has none. Returns whether it created one. A
 * folder that holds a repo's data (datastore, blocks) without its config is an error: a new
 * identity is never made over existing data.
 */
export async function initRepo(path: string, init: OpenRepoInit = {}): Promise<boolean> {
  const dir = await isDirectory(path)
  if (dir === false) throw new RepoError(`the repo path ${path} is a file, not a folder; choose another path`)
  const configFile = join(path, 'config')
  if (dir === true && (await isDirectory(configFile)) !== undefined) return false
  if (dir === true) {
    const data = (await readdir(path)).filter((name) => REPO_DATA.includes(name))
    if (data.length > 0) {
      throw new RepoError(
        `the config file ${configFile} is missing but the repo ${path} holds data (${data.join(', ')}): restore the config from a backup; a new identity is never made silently over existing data`
      )
    }
  }
  await mkdir(path, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  const identity = {
    PeerID: peerIdFromPrivateKey(key).toString(),
    PrivKey: base64.baseEncode(privateKeyToProtobuf(key))
  }
  const profile = init.profile ?? envProfile() ?? DEFAULT_PROFILE
  const config = defaultConfig(identity, { role: init.role, profile })
  await writeFileAtomic(join(path, 'version'), `${REPO_VERSION}\n`)
  // created only if absent: of two processes making the repo at once, one identity wins
  return writeFileAtomic(configFile, `${JSON.stringify(config, null, 2)}\n`, {
    mode: REPO_SECRET_FILE_MODE,
    exclusive: true
  })
}

/**
 * Open (and by default create) a repo: take its lock, read its config and key, open
 * the LevelDB datastore and the on-disk blockstore.
 *
 * One process at a time holds a repo. LevelDB's own `LOCK` (a kernel lock, gone when its
 * process dies) decides; `repo.lock` names the holder (see {@link lockRepo}). Another
 * holder is a `RepoLockedError` naming it, never a "damaged" repo.
 */
export async function openRepo(init: OpenRepoInit = {}): Promise<Repo> {
  const path = resolveRepoPath(init.repo)
  const dir = await isDirectory(path)
  if (dir === false) throw new RepoError(`the repo path ${path} is a file, not a folder; choose another path`)
  if (init.init !== false) await initRepo(path, init)
  const config = await readConfig(path)
  // a repo made by an older version (or copied) may have a config others can read
  await checkSecretFileMode(join(path, 'config'), "the node's private key", {
    fix: true,
    onWarning: init.onWarning
  })
  if (init.role != null) config.Kit.Role = init.role

  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(base64.baseDecode(config.Identity.PrivKey))
  } catch (err) {
    throw new RepoError(`the config file ${join(path, 'config')} has an unreadable Identity.PrivKey`, {
      cause: err
    })
  }
  if (peerIdFromPrivateKey(privateKey).toString() !== config.Identity.PeerID) {
    throw new RepoError(
      `the config file ${join(path, 'config')}: Identity.PeerID does not match Identity.PrivKey`
    )
  }

  const lock: RepoLock = await lockRepo(path, { cmd: init.holder })
  const datastorePath = join(path, 'datastore')
  let datastore: LevelDatastore
  try {
    const state = await levelDbState(datastorePath)
    if (state === 'damaged') {
      throw new RepoError(
        `the LevelDB datastore ${datastorePath} holds tables but its CURRENT file ${join(datastorePath, 'CURRENT')} is missing: it is damaged — restore it from a backup (opened as it is, LevelDB would start an empty database and delete the old tables, so it is not opened)`
      )
    }
    // LevelDB's own open (not the datastore's, which keeps only "failed to open") says why;
    // it may create the database only where there is none: with the CURRENT file lost it
    // would start an empty one and delete the old tables, a silent reset
    // (made only now, and opened at once: a Level opens itself with createIfMissing on the
    // next tick if nobody opens it first)
    datastore = new LevelDatastore(datastorePath)
    await datastore.db.open({ createIfMissing: state === 'absent', compression: false })
  } catch (err) {
    await lock.release()
    if (err instanceof RepoError) throw err
    // LevelDB's LOCK is the kernel's lock: it is held, not damaged
    if (isLevelLocked(err)) throw await datastoreLockedError(path, lock.holder, err)
    throw await datastoreError(datastorePath, err)
  }
  const blocksPath = join(path, 'blocks')
  const fsBlockstore = new RepoBlockstore(blocksPath)
  try {
    // LevelDB's lock is ours: make repo.lock name us (replacing a stale one)
    await lock.claim()
    await fsBlockstore.open()
  } catch (err) {
    await lock.release(() => datastore.close().catch(() => {}))
    if (err instanceof RepoError || err instanceof DiskFullError) throw err
    throw new RepoError(`cannot open the blockstore ${blocksPath}: ${(err as Error).message}`, { cause: err })
  }
  let closed = false
  return {
    path,
    config,
    privateKey,
    datastore,
    blockstore: new VerifyingBlockstore(fsBlockstore),
    cachePath: join(path, 'cache'),
    async close() {
      if (closed) return
      closed = true
      await fsBlockstore.close().catch(() => {})
      // repo.lock goes while LevelDB's lock still keeps others out, then LevelDB's
      await lock.release(() => datastore.close().catch(() => {}))
    }
  }
}
