/**
 * The cluster layer (the seed's Phase 3B): a replicated pinset with replication factors on
 * OrbitDB, a pin tracker, a balanced allocator, failure detection and recovery.
 *
 * @packageDocumentation
 */
export type { AllocationCandidate, AllocationRequest } from './allocator.ts'
export { allocate } from './allocator.ts'
export { Cluster } from './cluster.ts'
export { checkClusterInit, pinFromOptions, readClusterConfig, writeClusterConfig } from './config.ts'
export { rendezvousOrder, rendezvousPick, rendezvousWeight } from './rendezvous.ts'
export type { MemberRecord } from './state-index.ts'
export { StateIndex } from './state-index.ts'
export * from './types.ts'
