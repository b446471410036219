/**
 * Which of our addresses we tell other peers about (identify, the DHT, `id`): Kubo's
 * `Addresses.NoAnnounce` (multiaddrs, and `/ip4/a.b.c.d/ipcidr/N` ranges) removes addresses,
 * and on the public IPFS network private and loopback addresses are not announced unless the
 * config lists them (in `Addresses.Announce` or `Addresses.AppendAnnounce`).
 *
 * @packageDocumentation
 */

import { isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ipOf, parseMultiaddr, parseNoAnnounce, withoutOwnId } from './multiaddr.ts'

/** What the announce filter keeps and drops. */
export interface AnnouncePolicy {
  /** `Addresses.NoAnnounce`: multiaddrs never announced, and ipcidr ranges whose addresses are not */
  noAnnounce: readonly string[]
  /** addresses the config asks to announce: kept even if private (never if in `noAnnounce`) */
  configured: readonly string[]
  /** drop private and loopback addresses (the `public` profile on the `/ipfs` DHT) */
  dropPrivate: boolean
}

/** libp2p's `addresses.announceFilter` for a policy. */
export function announceFilter(policy: AnnouncePolicy): (addrs: Multiaddr[]) => Multiaddr[] {
  const { addrs: noAddrs, ranges } = parseNoAnnounce(policy.noAnnounce)
  const configured = new Set(policy.configured.map((a) => withoutOwnId(parseMultiaddr(a))))
  return (addrs) =>
    addrs.filter((ma) => {
      const plain = withoutOwnId(ma)
      if (noAddrs.has(plain)) return false
      const ip = ipOf(ma)
      if (ip != null && ranges.check(ip.ip, ip.family)) return false
      if (policy.dropPrivate && isPrivate(ma) && !configured.has(plain)) return false
      return true
    })
}
