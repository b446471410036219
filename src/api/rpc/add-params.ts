/**
 * The `/api/v0/add` query options, as Kubo names them, read into the kit's `AddOptions` and
 * the output settings (progress objects, the multibase of printed CIDs). The CLI checks its
 * flags with the same function before it sends anything.
 *
 * @packageDocumentation
 */

import type { MultibaseEncoder } from 'multiformats/bases/interface'
import { bases } from 'multiformats/basics'
import type { CID } from 'multiformats/cid'
import { InvalidParametersError } from '../../errors.ts'
import { resolveImport } from '../../kit/import-options.ts'
import type { AddOptions } from '../../kit/index.ts'
import { flag } from '../http.ts'

/** The add's output settings. */
export interface AddOutput {
  /** send `{Name, Bytes}` progress objects (Kubo's `progress`) */
  progress: boolean
  /** how a CID is printed (Kubo's `cid-base` and `upgrade-cidv0-in-output`) */
  format: (cid: CID) => string
}

/**
 * The multibase named `name` (`base32`, `base58btc`, `base36`, …) or by its prefix character,
 * as Kubo's `--cid-base` takes it.
 *
 * @throws {InvalidParametersError} for a name multiformats does not know
 */
export function multibaseOf(name: string): MultibaseEncoder<string> {
  for (const base of Object.values(bases)) {
    if (base.name === name || base.prefix === name) return base.encoder
  }
  throw new InvalidParametersError(`unsupported multibase encoding: "${name}"`)
}

/**
 * How CIDs are printed: as they are without `cid-base`; with it, in that multibase, a CIDv0
 * shown as its CIDv1 (Kubo's default once a base is given) unless `upgrade-cidv0-in-output`
 * is false.
 */
export function cidFormat(params: URLSearchParams): (cid: CID) => string {
  const name = params.get('cid-base')
  if (name == null || name === '') return (cid) => cid.toString()
  const base = multibaseOf(name)
  const upgrade = flag(params, 'upgrade-cidv0-in-output', true)
  return (cid) => {
    if (cid.version === 0) return upgrade ? cid.toV1().toString(base) : cid.toString()
    return cid.toString(base)
  }
}

function option(params: URLSearchParams, name: string): string | undefined {
  const v = params.get(name)
  return v == null || v === '' ? undefined : v
}

/**
 * Kubo's `add` options from a query: `cid-version`, `raw-leaves`, `chunker`, `trickle`,
 * `hash`, `pin`, `only-hash`, `wrap-with-directory`, `progress`, `cid-base`,
 * `upgrade-cidv0-in-output`; checked together as the kit will apply them.
 *
 * @throws {InvalidParametersError} naming the option, or a combination Kubo refuses
 * @throws {UnsupportedHasherError} for a hash Kubo takes that ipfs-kit does not offer
 */
export function addParams(params: URLSearchParams): { options: AddOptions; output: AddOutput } {
  const v = params.get('cid-version')
  let cidVersion: 0 | 1 | undefined
  if (v != null && v !== '') {
    if (v !== '0' && v !== '1')
      throw new InvalidParametersError(`option "cid-version" must be 0 or 1, not "${v}"`)
    cidVersion = v === '1' ? 1 : 0
  }
  const options: AddOptions = {
    cidVersion,
    rawLeaves: params.has('raw-leaves') ? flag(params, 'raw-leaves', false) : undefined,
    chunker: option(params, 'chunker'),
    trickle: flag(params, 'trickle', false),
    hash: option(params, 'hash'),
    pin: flag(params, 'pin', true),
    onlyHash: flag(params, 'only-hash', false),
    wrapWithDirectory: flag(params, 'wrap-with-directory', false)
  }
  // every option is checked now, before a byte of the body is read
  resolveImport(options)
  return { options, output: { progress: flag(params, 'progress', false), format: cidFormat(params) } }
}
