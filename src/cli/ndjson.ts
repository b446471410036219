/**
 * Reading the NDJSON answers of `/api/v0` commands (Kubo's `X-Chunked-Output`): one value per
 * line, as they arrive.
 *
 * @packageDocumentation
 */
import { lines } from '../api/client.ts'

/**
 * The values of an NDJSON response body, one per line, as they arrive (a line in Kubo's error
 * shape is thrown as its typed error; a line that is not JSON as `DaemonUnreachableError`).
 */
export async function* responseLines(res: Response): AsyncGenerator<unknown> {
  if (res.body != null) yield* lines(res.body)
}
