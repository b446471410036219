/**
 * The IPFS Pinning Service API on a cluster member (`/pinning/pins`): see {@link PinningService}.
 *
 * @packageDocumentation
 */
export { cidKeys, decodePathSegment, nameMatches, parseListQuery, parsePinBody, parseTime } from './query.ts'
export { PinRequests } from './requests.ts'
export type { PinningServiceComponents } from './service.ts'
export { PinningService } from './service.ts'
export * from './types.ts'
