/**
 * The seed's Basic Usage, in TypeScript, plus what it takes to run it alone: a second
 * node on this machine holding content this kit does not have, so that a read through
 * the filesystem is a real cache miss served by a peer.
 *
 * Run: IPFS_KIT_PATH=/tmp/kit IPFS_KIT_PROFILE=local node examples/basic-usage.ts
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyIpfsKitIntegration, ipfsKit } from 'ipfs-kit'

// A peer on this machine (local profile: 127.0.0.1 only) with content of its own
const peerRepo = await mkdtemp(join(tmpdir(), 'ipfs-kit-peer-'))
const peerKit = await ipfsKit({ repo: peerRepo, profile: 'local', role: 'worker' })
const { Hash: peerCid } = await peerKit.ipfsAddString('Hello from a peer!')

// --- the seed's Basic Usage ---

// Apply the integration to the IPFSKit class
applyIpfsKitIntegration()

// Create an IPFSKit instance with libp2p integration
const kit = await ipfsKit()

// Get a filesystem with libp2p integration enabled
const fs = kit.getFilesystem({ useLibp2p: true })

// Add content to IPFS
const result = await kit.ipfsAddString('Hello from IPFS!')
const cid = result.Hash

// Retrieve content - this will automatically use libp2p for cache misses
const content = await fs.cat(cid)

// --- end of the seed's Basic Usage ---

console.log(`cat ${cid}: ${new TextDecoder().decode(content)}`)

// Content only the peer holds: a cache miss, fetched from the peer
await kit.ipfsSwarmConnect(peerKit.peer.getMultiaddrs()[0]!.toString())
const fromPeer = await fs.cat(peerCid)
console.log(`cat ${peerCid}: ${new TextDecoder().decode(fromPeer)}`)
const again = await fs.cat(peerCid)
console.log(`second read, from the cache: ${new TextDecoder().decode(again)}`)

// The seed's "Metrics and Monitoring"
const stats = kit.libp2pIntegration!.getStats()
console.log(`Cache misses handled: ${stats.cacheMissesHandled}`)
console.log(`Success rate: ${stats.successRate.toFixed(2)}`)
const discoveryMetrics = stats.discoveryMetrics
console.log(`Successful retrievals: ${discoveryMetrics.successfulRetrievals}`)
console.log(`Filesystem reads: ${JSON.stringify(fs.getStats())}`)

await kit.stop()
await peerKit.stop()
await rm(peerRepo, { recursive: true, force: true })
