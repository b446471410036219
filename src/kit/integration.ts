import type { TieredCache } from '../cache/index.ts'
import { LibP2PIntegration, type LibP2PIntegrationInit } from '../libp2p/integration/index.ts'
import type { IPFSLibp2pPeer } from '../libp2p/peer/index.ts'
import type { IPFSKit } from './index.ts'

let applied: LibP2PIntegrationInit | undefined

/**
 * Turn the libp2p integration on for every kit made from now on by `ipfsKit()` (the
 * seed's `apply_ipfs_kit_integration()`): each new kit gets a {@link LibP2PIntegration}
 * on its own peer, so `kit.libp2pIntegration` is set, its filesystem's cache misses are
 * served by peers, and its node's block requests go to the best providers.
 */
export function applyIpfsKitIntegration(init: LibP2PIntegrationInit = {}): void {
  applied = init
}

/** Undo {@link applyIpfsKitIntegration} for kits made from now on. */
export function removeIpfsKitIntegration(): void {
  applied = undefined
}

/** The options given to {@link applyIpfsKitIntegration}, if it was called. */
export function appliedIntegration(): LibP2PIntegrationInit | undefined {
  return applied
}

/**
 * Connect a libp2p peer to a kit (the seed's `register_libp2p_with_ipfs_kit`): the kit's
 * cache misses are then served through this peer's discovery and routing. The peer is
 * started if it is not. A peer made without a datastore of its own keeps its provider
 * reputation in the kit's repo from now on (loaded from there, saved there).
 */
export async function registerLibp2pWithIpfsKit(
  kit: IPFSKit,
  peer: IPFSLibp2pPeer,
  init: LibP2PIntegrationInit & { cache?: TieredCache } = {}
): Promise<LibP2PIntegration> {
  await peer.persistReputationIn(kit.repo.datastore)
  const integration = new LibP2PIntegration(peer, kit, init.cache ?? (await kit.getCache()), init)
  await kit.setLibp2pIntegration(integration)
  return integration
}
