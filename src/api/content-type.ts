/**
 * The `Content-Type` of a file the gateway serves, as Kubo's gateway decides it: from the
 * name's extension (the path's last segment, or `?filename=`), else sniffed from the first
 * bytes — magic numbers by `file-type` (images, video, audio, archives, PDF…), HTML and XML by
 * the WHATWG MIME sniffing patterns (what Go's `http.DetectContentType` uses), then UTF-8 text,
 * else `application/octet-stream`.
 *
 * @packageDocumentation
 */
import { fileTypeFromBuffer } from 'file-type'
import { contentType } from 'mime-types'

/** Bytes read from a file's start to sniff its type (what `file-type` needs for every format). */
export const SNIFF_BYTES = 4100

const TEXT = 'text/plain; charset=utf-8'
const BINARY = 'application/octet-stream'

/** WHATWG "identifying a resource with an unknown MIME type": tags that begin an HTML document. */
const HTML_TAGS = [
  '<!DOCTYPE HTML',
  '<HTML',
  '<HEAD',
  '<SCRIPT',
  '<IFRAME',
  '<H1',
  '<DIV',
  '<FONT',
  '<TABLE',
  '<A',
  '<STYLE',
  '<TITLE',
  '<B',
  '<BODY',
  '<BR',
  '<P',
  '<!--'
]

/** The type of a file name by its extension (`text/html; charset=utf-8` for `a.html`), or undefined. */
export function typeByName(name: string): string | undefined {
  if (!/\.[^./]+$/.test(name)) return undefined
  const type = contentType(name.slice(name.lastIndexOf('.')))
  return type === false ? undefined : type
}

/** A markup type by the WHATWG patterns (leading whitespace skipped, case-insensitive), or undefined. */
function markup(head: Uint8Array): string | undefined {
  let i = 0
  while (i < head.length && [0x09, 0x0a, 0x0c, 0x0d, 0x20].includes(head[i] as number)) i++
  const start = Buffer.from(head.subarray(i, i + 16))
    .toString('latin1')
    .toUpperCase()
  for (const tag of HTML_TAGS) {
    // a tag counts when a space or `>` ends it
    const next = start.charCodeAt(tag.length)
    if (start.startsWith(tag) && (next === 0x20 || next === 0x3e)) return 'text/html; charset=utf-8'
  }
  if (start.startsWith('<?XML')) return 'text/xml; charset=utf-8'
  return undefined
}

/** The type of content from its first bytes (up to {@link SNIFF_BYTES}). */
export async function sniffType(head: Uint8Array): Promise<string> {
  if (head.byteLength === 0) return TEXT
  const html = markup(head)
  if (html != null) return html
  const found = await fileTypeFromBuffer(head).catch(() => undefined)
  if (found != null) return found.mime
  const sample = head.subarray(0, 512)
  // control bytes other than whitespace (as the WHATWG's binary-data bytes) mean binary
  if (sample.some((b) => b < 0x09 || b === 0x0b || (b > 0x0d && b < 0x20 && b !== 0x1b))) return BINARY
  try {
    // a multi-byte character cut at the sample's end is not an error
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, Math.max(0, sample.byteLength - 3)))
    return TEXT
  } catch {
    return BINARY
  }
}

/**
 * `Content-Disposition` for `?filename=` (`inline`, or `attachment` with `download=true`), as
 * Kubo's gateway: an ASCII `filename` and, for other names, RFC 5987's `filename*`.
 */
export function contentDisposition(filename: string, download: boolean): string {
  const kind = download ? 'attachment' : 'inline'
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_')
  if (ascii === filename) return `${kind}; filename="${ascii}"`
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}
