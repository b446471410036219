import { mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddOptions as PinAddOptions, PutBlockProgressEvents } from '@helia/interface'
import { type UnixFS, unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { exporter } from 'ipfs-unixfs-exporter'
import { type ImportCandidateStream, type ImporterOptions, importer } from 'ipfs-unixfs-importer'
import createMortice, { type Mortice } from 'mortice'
import { base58btc } from 'multiformats/bases/base58'
import { base64 } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256 } from 'multiformats/hashes/sha2'
import PQueue from 'p-queue'
import { collectBytes } from '../blocks/bytes.ts'
import { Sha256Pool } from '../blocks/hasher.ts'
import { type DiskTierStore, TieredCache } from '../cache/index.ts'
import { type CIDOrPath, parseCID, parseCIDPath, toKitError } from '../cids.ts'
import { Cluster } from '../cluster/cluster.ts'
import type { ClusterInit } from '../cluster/types.ts'
import type { Profile, Role } from '../constants.ts'
import { DEFAULT_NETWORK_TIMEOUT_MS, ROLES } from '../constants.ts'
import { InvalidParametersError, NotFoundError, NotStartedError, TimeoutError } from '../errors.ts'
import { type FilesystemInit, IPFSFileSystem } from '../fs/index.ts'
import { MutableFileSystem } from '../fs/mfs.ts'
import type { LibP2PIntegration } from '../libp2p/integration/index.ts'
import { IPFSLibp2pPeer } from '../libp2p/peer/index.ts'
import { kitLogger } from '../logger.ts'
import { VERSION } from '../version.ts'
import { type PathSourceOptions, pathCandidates } from './add.ts'
import { carStream, dagBlocks, importCarBlocks } from './car.ts'
import { relayServiceLimitsOf } from './config.ts'
import { ConfigEditor } from './config-edit.ts'
import {
  type DagPutOptions,
  type DagStatSummary,
  dagPutBlock,
  dagStat,
  type RefEdge,
  type RefsOptions,
  refs
} from './dag.ts'
import { collectGarbage } from './gc.ts'
import { exportTo, lsFields } from './get.ts'
import { type AddOptions, kuboImport } from './importer.ts'
import { parseDagPath, type ResolvedPath, resolvePath } from './ipld.ts'
import { KeyStore } from './keys.ts'
import { parallelLeaves } from './leaves.ts'
import { NameService } from './names.ts'
import { type BitswapStat, bitswapStat } from './ops.ts'
import { AddedDag, pinRecursively } from './pinning.ts'
import { indirectPinOf, indirectPins } from './pins.ts'
import { PubsubHub } from './pubsub.ts'
import { RehashingSink } from './rehash.ts'
import { openRepo, type Repo } from './repo.ts'
import type {
  AddResult,
  BlockRmResult,
  DagImportResult,
  IdResult,
  LsEntry,
  PinEntry,
  PinType,
  PubsubHandler,
  RepoStat,
  SwarmPeer
} from './types.ts'
import {
  type PinVerifyResult,
  type RepoVerifyProgress,
  type VerifyOptions,
  verifyPins,
  verifyRepo
} from './verify.ts'
import { strictDepthFirstWalker } from './walker.ts'

export type { ConfigEditor, ConfigValue } from './config-edit.ts'
export type { DagPutOptions, DagStat, DagStatSummary, RefEdge, RefsOptions } from './dag.ts'
export type { AddOptions } from './importer.ts'
export type { ResolvedPath } from './ipld.ts'
export type { KeyEntry, KeyFormat, KeyGenOptions, KeyImportOptions, KeyType } from './keys.ts'
export { KeyStore } from './keys.ts'
export type {
  NamePublishOptions,
  NamePublishResult,
  NameResolveOptions
} from './names.ts'
export { ipnsName, NameService } from './names.ts'
export type { BandwidthStats, BitswapStat, PingResult } from './ops.ts'
export type * from './types.ts'
export type { BadNode, PinVerifyResult, RepoVerifyProgress, VerifyOptions } from './verify.ts'

/** Options of {@link ipfsKit}. Every option is optional. */
export interface IPFSKitInit {
  /** @default the repo's role, else DEFAULT_ROLE ('leecher') */
  role?: Role
  /** repo folder @default `$IPFS_KIT_PATH`, else the nearest `.ipfs-kit` here or above, else `~/.ipfs-kit` */
  repo?: string
  /** profile of a repo created now @default `$IPFS_KIT_PROFILE`, else 'public' */
  profile?: Profile
  /** no network: only local blocks @default false */
  offline?: boolean
  /** overrides the repo's swarm addresses for this run */
  listenAddrs?: string[]
  /** overrides the repo's bootstrap list for this run */
  bootstrapPeers?: string[]
  /** overrides the repo's kad-dht prefix for this run */
  dhtProtocolPrefix?: string
  /** bytes the cache keeps in memory @default the role's `memoryCacheBytes` (ROLES) */
  memoryCacheBytes?: number
  /**
   * bytes of unpinned fetched blocks kept on disk (the cache's disk tier, over the blockstore:
   * one copy), evicted by heat beyond it @default the role's `diskCacheBytes` (ROLES)
   */
  diskCacheBytes?: number
  /**
   * join (or, on a master, create) a cluster when the node starts (see `kit.cluster`; options
   * not given come from the repo's `cluster.json`) @default off (the daemon starts it when the
   * repo has a `cluster.json`)
   */
  cluster?: ClusterInit | false
  logger?: ComponentLogger
}

/** Options of a read (cat). */
export interface CatOptions extends AbortOptions {
  offset?: number
  length?: number
}

type BrokerRetrieve = (cid: CID, options?: AbortOptions) => Promise<Uint8Array>

function withTimeout(
  signal: AbortSignal | undefined,
  stop: AbortSignal,
  ms = DEFAULT_NETWORK_TIMEOUT_MS
): AbortSignal {
  const timeout = AbortSignal.timeout(ms)
  const own = new AbortController()
  timeout.addEventListener('abort', () => own.abort(new TimeoutError(`gave up after ${ms / 1000}s`)), {
    once: true
  })
  return AbortSignal.any([own.signal, stop, ...(signal == null ? [] : [signal])])
}

/**
 * An IPFS node on a local repo, with the seed's API: add and read content with
 * Kubo-identical CIDs, pin, pubsub, swarm, and (through {@link IPFSLibp2pPeer}) the
 * standard libp2p and bitswap protocols.
 *
 * @example
 * ```ts
 * const kit = await ipfsKit({ repo: './repo', profile: 'local' })
 * const { Hash } = await kit.ipfsAddString('Hello from IPFS!')
 * console.log(new TextDecoder().decode(await kit.ipfsCat(Hash)))
 * await kit.stop()
 * ```
 */
export class IPFSKit {
  readonly role: Role
  readonly repo: Repo
  readonly peer: IPFSLibp2pPeer
  readonly pubsub: PubsubHub
  /** The MFS (Kubo's `ipfs files`): a folder tree whose root is kept in the repo and by `gc`. */
  readonly files: MutableFileSystem
  /** The repo's keys (`key gen|list|rm|rename|import|export`); `self` is the node's identity. */
  readonly keys: KeyStore
  /** IPNS names (`name publish|resolve`, `resolve`, `routing get|put` of `/ipns/` records). */
  readonly names: NameService
  /** The cluster this node is a member of (a replicated pinset; running once started). */
  readonly cluster: Cluster
  readonly #log: Logger
  readonly #fs: UnixFS
  readonly #provides = new PQueue({ concurrency: 4 })
  readonly #logger: ComponentLogger
  /**
   * Kubo's GC lock: adds and pins hold it shared from their first block to their pin record,
   * `gc` holds it alone, so a gc never removes what an add or a pin in progress has written.
   */
  readonly #gcLock: Mortice
  /** hashes the leaves of adds on worker threads (started on the first large add) */
  readonly #hashPool = new Sha256Pool()
  /** pin records written from an add's output, one batch after the other */
  #pinWrites: Promise<unknown> = Promise.resolve()
  readonly #cacheBytes: Pick<IPFSKitInit, 'memoryCacheBytes' | 'diskCacheBytes'>
  #cache?: TieredCache
  #cacheStarting?: Promise<TieredCache>
  #integration?: LibP2PIntegration
  #stopped = false

  /** Use {@link ipfsKit}: it opens the repo and starts the node. */
  constructor(
    repo: Repo,
    peer: IPFSLibp2pPeer,
    logger: ComponentLogger,
    cacheBytes: Pick<IPFSKitInit, 'memoryCacheBytes' | 'diskCacheBytes'> = {}
  ) {
    this.#cacheBytes = cacheBytes
    this.repo = repo
    this.peer = peer
    this.role = peer.role
    this.#log = logger.forComponent('kit')
    this.#logger = logger
    this.#fs = unixfs(peer.helia)
    this.pubsub = new PubsubHub(peer)
    this.cluster = new Cluster(this, logger.forComponent('kit:cluster'))
    this.files = new MutableFileSystem({
      blockstore: peer.helia.blockstore,
      datastore: repo.datastore,
      guard: (signal, fn) => this.#pinning(signal, fn),
      offline: () => peer.offline
    })
    this.keys = new KeyStore({
      datastore: repo.datastore,
      getCrypto: peer.helia.getCrypto,
      identity: repo.privateKey
    })
    this.names = new NameService({
      helia: peer.helia,
      keys: this.keys,
      ...(peer.offline ? {} : { libp2p: peer.host }),
      waitForBootstrap: async (options) => peer.waitForBootstrap(options),
      logger
    })
    // a name of its own: mortice keeps one lock per name in the process (Helia uses the default)
    this.#gcLock = createMortice({ name: `ipfs-kit:gc:${repo.path}:${++kitInstances}`, singleProcess: true })
    // a block that fails verification on read is fetched again through the node's storage
    repo.blockstore.setHealer(async (cid, options) => {
      if (peer.offline) throw new NotFoundError('the node is offline')
      // below Helia's lock: this runs inside a read that already holds it
      const storage = (
        peer.helia.blockstore as unknown as { unwrap(): IPFSLibp2pPeer['helia']['blockstore'] }
      ).unwrap()
      return collectBytes(storage.get(cid, options))
    })
    this.#indexFetchedBlocks()
  }

  /**
   * Every block the node's brokers fetch (Helia stores it in the blockstore) is indexed by the
   * cache's disk tier, which bounds unpinned fetched blocks by the role's disk budget and
   * evicts them by heat (the first fetch starts the cache). The router of a registered
   * integration, which takes the bitswap broker's place, reports its fetches itself.
   */
  #indexFetchedBlocks(): void {
    const brokers = (this.helia as { blockBrokers?: Array<{ retrieve?: BrokerRetrieve }> }).blockBrokers ?? []
    for (const broker of brokers) {
      const retrieve = broker.retrieve?.bind(broker)
      if (retrieve == null) continue
      broker.retrieve = async (cid, options) => {
        const block = await retrieve(cid, options)
        this.noteFetched(cid, block.byteLength)
        return block
      }
    }
  }

  /** A block fetched from the network is in the blockstore: index it in the cache (not awaited). */
  noteFetched(cid: CID, size: number): void {
    if (this.#stopped) return
    this.getCache()
      .then(async (cache) => cache.noteStored(cid, size))
      .catch((err: unknown) => {
        this.#log('could not index fetched block %c in the cache: %s', cid, (err as Error).message)
      })
  }

  /** Run `fn` holding the GC lock shared (an add, a pin): a `gc` waits until it ends. */
  async #pinning<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const release = await this.#gcLock.readLock({ signal })
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /** The Helia node underneath. */
  get helia(): IPFSLibp2pPeer['helia'] {
    return this.peer.helia
  }

  #signal(options?: AbortOptions, ms?: number): AbortSignal {
    if (this.#stopped) throw new NotStartedError('the kit is stopped')
    return withTimeout(options?.signal, this.peer.stopSignal, ms)
  }

  /** For work as long as the repo (gc, verify): the caller's signal and the node's stop, no deadline. */
  #untimedSignal(options?: AbortOptions): AbortSignal {
    if (this.#stopped) throw new NotStartedError('the kit is stopped')
    return AbortSignal.any([this.peer.stopSignal, ...(options?.signal == null ? [] : [options.signal])])
  }

  /** Import `source` as Kubo's `add` would, yielding each entry's result as it is done. */
  async *#importStream(
    source: Parameters<typeof importer>[0],
    name: string | undefined,
    options: AddOptions,
    overrides: { fileImportConcurrency?: number } = {}
  ): AsyncGenerator<AddResult> {
    const kubo = kuboImport(options)
    const importerOptions: Partial<ImporterOptions> = {
      ...kubo.importer,
      ...(kubo.parallelLeaves
        ? {
            // the same leaves as the importer's, hashed on worker threads with several in flight
            bufferImporter: parallelLeaves({
              cidVersion: kubo.importer.cidVersion === 1 ? 1 : 0,
              rawLeaves: kubo.importer.rawLeaves === true,
              pool: this.#hashPool,
              // neither the add's blockstore nor `onlyHash`'s keeps a reference to a block it was given
              freeStoredLeaves: true
            }),
            // the leaves keep their own window in flight (the importer's batches wait for each batch's slowest)
            blockWriteConcurrency: 1
          }
        : {}),
      ...overrides
    }
    const signal = options.signal ?? this.peer.stopSignal
    if (options.onlyHash === true) {
      yield* this.#import(source, name, options, importerOptions, kubo.hasher, signal)
      return
    }
    // Kubo's GC lock, held shared from the first block to the pin records
    const release = await this.#gcLock.readLock({ signal })
    try {
      yield* this.#import(source, name, options, importerOptions, kubo.hasher, signal)
    } finally {
      release()
    }
  }

  async #collect(results: AsyncIterable<AddResult>): Promise<AddResult[]> {
    const out: AddResult[] = []
    for await (const r of results) out.push(r)
    return out
  }

  async *#import(
    source: Parameters<typeof importer>[0],
    name: string | undefined,
    options: AddOptions,
    importerOptions: Partial<ImporterOptions>,
    hasher: MultihashHasher,
    signal: AbortSignal
  ): AsyncGenerator<AddResult> {
    // what the add writes, to pin its roots from without reading the DAG back
    const dag = options.onlyHash !== true && options.pin !== false ? new AddedDag() : undefined
    const store = options.onlyHash === true ? discardBlockstore : this.#addBlockstore(dag, signal)
    // a hash other than sha2-256: every block the importer makes is written again under it
    const rehash = hasher.code === sha256.code ? undefined : new RehashingSink(store, hasher)
    const wrapped = importerOptions.wrapWithDirectory === true
    // the entries that are roots of what was added: the wrapper, else each top-level entry
    const roots: CID[] = []
    let last: AddResult | undefined
    try {
      for await (const entry of importer(source, rehash ?? store, importerOptions)) {
        signal.throwIfAborted()
        const out = rehash?.translated(entry.cid)
        const cid = out?.cid ?? entry.cid
        // the importer's size is Kubo's `Size`: the entry's block and every block below it
        const Size = out?.size ?? Number(entry.size)
        const path = entry.path ?? name
        // an entry with no name is named by its CID; Kubo names `-w`'s wrapper ''
        const Name = path == null || path === '' ? (wrapped ? '' : cid.toString()) : path
        last = { Name, Hash: cid.toString(), Size, cid }
        if (path == null || (wrapped ? path === '' : !path.includes('/'))) roots.push(cid)
        yield last
      }
    } catch (err) {
      throw toKitError(err, 'add')
    }
    if (last == null) throw new InvalidParametersError('nothing to add')
    if (options.onlyHash === true) return
    for (const root of roots) {
      if (options.pin !== false) await this.#pinAdded(root, dag, signal)
      this.#announce(root)
    }
  }

  /**
   * Pin an add's root: from the add's own record of its DAG when it has one (no block read
   * back), else by walking the DAG on disk as `ipfsPinAdd` does.
   */
  async #pinAdded(root: CID, dag: AddedDag | undefined, signal: AbortSignal): Promise<void> {
    const blocks = dag?.blocksBelow(root)
    if (blocks == null) {
      await this.#pinAdd(root, { signal })
      return
    }
    // one batch at a time: each reads the records the one before may have written
    const write = this.#pinWrites.then(() => pinRecursively(this.helia.datastore, root, blocks, { signal }))
    this.#pinWrites = write.catch(() => undefined)
    try {
      await write
    } catch (err) {
      throw toKitError(err, `pin ${root}`, signal)
    }
  }

  /**
   * Where an add writes: the node's blockstore, except that a block already held is compared
   * with the new bytes and rewritten if its copy on disk went bad (the node's storage skips
   * a block it holds, so re-adding a file would otherwise leave it damaged). Every block
   * written is noted in `dag`, to pin from. Nothing on the way (Helia's storage, the verifying
   * store, the files) keeps a reference to a block once its put is done: the add frees each
   * leaf then (`freeStoredLeaves`), and a layer that kept one would see it emptied.
   */
  #addBlockstore(dag: AddedDag | undefined, signal: AbortSignal): Parameters<typeof importer>[1] {
    const helia = this.helia
    const store = this.repo.blockstore
    return {
      async put(
        cid: CID,
        bytes: Uint8Array,
        options?: AbortOptions & { onProgress?(evt: PutBlockProgressEvents): void }
      ): Promise<CID> {
        // one look for the block on disk, the node's storage's own: it tells when it holds it
        let held = false
        const onProgress = (evt: PutBlockProgressEvents): void => {
          if (evt.type === 'blocks:put:duplicate') held = true
          options?.onProgress?.(evt)
        }
        const opts = { ...options, signal: options?.signal ?? signal, onProgress }
        await helia.blockstore.put(cid, bytes, opts)
        if (held) await store.putOver(cid, bytes, opts)
        dag?.add(cid, bytes)
        return cid
      }
    } as unknown as Parameters<typeof importer>[1]
  }

  /** Masters and workers provide what they add; leechers take and do not reprovide. */
  #announce(cid: CID): void {
    if (!ROLES[this.role].reprovide || this.peer.offline) return
    void this.#provides
      .add(async () => {
        const signal = withTimeout(undefined, this.peer.stopSignal)
        await this.helia.routing.provide(cid, { signal })
      })
      .catch((err: Error) => this.#log('provide %c failed: %s', cid, err.message))
  }

  /** Add bytes (or a stream of bytes) as a UnixFS file. */
  async ipfsAddBytes(
    bytes: Uint8Array | AsyncIterable<Uint8Array>,
    options: AddOptions = {}
  ): Promise<AddResult> {
    if (
      !(bytes instanceof Uint8Array) &&
      typeof (bytes as AsyncIterable<Uint8Array>)?.[Symbol.asyncIterator] !== 'function'
    ) {
      throw new InvalidParametersError('ipfsAddBytes takes a Uint8Array or an AsyncIterable<Uint8Array>')
    }
    const results = await this.#collect(this.#importStream([{ content: bytes }], undefined, options))
    return results.at(-1)!
  }

  /** Add a string (UTF-8) as a UnixFS file. */
  async ipfsAddString(text: string, options: AddOptions = {}): Promise<AddResult> {
    if (typeof text !== 'string')
      throw new InvalidParametersError(`ipfsAddString takes a string, not ${typeof text}`)
    return this.ipfsAddBytes(new TextEncoder().encode(text), options)
  }

  /** Add a value as JSON text in a UnixFS file (read it back with `JSON.parse`). */
  async ipfsAddJson(value: unknown, options: AddOptions = {}): Promise<AddResult> {
    let text: string | undefined
    try {
      text = JSON.stringify(value)
    } catch (err) {
      throw new InvalidParametersError(`the value cannot be serialised to JSON: ${(err as Error).message}`, {
        cause: err
      })
    }
    if (text === undefined) {
      throw new InvalidParametersError(`a ${typeof value} cannot be serialised to JSON`)
    }
    return this.ipfsAddString(text, options)
  }

  /**
   * Add a local file, or a folder and everything in it; every entry's result is
   * returned, the root last (as `ipfs add -r`).
   */
  async ipfsAddPath(path: string, options: AddOptions & PathSourceOptions = {}): Promise<AddResult[]> {
    return this.#collect(this.ipfsAddPathStream(path, options))
  }

  /**
   * {@link ipfsAddPath}, each entry's result as soon as it is added (a file as it is done, a
   * folder after everything in it, the root last, pinned before the stream ends).
   *
   * @example
   * ```ts
   * for await (const added of kit.ipfsAddPathStream('./site')) console.log(added.Hash, added.Name)
   * ```
   */
  async *ipfsAddPathStream(
    path: string,
    options: AddOptions & PathSourceOptions = {}
  ): AsyncGenerator<AddResult> {
    const source = await pathCandidates(path, {
      hidden: options.hidden,
      onBytes: options.onProgress,
      onSkip: options.onSkip
    })
    yield* this.#importStream(source, '', options)
  }

  /**
   * Add files and folders given as importer candidates (`{ path, content }`; no content
   * for a folder), as the HTTP API's multipart `add` does. Files are read one after the
   * other, in order, so `source` may be a single stream. Every entry's result is
   * returned, the root last; an entry with no path is named by its CID.
   */
  async ipfsAddAll(source: ImportCandidateStream, options: AddOptions = {}): Promise<AddResult[]> {
    return this.#collect(this.ipfsAddAllStream(source, options))
  }

  /**
   * {@link ipfsAddAll}, each entry's result as soon as it is added (as Kubo's `add` streams
   * its `added` lines): files as they are done, folders after their content, the roots pinned
   * before the stream ends. Without `wrapWithDirectory`, every top-level entry is a root of its
   * own (pinned and announced).
   */
  async *ipfsAddAllStream(
    source: ImportCandidateStream,
    options: AddOptions = {}
  ): AsyncGenerator<AddResult> {
    // one file at a time: a multipart upload gives the next file only once this one is read
    yield* this.#importStream(source, '', options, { fileImportConcurrency: 1 })
  }

  /** Add a local file or folder; the root's result. */
  async ipfsAddFile(path: string, options: AddOptions & PathSourceOptions = {}): Promise<AddResult> {
    return (await this.ipfsAddPath(path, options)).at(-1)!
  }

  /** Read a file's bytes as a stream (whole, or `{ offset, length }`). */
  async *ipfsCatStream(path: CIDOrPath, options: CatOptions = {}): AsyncGenerator<Uint8Array> {
    const { cid, path: sub } = parseCIDPath(path)
    checkRange(options)
    const signal = this.#signal(options)
    try {
      yield* this.#fs.cat(cid, {
        path: sub,
        offset: options.offset,
        length: options.length,
        signal,
        offline: this.peer.offline
      })
    } catch (err) {
      throw toKitError(err, String(path), signal)
    }
  }

  /** Read a file's bytes (whole, or `{ offset, length }`). */
  async ipfsCat(path: CIDOrPath, options: CatOptions = {}): Promise<Uint8Array> {
    return collectBytes(this.ipfsCatStream(path, options))
  }

  /** Write a file or folder to a local path. */
  async ipfsGet(path: CIDOrPath, outPath: string, options: AbortOptions = {}): Promise<void> {
    const { cid, path: sub } = parseCIDPath(path)
    const signal = this.#signal(options)
    try {
      await exportTo(sub == null ? cid : `${cid}/${sub}`, this.helia.blockstore, outPath, {
        signal,
        offline: this.peer.offline
      })
    } catch (err) {
      throw toKitError(err, String(path), signal)
    }
  }

  /** List a folder. */
  async ipfsLs(path: CIDOrPath, options: AbortOptions = {}): Promise<LsEntry[]> {
    const { cid, path: sub } = parseCIDPath(path)
    const signal = this.#signal(options)
    const out: LsEntry[] = []
    try {
      for await (const entry of this.#fs.ls(cid, { path: sub, signal, offline: this.peer.offline })) {
        const node = await exporter(entry.cid, this.helia.blockstore, { signal, offline: this.peer.offline })
        out.push({
          Name: entry.name,
          Hash: entry.cid.toString(),
          ...lsFields(node),
          cid: entry.cid
        })
      }
    } catch (err) {
      throw toKitError(err, String(path), signal)
    }
    return out
  }

  /** Pin a CID (recursively by default): its blocks are fetched if missing and kept by `gc`. */
  async ipfsPinAdd(path: CIDOrPath, options: AbortOptions & { recursive?: boolean } = {}): Promise<CID> {
    const cid = parseCID(typeof path === 'string' ? parseCIDPath(path).cid : path)
    const signal = this.#signal(options)
    return this.#pinning(signal, () => this.#pinAdd(cid, { ...options, signal }))
  }

  /** Pin with the GC lock already held. */
  async #pinAdd(
    cid: CID,
    options: AbortOptions & { recursive?: boolean; signal: AbortSignal; offline?: boolean }
  ): Promise<CID> {
    const signal = options.signal
    try {
      // a CID held only through another pin still gets its own (Kubo does the same); an existing
      // pin of this CID is an AlreadyPinnedError from Helia, caught below
      // `offline` reaches the blockstore: a missing block fails at once instead of asking block brokers
      const pinOptions: PinAddOptions & { offline: boolean } = {
        signal,
        depth: options.recursive === false ? 0 : Infinity,
        offline: options.offline ?? this.peer.offline,
        // Helia's walker lets a missing block end the walk as if complete: ours fails
        walker: strictDepthFirstWalker()
      }
      for await (const _ of this.helia.pins.add(cid, pinOptions)) {
        // each block of the DAG, now held
      }
    } catch (err) {
      if ((err as Error).name === 'AlreadyPinnedError') return cid
      throw toKitError(err, `pin ${cid}`, signal)
    }
    return cid
  }

  /**
   * Store one block (verified against `cid`), and pin it directly with `pin`; a `gc` cannot
   * come between the two.
   */
  async ipfsBlockPut(
    cid: CID,
    bytes: Uint8Array,
    options: AbortOptions & { pin?: boolean } = {}
  ): Promise<CID> {
    const signal = this.#signal(options)
    return this.#pinning(signal, async () => {
      await this.helia.blockstore.put(cid, bytes, { signal })
      if (options.pin === true) await this.#pinAdd(cid, { signal })
      return cid
    })
  }

  /** Unpin a CID. */
  async ipfsPinRm(path: CIDOrPath, options: AbortOptions = {}): Promise<CID> {
    const cid = parseCID(typeof path === 'string' ? parseCIDPath(path).cid : path)
    try {
      // never fetches: a block that is gone is visited as a leaf, so a DAG with lost blocks can be unpinned
      const rmOptions = { ...options, offline: true, walker: strictDepthFirstWalker({ skipMissing: true }) }
      for await (const _ of this.helia.pins.rm(cid, rmOptions)) {
        // each block unpinned
      }
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') {
        throw toKitError(
          Object.assign(new Error(`${cid} is not pinned`), { name: 'NotFoundError' }),
          `pin ${cid}`
        )
      }
      throw toKitError(err, `unpin ${cid}`)
    }
    return cid
  }

  /**
   * List pins (all, or one CID). A CID held only by a recursive pin of another CID is listed
   * as `indirect`, with the pin that holds it in `Through` (Kubo's "indirect through …").
   * Without `cid`, `type` picks the kinds listed: by default recursive and direct pins; with
   * `indirect` or `all` (Kubo's default), every block under a recursive pin that is held here
   * is listed as indirect too (once, and not when it is a pin itself).
   */
  async ipfsPinLs(
    options: AbortOptions & { cid?: CIDOrPath; type?: PinType | 'all' } = {}
  ): Promise<PinEntry[]> {
    const out: PinEntry[] = []
    const only = options.cid == null ? undefined : parseCIDPath(options.cid).cid
    const type = options.type
    // Helia keys pins by CIDv1 and cannot look a CIDv0 up as given
    for await (const pin of this.helia.pins.ls({ cid: only?.toV1(), signal: options.signal })) {
      const cid = kuboCid(pin.cid)
      out.push({ cid, Hash: cid.toString(), Type: pin.depth === 0 ? 'direct' : 'recursive' })
    }
    if (only != null && out.length === 0) {
      const through = await indirectPinOf(this.helia, this.repo.datastore, only, options)
      if (through != null) {
        out.push({ cid: only, Hash: only.toString(), Type: 'indirect', Through: kuboCid(through).toString() })
        return out
      }
      throw toKitError(
        Object.assign(new Error(`${only} is not pinned`), { name: 'NotFoundError' }),
        `pin ${only}`
      )
    }
    if (only != null || type == null) return out
    out.sort((a, b) => (a.Type === b.Type ? 0 : a.Type === 'recursive' ? -1 : 1))
    const listed = out.filter((p) => type === 'all' || p.Type === type)
    if (type === 'all' || type === 'indirect') {
      for (const cid of await indirectPins(this.helia, out, options)) {
        const shown = kuboCid(cid)
        listed.push({ cid: shown, Hash: shown.toString(), Type: 'indirect' })
      }
    }
    return listed
  }

  /** Publish a message (string or bytes) on a topic. */
  async ipfsPubsubPublish(
    topic: string,
    data: string | Uint8Array,
    options: AbortOptions = {}
  ): Promise<void> {
    await this.pubsub.publish(topic, data, options)
  }

  /** Call `handler` for every message on `topic`. */
  async ipfsPubsubSubscribe(topic: string, handler: PubsubHandler): Promise<void> {
    this.pubsub.subscribe(topic, handler)
  }

  /** Stop calling `handler` (or every handler) for `topic`. */
  async ipfsPubsubUnsubscribe(topic: string, handler?: PubsubHandler): Promise<void> {
    this.pubsub.unsubscribe(topic, handler)
  }

  /** Peers we exchange pubsub messages with (on `topic`, or on any topic). */
  async ipfsPubsubPeers(topic?: string): Promise<string[]> {
    return this.pubsub.peers(topic)
  }

  /** Topics we are subscribed to. */
  async ipfsPubsubLs(): Promise<string[]> {
    return this.pubsub.topics()
  }

  /** Our identity and addresses (`ipfs id`). */
  async ipfsId(): Promise<IdResult> {
    const peerId = peerIdFromString(this.repo.config.Identity.PeerID)
    return {
      ID: peerId.toString(),
      PublicKey: base64.baseEncode(publicKeyToProtobuf(this.repo.privateKey.publicKey)),
      Addresses: this.peer.getMultiaddrs().map((ma) => ma.toString()),
      AgentVersion: `ipfs-kit/${VERSION}`,
      Protocols: this.peer.offline ? [] : this.peer.host.getProtocols(),
      Role: this.role,
      Reachability: this.peer.reachability
    }
  }

  /** Connect to a peer by multiaddr (with `/p2p/<id>`). */
  async ipfsSwarmConnect(addr: string, options: AbortOptions = {}): Promise<string> {
    const peerId = await this.peer.connect(addr, options)
    return peerId.toString()
  }

  /** Open connections. */
  async ipfsSwarmPeers(): Promise<SwarmPeer[]> {
    if (this.peer.offline) return []
    return this.peer.host.getConnections().map((c) => ({
      Peer: c.remotePeer.toString(),
      Addr: c.remoteAddr.toString(),
      Direction: c.direction
    }))
  }

  /** Blocks held and bytes used. */
  async ipfsRepoStat(): Promise<RepoStat> {
    let NumObjects = 0
    let BlocksSize = 0
    let RepoSize = 0
    const blocksDir = join(this.repo.path, 'blocks')
    for (const entry of await readdir(this.repo.path, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue
      const full = join(entry.parentPath, entry.name)
      const size = (await stat(full).catch(() => ({ size: 0 }))).size
      RepoSize += size
      if (full.startsWith(blocksDir) && entry.name.endsWith('.data')) {
        NumObjects++
        BlocksSize += size
      }
    }
    return { RepoSize, NumObjects, BlocksSize, RepoPath: this.repo.path, Version: `fs-repo@${VERSION}` }
  }

  /**
   * Remove every block that no pin holds; returns the removed CIDs. It waits for adds and pins
   * in progress to finish (their blocks are pinned only at the end), and they wait for it.
   */
  async ipfsGc(options: AbortOptions = {}): Promise<CID[]> {
    const signal = this.#untimedSignal(options)
    const release = await this.#gcLock.writeLock({ signal })
    try {
      // the MFS tree is kept as a pin root would be
      const keep = await this.files.localBlocks({ signal })
      const removed = await collectGarbage(
        this.helia,
        (cid) => keep.has(base58btc.encode(cid.multihash.bytes)),
        {
          signal
        }
      )
      // the cache indexes blocks in the blockstore: what gc removed is no longer cached
      await this.#cache?.forget(removed)
      return removed
    } finally {
      release()
    }
  }

  /**
   * Check every block in the repo against its CID (`repo verify`): a bad block is removed, and
   * fetched again from peers if it is pinned and the node is online.
   */
  async *ipfsRepoVerify(options: Omit<VerifyOptions, 'offline'> = {}): AsyncGenerator<RepoVerifyProgress> {
    const signal = this.#untimedSignal(options)
    yield* verifyRepo(this.helia, this.repo.blockstore, { ...options, signal, offline: this.peer.offline })
  }

  /**
   * Check that every pin's blocks are all held and good (`pin verify`): missing or bad blocks
   * are fetched again from peers when online; one result per pin.
   */
  async *ipfsPinVerify(options: Omit<VerifyOptions, 'offline'> = {}): AsyncGenerator<PinVerifyResult> {
    const signal = this.#untimedSignal(options)
    const opts: VerifyOptions = { ...options, signal, offline: this.peer.offline }
    // pinned blocks fetched again are pinned already: gc may run meanwhile
    for await (const result of verifyPins(this.helia, opts)) {
      yield { ...result, Cid: kuboCid(CID.parse(result.Cid)).toString() }
    }
  }

  /* DAG, refs, block rm and pin update (Kubo's `dag`, `refs`, `block rm`, `pin update`) */

  /**
   * One block through the node's storage (verified; fetched from peers when missing and the
   * node is online, each block within the network deadline).
   */
  async #dagBlock(cid: CID, options: AbortOptions): Promise<Uint8Array> {
    const signal = this.peer.offline ? options.signal : withTimeout(options.signal, this.peer.stopSignal)
    try {
      return await collectBytes(
        this.helia.blockstore.get(cid, { signal, offline: this.peer.offline } as AbortOptions)
      )
    } catch (err) {
      throw toKitError(err, cid.toString(), signal)
    }
  }

  /**
   * Store a DAG node (`dag put`): a data-model value encoded with `storeCodec` (dag-cbor by
   * default), or bytes in `inputCodec` transcoded to it; a CIDv1, as Kubo's. With `pin`, the
   * node is pinned recursively (what it links to is fetched if missing).
   *
   * @example
   * ```ts
   * const cid = await kit.ipfsDagPut({ hello: 'world' })
   * const same = await kit.ipfsDagPut(new TextEncoder().encode('{"hello":"world"}'), { inputCodec: 'dag-json' })
   * ```
   */
  async ipfsDagPut(input: unknown, options: DagPutOptions = {}): Promise<CID> {
    const { cid, bytes } = await dagPutBlock(input, options)
    const signal = this.#signal(options)
    await this.#pinning(signal, async () => {
      await this.helia.blockstore.put(cid, bytes, { signal })
      if (options.pin === true) await this.#pinAdd(cid, { signal })
    })
    this.#announce(cid)
    return cid
  }

  /**
   * The value at an IPLD path (`dag get`): `<cid>/a/b`, `/ipfs/<cid>/a/b` (dag-pb folders by
   * name) or `/ipld/<cid>/Links/0/Hash` (dag-pb through its data model); links are followed.
   */
  async ipfsDagGet(path: CIDOrPath, options: AbortOptions = {}): Promise<ResolvedPath> {
    const { cid, segments, dagPb } = parseDagPath(path)
    const signal = this.#signal(options)
    try {
      return await resolvePath(cid, segments, (c, o) => this.#dagBlock(c, o), { signal, dagPb })
    } catch (err) {
      throw toKitError(err, String(path), signal)
    }
  }

  /** The last block an IPLD path reaches and the path left inside it (`dag resolve`). */
  async ipfsDagResolve(
    path: CIDOrPath,
    options: AbortOptions = {}
  ): Promise<{ cid: CID; remainderPath: string }> {
    const { cid, remainderPath } = await this.ipfsDagGet(path, options)
    return { cid, remainderPath }
  }

  /** The root CID of a path that must end on a block (`dag stat`, `dag export`, `refs`). */
  async #dagRoot(path: CIDOrPath, what: string, options: AbortOptions): Promise<CID> {
    const { cid, remainderPath } = await this.ipfsDagResolve(path, options)
    if (remainderPath !== '') {
      throw new InvalidParametersError(
        `${what}: ${path} ends inside block ${cid} (at ${remainderPath}), not on a block`
      )
    }
    return cid
  }

  /**
   * Blocks and bytes of DAGs (`dag stat`): each DAG's, each block counted once, and what they
   * share; `onProgress` sees the figures after each block.
   */
  async ipfsDagStat(
    paths: CIDOrPath[],
    options: AbortOptions & { onProgress?(summary: DagStatSummary): void | Promise<void> } = {}
  ): Promise<DagStatSummary> {
    const signal = this.#untimedSignal(options)
    const roots: CID[] = []
    for (const path of paths) roots.push(await this.#dagRoot(path, 'dag stat', { signal }))
    return dagStat(roots, (c, o) => this.#dagBlock(c, o), { signal, onProgress: options.onProgress })
  }

  /**
   * A CARv1 of the DAG under `root` (`dag export`), streamed: blocks in depth-first,
   * first-seen order, each verified as it is read (and fetched if missing, when online).
   */
  async *ipfsDagExport(root: CIDOrPath, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    const signal = this.#untimedSignal(options)
    const cid = await this.#dagRoot(root, 'dag export', { signal })
    yield* carStream(
      [cid],
      dagBlocks(cid, (c) => this.#dagBlock(c, { signal }))
    )
  }

  /**
   * Import CAR files (`dag import`): every block is checked against its CID before it is
   * written, and a bad block or a malformed file undoes the whole import (nothing of it is
   * kept) with a typed error. Then each root of the headers is pinned recursively from what is
   * held (never fetched), unless `pinRoots` is false; a root that cannot be pinned has its
   * reason in `PinErrorMsg`.
   */
  async ipfsDagImport(
    files: AsyncIterable<{ name: string; content: AsyncIterable<Uint8Array> }>,
    options: AbortOptions & { pinRoots?: boolean; allowBigBlock?: boolean } = {}
  ): Promise<DagImportResult> {
    const signal = this.#untimedSignal(options)
    const written: CID[] = []
    const release = await this.#gcLock.readLock({ signal })
    let imported: Awaited<ReturnType<typeof importCarBlocks>>
    try {
      imported = await importCarBlocks(
        files,
        {
          has: async (cid, o) => this.helia.blockstore.has(cid, o),
          put: async (cid, bytes, o) => this.helia.blockstore.put(cid, bytes, o)
        },
        { signal, allowBigBlock: options.allowBigBlock, written }
      )
    } catch (err) {
      release()
      await this.#undoImport(written)
      throw toKitError(err, 'dag import', signal)
    }
    try {
      const Roots: DagImportResult['Roots'] = []
      if (options.pinRoots !== false) {
        for (const root of imported.roots) {
          let PinErrorMsg = ''
          try {
            await this.#pinAdd(root, { signal, offline: true })
          } catch (err) {
            PinErrorMsg = (err as Error).message
          }
          Roots.push({ Cid: root, PinErrorMsg })
        }
      }
      for (const root of imported.roots) this.#announce(root)
      return { Roots, Stats: imported.stats }
    } finally {
      release()
    }
  }

  /**
   * Remove what a failed import wrote, holding the GC lock alone (no add or pin is then in
   * progress), except a block a pin took meanwhile: as a `gc` would.
   */
  async #undoImport(written: readonly CID[]): Promise<void> {
    if (written.length === 0) return
    const release = await this.#gcLock.writeLock({ signal: this.peer.stopSignal })
    try {
      for (const cid of written) {
        if (await this.helia.pins.isPinned(cid)) continue
        try {
          await this.helia.blockstore.delete(cid)
        } catch (err) {
          this.#log('could not remove %c after a failed import: %s', cid, (err as Error).message)
        }
      }
    } finally {
      release()
    }
  }

  /** Why a block may not be removed: Kubo's `pinned: recursive|direct` or `pinned via <cid>`. */
  async #pinnedAs(cid: CID, options: AbortOptions): Promise<string | undefined> {
    if (!(await this.helia.pins.isPinned(cid, options))) return undefined
    try {
      return `pinned: ${(await this.helia.pins.get(cid, options)).depth === 0 ? 'direct' : 'recursive'}`
    } catch {
      const through = await indirectPinOf(this.helia, this.repo.datastore, cid, options)
      return through == null ? 'pinned: indirect' : `pinned via ${kuboCid(through)}`
    }
  }

  /**
   * Remove blocks (`block rm`), holding the GC lock alone. A pinned block is refused (Kubo's
   * `pinned: recursive`, `pinned via <cid>`), and so is a block not held unless `force`; each
   * CID gets a result, the refused ones first (as Kubo's).
   */
  async ipfsBlockRm(
    cids: Array<CID | string>,
    options: AbortOptions & { force?: boolean } = {}
  ): Promise<BlockRmResult[]> {
    const parsed = cids.map((c) => parseCID(c))
    const signal = this.#untimedSignal(options)
    const release = await this.#gcLock.writeLock({ signal })
    try {
      const out: BlockRmResult[] = []
      const rest: CID[] = []
      for (const cid of parsed) {
        const pinned = await this.#pinnedAs(cid, { signal })
        if (pinned == null) rest.push(cid)
        else out.push({ cid, Hash: cid.toString(), Error: pinned })
      }
      const removed: CID[] = []
      for (const cid of rest) {
        if (options.force !== true && !(await this.helia.blockstore.has(cid, { signal }))) {
          out.push({ cid, Hash: cid.toString(), Error: `ipld: could not find ${cid}` })
          continue
        }
        try {
          await this.helia.blockstore.delete(cid, { signal })
          removed.push(cid)
          out.push({ cid, Hash: cid.toString() })
        } catch (err) {
          out.push({ cid, Hash: cid.toString(), Error: (err as Error).message })
        }
      }
      // the cache indexes blocks in the blockstore: what was removed is no longer cached
      await this.#cache?.forget(removed)
      return out
    } finally {
      release()
    }
  }

  /**
   * The links under DAGs (`refs`): direct links, or every link with `recursive` (down to
   * `maxDepth`), each target once with `unique`; every target is read (verified) before it is
   * listed.
   */
  async *ipfsRefs(paths: CIDOrPath[], options: RefsOptions = {}): AsyncGenerator<RefEdge> {
    const signal = this.#untimedSignal(options)
    const roots: CID[] = []
    for (const path of paths) roots.push(await this.#dagRoot(path, 'refs', { signal }))
    yield* refs(roots, (c, o) => this.#dagBlock(c, o), { ...options, signal })
  }

  /**
   * Every block in the repo (`refs local`), as Kubo lists them: a CIDv1 with the raw codec for
   * each multihash held (the repo keys blocks by multihash).
   */
  async *ipfsRefsLocal(options: AbortOptions = {}): AsyncGenerator<CID> {
    const signal = this.#untimedSignal(options)
    for await (const { cid } of this.repo.blockstore.unwrap().getAll({ signal })) {
      yield CID.createV1(raw.code, cid.multihash)
    }
  }

  /**
   * Move a recursive pin from `from` to `to` (`pin update`): `to` is pinned recursively
   * (its blocks fetched if missing), then `from` unpinned unless `unpin` is false. `from` must
   * be pinned recursively. Returns both CIDs, as Kubo's `Pins`.
   */
  async ipfsPinUpdate(
    from: CIDOrPath,
    to: CIDOrPath,
    options: AbortOptions & { unpin?: boolean } = {}
  ): Promise<[CID, CID]> {
    const fromCid = parseCIDPath(from).cid
    const toCid = parseCIDPath(to).cid
    const signal = this.#signal(options)
    if (fromCid.equals(toCid)) return [fromCid, toCid]
    let recursive = false
    try {
      recursive = (await this.helia.pins.get(fromCid, { signal })).depth > 0
    } catch {
      recursive = false
    }
    if (!recursive) {
      throw new NotFoundError(
        `'from' cid was not recursively pinned already: ${fromCid} is not a recursive pin`
      )
    }
    await this.#pinning(signal, () => this.#pinAdd(toCid, { signal }))
    if (options.unpin !== false) await this.ipfsPinRm(fromCid, { signal })
    return [fromCid, toCid]
  }

  /**
   * The kit's tiered cache (memory ARC in front of `<repo>/cache` on disk), bounded by the
   * role's cache sizes; started on first use.
   */
  async getCache(): Promise<TieredCache> {
    this.#cacheStarting ??= (async () => {
      const settings = ROLES[this.role]
      const cache = new TieredCache(
        {
          dir: this.repo.cachePath,
          memoryMaxBytes: this.#cacheBytes.memoryCacheBytes ?? settings.memoryCacheBytes,
          diskMaxBytes: this.#cacheBytes.diskCacheBytes ?? settings.diskCacheBytes,
          diskStore: this.#cacheStore()
        },
        { logger: this.#logger }
      )
      await cache.start()
      this.#cache = cache
      return cache
    })()
    return this.#cacheStarting
  }

  /**
   * The repo's blockstore as the cache's disk tier store: one copy of a block on disk. An
   * eviction removes a block only if no pin holds it, under the GC lock (so never a block an
   * add or a pin in progress has written and not yet pinned).
   */
  #cacheStore(): DiskTierStore {
    const blockstore = this.repo.blockstore
    return {
      has: async (cid, options) => blockstore.has(cid, options),
      get: async (cid, options) => collectBytes(blockstore.get(cid, { ...options, offline: true })),
      put: async (cid, bytes, options) => {
        await blockstore.put(cid, bytes, options)
      },
      evict: async (cid) => {
        const release = await this.#gcLock.writeLock({ signal: this.peer.stopSignal })
        try {
          if (await this.helia.pins.isPinned(cid)) return false
          await blockstore.delete(cid)
          return true
        } finally {
          release()
        }
      }
    }
  }

  /** The libp2p integration serving this kit's cache misses, if one is registered. */
  get libp2pIntegration(): LibP2PIntegration | undefined {
    return this.#integration
  }

  /**
   * Register the integration that serves this kit's cache misses (see
   * `registerLibp2pWithIpfsKit`). A previous one is stopped.
   */
  async setLibp2pIntegration(integration: LibP2PIntegration): Promise<void> {
    if (this.#integration != null && this.#integration !== integration) await this.#integration.stop()
    this.#integration = integration
    await integration.start()
  }

  /** The integration, made with this kit's own peer on first use. */
  async #ensureIntegration(): Promise<LibP2PIntegration> {
    if (this.#integration == null) {
      const { LibP2PIntegration } = await import('../libp2p/integration/index.ts')
      const integration = new LibP2PIntegration(this.peer, this, await this.getCache())
      if (this.#integration == null) await this.setLibp2pIntegration(integration)
    }
    return this.#integration!
  }

  /**
   * A filesystem over this kit's content (the seed's `get_filesystem`). With
   * `useLibp2p: true`, blocks missing from the cache and the blockstore are fetched from
   * the best peers by the libp2p integration (made with this kit's peer if none is
   * registered); without it, the node's normal bitswap path is used.
   */
  getFilesystem(init: FilesystemInit = {}): IPFSFileSystem {
    return new IPFSFileSystem(
      this,
      {
        cache: () => this.getCache(),
        integration: async () => (init.useLibp2p === true ? this.#ensureIntegration() : this.#integration)
      },
      init
    )
  }

  /** Stop the node and close the repo. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    await this.cluster.stop()
    await this.#integration?.stop()
    await this.#cacheStarting?.catch(() => undefined)
    await this.#cache?.stop()
    await this.names.stop()
    this.pubsub.close()
    this.#provides.clear()
    await this.peer.stop()
    await this.#provides.onIdle()
    this.repo.blockstore.setHealer(undefined)
    this.#gcLock.finalize()
    this.files.close()
    await this.#hashPool.stop()
    await this.repo.close()
  }

  // --- config, network and operations commands (issue 15) ---

  #shutdownHandler?: (reason: string) => void

  /**
   * The repo's config file, read and changed as Kubo's `config` and `bootstrap` commands do.
   * A change is written to the repo at once and applies when the node starts again.
   */
  get config(): ConfigEditor {
    return new ConfigEditor(this.repo.path)
  }

  /** Kubo's `bitswap stat`: blocks and bytes exchanged (bitswap and the block stream), wants, partners. */
  bitswapStat(): BitswapStat {
    return bitswapStat(this, this.#provides.size + this.#provides.pending)
  }

  /** Let a daemon serving this kit be stopped by a `shutdown` request (undefined: no longer). */
  setShutdownHandler(handler: ((reason: string) => void) | undefined): void {
    this.#shutdownHandler = handler
  }

  /** Whether a daemon serves this kit (one that a `shutdown` request stops). */
  get servedByDaemon(): boolean {
    return this.#shutdownHandler != null
  }

  /** Ask the daemon serving this kit to stop; false if no daemon serves it. */
  requestShutdown(reason = 'a shutdown request'): boolean {
    const handler = this.#shutdownHandler
    if (handler == null) return false
    handler(reason)
    return true
  }
}

/** Kits made in this process: each gets a GC lock of its own. */
let kitInstances = 0

/** Helia keys pins by multihash and hands back CIDv1; dag-pb/sha2-256 shows as CIDv0, as Kubo does. */
function kuboCid(cid: CID): CID {
  return cid.code === dagPb.code && cid.multihash.code === sha256.code ? cid.toV0() : cid
}

/**
 * Open (creating if needed) a repo and start an IPFS node on it: the twin of the
 * seed's `ipfs_kit()`.
 */
export async function ipfsKit(init: IPFSKitInit = {}): Promise<IPFSKit> {
  for (const name of ['memoryCacheBytes', 'diskCacheBytes'] as const) {
    const value = init[name]
    if (value != null && !(Number.isSafeInteger(value) && value > 0)) {
      throw new InvalidParametersError(`${name} must be a positive whole number of bytes, got ${value}`)
    }
  }
  const logger = init.logger ?? kitLogger()
  const repo = await openRepo({ repo: init.repo, role: init.role, profile: init.profile })
  const config = repo.config
  try {
    await mkdir(repo.cachePath, { recursive: true })
    const peer = new IPFSLibp2pPeer({
      role: config.Kit.Role,
      profile: config.Kit.Profile,
      listenAddrs: init.listenAddrs ?? config.Addresses.Swarm,
      announceAddrs: config.Addresses.Announce,
      appendAnnounceAddrs: config.Addresses.AppendAnnounce,
      noAnnounceAddrs: config.Addresses.NoAnnounce,
      relayClient: config.Swarm.RelayClient.Enabled,
      relayService: config.Swarm.RelayService.Enabled,
      relayServiceLimits: relayServiceLimitsOf(config),
      holePunching: config.Swarm.EnableHolePunching,
      upnp: !config.Swarm.DisableNatPortMap,
      autoNat: config.AutoNAT.ServiceMode !== 'disabled',
      bootstrapPeers: init.bootstrapPeers ?? config.Bootstrap,
      mdns: config.Discovery.MDNS.Enabled,
      dhtProtocolPrefix: init.dhtProtocolPrefix ?? config.Routing.DHTProtocolPrefix,
      delegatedRouters: config.Routing.DelegatedRouters,
      privateKey: repo.privateKey,
      blockstore: repo.blockstore,
      datastore: repo.datastore,
      offline: init.offline,
      logger
    })
    await peer.start()
    const kit = new IPFSKit(repo, peer, logger, {
      memoryCacheBytes: init.memoryCacheBytes,
      diskCacheBytes: init.diskCacheBytes
    })
    // online: the DHT takes IPNS records, and names published here are republished
    if (!peer.offline)
      await kit.names.start().catch(async (err: unknown) => {
        await kit.stop()
        throw err
      })
    // the integration (routing, announcements over gossipsub) is loaded only online
    const integrationInit = peer.offline ? undefined : (await import('./integration.ts')).appliedIntegration()
    if (integrationInit != null) {
      try {
        const { LibP2PIntegration } = await import('../libp2p/integration/index.ts')
        await kit.setLibp2pIntegration(
          new LibP2PIntegration(peer, kit, await kit.getCache(), integrationInit)
        )
      } catch (err) {
        await kit.stop()
        throw err
      }
    }
    if (init.cluster != null && init.cluster !== false) {
      try {
        await kit.cluster.start(init.cluster)
      } catch (err) {
        await kit.stop()
        throw err
      }
    }
    return kit
  } catch (err) {
    await repo.close()
    throw err
  }
}

function checkRange(options: CatOptions): void {
  for (const key of ['offset', 'length'] as const) {
    const v = options[key]
    if (v != null && (!Number.isSafeInteger(v) || v < 0)) {
      throw new InvalidParametersError(`${key} must be a whole number of bytes, 0 or more, not ${v}`)
    }
  }
}

/** A blockstore that keeps nothing, for `onlyHash`. */
const discardBlockstore = {
  async put(cid: CID): Promise<CID> {
    return cid
  },
  async has(): Promise<boolean> {
    return false
  }
} as unknown as Parameters<typeof importer>[1]
