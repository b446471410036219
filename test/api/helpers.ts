import type { ApiServerInit } from '../../src/api/index.ts'
import { ApiServer } from '../../src/api/server.ts'
import type { Role } from '../../src/constants.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { registerLibp2pWithIpfsKit } from '../../src/kit/integration.ts'
import { localKit } from '../helpers.ts'

/** A kit (profile local) with its libp2p integration and an API server on an ephemeral loopback port. */
export interface ApiNode {
  kit: IPFSKit
  api: ApiServer
  /** `http://127.0.0.1:<port>` */
  url: string
  stop(): Promise<void>
}

/** Start an {@link ApiNode} in a temp folder. */
export async function apiNode(
  dir: string,
  role: Role = 'worker',
  init: ApiServerInit = {}
): Promise<ApiNode> {
  const kit = await localKit(role, dir)
  try {
    await registerLibp2pWithIpfsKit(kit, kit.peer)
    const api = new ApiServer({ kit }, { listen: '/ip4/127.0.0.1/tcp/0', ...init })
    const { url } = await api.start()
    return {
      kit,
      api,
      url,
      async stop() {
        await api.stop()
        await kit.stop()
      }
    }
  } catch (err) {
    await kit.stop()
    throw err
  }
}

/** Connect `a` to `b` over libp2p (127.0.0.1). */
export async function connect(a: IPFSKit, b: IPFSKit): Promise<void> {
  const addr = b.peer.getMultiaddrs()[0]
  if (addr == null) throw new Error('the peer has no address')
  await a.ipfsSwarmConnect(addr.toString())
}

/** Concatenate a stream of chunks. */
export async function concat(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}
