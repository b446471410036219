/**
 * The `local` profile's address policy: nothing but loopback is ever dialled, and no DNS
 * query is ever sent. A DNS name is resolved by libp2p before its connection gater sees the
 * address, so the policy acts earlier: on the multiaddrs given to `connect`, in libp2p's
 * multiaddr resolvers (which run first in every dial), and in the DNS it is given.
 *
 * @packageDocumentation
 */

import type { MultiaddrResolver } from '@libp2p/interface'
import { isLoopback } from '@libp2p/utils'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Libp2pOptions } from 'libp2p'
import { LoopbackOnlyError } from '../../errors.ts'

/** Multiaddr components that name a host by DNS. */
const NAME_PROTOCOLS = new Set(['dns', 'dns4', 'dns6', 'dnsaddr'])

/** The one name resolved in the `local` profile, by this rule and not by DNS. */
function isLocalhostName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '')
  return n === 'localhost' || n.endsWith('.localhost')
}

/**
 * Why `ma` may not be dialled by a loopback-only node, or undefined if it may: every IP in it
 * must be loopback, and every name `localhost` (not as a `dnsaddr`, which needs a TXT lookup).
 */
export function offMachineReason(ma: Multiaddr): string | undefined {
  for (const { name, value } of ma.getComponents()) {
    if (NAME_PROTOCOLS.has(name)) {
      if (name === 'dnsaddr' || value == null || !isLocalhostName(value)) {
        return `${name}/${value ?? ''} is a DNS name, and the local profile resolves none but localhost`
      }
    } else if ((name === 'ip4' || name === 'ip6') && !isLoopback(multiaddr(`/${name}/${value}`))) {
      return `${value} is not a loopback address`
    }
  }
  return undefined
}

/** Throw a {@link LoopbackOnlyError} if a loopback-only node may not dial `ma`. */
export function assertLoopbackOnly(ma: Multiaddr): void {
  const reason = offMachineReason(ma)
  if (reason != null) {
    throw new LoopbackOnlyError(
      `refused to dial ${ma.toString()}: ${reason} (profile "local" never leaves the machine)`
    )
  }
}

/**
 * libp2p's multiaddr resolvers for a loopback-only node: every address with a DNS name goes
 * through this one, which maps `localhost` to 127.0.0.1 (or ::1 for `dns6`) and refuses every
 * other name, with no DNS query.
 */
export function loopbackNameResolvers(): Record<string, MultiaddrResolver> {
  return {
    names: {
      canResolve: (ma) => ma.getComponents().some((c) => NAME_PROTOCOLS.has(c.name)),
      resolve: async (ma) => {
        assertLoopbackOnly(ma)
        const parts = ma.getComponents().map(({ name, value }) => {
          if (name === 'dns6') return '/ip6/::1'
          if (name === 'dns' || name === 'dns4') return '/ip4/127.0.0.1'
          return value == null ? `/${name}` : `/${name}/${value}`
        })
        return [multiaddr(parts.join(''))]
      }
    }
  }
}

/** A DNS for libp2p that answers nothing and sends nothing: every query is refused. */
export function refusingDns(): NonNullable<Libp2pOptions['dns']> {
  return {
    query: async (fqdn: string) => {
      throw new LoopbackOnlyError(`refused to resolve ${fqdn}: the local profile sends no DNS query`)
    }
  }
}
