/**
 * Reading the NDJSON answers of `/api/v0` commands (Kubo's `X-Chunked-Output`): one value per
 * line, as they arrive.
 *
 * @packageDocumentation
 */
/**
 * The values of an NDJSON response body, one per line, as they arrive (a line in Kubo's error
 * shape is thrown as its typed error; a line that is not JSON as `DaemonUnreachableError`).
 */
export async function* responseLines(res: Response): AsyncGenerator<unknown> {
  if (res.body == null) return
  // the HTTP client module is loaded with the first answer, not at start
  const { lines } = await import('../api/client.ts')
  yield* lines(res.body)
}
