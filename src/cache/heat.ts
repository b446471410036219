/**
 * Heat: how hot a cached block is, from its access count and recency. Every access adds 1 to a
 * score that decays exponentially, halving every `halfLifeMs`. A block read once long ago is cold;
 * one read several times in the last minutes is hot.
 *
 * @packageDocumentation
 */

/**
 * `heat` as it stands `elapsedMs` after it was last updated: `heat · 2^(-elapsedMs / halfLifeMs)`.
 * A negative elapsed time (a clock stepping back) does not increase heat.
 */
export function decayHeat(heat: number, elapsedMs: number, halfLifeMs: number): number {
  if (elapsedMs <= 0 || heat === 0) {
    return heat
  }
  return heat * 2 ** (-elapsedMs / halfLifeMs)
}

/** The heat after one more access at `now`, given the heat and time of the previous update. */
export function touchHeat(heat: number, lastAccess: number, now: number, halfLifeMs: number): number {
  return decayHeat(heat, now - lastAccess, halfLifeMs) + 1
}
