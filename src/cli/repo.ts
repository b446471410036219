/**
 * The repo module (config, identity, LevelDB datastore, block store) for the commands, loaded on
 * first use: `--version`, `--help` and usage errors never load it.
 */
export function loadRepo(): Promise<typeof import('../kit/repo.ts')> {
  return import('../kit/repo.ts')
}

/**
 * Where the repo is and its config, without the datastore, the block store and libp2p's crypto:
 * all a command needs to find the repo's running daemon.
 */
export function loadRepoConfig(): Promise<typeof import('../kit/repo-path.ts')> {
  return import('../kit/repo-path.ts')
}
