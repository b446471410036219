/**
 * `/api/v0/key/*`: the repo's keys, with Kubo's arguments, options (long and short names) and
 * JSON (`{Name, Id}`, `{Keys: […]}`, `{Was, Now, Id, Overwrite}`). `key/export` answers only a
 * caller holding the repo's `api.token` (Kubo runs `key export` on the repo, never through the
 * API).
 *
 * `key/import` takes what Kubo takes: the key file as the multipart body. kubo-rpc-client's
 * `key.import(name, pem, password)` (inherited from js-ipfs) sends `?pem=…&password=…` and no
 * body; Kubo refuses that (`file argument 'key' is required`: go-ipfs-cmds' `parseRequest`, for
 * Kubo's required `FileArg("key")`), and has no password-protected format either, so it is
 * refused here too, with Kubo's message and a hint.
 *
 * @packageDocumentation
 */
import { base58btc } from 'multiformats/bases/base58'
import type { MultibaseEncoder } from 'multiformats/bases/interface'
import { bases } from 'multiformats/basics'
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
  type RequestContext,
  requestSignal,
  sendJson,
  sendStream,
  uint
} from '../http.ts'
import { multipartEntries } from '../multipart.ts'

/** Every multibase, by its name (`base36`) and by its prefix (`k`), as Kubo's `--ipns-base` takes them. */
const BASES: ReadonlyMap<string, MultibaseEncoder<string>> = new Map(
  Object.values(bases).flatMap((b) => [
    [b.name, b.encoder],
    [b.prefix, b.encoder]
  ])
)

/**
 * A key id (its IPNS name) in Kubo's `--ipns-base`: a CIDv1 in a multibase, by name or prefix
 * (`base36` by default), or `b58mh` (also `v0`), the bare multihash in base58btc (the
 * `12D3Koo…` peer id form).
 */
export function formatKeyId(id: CID, ipnsBase: string | null | undefined): string {
  const base = ipnsBase == null || ipnsBase === '' ? 'base36' : ipnsBase
  if (base === 'b58mh' || base === 'v0') return base58btc.baseEncode(id.multihash.bytes)
  const encoder = BASES.get(base)
  if (encoder == null) {
    throw new InvalidParametersError(
      `option "ipns-base": "${base}" is no multibase name or prefix (base36, k, base32, b, …) nor b58mh`
    )
  }
  return id.toV1().toString(encoder)
}

/** An option by its long name or, as Kubo also takes it, its short one (`format` or `f`). */
function option(params: URLSearchParams, long: string, short: string): string | null {
  return params.get(long) ?? params.get(short)
}

function keyOut(entry: KeyEntry, params: URLSearchParams): { Name: string; Id: string } {
  return { Name: entry.name, Id: formatKeyId(entry.id, params.get('ipns-base')) }
}

/** Kubo's `type` option: ed25519 (the default) or rsa, any case. */
function keyType(params: URLSearchParams): KeyType | undefined {
  const t = option(params, 'type', 't')
  if (t == null || t === '') return undefined
  const lower = t.toLowerCase()
  if (lower !== 'ed25519' && lower !== 'rsa') {
    throw new InvalidParametersError(`unrecognized key type: ${t} (use ed25519 or rsa)`)
  }
  return lower
}

/** Kubo's `format` (`f`) option of `key/import` and `key/export`; the kit checks its value. */
function keyFormat(params: URLSearchParams): KeyFormat | undefined {
  const f = option(params, 'format', 'f')
  return f == null || f === '' ? undefined : (f as KeyFormat)
}

/** `key/gen?arg=<name>&type=&size=`: `{Name, Id}`. */
const gen: Handler = async (ctx) => {
  const name = arg(ctx.params, 'name')
  const size = uint(ctx.params, ctx.params.has('size') ? 'size' : 's')
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
    force: flag(ctx.params, 'force', false) || flag(ctx.params, 'f', false),
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, {
    Was: from,
    Now: to,
    Id: formatKeyId(entry.id, ctx.params.get('ipns-base')),
    Overwrite: overwritten
  })
}

/** Kubo's answer to a `key/import` without its file argument (go-ipfs-cmds' words). */
const KEY_FILE_REQUIRED = "file argument 'key' is required"

/**
 * The key file of a `key/import`: the first file of its multipart body.
 * @throws {InvalidParametersError} with Kubo's message when there is none, and a hint when the
 * key came as kubo-rpc-client sends it (`?pem=…&password=…`), which Kubo does not take
 */
async function keyFile(ctx: RequestContext): Promise<Uint8Array> {
  const type = ctx.req.headers['content-type'] ?? ''
  if (type.toLowerCase().startsWith('multipart/form-data')) {
    for await (const entry of multipartEntries(ctx.req, API_MAX_KEY_BODY_BYTES)) {
      if (entry.content == null) continue
      const parts: Uint8Array[] = []
      for await (const part of entry.content) parts.push(part)
      return new Uint8Array(Buffer.concat(parts))
    }
  }
  if (ctx.params.has('pem')) {
    throw new InvalidParametersError(
      `${KEY_FILE_REQUIRED}: the key came as ?pem= (and ?password=), which Kubo does not take; send the key file as the multipart body, a cleartext PKCS#8 PEM with format=pem-pkcs8-cleartext (Kubo has no password-protected key format)`
    )
  }
  throw new InvalidParametersError(KEY_FILE_REQUIRED)
}

/**
 * `key/import?arg=<name>&format=&allow-any-key-type=&ipns-base=`, the key file as the multipart
 * body (`libp2p-protobuf-cleartext` by default, or `pem-pkcs8-cleartext`): `{Name, Id}`.
 */
const importKey: Handler = async (ctx) => {
  const name = arg(ctx.params, 'name')
  const bytes = await keyFile(ctx)
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
