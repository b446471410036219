import { multiaddr } from '@multiformats/multiaddr'
import { InvalidMultiaddrError } from '../errors.ts'

/** Parse `/ip4|ip6/<host>/tcp/<port>`. */
export function parseListenAddr(addr: string): { host: string; port: number; family: 4 | 6 } {
  let parts: Array<{ name: string; value?: string }>
  try {
    parts = multiaddr(addr).getComponents()
  } catch (err) {
    throw new InvalidMultiaddrError(`API address "${addr}" is not a multiaddr: ${(err as Error).message}`, {
      cause: err
    })
  }
  const [ip, tcp] = parts
  if (parts.length !== 2 || (ip?.name !== 'ip4' && ip?.name !== 'ip6') || tcp?.name !== 'tcp') {
    throw new InvalidMultiaddrError(
      `API address "${addr}" must be /ip4/<host>/tcp/<port> or /ip6/<host>/tcp/<port>`
    )
  }
  return { host: ip.value ?? '', port: Number(tcp.value), family: ip.name === 'ip4' ? 4 : 6 }
}
