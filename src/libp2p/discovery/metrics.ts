/**
 * Assembles {@link DiscoveryMetrics} from the discovery parts.
 *
 * @packageDocumentation
 */

import type { AdaptiveBackoff } from './backoff.ts'
import type { DiscoveryCache } from './discovery-cache.ts'
import type { KBucketView } from './k-buckets.ts'
import type { BucketRefreshScheduler } from './refresh.ts'
import { type DiscoveryMetrics, type LookupMetrics, PROVENANCES, type Provenance } from './types.ts'

/** Fresh, zeroed lookup counters. */
export function emptyLookupMetrics(): LookupMetrics {
  const providersByProvenance = Object.fromEntries(PROVENANCES.map((p) => [p, 0])) as Record<
    Provenance,
    number
  >
  return { started: 0, succeeded: 0, failed: 0, providersByProvenance }
}

/** The parts whose state the metrics report. */
export interface DiscoveryMetricsSources {
  view: Pick<KBucketView, 'fill' | 'size' | 'replacementCount'>
  scheduler?: Pick<BucketRefreshScheduler, 'metrics'>
  cache?: Pick<DiscoveryCache, 'stats'>
  backoff?: Pick<AdaptiveBackoff, 'peersInBackoff'>
  /** lookup counters kept by the wiring class */
  lookups?: LookupMetrics
}

/** A snapshot of {@link DiscoveryMetrics} at `now`. */
export function collectDiscoveryMetrics(
  sources: DiscoveryMetricsSources,
  now: number = Date.now()
): DiscoveryMetrics {
  const cache = sources.cache?.stats()
  const lookups = sources.lookups ?? emptyLookupMetrics()
  return {
    bucketFill: sources.view.fill(),
    peersInTable: sources.view.size,
    replacementCacheSize: sources.view.replacementCount,
    refreshes: sources.scheduler?.metrics() ?? {
      started: 0,
      completed: 0,
      failed: 0,
      skippedRecentTraffic: 0
    },
    lookups: { ...lookups, providersByProvenance: { ...lookups.providersByProvenance } },
    discoveryCacheHits: cache?.hits ?? 0,
    discoveryCacheMisses: cache?.misses ?? 0,
    peersInBackoff: sources.backoff?.peersInBackoff(now) ?? 0
  }
}
