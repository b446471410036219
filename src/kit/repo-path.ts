/**
 * Where a repo lives and its config, read without opening or locking the repo: the part of
 * `repo.ts` a command needs to find a running daemon, kept free of LevelDB, the blockstore
 * and libp2p's crypto so that such a command starts fast. `repo.ts` re-exports all of it.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { DEFAULT_REPO_DIRNAME, REPO_PATH_ENV } from '../constants.ts'
import { RepoError, RepoNotInitializedError } from '../errors.ts'
import { type KitConfig, parseConfig } from './config.ts'

/**
 * The repo nearest to `from`: a `.ipfs-kit` folder holding a config, in `from` or the closest
 * folder above it (as git finds its repo); undefined if there is none.
 */
export function findLocalRepo(from: string = process.cwd()): string | undefined {
  let dir = resolve(from)
  // one step per folder up to the root
  for (;;) {
    const candidate = join(dir, DEFAULT_REPO_DIRNAME)
    if (existsSync(join(candidate, 'config'))) return candidate
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/**
 * Where the repo lives, one rule for the CLI, `npm start` and `ipfsKit()`: `init.repo`
 * (`--repo`), else `$IPFS_KIT_PATH`, else the nearest `.ipfs-kit` repo in the current folder
 * or a folder above it (so `npm start` in a clone, which makes `./.ipfs-kit`, and every later
 * `npx ipfs-kit …` in that clone use the same repo), else `~/.ipfs-kit`.
 */
export function resolveRepoPath(repo?: string): string {
  const env = process.env[REPO_PATH_ENV]
  return resolve(
    repo ??
      (env == null || env === '' ? undefined : env) ??
      findLocalRepo() ??
      join(homedir(), DEFAULT_REPO_DIRNAME)
  )
}

/** Read a repo's config without locking it (for `ipfs-kit id` and the like). */
export async function readConfig(path: string): Promise<KitConfig> {
  const file = join(path, 'config')
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RepoNotInitializedError(
        `no repo at ${path}: run \`ipfs-kit init\` first (or set ${REPO_PATH_ENV})`
      )
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new RepoError(`the repo path ${path} is a file, not a folder; choose another path`)
    }
    throw new RepoError(`cannot read the config file ${file}: ${(err as Error).message}`, { cause: err })
  }
  return parseConfig(text, file)
}
