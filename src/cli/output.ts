import { once } from 'node:events'
import { OutputClosedError } from './errors.ts'

let closed = false

/**
 * Watch standard output for a reader that went away (EPIPE): later writes throw
 * {@link OutputClosedError} instead of crashing the process. Call once at start.
 */
export function watchStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    closed = true
    if (err.code !== 'EPIPE' && process.env.DEBUG != null) process.stderr.write(`stdout: ${err.message}\n`)
  })
}

/** Write to standard output, waiting while its buffer is full (memory stays flat for any size). */
export async function writeOut(chunk: string | Uint8Array): Promise<void> {
  if (closed || process.stdout.destroyed) throw new OutputClosedError('standard output is closed')
  if (!process.stdout.write(chunk)) {
    try {
      await once(process.stdout, 'drain')
    } catch (err) {
      throw new OutputClosedError('standard output is closed', { cause: err })
    }
  }
}

/** Write one line to standard output. */
export async function printLine(line: string): Promise<void> {
  await writeOut(`${line}\n`)
}

/** Write a value as one line of JSON to standard output. */
export async function printJson(value: unknown): Promise<void> {
  await writeOut(`${JSON.stringify(value)}\n`)
}

/** Write one informational line to standard error (never data). */
export function note(line: string): void {
  process.stderr.write(`${line}\n`)
}
