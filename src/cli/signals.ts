/** A pending shutdown: `signal` aborts on the first SIGINT or SIGTERM. */
export interface Shutdown {
  readonly signal: AbortSignal
  /** the signal received, once one was */
  readonly received: NodeJS.Signals | undefined
  /** stop listening for signals */
  dispose(): void
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']

/**
 * Listen for SIGINT and SIGTERM. The first one aborts `signal` so the command can shut
 * down cleanly; a second one forces the process out (exit code 130, as a shell would).
 */
export function onShutdown(): Shutdown {
  const controller = new AbortController()
  let received: NodeJS.Signals | undefined
  const handler = (sig: NodeJS.Signals): void => {
    if (received != null) {
      process.stderr.write(`Received ${sig} again: exiting now\n`)
      process.exit(130)
    }
    received = sig
    controller.abort(sig)
  }
  for (const sig of SIGNALS) process.on(sig, handler)
  return {
    signal: controller.signal,
    get received() {
      return received
    },
    dispose() {
      for (const sig of SIGNALS) process.off(sig, handler)
    }
  }
}

/** Resolve once `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
