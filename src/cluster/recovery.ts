/**
 * Recovery and top-up planning, as a pure function of the pinset and the members' liveness:
 * which pins get new allocations. A pin whose allocated members are lost (down past the grace
 * period, leaving, or now leechers) or that has fewer live holders than `replicationFactorMin`
 * while more members could hold it is given new members by the balanced allocator, up to
 * `replicationFactorMax`. Only the coordinator of a CID (rendezvous hashing over the live
 * writers) writes its new allocations, so one member re-pins each lost replica, never two.
 *
 * @packageDocumentation
 */
import { type AllocationCandidate, allocate } from './allocator.ts'
import { rendezvousPick } from './rendezvous.ts'
import type { ClusterPin } from './types.ts'

/** What a pass of recovery knows. */
export interface RecoveryView {
  /** our peer id */
  self: string
  /** live members that may write the state (us included, if we may) */
  writers: readonly string[]
  /** live members that may hold replicas, with what the allocator weighs */
  candidates: readonly AllocationCandidate[]
  /** whether an allocated member counts as lost */
  lost: (peer: string) => boolean
  /** tag names to balance over */
  allocateBy: readonly string[]
  now: number
}

/** One change the pass decided: a pin with new allocations, or an expired pin to remove. */
export type RecoveryChange = { kind: 'reallocate'; pin: ClusterPin } | { kind: 'expire'; cid: string }

/**
 * The changes this member (when it is the coordinator of the CIDs) should write.
 *
 * @example
 * ```ts
 * for (const change of planRecovery(index.pins.values(), view)) ...
 * ```
 */
export function planRecovery(pins: Iterable<ClusterPin>, view: RecoveryView): RecoveryChange[] {
  const changes: RecoveryChange[] = []
  // the counts move as this pass allocates, so 1,000 lost pins do not all land on one member
  const candidates = view.candidates.filter((c) => !view.lost(c.id)).map((c) => ({ ...c }))
  const byId = new Map(candidates.map((c) => [c.id, c]))
  for (const pin of pins) {
    // every pass looks at the whole pinset: what needs no change is passed over first, cheaply
    // (no hash), and only what does is given to its coordinator
    const expired = pin.expireAt > 0 && pin.expireAt <= view.now
    if (!expired && !needsReview(pin, view.lost)) continue
    if (rendezvousPick(pin.cid, view.writers) !== view.self) continue
    if (expired) {
      changes.push({ kind: 'expire', cid: pin.cid })
      continue
    }
    const live = pin.allocations.filter((p) => !view.lost(p))
    const lostCount = pin.allocations.length - live.length
    const extra = candidates.filter((c) => !live.includes(c.id)).length
    const reachableMin = Math.min(pin.replicationFactorMin, live.length + extra)
    if (lostCount === 0 && live.length >= reachableMin) continue
    const target = Math.min(pin.replicationFactorMax, live.length + extra)
    const existing = live.map((id) => byId.get(id)).filter((c): c is AllocationCandidate => c != null)
    const added = allocate(candidates, {
      key: pin.cid,
      count: Math.max(0, target - live.length),
      existing,
      allocateBy: view.allocateBy
    })
    for (const id of added) {
      const c = byId.get(id)
      if (c != null) c.allocated++
    }
    // a lost member no one replaces stays allocated while the pin is under its minimum: if it
    // comes back it still holds its replica
    const lostIds = pin.allocations.filter((p) => view.lost(p))
    const keep = Math.max(0, Math.min(lostIds.length, pin.replicationFactorMin - live.length - added.length))
    const allocations = [...live, ...added, ...lostIds.slice(0, keep)]
    if (
      allocations.length === pin.allocations.length &&
      allocations.every((a, i) => a === pin.allocations[i])
    ) {
      continue
    }
    changes.push({
      kind: 'reallocate',
      pin: { ...pin, allocations, reallocated: pin.reallocated + 1, updatedBy: view.self }
    })
  }
  return changes
}

/** Whether a pin may need new allocations: one of them is lost, or it has fewer than its minimum. */
function needsReview(pin: ClusterPin, lost: (peer: string) => boolean): boolean {
  if (pin.replicationFactorMax === -1) return false
  if (pin.allocations.length < pin.replicationFactorMin) return true
  for (const p of pin.allocations) if (lost(p)) return true
  return false
}
