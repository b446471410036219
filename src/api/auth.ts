import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { API_TOKEN_BYTES, API_TOKEN_FILE, REPO_SECRET_FILE_MODE } from '../constants.ts'
import { ApiForbiddenError, ApiUnauthorizedError } from '../errors.ts'
import { checkSecretFileMode } from '../kit/repo.ts'

/** True for an address only this machine can reach (127.0.0.0/8, ::1). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '')
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.')
  return false
}

/** True for the wildcard addresses (0.0.0.0, ::): every interface. */
export function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]'
}

/** Options of {@link repoToken}. */
export interface RepoTokenOptions {
  /**
   * told when the token file can be read by other users (it is left as it is: the owner
   * may share it with a group on purpose) @default a process warning (`process.emitWarning`)
   */
  onWarning?: (message: string) => void
}

/**
 * The repo's API token: read from `<repo>/api.token` (with a warning if other users can
 * read it), or made there (mode 0600) if missing.
 */
export async function repoToken(repoPath: string, options: RepoTokenOptions = {}): Promise<string> {
  const file = join(repoPath, API_TOKEN_FILE)
  try {
    const text = (await readFile(file, 'utf8')).trim()
    if (text !== '') {
      await checkSecretFileMode(file, 'the API token: whoever reads it can use the API', {
        fix: false,
        onWarning: options.onWarning
      })
      return text
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = randomBytes(API_TOKEN_BYTES).toString('hex')
  try {
    await writeFile(file, `${token}\n`, { mode: REPO_SECRET_FILE_MODE, flag: 'wx' })
    return token
  } catch (err) {
    // another process made it first: use theirs
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim()
    throw err
  }
}

/** The token a request carries: `Authorization: Bearer <token>`, else `?token=` (for the dashboard in a browser). */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization
  if (auth != null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    return m?.[1]
  }
  return url.searchParams.get('token') ?? undefined
}

/** Throw {@link ApiUnauthorizedError} unless the request carries `token` (compared in constant time). */
export function checkToken(req: IncomingMessage, url: URL, token: string): void {
  const given = requestToken(req, url)
  if (given == null) {
    throw new ApiUnauthorizedError(
      'this API needs a token: send "Authorization: Bearer <token>" with the token from the repo\'s api.token file'
    )
  }
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  if (a.byteLength !== b.byteLength || !timingSafeEqual(a, b)) {
    throw new ApiUnauthorizedError("wrong API token: use the one in the repo's api.token file")
  }
}

/**
 * Refuse what a browser on another site could send (CORS is off unless `allowedOrigins`
 * lists the origin): a request whose `Origin` is neither this server nor an allowed
 * origin, and, on a loopback listener, a `Host` that is not a loopback name (DNS
 * rebinding).
 */
export function checkOrigin(
  req: IncomingMessage,
  allowedOrigins: readonly string[],
  loopbackOnly: boolean
): void {
  const host = req.headers.host ?? ''
  if (loopbackOnly) {
    const name = host.replace(/:\d+$/, '')
    if (!isLoopback(name)) {
      throw new ApiForbiddenError(`host "${host}" is not served: this API listens on loopback only`)
    }
  }
  const origin = req.headers.origin
  if (origin == null || origin === 'null' || allowedOrigins.includes(origin)) {
    if (origin === 'null') throw new ApiForbiddenError('requests from an opaque origin are refused')
    return
  }
  let originHost: string
  try {
    originHost = new URL(origin).host
  } catch {
    throw new ApiForbiddenError(`malformed Origin "${origin}"`)
  }
  if (originHost !== host) {
    throw new ApiForbiddenError(`cross-origin request from ${origin} refused (CORS is off)`)
  }
}
