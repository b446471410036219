/**
 * The cluster's commands on `/api/v0/cluster/*` (what `ipfs-kit cluster …` calls): `id`,
 * `pin/add|rm|ls|status|recover`, `peers`, `alerts`, `role`, `grant`. Thin: the work is the
 * kit's cluster's.
 *
 * @packageDocumentation
 */

import type { ClusterPinOptions } from '../../cluster/types.ts'
import type { Role } from '../../constants.ts'
import { InvalidParametersError } from '../../errors.ts'
import { arg, type CommandSpec, flag, type Handler, requestSignal, sendJson } from '../http.ts'

/** A replication factor option: a whole number, or -1 (everywhere). */
function factorOption(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name)
  if (v == null || v === '') return undefined
  if (!/^-?[0-9]+$/.test(v))
    throw new InvalidParametersError(`option "${name}" must be -1 or a whole number, not "${v.slice(0, 64)}"`)
  return Number(v)
}

/**
 * A pin's options from a query string, in IPFS Cluster's REST names (`replication-min`,
 * `replication-max`, `name`, `expire-at` (RFC 3339), `mode`, `user-allocations`, `meta-<key>`).
 */
export function pinOptionsFrom(params: URLSearchParams): ClusterPinOptions {
  const metadata: Record<string, string> = {}
  for (const [k, v] of params) if (k.startsWith('meta-')) metadata[k.slice('meta-'.length)] = v
  const expire = params.get('expire-at')
  let expireAt: number | undefined
  if (expire != null && expire !== '' && !expire.startsWith('0001-01-01')) {
    expireAt = Date.parse(expire)
    if (!Number.isFinite(expireAt))
      throw new InvalidParametersError(
        `option "expire-at" must be an RFC 3339 date, not "${expire.slice(0, 64)}"`
      )
  }
  const mode = params.get('mode') ?? undefined
  if (mode != null && mode !== 'recursive' && mode !== 'direct') {
    throw new InvalidParametersError(`option "mode" must be recursive or direct, not "${mode.slice(0, 64)}"`)
  }
  const users = params.get('user-allocations')
  return {
    name: params.get('name') ?? undefined,
    replicationFactorMin: factorOption(params, 'replication-min'),
    replicationFactorMax: factorOption(params, 'replication-max'),
    expireAt,
    metadata,
    mode,
    userAllocations: users == null || users === '' ? undefined : users.split(',')
  }
}

const id: Handler = async (ctx) => {
  const c = ctx.kit.cluster
  sendJson(ctx.res, {
    ID: ctx.kit.peer.peerId.toString(),
    Address: c.address,
    Role: c.role,
    Writer: c.writer,
    Identity: c.identity,
    Pins: c.ls().length
  })
}

const pinAdd: Handler = async (ctx) => {
  const pin = await ctx.kit.cluster.pin(arg(ctx.params, 'cid'), {
    ...pinOptionsFrom(ctx.params),
    signal: requestSignal(ctx)
  })
  sendJson(ctx.res, pin)
}

const pinRm: Handler = async (ctx) => {
  sendJson(ctx.res, await ctx.kit.cluster.unpin(arg(ctx.params, 'cid'), { signal: requestSignal(ctx) }))
}

const pinLs: Handler = async (ctx) => sendJson(ctx.res, { Pins: ctx.kit.cluster.ls() })

const pinStatus: Handler = async (ctx) => {
  const local = flag(ctx.params, 'local', false)
  const signal = requestSignal(ctx)
  const cids = ctx.params.getAll('arg').filter((a) => a !== '')
  const statuses =
    cids.length === 0
      ? await ctx.kit.cluster.statusAll({ local, signal })
      : await Promise.all(cids.map((cid) => ctx.kit.cluster.status(cid, { local, signal })))
  sendJson(ctx.res, { Statuses: statuses })
}

const pinRecover: Handler = async (ctx) => {
  sendJson(ctx.res, await ctx.kit.cluster.recover(arg(ctx.params, 'cid'), { signal: requestSignal(ctx) }))
}

const peers: Handler = async (ctx) => sendJson(ctx.res, { Peers: ctx.kit.cluster.peers() })

const alerts: Handler = async (ctx) => sendJson(ctx.res, { Alerts: ctx.kit.cluster.alerts() })

const role: Handler = async (ctx) => {
  const r = arg(ctx.params, 'role')
  if (r !== 'master' && r !== 'worker' && r !== 'leecher') {
    throw new InvalidParametersError(`role must be master, worker or leecher, not "${r.slice(0, 64)}"`)
  }
  await ctx.kit.cluster.setRole(r as Role, { signal: requestSignal(ctx) })
  sendJson(ctx.res, { Role: ctx.kit.cluster.role })
}

const grant: Handler = async (ctx) => {
  const member = arg(ctx.params, 'peer')
  await ctx.kit.cluster.grant(member, { signal: requestSignal(ctx) })
  sendJson(ctx.res, { Granted: member })
}

/** `cluster/*` on `/api/v0`. */
export const clusterCommands: Record<string, CommandSpec> = {
  'cluster/id': id,
  'cluster/pin/add': pinAdd,
  'cluster/pin/rm': pinRm,
  'cluster/pin/ls': pinLs,
  'cluster/pin/status': pinStatus,
  'cluster/pin/recover': pinRecover,
  'cluster/peers': peers,
  'cluster/alerts': alerts,
  'cluster/role': role,
  'cluster/grant': grant
}
