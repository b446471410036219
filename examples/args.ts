/**
 * Command-line helpers shared by the example applications: a bad command line is one line on
 * stderr and exit code 2.
 */

/** Say what is wrong with the command line and exit 2. */
export function usageError(message: string): never {
  process.stderr.write(`Error: ${message}\n`)
  process.exit(2)
}

/** A whole-number option (0 or more), or exit 2. */
export function wholeNumber(name: string, text: string): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isSafeInteger(n) || n < 0) {
    usageError(`--${name} takes a whole number, not "${text}"`)
  }
  return n
}

/** Parse the command line, or exit 2 with the parser's message. */
export function parseCommandLine<T>(parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    return usageError((err as Error).message)
  }
}
