/**
 * The check of a delegated router's URL, apart from the client (which loads only with
 * discovery): the config and the peer's init use it.
 *
 * @packageDocumentation
 */

import { isLoopback } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'

/**
 * Why `url` cannot be a delegated router, or undefined if it can: it must be an http(s) URL
 * with no credentials, query or fragment, and on a loopback-only node (the `local` profile)
 * its host must be loopback (127.0.0.0/8, ::1 or `localhost`).
 */
export function delegatedRouterUrlProblem(
  url: string,
  options: { loopbackOnly: boolean }
): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `"${url}" is not a URL`
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return `"${url}" is not an http or https URL`
  }
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '') {
    return `"${url}" has credentials, a query or a fragment: give the router's base URL only`
  }
  if (options.loopbackOnly && !isLoopbackHost(parsed.hostname)) {
    return `"${url}" is not on this machine: the local profile allows only loopback routers (127.0.0.1, ::1, localhost)`
  }
  return undefined
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  const proto = host.includes(':') ? 'ip6' : 'ip4'
  try {
    return isLoopback(multiaddr(`/${proto}/${host}`))
  } catch {
    return false
  }
}
