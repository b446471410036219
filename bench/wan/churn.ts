/**
 * Scenario 3 of issue 14, churn: during a scenario-1 run (bench/wan/heterogeneous.ts, ours only),
 * one event every 5 s: a provider picked at random (seeded) dies (SIGKILL) if it is up, or comes
 * back if it is down (the same peer, at the same address: a fixed key and port), with at most
 * `maxDown` down at once. The seeker redials providers it is not connected to before each
 * retrieval, without waiting.
 *
 * @packageDocumentation
 */

import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import {
  type BenchFigure,
  type Child,
  note,
  row,
  seededRandom,
  successRate,
  timeToContent
} from '../common.ts'
import type { ServeReady } from './node.ts'
import type { RetrievalLine } from './seeker.ts'

/** The port every churning provider listens on (each host has its own address). */
export const CHURN_PORT = 4001

/** Options of the churn. */
export interface ChurnInit {
  /** ms between events @default 5000 */
  everyMs?: number
  /** most providers down at once @default 3 */
  maxDown?: number
  /** seed of the picks @default 3 */
  seed?: number
  /** our p50 and p95 of scenario 1 in the same run, ms: the baseline */
  baseline: { p50: number; p95: number }
}

/** One churn event, `atMs` from the start of the churn. */
export interface ChurnEvent {
  atMs: number
  provider: number
  event: 'killed' | 'restarted' | 'restart failed'
  /** how long the restart took (a process start and the files added again) */
  ms?: number
}

/** A running churn. */
export interface Churn {
  /** stop making events, wait for restarts under way; the events so far */
  stop(): Promise<ChurnEvent[]>
}

/** A private key per provider (protobuf, base64). */
export async function providerKeys(n: number): Promise<string[]> {
  const keys: string[] = []
  for (let i = 0; i < n; i++) {
    keys.push(Buffer.from(privateKeyToProtobuf(await generateKeyPair('Ed25519'))).toString('base64'))
  }
  return keys
}

/**
 * Start the churn on `providers` (replaced in place when one comes back); `start(i)` starts
 * provider i again.
 */
export function startChurn(
  providers: Array<Child & ServeReady>,
  start: (index: number) => Promise<Child & ServeReady>,
  init: ChurnInit
): Churn {
  const random = seededRandom(init.seed ?? 3)
  const maxDown = init.maxDown ?? 3
  const state: Array<'up' | 'down' | 'starting'> = providers.map(() => 'up')
  const events: ChurnEvent[] = []
  const pending = new Set<Promise<void>>()
  const t0 = performance.now()
  const restart = (i: number): void => {
    state[i] = 'starting'
    const t = performance.now()
    const done = start(i).then(
      (child) => {
        providers[i] = child
        state[i] = 'up'
        events.push({ atMs: t - t0, provider: i, event: 'restarted', ms: performance.now() - t })
      },
      (err: Error) => {
        state[i] = 'down'
        events.push({ atMs: t - t0, provider: i, event: 'restart failed' })
        note(`churn: provider ${i} did not come back: ${err.message}`)
      }
    )
    pending.add(done)
    void done.finally(() => pending.delete(done))
  }
  const tick = (): void => {
    const i = Math.floor(random() * providers.length)
    const down = state.filter((s) => s !== 'up').length
    if (state[i] === 'down') restart(i)
    else if (state[i] === 'up' && down < maxDown) {
      state[i] = 'down'
      events.push({ atMs: performance.now() - t0, provider: i, event: 'killed' })
      void providers[i]!.kill(0)
    } else if (state[i] === 'up') {
      // too many down: the event brings one back instead
      const back = state.indexOf('down')
      if (back >= 0) restart(back)
    }
  }
  const timer = setInterval(tick, init.everyMs ?? 5000)
  return {
    stop: async () => {
      clearInterval(timer)
      await Promise.allSettled([...pending])
      return events
    }
  }
}

/** The rows of scenario 3 (item 3) from our retrievals under churn. */
export function summarizeChurn(
  lines: RetrievalLine[],
  events: ChurnEvent[],
  timeoutMs: number,
  init: ChurnInit
): { figures: Array<BenchFigure & { item: number }>; notes: string[]; trace: unknown } {
  const ours = lines.filter((l) => l.seeker === 'ours')
  const setting = `scenario 1's providers, one dies or comes back every ${(init.everyMs ?? 5000) / 1000} s, ${ours.length} retrievals`
  const item3 = (f: Parameters<typeof row>[0]): BenchFigure & { item: number } => ({ item: 3, ...row(f) })
  const baselineName = 'our time to content in scenario 1, same run, no churn'
  const figures = [
    item3({
      figure: `success rate under churn, ${setting}`,
      ours: successRate(ours),
      baseline: 100,
      baselineName: 'the goal: every retrieval returns the file (100 %)',
      unit: '%',
      better: 'higher',
      goal: 'every retrieval returns the file',
      target: { op: '>=', value: 1 }
    }),
    item3({
      figure: `time to content p50 under churn, ${setting}`,
      ours: timeToContent(ours, 0.5, timeoutMs),
      baseline: init.baseline.p50,
      baselineName,
      unit: 'ms',
      better: 'lower',
      goal: 'report'
    }),
    item3({
      figure: `time to content p95 under churn, ${setting}`,
      ours: timeToContent(ours, 0.95, timeoutMs),
      baseline: init.baseline.p95,
      baselineName,
      unit: 'ms',
      better: 'lower',
      goal: 'p95 no worse than 1.5x scenario 1',
      target: { op: '<=', value: 1.5 }
    })
  ]
  const restarts = events.filter((e) => e.event === 'restarted')
  const notes = [
    `scenario 3: ${events.filter((e) => e.event === 'killed').length} providers killed, ${restarts.length} restarted ` +
      `(a restart took ${Math.min(...restarts.map((e) => e.ms ?? 0)).toFixed(0)}–` +
      `${Math.max(...restarts.map((e) => e.ms ?? 0)).toFixed(0)} ms), ${ours.filter((l) => !l.ok).length} retrievals failed`
  ]
  return { figures, notes, trace: { events, retrievals: ours } }
}
