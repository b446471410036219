/**
 * ipfs-kit: a real IPFS node in TypeScript with an enhanced libp2p integration.
 *
 * @packageDocumentation
 */
export * from './constants.ts'
export * from './errors.ts'
export { IPFSKit, ipfsKit, type IPFSKitInit, type CatOptions } from './kit/index.ts'
export type * from './kit/types.ts'
export type { AddOptions } from './kit/importer.ts'
export { IPFSLibp2pPeer, type IPFSLibp2pPeerInit, type PeerServices, parseMultiaddr } from './libp2p/peer/index.ts'
export { parseCID, parseCIDPath } from './cids.ts'
export { VERSION } from './version.ts'
export { TieredCache, type TieredCacheInit, type TieredCacheStats } from './cache/index.ts'
export { IPFSFileSystem, type FilesystemInit, type FileInfo } from './fs/index.ts'
export {
  EnhancedDHTDiscovery,
  type EnhancedDHTDiscoveryInit,
  type DiscoveryMetrics,
  type FindProvidersOptions
} from './libp2p/discovery/enhanced-dht-discovery.ts'
export type { Provider, Provenance, PeerStats } from './libp2p/discovery/types.ts'
export { ContentRoutingManager, type ContentRoutingInit, type RetrieveOptions, type RoutingMetrics } from './libp2p/routing/index.ts'
export { LibP2PIntegration, type LibP2PIntegrationInit, type IntegrationStats } from './libp2p/integration/index.ts'
export { applyIpfsKitIntegration, registerLibp2pWithIpfsKit, removeIpfsKitIntegration } from './kit/integration.ts'
