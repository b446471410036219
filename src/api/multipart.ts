import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import busboy from 'busboy'
import { pushable } from 'it-pushable'
import { InvalidParametersError, IpfsKitError } from '../errors.ts'
import { boundedBody } from './http.ts'

/** One part of a multipart body, as Kubo's `add` takes it: a file (with content) or a folder. */
export interface MultipartEntry {
  /** the part's file name, URI-decoded, without a leading `/` ('' when none was given) */
  path: string
  /** the bytes of a file; undefined for a folder (`application/x-directory`) */
  content?: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  /** a symlink's target, as its bytes (Kubo's `application/symlink` part) */
  symlink?: AsyncIterable<Uint8Array>
}

const DIRECTORY_TYPE = 'application/x-directory'
const SYMLINK_TYPE = 'application/symlink'
/** Header pairs of one part (Content-Disposition, Content-Type and a few more). */
const MAX_PART_HEADER_PAIRS = 16

function partPath(filename: string | undefined): string {
  if (filename == null || filename === '') return ''
  let name: string
  try {
    name = decodeURIComponent(filename)
  } catch {
    name = filename
  }
  if (name.includes('\0')) throw new InvalidParametersError('a multipart file name holds a NUL byte')
  return name.replace(/^\/+/, '')
}

/**
 * A part's bytes. A body that ends inside a part ("Unexpected end of form") fails the part's
 * stream, not the parser: that is a malformed body too, not a server error.
 */
async function* partContent(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* stream
  } catch (err) {
    if (err instanceof IpfsKitError) throw err
    throw new InvalidParametersError(`malformed multipart body: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The parts of a `multipart/form-data` request body, in order, each read while the
 * consumer reads its content (the body is never held whole). The body is bounded by
 * `limit` bytes (a {@link PayloadTooLargeError} ends the stream). Files and folders
 * come as Kubo's clients send them; a plain form field counts as a file too.
 */
export function multipartEntries(req: IncomingMessage, limit: number): AsyncIterable<MultipartEntry> {
  const type = req.headers['content-type'] ?? ''
  if (!type.toLowerCase().startsWith('multipart/form-data')) {
    throw new InvalidParametersError(
      `expected a multipart/form-data body (the file argument), got ${type === '' ? 'none' : type}`
    )
  }
  const out = pushable<MultipartEntry>({ objectMode: true })
  let parser: busboy.Busboy
  try {
    parser = busboy({
      headers: req.headers,
      defParamCharset: 'utf8',
      limits: { headerPairs: MAX_PART_HEADER_PAIRS }
    })
  } catch (err) {
    throw new InvalidParametersError(`malformed multipart body: ${(err as Error).message}`, { cause: err })
  }
  parser.on('file', (_name, stream, info) => {
    // a part can fail before anyone reads it (a body that ends inside a later part): keep that
    // from being an uncaught 'error' event, which would end the process; a reader gets it
    stream.on('error', () => {})
    let path: string
    try {
      path = partPath(info.filename)
    } catch (err) {
      stream.resume()
      out.end(err as Error)
      return
    }
    if (info.mimeType === DIRECTORY_TYPE) {
      stream.resume()
      out.push({ path })
    } else if (info.mimeType === SYMLINK_TYPE) {
      out.push({ path, symlink: partContent(stream) })
    } else {
      out.push({ path, content: partContent(stream) })
    }
  })
  parser.on('field', (name, value) => {
    out.push({ path: partPath(name === 'file' ? '' : name), content: [new TextEncoder().encode(value)] })
  })
  parser.on('close', () => out.end())
  parser.on('error', (err: Error) =>
    out.end(new InvalidParametersError(`malformed multipart body: ${err.message}`, { cause: err }))
  )
  const body = Readable.from(boundedBody(req, limit))
  body.on('error', (err) => {
    out.end(err)
    parser.destroy()
  })
  body.pipe(parser)
  return out
}

/** The first part's bytes (for `block/put` and `pubsub/pub`); the rest of the body is dropped. */
export async function firstPart(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  for await (const entry of multipartEntries(req, limit)) {
    if (entry.content == null) continue
    const parts: Uint8Array[] = []
    for await (const p of entry.content) parts.push(p)
    return new Uint8Array(Buffer.concat(parts))
  }
  throw new InvalidParametersError('argument "data" is required: send it as a multipart file')
}
