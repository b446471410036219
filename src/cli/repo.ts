/**
 * The repo module (config, identity, LevelDB datastore, block store) for the commands, loaded on
 * first use: `--version`, `--help` and usage errors never load it.
 */
export function loadRepo(): Promise<typeof import('../kit/repo.ts')> {
  return import('../kit/repo.ts')
}
