/**
 * Reading the NDJSON answers of `/api/v0` commands (Kubo's `X-Chunked-Output`): one value per
 * line, as they arrive.
 *
 * @packageDocumentation
 */
import { DaemonUnreachableError } from '../errors.ts'

/** The values of an NDJSON response body, one per line, as they arrive. */
export async function* responseLines(res: Response): AsyncGenerator<unknown> {
  if (res.body == null) return
  const decoder = new TextDecoder()
  let rest = ''
  const parse = (line: string): unknown => {
    try {
      return JSON.parse(line)
    } catch (err) {
      throw new DaemonUnreachableError(`the daemon answered a line that is not JSON: ${line.slice(0, 80)}`, {
        cause: err
      })
    }
  }
  for await (const chunk of res.body) {
    rest += decoder.decode(chunk, { stream: true })
    let nl = rest.indexOf('\n')
    while (nl !== -1) {
      const line = rest.slice(0, nl).trim()
      rest = rest.slice(nl + 1)
      if (line !== '') yield parse(line)
      nl = rest.indexOf('\n')
    }
  }
  if (rest.trim() !== '') yield parse(rest.trim())
}
