/** Bytes as a store or a stream hands them in. */
export type BytesInput = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

/** Gather bytes, whatever shape a store or a stream hands them in, into one array. */
export async function collectBytes(input: BytesInput): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input
  const parts: Uint8Array[] = []
  let length = 0
  for await (const part of input) {
    parts.push(part)
    length += part.byteLength
  }
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}
