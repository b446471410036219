/**
 * Reading and changing a repo's config file as Kubo's `config` and `bootstrap` commands do:
 * dotted keys, whole-file replacement, the bootstrap list. Every change is checked against the
 * config's types before anything is written, and written whole (a reader sees the old file or
 * the new one). A running node keeps the config it started with: changes apply on restart.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { PUBLIC_BOOTSTRAP_PEERS, REPO_SECRET_FILE_MODE } from '../constants.ts'
import { ConfigKeyError, InvalidConfigError, InvalidMultiaddrError, RepoError } from '../errors.ts'
import { defaultConfig, type KitConfig, parseConfig } from './config.ts'
import { writeFileAtomic } from './repo.ts'

/** A JSON value as a config holds it. */
export type ConfigValue = string | number | boolean | null | ConfigValue[] | { [key: string]: ConfigValue }

type JsonObject = { [key: string]: ConfigValue }

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Every key the config's types have (a full config of the `local` profile, for its shape). */
const SCHEMA = defaultConfig({ PeerID: '', PrivKey: '' }, { profile: 'local' }) as unknown as JsonObject

/** The private key is never shown or set through a command (Kubo's rule). */
const PRIVATE_KEY = 'Identity.PrivKey'

/** Changes to one config file, one at a time (keyed by file; as many entries as repos open). */
const writing = new Map<string, Promise<unknown>>()

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'object' : typeof v
}

/** The path of a dotted key, checked against the config's types. */
function keyPath(key: string): string[] {
  const parts = key.split('.')
  if (key === '' || parts.some((p) => p === '')) {
    throw new ConfigKeyError(`"${key}" is not a config key: use dotted names such as Addresses.API`)
  }
  let node: ConfigValue = SCHEMA
  for (const [i, part] of parts.entries()) {
    if (!isObject(node) || !Object.hasOwn(node, part)) {
      const at = parts.slice(0, i).join('.')
      const has = isObject(node) ? Object.keys(node).join(', ') : 'no keys'
      throw new ConfigKeyError(
        `the config has no key "${key}" (${at === '' ? 'its sections are' : `${at} has`} ${has})`
      )
    }
    node = node[part] as ConfigValue
  }
  return parts
}

/** Keys of `value` that the config's types do not have (at any depth of an object section). */
function unknownKeys(value: JsonObject, schema: JsonObject, prefix = ''): string[] {
  const out: string[] = []
  for (const [k, v] of Object.entries(value)) {
    const name = prefix === '' ? k : `${prefix}.${k}`
    if (!Object.hasOwn(schema, k)) out.push(name)
    else {
      const s = schema[k]
      if (isObject(s) && isObject(v)) out.push(...unknownKeys(v, s, name))
    }
  }
  return out
}

/**
 * A repo's config file, read and changed as Kubo's `config` commands do. Nothing is cached:
 * every call reads the file, so a change shows at once (the node itself applies it on restart).
 *
 * @example
 * ```ts
 * const config = new ConfigEditor(kit.repo.path)
 * await config.get('Addresses.API') // '/ip4/127.0.0.1/tcp/5001'
 * await config.set('Discovery.MDNS.Enabled', false)
 * ```
 */
export class ConfigEditor {
  readonly file: string

  constructor(repoPath: string) {
    this.file = join(repoPath, 'config')
  }

  /** The config as stored (checked), private key included. */
  async #read(): Promise<KitConfig> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      throw new RepoError(`cannot read the config file ${this.file}: ${(err as Error).message}`, {
        cause: err
      })
    }
    return parseConfig(text, this.file)
  }

  /** Run a read-modify-write of the file after the ones before it. */
  async #change<T>(fn: (config: KitConfig) => Promise<{ config: KitConfig; result: T }>): Promise<T> {
    const previous = writing.get(this.file) ?? Promise.resolve()
    const run = previous.then(async () => {
      const { config, result } = await fn(await this.#read())
      await writeFileAtomic(this.file, `${JSON.stringify(config, null, 2)}\n`, {
        mode: REPO_SECRET_FILE_MODE
      })
      return result
    })
    const settled = run.catch(() => undefined)
    writing.set(this.file, settled)
    void settled.then(() => {
      if (writing.get(this.file) === settled) writing.delete(this.file)
    })
    return run
  }

  /** The whole config, without the private key (Kubo's `config show`). */
  async show(): Promise<Omit<KitConfig, 'Identity'> & { Identity: { PeerID: string } }> {
    const config = await this.#read()
    return { ...config, Identity: { PeerID: config.Identity.PeerID } }
  }

  /** The value of a dotted key. @throws {ConfigKeyError} for a key the config does not have, or the private key */
  async get(key: string): Promise<ConfigValue> {
    if (key === PRIVATE_KEY) throw new ConfigKeyError('the private key cannot be shown through a command')
    const path = keyPath(key)
    let node: unknown = await this.#read()
    for (const part of path) node = isObject(node) ? node[part] : undefined
    if (node === undefined) throw new ConfigKeyError(`the config has no value at "${key}"`)
    return node as ConfigValue
  }

  /**
   * Set a dotted key to a value of the type the config has there; the config is checked whole
   * before it is written.
   * @throws {ConfigKeyError} for an unknown key or `Identity.*`
   * @throws {InvalidConfigError} for a value of the wrong type or that does not check
   */
  async set(key: string, value: ConfigValue): Promise<ConfigValue> {
    const path = keyPath(key)
    if (path[0] === 'Identity') {
      throw new ConfigKeyError(`${key} cannot be changed through a command (it is the node's identity)`)
    }
    return this.#change(async (config) => {
      const raw = JSON.parse(JSON.stringify(config)) as JsonObject
      let node: JsonObject = raw
      for (const part of path.slice(0, -1)) {
        const next = node[part]
        if (!isObject(next)) throw new ConfigKeyError(`the config has no value at "${key}"`)
        node = next
      }
      const last = path.at(-1) as string
      const expected = kindOf(node[last] ?? SCHEMA[last])
      if (kindOf(value) !== expected) {
        throw new InvalidConfigError(
          `${key} takes a ${expected}, not a ${kindOf(value)}${expected === 'boolean' ? ' (pass --bool, or --json)' : expected === 'list' || expected === 'object' ? ' (pass --json)' : ''}`
        )
      }
      node[last] = value
      return { config: this.#check(raw), result: value }
    })
  }

  /**
   * Replace the whole config (Kubo's `config replace`): the identity stays (a new one may not
   * carry a private key, nor another peer id); any key the config's types lack, or any value
   * that does not check, refuses the whole file and leaves the config as it was.
   */
  async replace(value: unknown): Promise<void> {
    if (!isObject(value)) throw new InvalidConfigError('the new config must be a JSON object')
    const identity = value.Identity
    if (isObject(identity) && identity.PrivKey != null) {
      throw new InvalidConfigError(
        'the new config may not hold a private key: setting Identity.PrivKey is not supported'
      )
    }
    const unknown = unknownKeys(value, SCHEMA)
    if (unknown.length > 0) {
      throw new InvalidConfigError(
        `the new config has keys this node does not know: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`
      )
    }
    await this.#change(async (config) => {
      if (isObject(identity) && identity.PeerID != null && identity.PeerID !== config.Identity.PeerID) {
        throw new InvalidConfigError(
          `the new config names another peer (${String(identity.PeerID)}); this repo's is ${config.Identity.PeerID}`
        )
      }
      const next = { ...value, Identity: { ...config.Identity } }
      return { config: this.#check(next), result: undefined }
    })
  }

  /** The whole config checked as a file would be, as an {@link InvalidConfigError}. */
  #check(raw: unknown): KitConfig {
    try {
      return parseConfig(JSON.stringify(raw), this.file)
    } catch (err) {
      const message = (err as Error).message.replace(/^the config file .* is invalid: /, '')
      throw new InvalidConfigError(`refused, the config is unchanged: ${message}`, { cause: err })
    }
  }

  /** The bootstrap list. */
  async bootstrapList(): Promise<string[]> {
    return [...(await this.#read()).Bootstrap]
  }

  /**
   * Add peers to the bootstrap list (each a multiaddr ending in `/p2p/<id>`); with `defaults`,
   * the public IPFS bootstrap peers. Returns those added (not already listed).
   */
  async bootstrapAdd(addrs: string[], options: { defaults?: boolean } = {}): Promise<string[]> {
    const wanted = [...(options.defaults === true ? PUBLIC_BOOTSTRAP_PEERS : []), ...addrs.map(bootstrapAddr)]
    return this.#change(async (config) => {
      const added = wanted.filter((a, i) => !config.Bootstrap.includes(a) && wanted.indexOf(a) === i)
      config.Bootstrap.push(...added)
      return { config, result: added }
    })
  }

  /** Remove peers from the bootstrap list (`all`: every one). Returns those removed. */
  async bootstrapRm(addrs: string[], options: { all?: boolean } = {}): Promise<string[]> {
    const gone = addrs.map(bootstrapAddr)
    return this.#change(async (config) => {
      const removed = config.Bootstrap.filter((a) => options.all === true || gone.includes(a))
      config.Bootstrap = config.Bootstrap.filter((a) => !removed.includes(a))
      return { config, result: removed }
    })
  }
}

/** A bootstrap address: a multiaddr with the peer id (`/p2p/<id>`), in its canonical form. */
export function bootstrapAddr(addr: string): string {
  let ma: ReturnType<typeof multiaddr>
  try {
    ma = multiaddr(addr)
  } catch (err) {
    throw new InvalidMultiaddrError(`"${addr}" is not a valid multiaddr: ${(err as Error).message}`, {
      cause: err
    })
  }
  if (ma.getComponents().find((c) => c.name === 'p2p') == null) {
    throw new InvalidMultiaddrError(`bootstrap address "${addr}" must end with /p2p/<peer id>`)
  }
  return ma.toString()
}
