/**
 * The cluster's settings: `<repo>/cluster.json` (IPFS Cluster keeps its own `service.json` next
 * to the IPFS repo the same way), checked as the init options are, and a pin's options turned
 * into a pin of IPFS Cluster's model.
 *
 * @packageDocumentation
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  CLUSTER_CONFIG_FILE,
  CLUSTER_MAX_METADATA_KEYS,
  CLUSTER_MAX_NAME_LENGTH,
  REPO_SECRET_FILE_MODE
} from '../constants.ts'
import { InvalidClusterConfigError, InvalidParametersError } from '../errors.ts'
import type { ClusterInit, ClusterPin, ClusterPinOptions } from './types.ts'

const NUMBER_KEYS = [
  'heartbeatIntervalMs',
  'heartbeatTtlMs',
  'checkIntervalMs',
  'pingTimeoutMs',
  'recoveryGraceMs',
  'pinConcurrency',
  'pinTimeoutMs',
  'pinRetryMs',
  'reconcileIntervalMs'
] as const

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  ...NUMBER_KEYS,
  'address',
  'name',
  'role',
  'tags',
  'allocateBy',
  'trustedPeers',
  'recovery',
  'directory'
])

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')
const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' &&
  v != null &&
  !Array.isArray(v) &&
  Object.values(v).every((x) => typeof x === 'string')

/**
 * Check cluster options (from code or from `cluster.json`).
 * @throws {InvalidClusterConfigError} naming the option
 */
export function checkClusterInit(value: unknown, where = 'the cluster options'): ClusterInit {
  if (typeof value !== 'object' || value == null || Array.isArray(value)) {
    throw new InvalidClusterConfigError(`${where} must be a JSON object`)
  }
  const v = value as Record<string, unknown>
  const fail = (what: string): never => {
    throw new InvalidClusterConfigError(`${where}: ${what}`)
  }
  for (const key of Object.keys(v)) if (!KNOWN_KEYS.has(key)) fail(`unknown option "${key}"`)
  for (const key of NUMBER_KEYS) {
    const n = v[key]
    if (n != null && !(Number.isSafeInteger(n) && (n as number) > 0))
      fail(`${key} must be a whole number above 0`)
  }
  if (v.address != null && typeof v.address !== 'string') fail('address must be an /orbitdb/ address')
  if (v.name != null && (typeof v.name !== 'string' || v.name === '')) fail('name must be a non-empty text')
  if (v.role != null && v.role !== 'master' && v.role !== 'worker' && v.role !== 'leecher') {
    fail('role must be master, worker or leecher')
  }
  if (v.tags != null && !isStringRecord(v.tags)) fail('tags must map names to texts')
  if (v.allocateBy != null && !isStringList(v.allocateBy)) fail('allocateBy must be a list of tag names')
  if (v.trustedPeers != null && !isStringList(v.trustedPeers)) fail('trustedPeers must be a list of peer ids')
  if (v.recovery != null && typeof v.recovery !== 'boolean') fail('recovery must be true or false')
  if (v.directory != null && typeof v.directory !== 'string') fail('directory must be a folder')
  const ttl = (v.heartbeatTtlMs as number | undefined) ?? undefined
  const interval = (v.heartbeatIntervalMs as number | undefined) ?? undefined
  if (ttl != null && interval != null && ttl <= interval) {
    fail('heartbeatTtlMs must be longer than heartbeatIntervalMs (else every member looks down)')
  }
  return v as ClusterInit
}

/** The repo's `cluster.json`, checked; undefined when there is none. */
export async function readClusterConfig(repoPath: string): Promise<ClusterInit | undefined> {
  const file = join(repoPath, CLUSTER_CONFIG_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new InvalidClusterConfigError(`${file} is not valid JSON: ${(err as Error).message}`, {
      cause: err
    })
  }
  return checkClusterInit(value, file)
}

/** Write the repo's `cluster.json` (owner-only, like the config: it names the cluster). */
export async function writeClusterConfig(repoPath: string, init: ClusterInit): Promise<void> {
  await writeFile(join(repoPath, CLUSTER_CONFIG_FILE), `${JSON.stringify(init, null, 2)}\n`, {
    mode: REPO_SECRET_FILE_MODE
  })
}

function factor(value: unknown, what: string): number | undefined {
  if (value == null) return undefined
  if (!Number.isSafeInteger(value) || ((value as number) < 1 && value !== -1 && value !== 0)) {
    throw new InvalidParametersError(
      `${what} must be -1 (everywhere) or a whole number of members, not ${value}`
    )
  }
  return value === 0 ? undefined : (value as number)
}

/**
 * A pin of IPFS Cluster's model from a pin's options: one factor given sets the other to it;
 * -1 (everywhere, the default) must be both or neither; the minimum is not above the maximum.
 * @throws {InvalidParametersError} naming the option
 */
export function pinFromOptions(
  cid: string,
  options: ClusterPinOptions,
  by: string,
  now = Date.now()
): Omit<ClusterPin, 'allocations'> {
  let min = factor(options.replicationFactorMin, 'replicationFactorMin')
  let max = factor(options.replicationFactorMax, 'replicationFactorMax')
  min ??= max ?? -1
  max ??= min
  if ((min === -1) !== (max === -1)) {
    throw new InvalidParametersError(
      'replicationFactorMin and replicationFactorMax are -1 (everywhere) together or not at all'
    )
  }
  if (min > max) {
    throw new InvalidParametersError(`replicationFactorMin (${min}) is above replicationFactorMax (${max})`)
  }
  const name = options.name ?? ''
  if (typeof name !== 'string' || name.length > CLUSTER_MAX_NAME_LENGTH) {
    throw new InvalidParametersError(
      `a pin's name is a text of at most ${CLUSTER_MAX_NAME_LENGTH} characters`
    )
  }
  const metadata = options.metadata ?? {}
  if (!isStringRecord(metadata) || Object.keys(metadata).length > CLUSTER_MAX_METADATA_KEYS) {
    throw new InvalidParametersError(`metadata maps at most ${CLUSTER_MAX_METADATA_KEYS} names to texts`)
  }
  const expireAt = options.expireAt instanceof Date ? options.expireAt.getTime() : (options.expireAt ?? 0)
  if (!Number.isFinite(expireAt) || expireAt < 0) {
    throw new InvalidParametersError('expireAt must be a date (or ms since the epoch)')
  }
  if (expireAt > 0 && expireAt <= now) throw new InvalidParametersError('expireAt is in the past')
  const mode = options.mode ?? 'recursive'
  if (mode !== 'recursive' && mode !== 'direct') {
    throw new InvalidParametersError(`mode must be recursive or direct, not "${String(mode)}"`)
  }
  return {
    cid,
    name,
    replicationFactorMin: min,
    replicationFactorMax: max,
    expireAt,
    metadata: { ...metadata },
    mode,
    timestamp: now,
    updatedBy: by,
    reallocated: 0
  }
}
