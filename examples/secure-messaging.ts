/**
 * The seed's Secure Messaging System as a program: peers find each other through a DHT
 * rendezvous (`peer.startDiscovery({ rendezvous: 'secure-messaging' })`) and talk over a
 * private protocol, `/ipfs-kit/messaging/1.0.0`, on secured libp2p connections: Noise over TCP
 * (the seed's `security_options={"noise": {"static_key": True}}`: Noise is an ipfs-kit peer's
 * only connection encrypter, its static key signed by the peer's identity) or QUIC, whose
 * TLS 1.3 handshake authenticates the peer id the same way. The seed listens on TCP and QUIC;
 * so does this program, on 127.0.0.1. On top of that, every message is encrypted and signed
 * end to end:
 *
 * 1. Handshake: each side sends a `hello` with a fresh X25519 public key signed by its
 *    libp2p Ed25519 identity key; the other side checks the signature against the
 *    sender's peer id (which embeds the Ed25519 public key) and that this peer id is the
 *    one the connection authenticated (Noise or QUIC's TLS).
 * 2. Keys: X25519 ECDH → HKDF-SHA256 (salt: both X25519 keys; info: protocol, sender,
 *    recipient) → one AES-256-GCM key per direction.
 * 3. Messages: `{ from, to, seq, nonce, ciphertext, sig }`; the sender's identity key
 *    signs protocol, session (both X25519 keys), sender, recipient, sequence number,
 *    nonce and ciphertext (the same header, but the nonce, is the GCM associated data). The
 *    receiver checks the signature against `from`, the recipient, that `seq` only grows
 *    (no replays), and the GCM tag; anything else is rejected and reported, never delivered.
 *
 * Frames are length-prefixed JSON. The receiver answers every message with an `ack`
 * saying whether it was delivered or why it was rejected.
 *
 * Run:
 *   node examples/secure-messaging.ts --name bob --expect 3
 *   node examples/secure-messaging.ts --name alice --bootstrap <bob addr> --message hi --message "how are you?" --message bye
 *
 * Options: `--listen` (repeatable, default 127.0.0.1 TCP and QUIC), `--bootstrap` (repeatable),
 * `--to <peer id>` (repeatable; default: every peer found at the rendezvous), `--message`
 * (repeatable), `--expect N` (exit once N messages came and their sender said goodbye), `--tamper SEQ[:ciphertext|resign]`
 * (repeatable; corrupt that message's ciphertext after signing, or before signing),
 * `--key-file` (keep the identity across runs), `--timeout-ms` (default 30000).
 * Every line on standard output is one JSON object with an `event` field.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes
} from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Connection, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { IPFSLibp2pPeer } from 'ipfs-kit'
import { parseCommandLine, usageError, wholeNumber } from './args.ts'

/** Our private protocol id (never a standard one). */
const PROTOCOL = '/ipfs-kit/messaging/1.0.0'
const RENDEZVOUS = 'secure-messaging'
const MAX_FRAME_BYTES = 64 * 1024

/** Print one machine-readable progress line. */
function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
const unb64 = (text: unknown): Uint8Array => {
  if (typeof text !== 'string') throw new Error('expected base64 text')
  return new Uint8Array(Buffer.from(text, 'base64'))
}
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Unambiguous bytes to sign: every part prefixed by its 4-byte length. */
function transcript(...parts: Array<Uint8Array | string | number>): Uint8Array {
  const chunks = parts.map((p) => {
    if (typeof p === 'number') {
      const n = Buffer.alloc(8)
      n.writeBigUInt64BE(BigInt(p))
      return n
    }
    return typeof p === 'string' ? Buffer.from(utf8(p)) : Buffer.from(p)
  })
  return new Uint8Array(
    Buffer.concat(
      chunks.flatMap((c) => {
        const length = Buffer.alloc(4)
        length.writeUInt32BE(c.length)
        return [length, c]
      })
    )
  )
}

/** The Ed25519 public key inside a peer id, to check its signatures. */
function identityKeyOf(peer: string): NonNullable<PeerId['publicKey']> {
  const key = peerIdFromString(peer).publicKey
  if (key == null) throw new Error(`peer id ${peer} carries no public key`)
  return key
}

/** Raw 32 bytes of an X25519 public key, and back. */
function rawX25519(key: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url'))
}
function x25519FromRaw(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32) throw new Error('an X25519 key is 32 bytes')
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk'
  })
}

/** One end of a session: our identity, our X25519 key pair for this run. */
interface Me {
  id: string
  identity: PrivateKey
  x25519: { publicKey: KeyObject; privateKey: KeyObject }
}

/** A verified session with one peer: a key per direction and the last sequence number seen. */
interface Session {
  peer: string
  /** SHA-256 of both X25519 keys: binds every message to this session */
  id: Uint8Array
  sendKey: Buffer
  receiveKey: Buffer
  lastSeq: number
}

/** Our `hello`: the X25519 public key, signed by our identity key. */
async function hello(me: Me): Promise<Record<string, unknown>> {
  const x = rawX25519(me.x25519.publicKey)
  const sig = await me.identity.sign(transcript(PROTOCOL, 'hello', me.id, x))
  return { type: 'hello', peer: me.id, x25519: b64(x), sig: b64(sig) }
}

/** Check a peer's `hello` (signature, and that it comes from the Noise-authenticated peer) and derive keys. */
async function accept(me: Me, frame: Record<string, unknown>, remote: PeerId): Promise<Session> {
  if (frame.type !== 'hello' || typeof frame.peer !== 'string') throw new Error('expected a hello')
  if (frame.peer !== remote.toString()) throw new Error('hello names another peer than the connection')
  const x = unb64(frame.x25519)
  const ok = await identityKeyOf(frame.peer).verify(
    transcript(PROTOCOL, 'hello', frame.peer, x),
    unb64(frame.sig)
  )
  if (!ok) throw new Error('hello signature does not verify')
  const shared = diffieHellman({ privateKey: me.x25519.privateKey, publicKey: x25519FromRaw(x) })
  if (shared.every((b) => b === 0)) throw new Error('degenerate X25519 key')
  const mine = rawX25519(me.x25519.publicKey)
  const salt = createHash('sha256')
    .update(Buffer.compare(mine, x) < 0 ? Buffer.concat([mine, x]) : Buffer.concat([x, mine]))
    .digest()
  const key = (from: string, to: string): Buffer =>
    Buffer.from(hkdfSync('sha256', shared, salt, `${PROTOCOL} ${from} -> ${to}`, 32))
  return {
    peer: frame.peer,
    id: new Uint8Array(salt),
    sendKey: key(me.id, frame.peer),
    receiveKey: key(frame.peer, me.id),
    lastSeq: 0
  }
}

/** How to corrupt a message, for the demonstration of rejection. */
type Tamper = 'ciphertext' | 'resign'

/** Encrypt and sign one message. */
async function seal(
  me: Me,
  s: Session,
  seq: number,
  text: string,
  tamper?: Tamper
): Promise<Record<string, unknown>> {
  const nonce = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', s.sendKey, nonce)
  cipher.setAAD(transcript(PROTOCOL, s.id, me.id, s.peer, seq))
  const ciphertext = Buffer.concat([cipher.update(utf8(text)), cipher.final(), cipher.getAuthTag()])
  if (tamper === 'resign') ciphertext[0]! ^= 0x01
  const sig = await me.identity.sign(transcript(PROTOCOL, 'msg', s.id, me.id, s.peer, seq, nonce, ciphertext))
  if (tamper === 'ciphertext') ciphertext[0]! ^= 0x01
  return {
    type: 'msg',
    from: me.id,
    to: s.peer,
    seq,
    nonce: b64(nonce),
    ciphertext: b64(ciphertext),
    sig: b64(sig)
  }
}

/** Verify and decrypt one message; the plaintext, or throws with the reason it is rejected. */
async function open(me: Me, s: Session, frame: Record<string, unknown>): Promise<string> {
  const { from, to, seq } = frame
  if (
    frame.type !== 'msg' ||
    typeof from !== 'string' ||
    typeof to !== 'string' ||
    !Number.isSafeInteger(seq) ||
    (seq as number) < 1
  ) {
    throw new Error('malformed message')
  }
  const n = seq as number
  if (from !== s.peer) throw new Error('sender is not the session peer')
  if (to !== me.id) throw new Error('message is for another peer')
  const nonce = unb64(frame.nonce)
  const ciphertext = unb64(frame.ciphertext)
  const signed = transcript(PROTOCOL, 'msg', s.id, from, to, n, nonce, ciphertext)
  if (!(await identityKeyOf(from).verify(signed, unb64(frame.sig)))) throw new Error('bad signature')
  if (n <= s.lastSeq) throw new Error('replayed or out-of-order sequence number')
  if (nonce.byteLength !== 12 || ciphertext.byteLength < 16) throw new Error('malformed message')
  try {
    const decipher = createDecipheriv('aes-256-gcm', s.receiveKey, nonce)
    decipher.setAAD(transcript(PROTOCOL, s.id, from, to, n))
    decipher.setAuthTag(ciphertext.subarray(-16))
    const plain = Buffer.concat([decipher.update(ciphertext.subarray(0, -16)), decipher.final()])
    s.lastSeq = n
    return new TextDecoder('utf-8', { fatal: true }).decode(plain)
  } catch {
    throw new Error('decryption failed')
  }
}

/** Decode a frame's bytes: a JSON object, or throws. */
function parseFrame(bytes: Uint8Array): Record<string, unknown> {
  const value: unknown = JSON.parse(new TextDecoder().decode(bytes))
  if (typeof value !== 'object' || value == null) throw new Error('frame is not a JSON object')
  return value as Record<string, unknown>
}

/** Read one JSON frame. */
async function readFrame(
  lp: LengthPrefixedStream<Stream>,
  signal: AbortSignal
): Promise<Record<string, unknown>> {
  return parseFrame((await lp.read({ signal })).subarray())
}

/** Write one JSON frame. */
async function writeFrame(
  lp: LengthPrefixedStream<Stream>,
  frame: Record<string, unknown>,
  signal: AbortSignal
): Promise<void> {
  await lp.write(utf8(JSON.stringify(frame)), { signal })
}

const { values } = parseCommandLine(() =>
  parseArgs({
    options: {
      name: { type: 'string', default: 'peer' },
      listen: {
        type: 'string',
        multiple: true,
        default: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1']
      },
      bootstrap: { type: 'string', multiple: true, default: [] },
      to: { type: 'string', multiple: true, default: [] },
      message: { type: 'string', multiple: true, default: [] },
      expect: { type: 'string', default: '0' },
      tamper: { type: 'string', multiple: true, default: [] },
      'key-file': { type: 'string' },
      'timeout-ms': { type: 'string', default: '30000' }
    }
  })
)

/** Our identity key: from `--key-file` if it exists (written there if not), else a new one. */
async function loadIdentity(): Promise<PrivateKey> {
  const path = values['key-file']
  if (path != null) {
    const stored = await readFile(path).catch(() => undefined)
    if (stored != null) return privateKeyFromProtobuf(stored)
  }
  const key = await generateKeyPair('Ed25519')
  if (path != null) await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}

const tampering = new Map<number, Tamper>(
  values.tamper.map((t) => {
    const [seq, kind = 'ciphertext'] = t.split(':')
    if (kind !== 'ciphertext' && kind !== 'resign') {
      usageError(`--tamper kind must be ciphertext or resign, not "${kind}"`)
    }
    if (!Number.isSafeInteger(Number(seq)) || Number(seq) < 1) {
      usageError(`--tamper takes a message number (1, 2, …), not "${seq}"`)
    }
    return [Number(seq), kind]
  })
)
const expect = wholeNumber('expect', values.expect)
const shutdown = new AbortController()
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => shutdown.abort(new Error(sig)))
const signal = AbortSignal.any([
  shutdown.signal,
  AbortSignal.timeout(wholeNumber('timeout-ms', values['timeout-ms']))
])

const identity = await loadIdentity()
// Create a secure messaging peer (Noise is the only connection encrypter of an ipfs-kit peer)
const peer = new IPFSLibp2pPeer({
  role: 'worker',
  profile: 'local',
  listenAddrs: values.listen,
  bootstrapPeers: values.bootstrap,
  privateKey: identity
})
await peer.start()
const me: Me = { id: peer.peerId.toString(), identity, x25519: generateKeyPairSync('x25519') }

let received = 0
let allReceived: () => void = () => {}
const receivedAll = new Promise<void>((resolve) => {
  allReceived = resolve
})

/** Handle incoming messages: handshake, then verify, decrypt and acknowledge each one. */
async function handleMessageStream(stream: Stream, connection: Connection): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
  try {
    const session = await accept(me, await readFrame(lp, signal), connection.remotePeer)
    await writeFrame(lp, await hello(me), signal)
    emit('session', {
      peer: session.peer,
      encryption: connection.encryption,
      addr: connection.remoteAddr.toString(),
      direction: 'inbound'
    })
    for (;;) {
      // the end of the stream ends the session; a bad frame is one more rejected message
      const bytes = await lp.read({ signal }).catch(() => undefined)
      if (bytes == null) break
      let frame: Record<string, unknown> = {}
      try {
        frame = parseFrame(bytes.subarray())
        if (frame.type === 'bye') break
      } catch {
        // `open` rejects it as malformed
      }
      const seq = frame.seq
      try {
        const text = await open(me, session, frame)
        emit('message', { from: session.peer, seq, text })
        await writeFrame(lp, { type: 'ack', seq, ok: true }, signal)
      } catch (err) {
        const reason = (err as Error).message
        emit('rejected', { from: session.peer, seq, reason })
        await writeFrame(lp, { type: 'ack', seq, ok: false, reason }, signal)
      }
      received++
    }
    await stream.close()
    // done once the sender has said goodbye, so it is never cut off mid-session
    if (expect > 0 && received >= expect) allReceived()
  } catch (err) {
    emit('session-failed', { peer: connection.remotePeer.toString(), reason: (err as Error).message })
    stream.abort(err as Error)
  }
}

// Register protocol handler
await peer.handle(PROTOCOL, handleMessageStream)
emit('ready', { name: values.name, peerId: me.id, addrs: peer.getMultiaddrs().map((ma) => ma.toString()) })

/** Send messages to a peer over one session; whether each came out as intended. */
async function sendMessages(to: string): Promise<boolean> {
  const stream = await peer.dialProtocol(to, PROTOCOL, { signal })
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
  await writeFrame(lp, await hello(me), signal)
  const connection = peer.host.getConnections(peerIdFromString(to))[0]
  const session = await accept(me, await readFrame(lp, signal), peerIdFromString(to))
  emit('session', {
    peer: to,
    encryption: connection?.encryption,
    addr: connection?.remoteAddr.toString(),
    direction: 'outbound'
  })
  let asIntended = true
  for (const [i, text] of values.message.entries()) {
    const seq = i + 1
    const tamper = tampering.get(seq)
    await writeFrame(lp, await seal(me, session, seq, text, tamper), signal)
    const ack = await readFrame(lp, signal)
    emit('sent', { to, seq, tampered: tamper ?? false, delivered: ack.ok === true, reason: ack.reason })
    if ((ack.ok === true) !== (tamper == null)) asIntended = false
  }
  await writeFrame(lp, { type: 'bye' }, signal)
    .then(() => stream.close({ signal }))
    .catch((err: Error) => emit('close-failed', { to, reason: err.message }))
  return asIntended
}

let ok = true
try {
  // Start discovery to find other messaging peers (retried: the rendezvous record may not be there yet)
  let found: string[] = []
  for (let attempt = 1; !signal.aborted; attempt++) {
    const result = await peer.startDiscovery(
      { rendezvous: RENDEZVOUS },
      { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) }
    )
    found = result.peers.map((p) => p.toString())
    emit('discovered', { rendezvous: result.rendezvous, peers: found, attempt })
    if (values.message.length === 0 || found.length > 0 || values.to.length > 0) break
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  for (const to of values.to.length > 0 ? values.to : found) ok = (await sendMessages(to)) && ok
  if (expect > 0)
    await Promise.race([receivedAll, new Promise((resolve) => signal.addEventListener('abort', resolve))])
  if (expect > 0 && received < expect) throw new Error(`received ${received} of ${expect} messages`)
} catch (err) {
  ok = false
  process.stderr.write(`Error: ${(err as Error).message}\n`)
} finally {
  await peer.stop()
  emit('stopped', { ok, received })
}
process.exitCode = ok ? 0 : 1
setTimeout(() => process.exit(), 2000).unref()
