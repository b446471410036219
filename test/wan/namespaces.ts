/**
 * How the WAN tests get network namespaces: as root directly, else by running themselves again
 * inside `unshare --user --map-root-user --net --mount` (a tmpfs on /run), else they are skipped
 * with the reason.
 */
import { spawnSync } from 'node:child_process'

/** The `unshare` options a test runs itself again under when it is not root. */
export const UNSHARE = ['--user', '--map-root-user', '--net', '--mount', '--propagation', 'private']

export /** How this process gets namespaces: it is root, or a user namespace makes it root, or none. */
function namespaceAccess():
  | { how: 'root' | 'unshare'; skip?: undefined }
  | { how?: undefined; skip: string } {
  if (process.getuid?.() === 0) return { how: 'root' }
  const probe = spawnSync(
    'unshare',
    [...UNSHARE, 'sh', '-c', 'mount -t tmpfs tmpfs /run && ip netns add t && ip netns del t'],
    { encoding: 'utf8', timeout: 10_000 }
  )
  if (probe.status === 0) return { how: 'unshare' }
  const why = probe.error?.message ?? probe.stderr.trim()
  return { skip: `network namespaces cannot be made: not root, and unshare --user --net failed (${why})` }
}
