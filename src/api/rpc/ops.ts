/**
 * Kubo's config, network and operations commands on `/api/v0`: `config`, `bootstrap`,
 * `routing findpeer|provide`, `swarm addrs|disconnect`, `ping`, `bitswap`, `stats`,
 * `repo version`, `shutdown`, `commands`, `log level`. Thin: the work is the kit's.
 *
 * @packageDocumentation
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { API_MAX_CONFIG_BODY_BYTES, REPO_VERSION, STATS_BW_POLL_INTERVAL_MS } from '../../constants.ts'
import { InvalidConfigError, InvalidParametersError, NotADaemonError } from '../../errors.ts'
import type { ConfigValue } from '../../kit/config-edit.ts'
import { setLogLevel } from '../../kit/log-level.ts'
import {
  bandwidth,
  bitswapWantlist,
  findPeer,
  localAddrs,
  ping,
  provide,
  swarmAddrs,
  swarmDisconnect
} from '../../kit/ops.ts'
import {
  arg,
  args,
  type CommandSpec,
  durationOption,
  flag,
  type Handler,
  NdjsonWriter,
  type RequestContext,
  requestSignal,
  sendJson,
  uint
} from '../http.ts'
import { firstPart } from '../multipart.ts'
import { resolveCid } from './blocks.ts'
import { repoStat } from './network.ts'

/** Kubo's routing event type of a peer found (`FinalPeer`). */
const FINAL_PEER_EVENT = 2

/** `config <key> [<value>]`: get, or set with `json` / `bool` for a value that is not a string. */
const config: Handler = async (ctx) => {
  const [key, value, ...rest] = args(ctx.params, 'key')
  if (key == null) throw new InvalidParametersError('argument "key" is required')
  if (rest.length > 0) throw new InvalidParametersError('config takes a key and at most one value')
  const editor = ctx.kit.config
  if (value == null) return sendJson(ctx.res, { Key: key, Value: await editor.get(key) })
  const json = flag(ctx.params, 'json', false)
  const bool = flag(ctx.params, 'bool', false)
  if (json && bool) throw new InvalidParametersError('use json or bool, not both')
  let parsed: ConfigValue = value
  if (bool) {
    if (value !== 'true' && value !== 'false') {
      throw new InvalidConfigError(`--bool takes true or false, not "${value}"`)
    }
    parsed = value === 'true'
  } else if (json) {
    try {
      parsed = JSON.parse(value) as ConfigValue
    } catch (err) {
      throw new InvalidConfigError(`the value is not JSON: ${(err as Error).message}`, { cause: err })
    }
  }
  sendJson(ctx.res, { Key: key, Value: await editor.set(key, parsed) })
}

const configShow: Handler = async (ctx) => sendJson(ctx.res, await ctx.kit.config.show())

/** `config/replace`: the new config as the body's first part; refused whole if it does not check. */
const configReplace: Handler = async (ctx) => {
  const bytes = await firstPart(ctx.req, API_MAX_CONFIG_BODY_BYTES)
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new InvalidConfigError(`the new config is not JSON: ${(err as Error).message}`, { cause: err })
  }
  await ctx.kit.config.replace(value)
  ctx.res.statusCode = 200
  ctx.res.end()
}

const bootstrapList: Handler = async (ctx) =>
  sendJson(ctx.res, { Peers: await ctx.kit.config.bootstrapList() })

const bootstrapAdd: Handler = async (ctx) => {
  const defaults = flag(ctx.params, 'default', false) || ctx.url.pathname.endsWith('/default')
  const addrs = defaults ? ctx.params.getAll('arg') : args(ctx.params, 'peer')
  sendJson(ctx.res, { Peers: await ctx.kit.config.bootstrapAdd(addrs, { defaults }) })
}

const bootstrapRm: Handler = async (ctx) => {
  const all = flag(ctx.params, 'all', false) || ctx.url.pathname.endsWith('/all')
  const addrs = all ? ctx.params.getAll('arg') : args(ctx.params, 'peer')
  sendJson(ctx.res, { Peers: await ctx.kit.config.bootstrapRm(addrs, { all }) })
}

/** `routing/findpeer`: the peer's addresses as Kubo's final routing event. */
const routingFindPeer: Handler = async (ctx) => {
  const found = await findPeer(ctx.kit, arg(ctx.params, 'peerID'), { signal: requestSignal(ctx) })
  const out = new NdjsonWriter(ctx.res)
  await out.send({ Extra: '', ID: '', Responses: [found], Type: FINAL_PEER_EVENT })
  out.end()
}

/** `routing/provide`: announce held CIDs (`recursive`: whole DAGs); no lines unless it fails. */
const routingProvide: Handler = async (ctx) => {
  const signal = requestSignal(ctx)
  const cids = []
  for (const path of args(ctx.params, 'key')) cids.push(await resolveCid(ctx.kit, path, signal))
  await provide(ctx.kit, cids, { recursive: flag(ctx.params, 'recursive', false), signal })
  new NdjsonWriter(ctx.res).end()
}

const swarmAddrsAll: Handler = async (ctx) => sendJson(ctx.res, { Addrs: await swarmAddrs(ctx.kit) })

const swarmAddrsLocal: Handler = async (ctx) =>
  sendJson(ctx.res, { Strings: localAddrs(ctx.kit, { id: flag(ctx.params, 'id', false) }) })

const swarmDisconnectAll: Handler = async (ctx) => {
  const lines: string[] = []
  for (const addr of args(ctx.params, 'address')) {
    lines.push(await swarmDisconnect(ctx.kit, addr, { signal: ctx.signal }))
  }
  sendJson(ctx.res, { Strings: lines })
}

/** `ping`: Kubo's NDJSON lines, one per pong (Kubo's option `count`, `-n`). */
const pingPeer: Handler = async (ctx) => {
  const count = uint(ctx.params, 'count') ?? uint(ctx.params, 'n')
  const pings = ping(ctx.kit, arg(ctx.params, 'peer ID'), {
    signal: requestSignal(ctx),
    ...(count == null ? {} : { count })
  })
  // the first line before the status: a bad argument is a proper error
  const first = await pings.next()
  const out = new NdjsonWriter(ctx.res)
  if (first.done !== true) await out.send(first.value)
  try {
    for await (const line of pings) if (!(await out.send(line))) break
  } catch (err) {
    await out.send({ Success: false, Time: 0, Text: (err as Error).message })
  }
  out.end()
}

const bitswapStat: Handler = async (ctx) => sendJson(ctx.res, ctx.kit.bitswapStat())

const wantlist: Handler = async (ctx) => {
  const peer = ctx.params.get('peer')
  const keys = bitswapWantlist(ctx.kit, peer == null || peer === '' ? undefined : peer)
  sendJson(ctx.res, { Keys: keys.map((c) => ({ '/': c.toString() })) })
}

function bw(ctx: RequestContext) {
  const peer = ctx.params.get('peer')
  const proto = ctx.params.get('proto')
  return bandwidth(ctx.kit, {
    ...(peer == null || peer === '' ? {} : { peer }),
    ...(proto == null || proto === '' ? {} : { proto })
  })
}

/**
 * `stats/bw`: bytes on libp2p's wire (the node's totals, or `peer`'s or `proto`'s stream
 * bytes); with `poll`, one line every `interval` until the client goes away.
 */
const statsBw: Handler = async (ctx) => {
  const first = bw(ctx)
  if (!flag(ctx.params, 'poll', false)) return sendJson(ctx.res, first)
  const interval = durationOption(ctx.params, 'interval') ?? STATS_BW_POLL_INTERVAL_MS
  const out = new NdjsonWriter(ctx.res)
  let line = first
  while (!ctx.signal.aborted) {
    if (!(await out.send(line))) break
    await sleep(interval, undefined, { signal: ctx.signal }).catch(() => undefined)
    line = bw(ctx)
  }
  out.end()
}

const repoVersion: Handler = async (ctx) => sendJson(ctx.res, { Version: String(REPO_VERSION) })

/** `shutdown`: answer, then stop the daemon (it removes its api file and exits 0). */
const shutdown: Handler = async (ctx) => {
  if (!ctx.kit.servedByDaemon) {
    throw new NotADaemonError('this command must be sent to a running daemon: start `ipfs-kit daemon` first')
  }
  ctx.res.statusCode = 200
  ctx.res.once('finish', () => ctx.kit.requestShutdown('a shutdown request'))
  ctx.res.end()
}

/** `commands`: the command tree, Kubo's `{ Name, Subcommands, Options }`. */
const commands: Handler = async (ctx) => {
  const [{ createProgram }, { commandTree }] = await Promise.all([
    import('../../cli/index.ts'),
    import('../../cli/commands/ops.ts')
  ])
  sendJson(ctx.res, commandTree(createProgram()))
}

/** `log/level <subsystem> <level>`. */
const logLevel: Handler = async (ctx) => {
  const [subsystem, level] = args(ctx.params, 'subsystem')
  if (subsystem == null || level == null) {
    throw new InvalidParametersError('log level takes a subsystem (or all) and a level')
  }
  sendJson(ctx.res, { Message: setLogLevel(subsystem, level) })
}

/** The config, network and operations commands. */
export const opsCommands: Record<string, CommandSpec> = {
  config,
  'config/show': configShow,
  'config/replace': { handler: configReplace, maxBody: API_MAX_CONFIG_BODY_BYTES },
  bootstrap: bootstrapList,
  'bootstrap/list': bootstrapList,
  'bootstrap/add': bootstrapAdd,
  'bootstrap/add/default': bootstrapAdd,
  'bootstrap/rm': bootstrapRm,
  'bootstrap/rm/all': bootstrapRm,
  'routing/findpeer': routingFindPeer,
  'routing/provide': routingProvide,
  'swarm/addrs': swarmAddrsAll,
  'swarm/addrs/local': swarmAddrsLocal,
  'swarm/disconnect': swarmDisconnectAll,
  ping: pingPeer,
  'bitswap/stat': bitswapStat,
  'bitswap/wantlist': wantlist,
  'stats/bitswap': bitswapStat,
  'stats/bw': statsBw,
  'stats/repo': repoStat,
  'repo/version': repoVersion,
  shutdown,
  commands,
  'log/level': logLevel
}
