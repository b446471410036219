/**
 * Rendezvous (highest random weight) hashing: every member that knows the same candidates picks
 * the same one for a key, with no message exchanged, and losing a candidate moves only the keys
 * it had.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto'

/** The weight of `candidate` for `key`: the first 8 bytes of sha256(key, NUL, candidate). */
export function rendezvousWeight(key: string, candidate: string): bigint {
  const digest = createHash('sha256').update(key).update('\0').update(candidate).digest()
  return digest.readBigUInt64BE(0)
}

/**
 * The candidate of highest weight for `key` (undefined if there is none).
 *
 * @example
 * ```ts
 * rendezvousPick('bafy…', ['12D3KooA', '12D3KooB']) // the same on every member
 * ```
 */
export function rendezvousPick(key: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestWeight = -1n
  for (const c of candidates) {
    const w = rendezvousWeight(key, c)
    if (w > bestWeight || (w === bestWeight && best != null && c > best)) {
      best = c
      bestWeight = w
    }
  }
  return best
}

/** The candidates in order of weight for `key`, highest first. */
export function rendezvousOrder(key: string, candidates: Iterable<string>): string[] {
  return [...candidates]
    .map((c) => ({ c, w: rendezvousWeight(key, c) }))
    .sort((a, b) => (a.w === b.w ? (a.c < b.c ? 1 : -1) : a.w > b.w ? -1 : 1))
    .map((x) => x.c)
}
