/**
 * The balanced allocator: which members hold a pin's replicas. Leechers are never candidates
 * (the caller passes only members that hold replicas). Replicas are spread over the values of
 * the `allocateBy` tags first (IPFS Cluster's balanced allocator), then go to the members with
 * the most free space (in steps), then to those holding the fewest pins, then to those with the
 * best provider reputation (from `EnhancedDHTDiscovery`'s records); rendezvous hashing on the
 * CID breaks the remaining ties, so two masters with the same view choose alike.
 *
 * @packageDocumentation
 */
import { CLUSTER_FREE_SPACE_STEP_BYTES } from '../constants.ts'
import { rendezvousWeight } from './rendezvous.ts'

/** A member the allocator may choose. */
export interface AllocationCandidate {
  id: string
  tags: Record<string, string>
  /** free bytes */
  freeSpace: number
  /** pins it holds already */
  allocated: number
  /** provider reputation in [0, 1] */
  reputation: number
}

/** What to allocate. */
export interface AllocationRequest {
  /** the CID (ties are broken by rendezvous weight on it) */
  key: string
  /** how many new members to choose */
  count: number
  /** members that hold it already (not chosen again; their tags count as taken) */
  existing?: readonly AllocationCandidate[]
  /** members to choose first, in order, when they are candidates */
  userAllocations?: readonly string[]
  /** tag names to spread over, in order @default [] */
  allocateBy?: readonly string[]
  /** free space compared in steps of this many bytes @default CLUSTER_FREE_SPACE_STEP_BYTES */
  freeSpaceStep?: number
}

/**
 * Choose up to `request.count` members among `candidates` (fewer if there are not enough: a
 * pin is never refused for want of members).
 *
 * @example
 * ```ts
 * allocate(members, { key: cid, count: 2, allocateBy: ['group'] }) // ['12D3…', '12D3…']
 * ```
 */
export function allocate(candidates: readonly AllocationCandidate[], request: AllocationRequest): string[] {
  const step = request.freeSpaceStep ?? CLUSTER_FREE_SPACE_STEP_BYTES
  const existing = request.existing ?? []
  const taken = new Set(existing.map((c) => c.id))
  const pool = candidates.filter((c) => !taken.has(c.id))
  const weight = new Map(pool.map((c) => [c.id, rendezvousWeight(request.key, c.id)]))
  pool.sort((a, b) => {
    const fa = Math.floor(a.freeSpace / step)
    const fb = Math.floor(b.freeSpace / step)
    if (fa !== fb) return fb - fa
    if (a.allocated !== b.allocated) return a.allocated - b.allocated
    if (a.reputation !== b.reputation) return b.reputation - a.reputation
    const wa = weight.get(a.id) ?? 0n
    const wb = weight.get(b.id) ?? 0n
    return wa === wb ? 0 : wa > wb ? -1 : 1
  })
  const chosen: AllocationCandidate[] = []
  const byId = new Map(pool.map((c) => [c.id, c]))
  for (const id of request.userAllocations ?? []) {
    if (chosen.length >= request.count) break
    const c = byId.get(id)
    if (c != null && !chosen.includes(c)) chosen.push(c)
  }
  const tags = request.allocateBy ?? []
  while (chosen.length < request.count) {
    const held = [...existing, ...chosen]
    let best: AllocationCandidate | undefined
    let bestShares: number[] = []
    for (const c of pool) {
      if (chosen.includes(c)) continue
      // how many holders already share each tag value of c: fewer is better, tag by tag
      const shares = tags.map((t) => held.filter((h) => h.tags[t] === c.tags[t]).length)
      if (best == null || lessThan(shares, bestShares)) {
        best = c
        bestShares = shares
      }
    }
    if (best == null) break
    chosen.push(best)
  }
  return chosen.map((c) => c.id)
}

function lessThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0
    const y = b[i] ?? 0
    if (x !== y) return x < y
  }
  return false
}
