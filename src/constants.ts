/**
 * Every default of ipfs-kit, in one place. Components document their options
 * with `@default` and read the value from here; nothing else writes a default.
 *
 * @packageDocumentation
 */

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** The roles a node can take. They change real behaviour: see {@link ROLES}. */
export type Role = 'master' | 'worker' | 'leecher'

/** @default 'leecher' */
export const DEFAULT_ROLE: Role = 'leecher'

/** Network profile: `public` joins the IPFS network, `local` stays on 127.0.0.1. */
export type Profile = 'public' | 'local'

/** What a role changes. */
export interface RoleSettings {
  /** kad-dht server mode (answers queries, stores provider records) or client mode */
  dhtMode: 'server' | 'client'
  /** libp2p connection manager: maximum open connections */
  maxConnections: number
  /** memory cache tier bound, bytes */
  memoryCacheBytes: number
  /** disk cache tier bound, bytes */
  diskCacheBytes: number
  /** announce added and fetched content to the DHT and re-announce it periodically */
  reprovide: boolean
  /** pubsub topics the node joins on start */
  topics: readonly string[]
}

/** Topic on which nodes announce content they hold (the routing layer listens to it). */
export const CONTENT_ANNOUNCE_TOPIC = 'ipfs-kit/content-announce'

/** The role table (also in the README). */
export const ROLES: Readonly<Record<Role, Readonly<RoleSettings>>> = {
  master: {
    dhtMode: 'server',
    maxConnections: 400,
    memoryCacheBytes: 512 * MiB,
    diskCacheBytes: 16 * GiB,
    reprovide: true,
    topics: [CONTENT_ANNOUNCE_TOPIC]
  },
  worker: {
    dhtMode: 'server',
    maxConnections: 200,
    memoryCacheBytes: 256 * MiB,
    diskCacheBytes: 4 * GiB,
    reprovide: true,
    topics: [CONTENT_ANNOUNCE_TOPIC]
  },
  leecher: {
    dhtMode: 'client',
    maxConnections: 50,
    memoryCacheBytes: 64 * MiB,
    diskCacheBytes: 1 * GiB,
    reprovide: false,
    topics: []
  }
}

/** Folder of the repo when neither `init.repo` nor `IPFS_KIT_PATH` is set: `~/.ipfs-kit`. */
export const DEFAULT_REPO_DIRNAME = '.ipfs-kit'
/** Environment variable that overrides the repo folder. */
export const REPO_PATH_ENV = 'IPFS_KIT_PATH'

/** Version of the repo layout written into `version` inside the repo. */
export const REPO_VERSION = 1

/** @default 'public' for `ipfs-kit init`, as Kubo */
export const DEFAULT_PROFILE: Profile = 'public'

/** Swarm listen addresses per profile. */
export const DEFAULT_LISTEN_ADDRS: Readonly<Record<Profile, readonly string[]>> = {
  public: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'],
  local: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
}

/** The public IPFS bootstrap peers (Kubo's list), used by the `public` profile only. */
export const PUBLIC_BOOTSTRAP_PEERS: readonly string[] = [
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
]

/** The public Amino DHT protocol prefix (`/ipfs/kad/1.0.0`). */
export const PUBLIC_DHT_PREFIX = '/ipfs'

/** Default HTTP API address of the daemon. */
export const DEFAULT_API_ADDR = '/ip4/127.0.0.1/tcp/5001'

/** Kubo's default chunk size: 256 KiB fixed-size chunks. */
export const DEFAULT_CHUNK_SIZE = 256 * KiB
/** Kubo's balanced layout: at most 174 links per node. */
export const DEFAULT_MAX_CHILDREN_PER_NODE = 174
/** CID version of added content unless asked otherwise (Kubo: 0). */
export const DEFAULT_CID_VERSION = 0

/** How long a network call may take when the caller gives no signal. */
export const DEFAULT_NETWORK_TIMEOUT_MS = 60_000
/** How long a dial may take. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000

/** Gossipsub: how long a subscribe waits for its first peer before returning. */
export const PUBSUB_ANNOUNCE_INTERVAL_MS = 1_000

/** Agent version advertised by identify. */
export const AGENT_NAME = 'ipfs-kit'
