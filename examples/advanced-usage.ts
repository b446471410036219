/**
 * The seed's Advanced Usage, in TypeScript, plus what it takes to run it alone: a
 * provider node on this machine holding the content ("QmSomeCID" in the seed) and used
 * as the bootstrap peer (the seed's public bootstrap addresses are replaced by it: our
 * examples never leave the machine).
 *
 * Run: IPFS_KIT_PATH=/tmp/kit IPFS_KIT_PROFILE=local node examples/advanced-usage.ts
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ContentRoutingManager,
  EnhancedDHTDiscovery,
  IPFSLibp2pPeer,
  ipfsKit,
  registerLibp2pWithIpfsKit
} from 'ipfs-kit'

// A provider on this machine: the seed's "QmSomeCID", and another file for a cache miss
const providerRepo = await mkdtemp(join(tmpdir(), 'ipfs-kit-provider-'))
const provider = await ipfsKit({ repo: providerRepo, profile: 'local', role: 'worker' })
const someBytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31 + 7) % 256)
const { Hash: QmSomeCID } = await provider.ipfsAddBytes(someBytes)
const { Hash: otherCid } = await provider.ipfsAddString('a file only the provider has')
const providerAddr = provider.peer.getMultiaddrs()[0]!.toString()

// --- the seed's Advanced Usage ---

// Create IPFS Kit instance
const kit = await ipfsKit()

// Create a libp2p peer with custom configuration
const libp2pPeer = new IPFSLibp2pPeer({
  role: 'worker',
  bootstrapPeers: [providerAddr]
})

// Register with IPFS Kit
const integration = await registerLibp2pWithIpfsKit(kit, libp2pPeer)

// Manually create enhanced discovery (optional)
const discovery = new EnhancedDHTDiscovery(libp2pPeer, { role: 'worker' })
await discovery.start()

// Create content routing manager (optional)
const router = new ContentRoutingManager(discovery, libp2pPeer)

// Retrieve content directly using the router
const content = await router.retrieveContent(QmSomeCID, { timeout: 30_000 })

// Check statistics
let stats = integration.getStats()
console.log(`Cache miss success rate: ${stats.successRate.toFixed(2)}`)

// --- end of the seed's Advanced Usage ---

const same = content.length === someBytes.length && content.every((b, i) => b === someBytes[i])
console.log(`retrieved ${QmSomeCID}: ${content.length} bytes, ${same ? 'identical' : 'DIFFERENT'}`)
console.log(`Router retrievals: ${JSON.stringify(router.getMetrics())}`)

// A cache miss of the kit's filesystem, served through the registered peer
const fs = kit.getFilesystem({ useLibp2p: true })
const other = await fs.cat(otherCid)
console.log(`cat ${otherCid}: ${new TextDecoder().decode(other)}`)
stats = integration.getStats()
console.log(`Cache misses handled: ${stats.cacheMissesHandled}`)
console.log(`Cache miss success rate: ${stats.successRate.toFixed(2)}`)
console.log(`Successful retrievals: ${stats.discoveryMetrics.successfulRetrievals}`)

await router.stop()
await discovery.stop()
await kit.stop()
await libp2pPeer.stop()
await provider.stop()
await rm(providerRepo, { recursive: true, force: true })
