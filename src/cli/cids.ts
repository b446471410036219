/**
 * CID checks for the commands, with `../cids.ts` (multiformats' CID and hashes) loaded on first
 * use: `--version`, `--help` and usage errors never load it.
 *
 * @packageDocumentation
 */

/** The CID module, loaded on first use. */
export function loadCids(): Promise<typeof import('../cids.ts')> {
  return import('../cids.ts')
}

/** Check that every path is a CID, `<cid>/path` or `/ipfs/<cid>/path`; throws for the first that is not. */
export async function checkCIDPaths(...paths: string[]): Promise<void> {
  const { parseCIDPath } = await loadCids()
  for (const path of paths) parseCIDPath(path)
}
