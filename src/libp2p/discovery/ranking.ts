/**
 * Provider ranking: the order in which to ask providers for content.
 *
 * @packageDocumentation
 */

import type { PeerId } from '@libp2p/interface'
import {
  RANKING_AFFINITY_BONUS,
  RANKING_CONNECTED_BONUS,
  RANKING_DEFAULT_COUNT,
  RANKING_EXPLORATION_EPSILON,
  RANKING_EXPLORATION_MIN_OBSERVATIONS,
  RANKING_EXPLORATION_WINDOW
} from '../../constants.ts'
import { peerKey } from './keys.ts'
import type { BackoffSource, ReputationSource } from './types.ts'

/** How the ranking gives unexplored peers a chance. */
export interface ExplorationOptions {
  /** a peer with fewer observations is unexplored. @default RANKING_EXPLORATION_MIN_OBSERVATIONS (3) */
  minObservations?: number
  /** head of the ranking holding the exploration slot. @default RANKING_EXPLORATION_WINDOW (4) */
  window?: number
  /** probability of exploring when the head has one slot. @default RANKING_EXPLORATION_EPSILON (0.1) */
  epsilon?: number
}

/** Options of {@link rankProviders}. Every source is optional: without any, arrival order is kept. */
export interface RankingOptions {
  /** peer scores in [0, 1] and observation counts (a `ReputationTracker`) */
  reputation?: ReputationSource
  /** who is in backoff (an `AdaptiveBackoff`) */
  backoff?: BackoffSource
  /** affinity in [0, 1] per peer id string, for the requested CID (`ContentAffinity.scoresFor`) */
  affinity?: ReadonlyMap<string, number>
  /** peers we are connected to: a set of peer id strings or a predicate */
  connected?: ReadonlySet<string> | ((peer: PeerId) => boolean)
  /** peers to ask first, in this order (unless backed off) */
  preferredPeers?: Iterable<PeerId | string>
  /** providers to return. @default RANKING_DEFAULT_COUNT (all) */
  count?: number
  /** exploration rule; `false` disables it. @default enabled with the defaults of {@link ExplorationOptions} */
  exploration?: ExplorationOptions | false
  /** score bonus of a connected peer. @default RANKING_CONNECTED_BONUS (0.15) */
  connectedBonus?: number
  /** score bonus per unit of affinity. @default RANKING_AFFINITY_BONUS (0.3) */
  affinityBonus?: number
  /** ms since the epoch. Defaults to `Date.now()` */
  now?: number
  /** randomness for the ε rule, [0, 1). Defaults to `Math.random` */
  random?: () => number
}

/** Why a provider got its place. */
export type RankTier = 'preferred' | 'ranked' | 'exploration' | 'backed-off'

/** A ranked provider with its score and tier. */
export interface RankedProvider<T> {
  provider: T
  /** reputation score + connected bonus + affinity bonus */
  score: number
  tier: RankTier
  /** for backed-off providers: when they may be tried again */
  nextAttemptAt: number | undefined
}

interface Scored<T> extends RankedProvider<T> {
  key: string
  position: number
  observations: number
}

/**
 * Order providers, best first, with the reason for each place:
 *
 * 1. Preferred peers, in the order given, unless backed off.
 * 2. Peers not in backoff, by score = reputation score (success rate, latency AND throughput: see
 *    `ReputationTracker`) + `connectedBonus` if connected + `affinityBonus × affinity`. Ties keep
 *    arrival order.
 * 3. Backed-off peers (preferred ones included), soonest retry first.
 *
 * Exploration rule: a peer with fewer than `minObservations` recorded outcomes is unexplored; its
 * score is the prior (0.5) and would otherwise rarely be tested against proven peers. The head of
 * group 2 is its first `H = min(window, count − preferred)` places. If the head holds no unexplored
 * peer and one exists further down (not backed off), the best of them takes the head's last slot:
 * always when `H ≥ 2` (a reserved exploration slot), with probability `epsilon` when `H = 1`.
 *
 * Candidates with the same peer id are de-duplicated (the first one wins). Pure apart from
 * `random` and the clock (`now`).
 */
export function rankProvidersDetailed<T extends { id: PeerId }>(
  candidates: Iterable<T>,
  options: RankingOptions = {}
): Array<RankedProvider<T>> {
  const now = options.now ?? Date.now()
  const count = Math.max(0, options.count ?? RANKING_DEFAULT_COUNT)
  const connectedBonus = options.connectedBonus ?? RANKING_CONNECTED_BONUS
  const affinityBonus = options.affinityBonus ?? RANKING_AFFINITY_BONUS
  const isConnected = toPredicate(options.connected)

  const seen = new Set<string>()
  const scored: Array<Scored<T>> = []
  for (const provider of candidates) {
    const key = peerKey(provider.id)
    if (seen.has(key)) continue
    seen.add(key)
    const backedOff = options.backoff?.isBackedOff(provider.id, now) === true
    const score =
      (options.reputation?.score(provider.id, now) ?? 0.5) +
      (isConnected(provider.id) ? connectedBonus : 0) +
      affinityBonus * Math.min(1, Math.max(0, options.affinity?.get(key) ?? 0))
    scored.push({
      provider,
      key,
      score,
      tier: backedOff ? 'backed-off' : 'ranked',
      nextAttemptAt: backedOff ? options.backoff?.nextAttemptAt(provider.id) : undefined,
      position: scored.length,
      observations: options.reputation?.observations(provider.id) ?? 0
    })
  }

  const byKey = new Map(scored.map((s) => [s.key, s]))
  const preferred: Array<Scored<T>> = []
  for (const peer of options.preferredPeers ?? []) {
    const entry = byKey.get(peerKey(peer))
    if (entry !== undefined && entry.tier === 'ranked' && !preferred.includes(entry)) {
      entry.tier = 'preferred'
      preferred.push(entry)
    }
  }
  const ranked = scored
    .filter((s) => s.tier === 'ranked')
    .sort((a, b) => b.score - a.score || a.position - b.position)
  const backedOff = scored
    .filter((s) => s.tier === 'backed-off')
    .sort(
      (a, b) =>
        (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || b.score - a.score || a.position - b.position
    )

  if (options.exploration !== false)
    explore(ranked, count - preferred.length, options.exploration ?? {}, options)

  return [...preferred, ...ranked, ...backedOff]
    .slice(0, Number.isFinite(count) ? count : undefined)
    .map(({ provider, score, tier, nextAttemptAt }) => ({ provider, score, tier, nextAttemptAt }))
}

/** {@link rankProvidersDetailed}, returning the providers only. */
export function rankProviders<T extends { id: PeerId }>(
  candidates: Iterable<T>,
  options: RankingOptions = {}
): T[] {
  return rankProvidersDetailed(candidates, options).map((ranked) => ranked.provider)
}

/** Apply the exploration rule to `ranked` (sorted best first) in place. */
function explore<T>(
  ranked: Array<Scored<T>>,
  slots: number,
  exploration: ExplorationOptions,
  options: RankingOptions
): void {
  const minObservations = exploration.minObservations ?? RANKING_EXPLORATION_MIN_OBSERVATIONS
  const head = Math.min(exploration.window ?? RANKING_EXPLORATION_WINDOW, slots, ranked.length)
  if (head < 1 || ranked.length <= head) return
  const unexplored = (s: Scored<T>): boolean => s.observations < minObservations
  if (ranked.slice(0, head).some(unexplored)) return
  const pick = ranked.findIndex((s, i) => i >= head && unexplored(s))
  if (pick < 0) return
  if (head === 1) {
    const epsilon = exploration.epsilon ?? RANKING_EXPLORATION_EPSILON
    if ((options.random ?? Math.random)() >= epsilon) return
  }
  const [chosen] = ranked.splice(pick, 1)
  if (chosen === undefined) return
  chosen.tier = 'exploration'
  ranked.splice(head - 1, 0, chosen)
}

function toPredicate(connected: RankingOptions['connected']): (peer: PeerId) => boolean {
  if (connected === undefined) return () => false
  if (typeof connected === 'function') return connected
  return (peer) => connected.has(peerKey(peer))
}
