/**
 * ipfs-kit: a real IPFS node in TypeScript with an enhanced libp2p integration.
 *
 * @packageDocumentation
 */

// types the public API refers to (its parameters, results and components), for TS users and the API docs
export type { ActivityLog, RetrievalTracker } from './api/activity.ts'
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
export type { ApiMetrics } from './api/metrics.ts'
export type { BytesInput } from './blocks/bytes.ts'
export type {
  BlockHealer,
  BlockInput,
  CorruptionStats,
  VerifyingBlockstore
} from './blocks/verifying-blockstore.ts'
export type { DiskTier } from './cache/disk-tier.ts'
export type {
  ArcState,
  CacheOptions,
  CacheTier,
  DiskTierStats,
  DiskTierStore,
  Fetcher,
  MemoryTierStats,
  TieredCacheComponents,
  TieredGetOptions,
  TierStats
} from './cache/index.ts'
export { TieredCache, type TieredCacheInit, type TieredCacheStats } from './cache/index.ts'
export type { MemoryTier } from './cache/memory-tier.ts'
export type { CIDOrPath } from './cids.ts'
export { parseCID, parseCIDPath } from './cids.ts'
export * from './cluster/index.ts'
export * from './constants.ts'
export * from './errors.ts'
export type { FilesystemHost, FilesystemStats, ReadOptions } from './fs/index.ts'
export { type FileInfo, type FilesystemInit, IPFSFileSystem } from './fs/index.ts'
export type { PathSourceOptions } from './kit/add.ts'
export type { KitConfig } from './kit/config.ts'
export type { DagPutOptions, DagStat, DagStatSummary, RefEdge, RefsOptions } from './kit/dag.ts'
export type { AddOptions } from './kit/importer.ts'
export { type CatOptions, IPFSKit, type IPFSKitInit, ipfsKit } from './kit/index.ts'
export {
  applyIpfsKitIntegration,
  registerLibp2pWithIpfsKit,
  removeIpfsKitIntegration
} from './kit/integration.ts'
export type { ResolvedPath } from './kit/ipld.ts'
export type { PubsubHub } from './kit/pubsub.ts'
export type { Repo } from './kit/repo.ts'
export type * from './kit/types.ts'
export type { AddResult } from './kit/types.ts'
export type { BadNode, PinVerifyResult, RepoVerifyProgress, VerifyOptions } from './kit/verify.ts'
export type { AffinityCandidate, ContentAffinity, ContentAffinityInit } from './libp2p/discovery/affinity.ts'
export type { AdaptiveBackoff, BackoffInit, BackoffStats, PeerBackoff } from './libp2p/discovery/backoff.ts'
export type {
  DiscoveryCache,
  DiscoveryCacheInit,
  DiscoveryCacheStats
} from './libp2p/discovery/discovery-cache.ts'
export {
  type DiscoveryMetrics,
  EnhancedDHTDiscovery,
  type EnhancedDHTDiscoveryInit,
  type FindProvidersOptions
} from './libp2p/discovery/enhanced-dht-discovery.ts'
export type {
  AddResult as KBucketAddResult,
  BucketEntry,
  KBucketView,
  KBucketViewInit
} from './libp2p/discovery/k-buckets.ts'
export { lookupKeyWithPrefix } from './libp2p/discovery/k-buckets.ts'
export type {
  AddProviderOptions,
  ProviderRecord,
  ProviderStore,
  ProviderStoreInit
} from './libp2p/discovery/providers.ts'
export type { BucketRefreshScheduler, RefreshSchedulerInit } from './libp2p/discovery/refresh.ts'
export type { ReputationTracker, SuccessObservation } from './libp2p/discovery/reputation.ts'
export type {
  BackoffSource,
  InFlightSizes,
  PeerStats,
  Provenance,
  Provider,
  RefreshMetrics,
  ReputationSource,
  StateSizes
} from './libp2p/discovery/types.ts'
export type { IntegrationHost } from './libp2p/integration/index.ts'
export {
  type IntegrationStats,
  LibP2PIntegration,
  type LibP2PIntegrationInit
} from './libp2p/integration/index.ts'
export type {
  BitswapGuard,
  BitswapGuardInit,
  BitswapGuardStats,
  BitswapViolation,
  BitswapViolationEvent
} from './libp2p/peer/bitswap-guard.ts'
export type { DialTarget, DiscoveryResult } from './libp2p/peer/index.ts'
export {
  IPFSLibp2pPeer,
  type IPFSLibp2pPeerInit,
  type PeerServices,
  parseMultiaddr
} from './libp2p/peer/index.ts'
export type { ResolvedPeerOptions } from './libp2p/peer/options.ts'
export type { PeerReputationStore, PeerReputationStoreInit } from './libp2p/peer/reputation-store.ts'
export type { AnnouncementMetrics } from './libp2p/routing/announcements.ts'
export type { BitswapNetwork, InboundBitswapMessage } from './libp2p/routing/bitswap-access.ts'
export type {
  BlockStreamClientComponents,
  BlockStreamClientInit,
  BlockStreamServerComponents,
  BlockStreamServerInit
} from './libp2p/routing/block-stream.ts'
export {
  BlockStreamClient,
  type BlockStreamClientStats,
  BlockStreamServer,
  type BlockStreamServerStats
} from './libp2p/routing/block-stream.ts'
export type { BlockStreamAnswer, BlockStreamStore } from './libp2p/routing/block-stream-wire.ts'
export type {
  AttemptEvent,
  FetchedBlock,
  OutcomeSink,
  RequestOutcome
} from './libp2p/routing/hedged-fetcher.ts'
export type { BlockSource } from './libp2p/routing/index.ts'
export {
  type ContentRoutingInit,
  ContentRoutingManager,
  type RetrieveOptions,
  type RoutingMetrics
} from './libp2p/routing/index.ts'
export { VERSION } from './version.ts'
