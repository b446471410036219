/**
 * ipfs-kit: a real IPFS node in TypeScript with an enhanced libp2p integration.
 *
 * @packageDocumentation
 */
export * from './constants.ts'
export * from './errors.ts'
export { IPFSKit, ipfsKit, type IPFSKitInit, type CatOptions } from './kit/index.ts'
export type * from './kit/types.ts'
export type { AddOptions } from './kit/importer.ts'
export { IPFSLibp2pPeer, type IPFSLibp2pPeerInit, type PeerServices, parseMultiaddr } from './libp2p/peer/index.ts'
export { parseCID, parseCIDPath } from './cids.ts'
export { VERSION } from './version.ts'
