import type { CID } from 'multiformats/cid'

/** Result of an add, in Kubo's shape plus a typed CID. */
export interface AddResult {
  /** file or folder name (path relative to what was added), or the CID for bytes and strings */
  Name: string
  /** the CID as a string (CIDv0 `Qm…` by default) */
  Hash: string
  /** cumulative size of the DAG in bytes (Kubo's `Size`) */
  Size: number
  cid: CID
}

/** A folder entry, as `ipfs ls`. */
export interface LsEntry {
  Name: string
  Hash: string
  /** file size for files, DAG size for folders */
  Size: number
  Type: 'file' | 'directory' | 'raw' | 'symlink' | 'other'
  /** a symlink's target (Kubo's `Target`) */
  Target?: string
  cid: CID
}

/** A pubsub message, as Kubo's `pubsub sub` gives it. */
export interface PubsubMessage {
  /** sender's peer id */
  from: string
  data: Uint8Array
  /** sequence number, hex */
  seqno?: string
  topicIDs: string[]
}

/** A pubsub message handler. */
export type PubsubHandler = (message: PubsubMessage) => void | Promise<void>

/** `ipfs id` */
export interface IdResult {
  ID: string
  PublicKey: string
  Addresses: string[]
  AgentVersion: string
  Protocols: string[]
  Role: string
  /**
   * ipfs-kit's own field: whether peers can dial this node ('public'), only through a relay
   * ('private'), or not known yet ('unknown', also offline); see the peer's `reachability`
   */
  Reachability: 'public' | 'private' | 'unknown'
}

/** `ipfs swarm peers` */
export interface SwarmPeer {
  Peer: string
  Addr: string
  Direction: 'inbound' | 'outbound'
}

/** `ipfs repo stat` */
export interface RepoStat {
  /** bytes used by the whole repo folder */
  RepoSize: number
  /** blocks stored */
  NumObjects: number
  /** bytes of block data */
  BlocksSize: number
  RepoPath: string
  Version: string
}

/** A pin, as `ipfs pin ls`. */
export interface PinEntry {
  cid: CID
  Hash: string
  Type: 'recursive' | 'direct' | 'indirect'
  /** for an indirect pin: the recursive pin that holds it */
  Through?: string
}

/** One root of `dag import`, in Kubo's shape: its pin's error message, '' if it was pinned. */
export interface DagImportRoot {
  Cid: CID
  PinErrorMsg: string
}

/** What `dag import` did (Kubo's `Root` lines and `Stats`). */
export interface DagImportResult {
  /** the roots of every CAR header, each once; empty when roots are not pinned */
  Roots: DagImportRoot[]
  Stats: { BlockCount: number; BlockBytesCount: number }
}

/** One block of `block rm`, in Kubo's shape: `Error` tells why it was not removed. */
export interface BlockRmResult {
  Hash: string
  Error?: string
  cid: CID
}

/** A pin's kind, as `pin ls --type` takes it (`all`: every kind). */
export type PinType = 'recursive' | 'direct' | 'indirect'
