/** A writable end that says when it takes more (`drain`) or is gone (`close`). */
export interface DrainableSink {
  destroyed: boolean
  once(event: 'drain' | 'close', listener: () => void): unknown
  off(event: 'drain' | 'close', listener: () => void): unknown
}

/** Wait until `sink` takes more (`drain`) or is gone (`close`), leaving no listener behind. */
export function drained(sink: DrainableSink): Promise<void> {
  if (sink.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off('drain', done)
      sink.off('close', done)
      resolve()
    }
    sink.once('drain', done)
    sink.once('close', done)
  })
}
