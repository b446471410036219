import { BlockList } from 'node:net'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { InvalidMultiaddrError } from '../../errors.ts'

/**
 * Parse a multiaddr string, or throw an {@link InvalidMultiaddrError} that says why. What it
 * returns can be printed (a string that multiaddr parses but cannot print, such as a `/unix`
 * path with a lone UTF-16 surrogate, is refused).
 */
export function parseMultiaddr(addr: string | Multiaddr): Multiaddr {
  if (typeof addr !== 'string') return addr
  try {
    const ma = multiaddr(addr)
    ma.toString()
    return ma
  } catch (err) {
    throw new InvalidMultiaddrError(`"${addr}" is not a valid multiaddr: ${(err as Error).message}`, {
      cause: err
    })
  }
}

/** An address without our own `/p2p/<id>` at its end, as the config writes it. */
export function withoutOwnId(ma: Multiaddr): string {
  const parts = ma.getComponents()
  const last = parts.at(-1)
  // a relayed address ends with /p2p-circuit/p2p/<us>: only that last /p2p goes
  if (last?.name === 'p2p') return ma.toString().slice(0, -`/p2p/${last.value ?? ''}`.length)
  return ma.toString()
}

/** The IP of an address (its first ip4/ip6 component), if it has one. */
export function ipOf(ma: Multiaddr): { ip: string; family: 'ipv4' | 'ipv6' } | undefined {
  const c = ma.getComponents().find((p) => p.name === 'ip4' || p.name === 'ip6')
  if (c?.value == null) return undefined
  return { ip: c.value, family: c.name === 'ip4' ? 'ipv4' : 'ipv6' }
}

/**
 * Parse `Addresses.NoAnnounce`: multiaddrs, or `/ip4/<ip>/ipcidr/<bits>` (`/ip6/...`) ranges.
 * Throws an {@link InvalidMultiaddrError} naming the bad entry.
 */
export function parseNoAnnounce(list: readonly string[]): { addrs: Set<string>; ranges: BlockList } {
  const addrs = new Set<string>()
  const ranges = new BlockList()
  for (const entry of list) {
    const ma = parseMultiaddr(entry)
    const parts = ma.getComponents()
    const cidr = parts.find((p) => p.name === 'ipcidr')
    if (cidr == null) {
      addrs.add(withoutOwnId(ma))
      continue
    }
    const ip = ipOf(ma)
    const bits = Number(cidr.value)
    const max = ip?.family === 'ipv4' ? 32 : 128
    if (ip == null || parts.length !== 2 || !Number.isInteger(bits) || bits < 0 || bits > max) {
      throw new InvalidMultiaddrError(
        `"${entry}" is not an address range: write /ip4/<address>/ipcidr/<0-32> or /ip6/<address>/ipcidr/<0-128>`
      )
    }
    ranges.addSubnet(ip.ip, bits, ip.family)
  }
  return { addrs, ranges }
}
