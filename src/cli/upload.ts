/**
 * File arguments of commands that send files to `/api/v0` (`dag put`, `dag import`): the named
 * local files, or standard input when none is named, as one multipart body, streamed.
 *
 * @packageDocumentation
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { PathNotFoundError } from '../errors.ts'

/** A file to send: its name and its bytes as they are read. */
export interface UploadFile {
  name: string
  content: AsyncIterable<Uint8Array>
}

const encoder = new TextEncoder()

/**
 * The files named on the command line (each checked to be a readable file before anything is
 * sent), or standard input when there are none.
 *
 * @throws {PathNotFoundError} for a path that is missing or not a file
 */
export async function inputFiles(paths: readonly string[]): Promise<UploadFile[]> {
  if (paths.length === 0) return [{ name: 'stdin', content: process.stdin }]
  const files: UploadFile[] = []
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined)
    if (info == null) throw new PathNotFoundError(`${path}: no such file or folder`)
    if (!info.isFile()) throw new PathNotFoundError(`${path} is not a file`)
    files.push({
      name: basename(path),
      content: {
        [Symbol.asyncIterator]: () => createReadStream(path)[Symbol.asyncIterator]()
      }
    })
  }
  return files
}

/** `files` as one `multipart/form-data` body (a `file` part each, as Kubo's CLI sends them). */
export function multipartFiles(files: readonly UploadFile[]): {
  body: AsyncIterable<Uint8Array>
  boundary: string
} {
  const boundary = `----ipfs-kit-${crypto.randomUUID()}`
  async function* body(): AsyncGenerator<Uint8Array> {
    let index = 0
    for (const file of files) {
      yield encoder.encode(
        `${index === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${encodeURIComponent(file.name)}"\r\nContent-Type: application/octet-stream\r\n\r\n`
      )
      for await (const chunk of file.content) yield chunk
      index++
    }
    yield encoder.encode(`\r\n--${boundary}--\r\n`)
  }
  return { body: body(), boundary }
}
