import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

/** A fresh Ed25519 peer id. */
export async function newPeerId(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** `n` fresh peer ids. */
export async function newPeerIds(n: number): Promise<PeerId[]> {
  return Promise.all(Array.from({ length: n }, async () => newPeerId()))
}

/** A CIDv1 (raw) of `text`. */
export async function cidOf(text: string): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

/** SHA-256 with node:crypto, independently of the code under test. */
export function sha256Bytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

/** Common leading bits of two byte strings, counted bit by bit (independently of the code under test). */
export function leadingCommonBits(a: Uint8Array, b: Uint8Array): number {
  const bits = (x: Uint8Array): string => [...x].map((byte) => byte.toString(2).padStart(8, '0')).join('')
  const sa = bits(a)
  const sb = bits(b)
  let n = 0
  while (n < sa.length && n < sb.length && sa[n] === sb[n]) n++
  return n
}

/** Let pending promise continuations and immediates run. */
export async function flush(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve))
}
