/**
 * `/api/v0/key/*`: the repo's keys, with Kubo's arguments and JSON (`{Name, Id}`,
 * `{Keys: […]}`, `{Was, Now, Id, Overwrite}`). `key/export` answers only a caller holding the
 * repo's `api.token` (Kubo runs `key export` on the repo, never through the API).
 *
 * @packageDocumentation
 */
import { base16 } from 'multiformats/bases/base16'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { base64url } from 'multiformats/bases/base64'
import type { CID } from 'multiformats/cid'
import { API_MAX_KEY_BODY_BYTES, SELF_KEY_NAME } from '../../constants.ts'
import { InvalidParametersError, KeyNotFoundError } from '../../errors.ts'
import type { KeyEntry, KeyFormat, KeyType } from '../../kit/index.ts'
import { checkToken, repoToken } from '../auth.ts'
import {
  arg,
  args,
  type CommandSpec,
  flag,
  type Handler,
  requestSignal,
  sendJson,
  sendStream,
  uint
} from '../http.ts'
import { firstPart } from '../multipart.ts'

const BASES = { base36, base32, base58btc, base16, base64url } as const

/**
 * A key id (its IPNS name) in Kubo's `--ipns-base`: a CIDv1 in a multibase (`base36` by
 * default), or `b58mh`, the bare multihash in base58btc (the `12D3Koo…` peer id form).
 */
export function formatKeyId(id: CID, ipnsBase: string | null | undefined): string {
  const base = ipnsBase == null || ipnsBase === '' ? 'base36' : ipnsBase
  if (base === 'b58mh') return base58btc.baseEncode(id.multihash.bytes)
  const encoder = BASES[base as keyof typeof BASES]
  if (encoder == null) {
    throw new InvalidParametersError(
      `option "ipns-base": "${base}" is not one of ${[...Object.keys(BASES), 'b58mh'].join(', ')}`
    )
  }
  return id.toV1().toString(encoder)
}

function keyOut(entry: KeyEntry, params: URLSearchParams): { Name: string; Id: string } {
  return { Name: entry.name, Id: formatKeyId(entry.id, params.get('ipns-base')) }
}

/** Kubo's `type` option: ed25519 (the default) or rsa, any case. */
function keyType(params: URLSearchParams): KeyType | undefined {
  const t = params.get('type')
  if (t == null || t === '') return undefined
  const lower = t.toLowerCase()
  if (lower !== 'ed25519' && lower !== 'rsa') {
    throw new InvalidParametersError(`unrecognized key type: ${t} (use ed25519 or rsa)`)
  }
  return lower
}

function keyFormat(params: URLSearchParams): KeyFormat | undefined {
  const f = params.get('format')
  return f == null || f === '' ? undefined : (f as KeyFormat)
}

/** `key/gen?arg=<name>&type=&size=`: `{Name, Id}`. */
const gen: Handler = async (ctx) => {
  const name = arg(ctx.params, 'name')
  const size = uint(ctx.params, 'size')
  const entry = await ctx.kit.keys.gen(name, {
    type: keyType(ctx.params),
    ...(size == null ? {} : { size }),
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, keyOut(entry, ctx.params))
}

/** `key/list` (and Kubo's newer `key/ls`): `{Keys: [{Name, Id}]}`, `self` first. */
const list: Handler = async (ctx) => {
  const keys = await ctx.kit.keys.list({ signal: requestSignal(ctx) })
  sendJson(ctx.res, { Keys: keys.map((k) => keyOut(k, ctx.params)) })
}

/** `key/rm?arg=<name>…`: every name is checked before any key is removed. */
const rm: Handler = async (ctx) => {
  const names = args(ctx.params, 'name')
  const signal = requestSignal(ctx)
  const known = new Set((await ctx.kit.keys.list({ signal })).map((k) => k.name))
  for (const name of names) {
    if (name === SELF_KEY_NAME)
      throw new InvalidParametersError(`cannot remove key with name '${SELF_KEY_NAME}'`)
    if (!known.has(name)) throw new KeyNotFoundError(`no key named "${name}" was found: nothing was removed`)
  }
  const removed: KeyEntry[] = []
  for (const name of new Set(names)) removed.push(await ctx.kit.keys.rm(name, { signal }))
  sendJson(ctx.res, { Keys: removed.map((k) => keyOut(k, ctx.params)) })
}

/** `key/rename?arg=<old>&arg=<new>&force=`: `{Was, Now, Id, Overwrite}`. */
const rename: Handler = async (ctx) => {
  const [from, to] = args(ctx.params, 'name')
  if (from == null || to == null) throw new InvalidParametersError('argument "newName" is required')
  const { entry, overwritten } = await ctx.kit.keys.rename(from, to, {
    force: flag(ctx.params, 'force', false),
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, {
    Was: from,
    Now: to,
    Id: formatKeyId(entry.id, ctx.params.get('ipns-base')),
    Overwrite: overwritten
  })
}

/** `key/import?arg=<name>&format=&allow-any-key-type=`, the key file as the multipart body: `{Name, Id}`. */
const importKey: Handler = async (ctx) => {
  const name = arg(ctx.params, 'name')
  const bytes = await firstPart(ctx.req, API_MAX_KEY_BODY_BYTES)
  const entry = await ctx.kit.keys.import(name, bytes, {
    format: keyFormat(ctx.params),
    allowAnyKeyType: flag(ctx.params, 'allow-any-key-type', false),
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, keyOut(entry, ctx.params))
}

/**
 * `key/export?arg=<name>&format=`: the key file's bytes. Only for a caller that sends the
 * repo's `api.token` (whoever can read the repo's files), even on loopback: the private key
 * never leaves through the API alone.
 */
const exportKey: Handler = async (ctx) => {
  checkToken(ctx.req, ctx.url, await repoToken(ctx.kit.repo.path))
  const name = arg(ctx.params, 'name')
  const bytes = await ctx.kit.keys.export(name, { format: keyFormat(ctx.params), signal: requestSignal(ctx) })
  await sendStream(ctx.res, [bytes], {
    'Content-Type': 'application/octet-stream',
    'Content-Length': bytes.byteLength,
    'Cache-Control': 'no-store',
    'X-Stream-Output': '1'
  })
}

/** `key/gen`, `key/list`, `key/ls`, `key/rm`, `key/rename`, `key/import`, `key/export`. */
export const keyCommands: Record<string, CommandSpec> = {
  'key/gen': gen,
  'key/list': list,
  'key/ls': list,
  'key/rm': rm,
  'key/rename': rename,
  'key/import': { handler: importKey, maxBody: API_MAX_KEY_BODY_BYTES },
  'key/export': exportKey
}
