/**
 * A peer's provider reputation and where it persists.
 *
 * @packageDocumentation
 */

import type { AbortOptions, Logger } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { REPUTATION_PERSIST_INTERVAL_MS } from '../../constants.ts'
import { type ReputationInit, ReputationTracker } from '../discovery/reputation.ts'

/** Options of {@link PeerReputationStore}. */
export interface PeerReputationStoreInit extends ReputationInit {
  /** how often changed records are written @default REPUTATION_PERSIST_INTERVAL_MS */
  persistIntervalMs?: number
}

/**
 * One {@link ReputationTracker} per peer, persisted in a datastore when the peer has one: loaded
 * on `start()`, the records that changed written every `persistIntervalMs` and on `stop()`.
 * A peer made without a datastore can be given one later (`persistIn`, e.g. the repo of the
 * kit it is registered with).
 */
export class PeerReputationStore {
  readonly tracker: ReputationTracker
  readonly #log: Logger
  readonly #intervalMs: number
  #datastore?: Datastore
  #timer?: ReturnType<typeof setInterval>
  #started = false

  constructor(datastore: Datastore | undefined, log: Logger, init: PeerReputationStoreInit = {}) {
    this.tracker = new ReputationTracker(init)
    this.#datastore = datastore
    this.#log = log
    this.#intervalMs = init.persistIntervalMs ?? REPUTATION_PERSIST_INTERVAL_MS
  }

  /** Load saved records (if persisted) and save changes periodically. */
  async start(options: AbortOptions = {}): Promise<void> {
    this.#started = true
    await this.#load(options)
    this.#schedule()
  }

  /** Save what changed and stop the timer. */
  async stop(): Promise<void> {
    this.#started = false
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.save()
  }

  /** Write the records that changed (a no-op when not persisted or nothing changed). */
  async save(options: AbortOptions = {}): Promise<void> {
    const datastore = this.#datastore
    if (datastore == null || this.tracker.unsaved === 0) return
    await this.tracker.save(datastore, options).catch((err: Error) => {
      this.#log.error('could not save reputation: %s', err.message)
    })
  }

  /**
   * Persist in `datastore` from now on, if not persisted yet: its records are loaded, and every
   * record held is written there. Returns false (and does nothing) if persisted elsewhere.
   */
  async persistIn(datastore: Datastore, options: AbortOptions = {}): Promise<boolean> {
    if (this.#datastore != null) return this.#datastore === datastore
    this.#datastore = datastore
    await this.#load(options)
    this.tracker.markAllUnsaved()
    this.#schedule()
    return true
  }

  async #load(options: AbortOptions): Promise<void> {
    if (this.#datastore == null) return
    await this.tracker.load(this.#datastore, options).catch((err: Error) => {
      this.#log.error('could not load reputation: %s', err.message)
    })
  }

  #schedule(): void {
    if (this.#datastore == null || this.#timer != null || !this.#started) return
    this.#timer = setInterval(() => {
      void this.save()
    }, this.#intervalMs)
    this.#timer.unref?.()
  }
}
