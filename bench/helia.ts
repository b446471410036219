/**
 * The baseline: a plain Helia node built from Helia's and libp2p's own packages only (none of
 * ours), as a Helia user would build one for loopback: TCP, Noise, Yamux, identify and bitswap.
 * Never `createHelia()`, whose defaults reach the internet.
 *
 * @packageDocumentation
 */

import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createHeliaLight, type Helia } from 'helia'
import type { Blockstore } from 'interface-blockstore'

/** A plain Helia node with a libp2p host. */
export type PlainHelia = Helia & { libp2p: Libp2p }

/** A plain Helia node listening on 127.0.0.1, or on `listen` (not started). */
export function plainHelia(init: { blockstore?: Blockstore; listen?: string[] } = {}): PlainHelia {
  return withBitswap(
    withLibp2pLight(createHeliaLight(init.blockstore == null ? {} : { blockstore: init.blockstore }), {
      addresses: { listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
  )
}
