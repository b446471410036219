/**
 * A small POSIX ustar writer (with PAX records for long names and large sizes), as
 * `ipfs get` streams folders, and the reader the HTTP client uses to unpack them.
 *
 * @packageDocumentation
 */
import { InvalidParametersError } from '../errors.ts'

const BLOCK = 512
const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** Largest size the 11 octal digits of a ustar header hold. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1

/** One entry to write. */
export interface TarEntry {
  /** path inside the archive, `/`-separated, no leading `/` */
  name: string
  type: 'file' | 'directory'
  /** bytes of a file (its content must yield exactly this many) */
  size?: number
  /** @default 0o644 for files, 0o755 for folders */
  mode?: number
  /** seconds since the epoch @default 0 */
  mtime?: number
  content?: AsyncIterable<Uint8Array>
}

function octal(buf: Uint8Array, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, '0')
  buf.set(encoder.encode(text), offset)
  buf[offset + length - 1] = 0
}

function text(buf: Uint8Array, offset: number, length: number, value: string): void {
  buf.set(encoder.encode(value).subarray(0, length), offset)
}

function header(name: string, typeflag: string, size: number, mode: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK)
  const bytes = encoder.encode(name)
  let prefix = ''
  let base = name
  if (bytes.byteLength > 100) {
    // ustar: split at a '/' so that the prefix fits 155 bytes and the name 100
    const cut = name.lastIndexOf('/', name.length - 1)
    if (cut > 0) {
      prefix = name.slice(0, cut)
      base = name.slice(cut + 1)
    }
  }
  text(h, 0, 100, base)
  octal(h, 100, 8, mode)
  octal(h, 108, 8, 0)
  octal(h, 116, 8, 0)
  octal(h, 124, 12, size)
  octal(h, 136, 12, mtime)
  h.fill(0x20, 148, 156)
  text(h, 156, 1, typeflag)
  text(h, 257, 6, 'ustar')
  text(h, 263, 2, '00')
  text(h, 345, 155, prefix)
  let sum = 0
  for (const b of h) sum += b
  octal(h, 148, 7, sum)
  h[155] = 0x20
  return h
}

function fitsUstar(name: string): boolean {
  const bytes = encoder.encode(name)
  if (bytes.byteLength <= 100) return true
  const cut = name.lastIndexOf('/')
  return (
    cut > 0 &&
    encoder.encode(name.slice(0, cut)).byteLength <= 155 &&
    encoder.encode(name.slice(cut + 1)).byteLength <= 100
  )
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`
  const base = encoder.encode(body).byteLength
  // the length counts its own digits: L = base + digits(L)
  let length = base + String(base).length
  if (String(length).length !== String(base).length) length = base + String(length).length
  return `${length}${body}`
}

function padding(size: number): Uint8Array {
  const rest = size % BLOCK
  return new Uint8Array(rest === 0 ? 0 : BLOCK - rest)
}

/** Write entries as a tar stream, ending with the two zero blocks. */
export async function* tarStream(entries: AsyncIterable<TarEntry>): AsyncGenerator<Uint8Array> {
  for await (const entry of entries) {
    const size = entry.type === 'file' ? (entry.size ?? 0) : 0
    const name = entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name
    const mode = entry.mode ?? (entry.type === 'directory' ? 0o755 : 0o644)
    const mtime = entry.mtime ?? 0
    const pax: string[] = []
    if (!fitsUstar(name)) pax.push(paxRecord('path', name))
    if (size > MAX_OCTAL_SIZE) pax.push(paxRecord('size', String(size)))
    if (pax.length > 0) {
      const body = encoder.encode(pax.join(''))
      yield header('PaxHeader', 'x', body.byteLength, 0o644, mtime)
      yield body
      yield padding(body.byteLength)
    }
    const shortName = fitsUstar(name) ? name : name.slice(-100).replace(/^\/+/, '')
    yield header(
      shortName,
      entry.type === 'directory' ? '5' : '0',
      Math.min(size, MAX_OCTAL_SIZE),
      mode,
      mtime
    )
    if (entry.type === 'file') {
      let written = 0
      for await (const chunk of entry.content ?? []) {
        written += chunk.byteLength
        yield chunk
      }
      if (written !== size) {
        throw new InvalidParametersError(`${entry.name}: expected ${size} bytes, read ${written}`)
      }
      yield padding(size)
    }
  }
  yield new Uint8Array(BLOCK * 2)
}

/** One entry read from a tar stream; its content must be read before the next entry. */
export interface TarReadEntry {
  name: string
  type: 'file' | 'directory' | 'other'
  size: number
  content: AsyncIterable<Uint8Array>
}

/** Pulls exact byte counts from a stream of chunks. */
class Reader {
  readonly #source: AsyncIterator<Uint8Array>
  #buffer: Uint8Array = new Uint8Array(0)
  #done = false

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]()
  }

  async #fill(): Promise<boolean> {
    if (this.#done) return false
    const next = await this.#source.next()
    if (next.done === true) {
      this.#done = true
      return false
    }
    this.#buffer = this.#buffer.byteLength === 0 ? next.value : Buffer.concat([this.#buffer, next.value])
    return true
  }

  /** Exactly `n` bytes, or undefined at a clean end of stream. */
  async exactly(n: number): Promise<Uint8Array | undefined> {
    while (this.#buffer.byteLength < n) {
      if (!(await this.#fill())) {
        if (this.#buffer.byteLength === 0) return undefined
        throw new InvalidParametersError('truncated tar stream')
      }
    }
    const out = this.#buffer.subarray(0, n)
    this.#buffer = this.#buffer.subarray(n)
    return out
  }

  /** Up to `max` bytes (at least one), as they arrive. */
  async some(max: number): Promise<Uint8Array> {
    if (this.#buffer.byteLength === 0 && !(await this.#fill())) {
      throw new InvalidParametersError('truncated tar stream')
    }
    const take = Math.min(max, this.#buffer.byteLength)
    const out = this.#buffer.subarray(0, take)
    this.#buffer = this.#buffer.subarray(take)
    return out
  }
}

function field(h: Uint8Array, offset: number, length: number): string {
  const raw = h.subarray(offset, offset + length)
  const end = raw.indexOf(0)
  return decoder.decode(end === -1 ? raw : raw.subarray(0, end))
}

function parsePax(body: Uint8Array): Map<string, string> {
  const out = new Map<string, string>()
  const all = decoder.decode(body)
  for (const line of all.split('\n')) {
    const m = /^\d+ ([^=]+)=(.*)$/s.exec(line)
    if (m?.[1] != null && m[2] != null) out.set(m[1], m[2])
  }
  return out
}

/** Read a tar stream (ustar, PAX `path`/`size` records, GNU long names). */
export async function* untar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarReadEntry> {
  const reader = new Reader(source)
  let pax = new Map<string, string>()
  let longName: string | undefined
  for (;;) {
    const h = await reader.exactly(BLOCK)
    if (h == null || h.every((b) => b === 0)) return
    let size = Number.parseInt(field(h, 124, 12).trim() || '0', 8)
    const typeflag = String.fromCharCode(h[156] ?? 0x30)
    const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK
    if (typeflag === 'x' || typeflag === 'L') {
      const body = (await reader.exactly(padded(size)))?.subarray(0, size) ?? new Uint8Array(0)
      if (typeflag === 'x') pax = parsePax(body)
      else longName = field(body, 0, body.byteLength)
      continue
    }
    if (typeflag === 'g') {
      await reader.exactly(padded(size))
      continue
    }
    const prefix = field(h, 345, 155)
    let name =
      pax.get('path') ?? longName ?? (prefix === '' ? field(h, 0, 100) : `${prefix}/${field(h, 0, 100)}`)
    if (pax.has('size')) size = Number(pax.get('size'))
    pax = new Map()
    longName = undefined
    name = name.replace(/\/+$/, '')
    const type = typeflag === '5' ? 'directory' : typeflag === '0' || typeflag === '\0' ? 'file' : 'other'
    const state = { left: size }
    const content = async function* (): AsyncGenerator<Uint8Array> {
      while (state.left > 0) {
        const chunk = await reader.some(state.left)
        state.left -= chunk.byteLength
        yield chunk
      }
    }
    yield { name, type, size, content: content() }
    // whatever the consumer left unread
    while (state.left > 0) state.left -= (await reader.some(state.left)).byteLength
    const rest = padded(size) - size
    if (rest > 0) await reader.exactly(rest)
  }
}
