/**
 * ipfs-kit: a real IPFS node in TypeScript with an enhanced libp2p integration.
 *
 * @packageDocumentation
 */

export {
  type ApiAddresses,
  ApiServer,
  type ApiServerComponents,
  type ApiServerInit,
  connectDaemon,
  type HistorySample,
  HttpKitClient,
  type HttpKitClientInit,
  type RetrievalKind,
  type RetrievalRecord
} from './api/index.ts'
export { TieredCache, type TieredCacheInit, type TieredCacheStats } from './cache/index.ts'
export { parseCID, parseCIDPath } from './cids.ts'
export * from './constants.ts'
export * from './errors.ts'
export { type FileInfo, type FilesystemInit, IPFSFileSystem } from './fs/index.ts'
export type { AddOptions } from './kit/importer.ts'
export { type CatOptions, IPFSKit, type IPFSKitInit, ipfsKit } from './kit/index.ts'
export {
  applyIpfsKitIntegration,
  registerLibp2pWithIpfsKit,
  removeIpfsKitIntegration
} from './kit/integration.ts'
export type * from './kit/types.ts'
export {
  type DiscoveryMetrics,
  EnhancedDHTDiscovery,
  type EnhancedDHTDiscoveryInit,
  type FindProvidersOptions
} from './libp2p/discovery/enhanced-dht-discovery.ts'
export type { PeerStats, Provenance, Provider } from './libp2p/discovery/types.ts'
export {
  type IntegrationStats,
  LibP2PIntegration,
  type LibP2PIntegrationInit
} from './libp2p/integration/index.ts'
export {
  IPFSLibp2pPeer,
  type IPFSLibp2pPeerInit,
  type PeerServices,
  parseMultiaddr
} from './libp2p/peer/index.ts'
export {
  BlockStreamClient,
  type BlockStreamClientStats,
  BlockStreamServer,
  type BlockStreamServerStats
} from './libp2p/routing/block-stream.ts'
export {
  type ContentRoutingInit,
  ContentRoutingManager,
  type RetrieveOptions,
  type RoutingMetrics
} from './libp2p/routing/index.ts'
export { VERSION } from './version.ts'
