/**
 * `/api/v0/name/publish`, `name/resolve`, `resolve`, `routing/get` and `routing/put` (of
 * `/ipns/` records), with Kubo's arguments and JSON (`{Name, Value}`, `{Path}`, routing
 * query events).
 *
 * @packageDocumentation
 */

import { base16 } from 'multiformats/bases/base16'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { base64pad } from 'multiformats/bases/base64'
import durationMs from 'parse-duration'
import { parseCIDPath } from '../../cids.ts'
import { API_MAX_RECORD_BODY_BYTES, SELF_KEY_NAME } from '../../constants.ts'
import { InvalidParametersError } from '../../errors.ts'
import {
  arg,
  args,
  type CommandSpec,
  flag,
  type Handler,
  NdjsonWriter,
  type RequestContext,
  requestSignal,
  sendJson
} from '../http.ts'
import { firstPart } from '../multipart.ts'
import { formatKeyId } from './keys.ts'

/** Kubo's routing query event type of a value (`routing.Value`). */
const QUERY_EVENT_VALUE = 5

/** A Go duration, as Kubo's options take it: `48h`, `1h30m`, `90s`, `500ms`. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/

/**
 * A Go duration option in ms (more than 0), or undefined when absent.
 * @throws {InvalidParametersError} naming the option
 */
export function goDuration(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name)
  if (v == null || v === '') return undefined
  const ms = GO_DURATION.test(v) ? durationMs(v) : undefined
  if (ms == null || !Number.isFinite(ms) || ms < 1) {
    throw new InvalidParametersError(
      `option "${name}": "${v.slice(0, 64)}" is not a duration such as 48h, 1h30m or 90s`
    )
  }
  return Math.round(ms)
}

const CID_BASES = { base32, base36, base58btc, base16 } as const

/** A `/ipfs/<cid>…` path with its CIDv1 in `cid-base` (Kubo's `--cid-base`); other paths as they are. */
function withCidBase(path: string, params: URLSearchParams): string {
  const name = params.get('cid-base')
  if (name == null || name === '') return path
  const base = CID_BASES[name as keyof typeof CID_BASES]
  if (base == null) {
    throw new InvalidParametersError(
      `option "cid-base": "${name}" is not one of ${Object.keys(CID_BASES).join(', ')}`
    )
  }
  if (!path.startsWith('/ipfs/')) return path
  const { cid, path: sub } = parseCIDPath(path)
  const text = cid.version === 1 ? cid.toString(base) : cid.toString()
  return `/ipfs/${text}${sub == null ? '' : `/${sub}`}`
}

/** The kubo-rpc-client spells some options in camelCase (`allowOffline`): both are taken. */
function allowOffline(params: URLSearchParams): boolean {
  return flag(params, 'allow-offline', false) || flag(params, 'allowOffline', false)
}

/** `name/publish?arg=<path>&key=&lifetime=&ttl=&resolve=&allow-offline=`: `{Name, Value}`. */
const publish: Handler = async (ctx) => {
  const path = arg(ctx.params, 'ipfs-path')
  const lifetime = goDuration(ctx.params, 'lifetime')
  const ttl = goDuration(ctx.params, 'ttl')
  const key = ctx.params.get('key')
  const result = await ctx.kit.names.publish(path, {
    key: key == null || key === '' ? SELF_KEY_NAME : key,
    ...(lifetime == null ? {} : { lifetime }),
    ...(ttl == null ? {} : { ttl }),
    resolve: flag(ctx.params, 'resolve', true),
    allowOffline: allowOffline(ctx.params),
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, { Name: formatKeyId(result.name, ctx.params.get('ipns-base')), Value: result.value })
}

/** The name argument of `name/resolve`: the node's own name when none is given (Kubo). */
async function nameArg(ctx: RequestContext): Promise<string> {
  const given = ctx.params.get('arg')
  if (given != null && given !== '') return given
  const [self] = await ctx.kit.keys.list({ signal: ctx.signal })
  return `/ipns/${formatKeyId(self!.id, 'base36')}`
}

/** Send `{Path}`: one NDJSON line with `stream` (the kubo-rpc-client asks so), else one JSON value. */
async function sendPath(ctx: RequestContext, path: string): Promise<void> {
  if (!flag(ctx.params, 'stream', false)) return sendJson(ctx.res, { Path: path })
  const out = new NdjsonWriter(ctx.res)
  await out.send({ Path: path })
  out.end()
}

/** `name/resolve?arg=<name>&recursive=&nocache=`: `{Path}`. */
const resolveName: Handler = async (ctx) => {
  const path = await ctx.kit.names.resolve(await nameArg(ctx), {
    recursive: flag(ctx.params, 'recursive', true),
    nocache: flag(ctx.params, 'nocache', false),
    signal: requestSignal(ctx)
  })
  await sendPath(ctx, path)
}

/** `resolve?arg=<path>&recursive=`: `{Path}`, `/ipns/` names followed and the DAG path walked. */
const resolve: Handler = async (ctx) => {
  const path = await ctx.kit.names.resolvePath(arg(ctx.params, 'name'), {
    recursive: flag(ctx.params, 'recursive', true),
    nocache: flag(ctx.params, 'nocache', false),
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, { Path: withCidBase(path, ctx.params) })
}

/** `routing/get?arg=/ipns/<name>`: the record, base64 in a Value event's `Extra` (Kubo's shape). */
const routingGet: Handler = async (ctx) => {
  const record = await ctx.kit.names.getRecord(arg(ctx.params, 'key'), { signal: requestSignal(ctx) })
  const out = new NdjsonWriter(ctx.res)
  await out.send({ Extra: base64pad.baseEncode(record), ID: '', Responses: null, Type: QUERY_EVENT_VALUE })
  out.end()
}

/** `routing/put?arg=/ipns/<name>&allow-offline=`, the record as the multipart body: checked, then stored. */
const routingPut: Handler = async (ctx) => {
  const [key] = args(ctx.params, 'key')
  const record = await firstPart(ctx.req, API_MAX_RECORD_BODY_BYTES)
  await ctx.kit.names.putRecord(key!, record, {
    allowOffline: allowOffline(ctx.params),
    signal: requestSignal(ctx)
  })
  const out = new NdjsonWriter(ctx.res)
  await out.send({
    Extra: '',
    ID: ctx.kit.repo.config.Identity.PeerID,
    Responses: null,
    Type: QUERY_EVENT_VALUE
  })
  out.end()
}

/** `name/publish`, `name/resolve`, `resolve`, `routing/get`, `routing/put`. */
export const nameCommands: Record<string, CommandSpec> = {
  'name/publish': publish,
  'name/resolve': resolveName,
  resolve,
  'routing/get': routingGet,
  'routing/put': { handler: routingPut, maxBody: API_MAX_RECORD_BODY_BYTES }
}
