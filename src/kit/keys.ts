/**
 * The repo's keys for IPNS (`ipfs key …`): libp2p's keychain (`@ipshipyard/keychain`, the one
 * `@helia/ipns` signs with) in the repo's datastore, each key encrypted at rest (AES-GCM under
 * a key derived from the node's identity, which only the repo's 0600 config holds). The node's
 * own identity is the key `self`: listed and used as any other, never stored twice, never
 * removed or renamed.
 *
 * @packageDocumentation
 */
import { createPrivateKey, hkdfSync, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { CryptoLoader, Keychain, PrivateKey, PublicKey } from '@helia/interface'
import { keychain as createKeychain } from '@ipshipyard/keychain'
import {
  privateKeyFromProtobuf as libp2pKeyFromProtobuf,
  privateKeyFromRaw,
  privateKeyToProtobuf
} from '@libp2p/crypto/keys'
import type { AbortOptions, PrivateKey as Libp2pPrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { NamespaceDatastore } from 'datastore-core'
import { type Datastore, Key } from 'interface-datastore'
import { base64url } from 'multiformats/bases/base64'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import { DEFAULT_RSA_KEY_BITS, MAX_RSA_KEY_BITS, MIN_RSA_KEY_BITS, SELF_KEY_NAME } from '../constants.ts'
import { InvalidKeyError, InvalidParametersError, KeyExistsError, KeyNotFoundError } from '../errors.ts'

export type { PrivateKey, PublicKey } from '@helia/interface'

/** Key types `key gen` makes (Kubo's names). */
export type KeyType = 'ed25519' | 'rsa'

/** Key file formats of `key import` and `key export` (Kubo's names). */
export type KeyFormat = 'libp2p-protobuf-cleartext' | 'pem-pkcs8-cleartext'

/** The key file format when none is given (Kubo's). */
export const DEFAULT_KEY_FORMAT: KeyFormat = 'libp2p-protobuf-cleartext'

const KEY_FORMATS: ReadonlySet<string> = new Set<KeyFormat>([
  'libp2p-protobuf-cleartext',
  'pem-pkcs8-cleartext'
])

/** One key of the keychain. */
export interface KeyEntry {
  name: string
  publicKey: PublicKey
  /** the key's IPNS name: a CIDv1 with the libp2p-key codec (print it with `base36` as Kubo) */
  id: CID
}

/** Options of {@link KeyStore.gen}. */
export interface KeyGenOptions extends AbortOptions {
  /** @default 'ed25519' */
  type?: KeyType
  /** RSA only: bits @default DEFAULT_RSA_KEY_BITS (2048) */
  size?: number
}

/** Options of {@link KeyStore.import}. */
export interface KeyImportOptions extends AbortOptions {
  /** @default DEFAULT_KEY_FORMAT ('libp2p-protobuf-cleartext') */
  format?: KeyFormat
  /** take key types other than Ed25519 and RSA (ECDSA) @default false */
  allowAnyKeyType?: boolean
}

/** What a {@link KeyStore} works on. */
export interface KeyStoreComponents {
  /** the repo's datastore: keys live under `/keystore` in it */
  datastore: Datastore
  /** Helia's crypto implementations (`helia.getCrypto`) */
  getCrypto: CryptoLoader
  /** the node's identity: the key `self`, and the secret the keychain's password is derived from */
  identity: Libp2pPrivateKey
}

/** Where the keychain's records live in the repo's datastore. */
const KEYSTORE_PREFIX = new Key('/keystore')

/**
 * The keychain's password and salt, derived from the identity (HKDF-SHA-256): a copy of the
 * datastore alone does not give the keys away. A new identity needs the keys re-encrypted.
 */
function keychainSecret(identity: Libp2pPrivateKey): { password: string; salt: string } {
  const ikm = privateKeyToProtobuf(identity)
  const derive = (info: string, bytes: number): string =>
    base64url.baseEncode(new Uint8Array(hkdfSync('sha256', ikm, 'ipfs-kit/keychain', info, bytes)))
  return { password: derive('password', 32), salt: derive('salt', 16) }
}

function keyTypeName(type: string): string {
  return type === 'Ed25519' ? 'ed25519' : type === 'RSA' ? 'rsa' : type.toLowerCase()
}

/** Bits of an RSA key (its modulus), from its JWK. */
function rsaBits(jwk: JsonWebKey): number {
  return base64url.baseDecode(jwk.n ?? '').byteLength * 8
}

/** A name the keychain can keep, as Kubo's keystore checks (and the keychain's file-name rules). */
function checkName(name: string, what = 'key name'): string {
  if (typeof name !== 'string' || name === '') throw new InvalidParametersError(`the ${what} is empty`)
  if (name.includes('/')) throw new InvalidParametersError(`${what} "${name}" may not contain "/"`)
  if (name.startsWith('.')) throw new InvalidParametersError(`${what} "${name}" may not begin with "."`)
  const control = [...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
  if (name !== name.trim() || control || /[<>:"\\|?*]/.test(name) || name.length > 255) {
    throw new InvalidParametersError(
      `${what} ${JSON.stringify(name)} holds characters a key name may not hold (control characters, <>:"\\|?*, surrounding spaces)`
    )
  }
  return name
}

/**
 * The repo's keys (`key gen|list|rm|rename|import|export`), and the keychain `@helia/ipns`
 * signs records with ({@link KeyStore.keychain}).
 *
 * @example
 * ```ts
 * const { id } = await kit.keys.gen('blog')
 * console.log(id.toString(base36)) // k51…, the key's IPNS name
 * ```
 */
export class KeyStore {
  readonly #store: Keychain
  readonly #getCrypto: CryptoLoader
  readonly #identity: Libp2pPrivateKey
  #self?: Promise<PrivateKey>
  /** The keychain with `self` answered by the node's identity: what `@helia/ipns` gets. */
  readonly keychain: Keychain

  constructor(components: KeyStoreComponents) {
    this.#getCrypto = components.getCrypto
    this.#identity = components.identity
    this.#store = createKeychain({ ...keychainSecret(components.identity), selfKey: SELF_KEY_NAME })({
      datastore: new NamespaceDatastore(components.datastore, KEYSTORE_PREFIX),
      getCrypto: components.getCrypto
    })
    const store = this.#store
    this.keychain = {
      generateKey: async (name, options) => store.generateKey(name, options),
      importKey: async (name, key, options) => store.importKey(name, key, options),
      exportKey: async (name, options) =>
        name === SELF_KEY_NAME ? this.#selfKey() : store.exportKey(name, options),
      removeKey: async (name, options) => store.removeKey(name, options),
      renameKey: async (from, to, options) => store.renameKey(from, to, options),
      listKeys: (options) => store.listKeys(options),
      rotateKeychainPass: async (password, options) => store.rotateKeychainPass(password, options),
      loadPublicKeyFromProtobuf: async (buf, options) => store.loadPublicKeyFromProtobuf(buf, options)
    }
  }

  /** The identity as the keychain's kind of key. */
  async #selfKey(): Promise<PrivateKey> {
    this.#self ??= (async () => {
      const crypto = await this.#getCrypto(this.#identity.type)
      return crypto.privateKeyFromProtobuf(privateKeyToProtobuf(this.#identity))
    })()
    return this.#self
  }

  async #has(name: string, options?: AbortOptions): Promise<boolean> {
    if (name === SELF_KEY_NAME) return true
    try {
      await this.#store.exportKey(name, options)
      return true
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') return false
      throw err
    }
  }

  async #entry(name: string, key: PrivateKey): Promise<KeyEntry> {
    return { name, publicKey: key.publicKey, id: key.publicKey.toCID() }
  }

  /**
   * A private key by name, or by id (its IPNS name in any CID form, or a peer id), as
   * `name publish --key` takes it.
   * @throws {KeyNotFoundError}
   */
  async get(nameOrId: string, options: AbortOptions = {}): Promise<{ name: string; key: PrivateKey }> {
    if (nameOrId === SELF_KEY_NAME) return { name: SELF_KEY_NAME, key: await this.#selfKey() }
    try {
      return { name: nameOrId, key: await this.#store.exportKey(checkName(nameOrId), options) }
    } catch (err) {
      if ((err as Error).name !== 'NotFoundError' && (err as Error).name !== 'InvalidParametersError') {
        throw err
      }
    }
    const id = parseKeyId(nameOrId)
    if (id != null) {
      for (const entry of await this.list(options)) {
        if (equals(entry.id.multihash.bytes, id.multihash.bytes)) {
          return { name: entry.name, key: (await this.get(entry.name, options)).key }
        }
      }
    }
    throw new KeyNotFoundError(`no key named "${nameOrId}" was found: see \`ipfs-kit key list\``)
  }

  /** Make a key (`key gen`). @throws {KeyExistsError} @throws {InvalidParametersError} */
  async gen(name: string, options: KeyGenOptions = {}): Promise<KeyEntry> {
    if (name === SELF_KEY_NAME) throw new KeyExistsError(`cannot create key with name '${SELF_KEY_NAME}'`)
    checkName(name)
    const type = options.type ?? 'ed25519'
    if (type !== 'ed25519' && type !== 'rsa') {
      throw new InvalidParametersError(`unrecognized key type: ${String(type)} (use ed25519 or rsa)`)
    }
    if (type === 'ed25519' && options.size != null) {
      throw new InvalidParametersError('--size is for RSA keys: an ed25519 key has one size')
    }
    const bits = options.size ?? DEFAULT_RSA_KEY_BITS
    if (
      type === 'rsa' &&
      (!Number.isSafeInteger(bits) || bits < MIN_RSA_KEY_BITS || bits > MAX_RSA_KEY_BITS)
    ) {
      throw new InvalidParametersError(
        `rsa keys must be from ${MIN_RSA_KEY_BITS} to ${MAX_RSA_KEY_BITS} bits, not ${bits}`
      )
    }
    if (await this.#has(name, options)) throw exists(name)
    const key = await this.#store.generateKey(name, {
      ...options,
      type: type === 'rsa' ? 'RSA' : 'Ed25519',
      ...(type === 'rsa' ? { bits } : {})
    })
    return this.#entry(name, key)
  }

  /** Every key, `self` first, then by name (`key list`). */
  async list(options: AbortOptions = {}): Promise<KeyEntry[]> {
    const names: string[] = []
    for await (const info of this.#store.listKeys(options)) names.push(info.name)
    names.sort()
    const out = [await this.#entry(SELF_KEY_NAME, await this.#selfKey())]
    for (const name of names) {
      if (name === SELF_KEY_NAME) continue
      out.push(await this.#entry(name, await this.#store.exportKey(name, options)))
    }
    return out
  }

  /** Remove a key (`key rm`); the removed key. @throws {KeyNotFoundError} */
  async rm(name: string, options: AbortOptions = {}): Promise<KeyEntry> {
    if (name === SELF_KEY_NAME)
      throw new InvalidParametersError(`cannot remove key with name '${SELF_KEY_NAME}'`)
    const { key } = await this.#named(name, options)
    await this.#store.removeKey(name, options)
    return this.#entry(name, key)
  }

  /**
   * Rename a key (`key rename`); `force` replaces a key of the new name. Returns the key and
   * whether one was replaced. @throws {KeyNotFoundError} @throws {KeyExistsError}
   */
  async rename(
    from: string,
    to: string,
    options: AbortOptions & { force?: boolean } = {}
  ): Promise<{ entry: KeyEntry; overwritten: boolean }> {
    if (from === SELF_KEY_NAME)
      throw new InvalidParametersError(`cannot rename key with name '${SELF_KEY_NAME}'`)
    if (to === SELF_KEY_NAME)
      throw new InvalidParametersError(`cannot overwrite key with name '${SELF_KEY_NAME}'`)
    checkName(to, 'new key name')
    const { key } = await this.#named(from, options)
    if (from === to) return { entry: await this.#entry(to, key), overwritten: false }
    const overwritten = await this.#has(to, options)
    if (overwritten) {
      if (options.force !== true) throw exists(to, 'pass --force to replace it')
      await this.#store.removeKey(to, options)
    }
    await this.#store.renameKey(from, to, options)
    return { entry: await this.#entry(to, key), overwritten }
  }

  /** Import a key file (`key import`). @throws {KeyExistsError} @throws {InvalidKeyError} */
  async import(name: string, bytes: Uint8Array, options: KeyImportOptions = {}): Promise<KeyEntry> {
    if (name === SELF_KEY_NAME)
      throw new InvalidParametersError(`cannot import key with name '${SELF_KEY_NAME}'`)
    checkName(name)
    const format = checkFormat(options.format)
    const libp2pKey = format === 'pem-pkcs8-cleartext' ? keyFromPem(bytes) : keyFromProtobuf(bytes)
    const allowed = libp2pKey.type === 'Ed25519' || libp2pKey.type === 'RSA'
    if (!allowed && options.allowAnyKeyType !== true) {
      throw new InvalidKeyError(
        `key type ${keyTypeName(libp2pKey.type)} is not allowed to be imported, only RSA or Ed25519 is allowed (--allow-any-key-type takes others)`
      )
    }
    let key: PrivateKey
    try {
      const crypto = await this.#getCrypto(libp2pKey.type, options)
      key = await crypto.privateKeyFromProtobuf(privateKeyToProtobuf(libp2pKey), options)
    } catch (err) {
      throw new InvalidKeyError(
        `${keyTypeName(libp2pKey.type)} keys cannot be kept in the keychain: ${(err as Error).message}`,
        {
          cause: err
        }
      )
    }
    if (key.type === 'RSA' && rsaBits(key.toJWK()) < MIN_RSA_KEY_BITS) {
      throw new InvalidKeyError(
        `rsa keys must be at least ${MIN_RSA_KEY_BITS} bits, this one has ${rsaBits(key.toJWK())}`
      )
    }
    if (await this.#has(name, options)) throw exists(name)
    await this.#store.importKey(name, key, options)
    return this.#entry(name, key)
  }

  /** A key's bytes in a key file format (`key export`). @throws {KeyNotFoundError} */
  async export(name: string, options: AbortOptions & { format?: KeyFormat } = {}): Promise<Uint8Array> {
    const format = checkFormat(options.format)
    const { key } = await this.#named(name, options)
    if (format === 'libp2p-protobuf-cleartext') return key.toProtobuf()
    let object: KeyObject
    try {
      object = createPrivateKey({ key: key.toJWK() as JsonWebKey, format: 'jwk' })
    } catch (err) {
      throw new InvalidKeyError(
        `a ${keyTypeName(key.type)} key cannot be written as PEM: ${(err as Error).message}`,
        {
          cause: err
        }
      )
    }
    return new TextEncoder().encode(object.export({ type: 'pkcs8', format: 'pem' }) as string)
  }

  /** A key by exact name. @throws {KeyNotFoundError} */
  async #named(name: string, options: AbortOptions): Promise<{ key: PrivateKey }> {
    if (name === SELF_KEY_NAME) return { key: await this.#selfKey() }
    checkName(name)
    try {
      return { key: await this.#store.exportKey(name, options) }
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') {
        throw new KeyNotFoundError(`no key named "${name}" was found: see \`ipfs-kit key list\``, {
          cause: err
        })
      }
      throw err
    }
  }
}

function exists(name: string, hint?: string): KeyExistsError {
  return new KeyExistsError(
    `key by that name already exists, refusing to overwrite: "${name}"${hint == null ? '' : ` (${hint})`}`
  )
}

function checkFormat(format: string | undefined): KeyFormat {
  const f = format ?? DEFAULT_KEY_FORMAT
  if (!KEY_FORMATS.has(f)) {
    throw new InvalidParametersError(
      `unrecognized key format "${f}": use libp2p-protobuf-cleartext or pem-pkcs8-cleartext`
    )
  }
  return f as KeyFormat
}

/** A key's id as `name publish --key` may give it: a peer id or a libp2p-key CID; else undefined. */
export function parseKeyId(text: string): CID | undefined {
  try {
    return peerIdFromString(text).toCID()
  } catch {
    // not a peer id in base58btc
  }
  try {
    const cid = CID.parse(text)
    return cid.code === LIBP2P_KEY_CODE ? cid : undefined
  } catch {
    return undefined
  }
}

/** The multicodec of a CID that names a key (its IPNS name). */
export const LIBP2P_KEY_CODE = 0x72

function keyFromProtobuf(bytes: Uint8Array): Libp2pPrivateKey {
  try {
    return libp2pKeyFromProtobuf(bytes)
  } catch (err) {
    throw new InvalidKeyError(
      `the key file is not a libp2p private key (libp2p-protobuf-cleartext): ${(err as Error).message}; for a PEM file pass --format pem-pkcs8-cleartext`,
      { cause: err }
    )
  }
}

function keyFromPem(bytes: Uint8Array): Libp2pPrivateKey {
  const text = new TextDecoder().decode(bytes)
  if (!/-----BEGIN PRIVATE KEY-----/.test(text)) {
    throw new InvalidKeyError(
      'the key file is not a PKCS #8 PEM private key (-----BEGIN PRIVATE KEY-----); an encrypted PEM is not read'
    )
  }
  let object: KeyObject
  try {
    object = createPrivateKey({ key: text, format: 'pem' })
  } catch (err) {
    throw new InvalidKeyError(`the PEM key cannot be read: ${(err as Error).message}`, { cause: err })
  }
  const type = object.asymmetricKeyType
  if (type === 'ed25519') {
    const jwk = object.export({ format: 'jwk' })
    return ed25519FromRaw(base64url.baseDecode(jwk.d ?? ''), base64url.baseDecode(jwk.x ?? ''))
  }
  if (type === 'rsa') {
    const bits = object.asymmetricKeyDetails?.modulusLength ?? 0
    if (bits < MIN_RSA_KEY_BITS) {
      throw new InvalidKeyError(`rsa keys must be at least ${MIN_RSA_KEY_BITS} bits, this one has ${bits}`)
    }
    return privateKeyFromRaw(new Uint8Array(object.export({ type: 'pkcs1', format: 'der' })))
  }
  throw new InvalidKeyError(
    `key type ${String(type)} is not allowed to be imported, only RSA or Ed25519 is allowed`
  )
}

/** An Ed25519 key from its seed and public key (libp2p's raw form: seed then public key). */
function ed25519FromRaw(seed: Uint8Array, publicKey: Uint8Array): Libp2pPrivateKey {
  if (seed.byteLength !== 32 || publicKey.byteLength !== 32) {
    throw new InvalidKeyError('the PEM ed25519 key is malformed')
  }
  const raw = new Uint8Array(64)
  raw.set(seed)
  raw.set(publicKey, 32)
  return privateKeyFromRaw(raw)
}
