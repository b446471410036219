import type { AbortOptions } from '@libp2p/interface'

/**
 * A window of at most `size` block reads at once, granted in the order they were asked for
 * (so a DAG reader that consumes blocks in order is never starved by later reads).
 *
 * `ipfs-unixfs-exporter` passes `blockReadConcurrency` to it-parallel's ordered mode, which
 * (3.0.16) lets a stale resolve release a newer waiter: with a limit of 16, over 100 reads ran
 * at once. This window is the bound we rely on.
 *
 * @example
 * ```ts
 * const window = new BlockWindow(16)
 * const block = await window.run(async () => fetchBlock(cid), { signal })
 * ```
 */
export class BlockWindow {
  readonly size: number
  #running = 0
  #peak = 0
  readonly #waiting: Array<() => void> = []

  constructor(size: number) {
    this.size = Math.max(1, Math.floor(size))
  }

  /** Reads running now. */
  get running(): number {
    return this.#running
  }

  /** The most reads that ever ran at once. */
  get peak(): number {
    return this.#peak
  }

  /** Run `task` once a place in the window is free; the place is held until it settles. */
  async run<T>(task: () => Promise<T>, options: AbortOptions = {}): Promise<T> {
    await this.#acquire(options.signal)
    try {
      return await task()
    } finally {
      this.#release()
    }
  }

  async #acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted()
    if (this.#running < this.size && this.#waiting.length === 0) {
      this.#take()
      return
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort)
        this.#take()
        resolve()
      }
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(grant)
        if (i >= 0) this.#waiting.splice(i, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(grant)
    })
  }

  #take(): void {
    this.#running++
    if (this.#running > this.#peak) this.#peak = this.#running
  }

  #release(): void {
    this.#running--
    // hand the place on in order, each waiter taking it synchronously
    while (this.#running < this.size) {
      const next = this.#waiting.shift()
      if (next == null) break
      next()
    }
  }
}
