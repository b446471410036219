/**
 * The network-independent building blocks of `EnhancedDHTDiscovery`: a k-bucket view mirroring
 * kad-dht's routing table, a refresh scheduler by distance, per-peer reputation and backoff,
 * provider tracking with provenance, content affinity, provider ranking and a discovery cache.
 * Each part is driven by calls (peer added or removed, provider found, request outcome), so the
 * class that wires them to a live kad-dht only forwards events.
 *
 * @packageDocumentation
 */

export { type AffinityCandidate, ContentAffinity, type ContentAffinityInit } from './affinity.ts'
export {
  AdaptiveBackoff,
  type BackoffComponents,
  type BackoffInit,
  type BackoffStats,
  type PeerBackoff
} from './backoff.ts'
export {
  DelegatedRouters,
  type DelegatedRoutersComponents,
  type DelegatedRoutersInit
} from './delegated.ts'
export { delegatedRouterUrlProblem } from './delegated-url.ts'
export { DiscoveryCache, type DiscoveryCacheInit, type DiscoveryCacheStats } from './discovery-cache.ts'
export {
  type AddResult,
  type BucketEntry,
  commonPrefixLength,
  KBucketView,
  type KBucketViewComponents,
  type KBucketViewInit,
  KEY_BITS,
  kadId,
  kadIdOfKey,
  lookupKeyWithPrefix,
  randomKeyWithPrefix,
  type StatsResolver
} from './k-buckets.ts'
export { contentKey, LruMap, peerKey } from './keys.ts'
export {
  type AddProviderOptions,
  type ProviderRecord,
  ProviderStore,
  type ProviderStoreInit
} from './providers.ts'
export {
  type ExplorationOptions,
  type RankedProvider,
  type RankingOptions,
  type RankTier,
  rankProviders,
  rankProvidersDetailed
} from './ranking.ts'
export {
  BucketRefreshScheduler,
  type RefreshBucketFn,
  type RefreshSchedulerComponents,
  type RefreshSchedulerInit,
  type RefreshTarget,
  refreshIntervalFor
} from './refresh.ts'
export {
  type PeerRecord,
  percentile,
  type ReputationInit,
  ReputationTracker,
  type SuccessObservation
} from './reputation.ts'
export {
  type BackoffSource,
  type DelegatedRouterStats,
  type DiscoveryMetrics,
  type InFlightSizes,
  type PeerStats,
  PROVENANCES,
  type Provenance,
  type Provider,
  type RefreshMetrics,
  type ReputationSource,
  type StateSizes
} from './types.ts'
