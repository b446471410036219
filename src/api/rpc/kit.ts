import type { PeerId } from '@libp2p/interface'
import { API_REPUTATION_LIMIT, DISCOVERY_FIND_TIMEOUT_MS } from '../../constants.ts'
import type { EnhancedDHTDiscovery } from '../../libp2p/discovery/enhanced-dht-discovery.ts'
import { commonPrefixLength, KEY_BITS, kadId } from '../../libp2p/discovery/k-buckets.ts'
import type { Provider } from '../../libp2p/discovery/types.ts'
import { VERSION } from '../../version.ts'
import { arg, flag, type Handler, type RequestContext, sendJson, timeoutOption, uint } from '../http.ts'
import { resolveCid } from './blocks.ts'

function discoveryOf(ctx: RequestContext): EnhancedDHTDiscovery | undefined {
  const d = ctx.kit.libp2pIntegration?.discovery
  return d?.isStarted === true ? d : undefined
}

/** One peer's reputation row (the dashboard's provider table). */
function reputationRow(discovery: EnhancedDHTDiscovery, peer: PeerId | string, now: number) {
  const s = discovery.getPeerStats(peer)
  if (s == null) return undefined
  const outcomes = s.successes + s.failures
  return {
    ID: s.peerId,
    Score: s.score,
    Successes: s.successes,
    Failures: s.failures,
    Observations: s.observations,
    SuccessRate: outcomes > 0 ? s.successes / outcomes : null,
    LatencyMs: s.latencyEwmaMs ?? null,
    LatencyP95Ms: s.latencyP95Ms ?? null,
    ThroughputBps: s.throughputEwmaBps ?? null,
    BytesServed: s.bytesServed,
    BackoffLevel: s.backoffLevel,
    BackoffUntil: s.nextAttemptAt ?? null,
    InBackoff: s.nextAttemptAt != null && s.nextAttemptAt > now,
    Flagged: s.flagged,
    LastSeenAt: s.lastSeenAt
  }
}

/** `kit/stats`: node, integration, cache, recent retrievals and the sampled history. */
const stats: Handler = async (ctx) => {
  const kit = ctx.kit
  const integration = kit.libp2pIntegration
  const discovery = discoveryOf(ctx)
  sendJson(ctx.res, {
    PeerID: kit.repo.config.Identity.PeerID,
    Version: VERSION,
    Role: kit.role,
    Profile: kit.repo.config.Kit.Profile,
    Offline: kit.peer.offline,
    Reachability: kit.peer.reachability,
    Peers: kit.peer.offline ? 0 : kit.peer.host.getConnections().length,
    Integration: integration == null || discovery == null ? null : integration.getStats(),
    Cache: (await kit.getCache()).getStats(),
    Bandwidth: ctx.activity.bandwidth(),
    Retrievals: ctx.activity.recent(),
    History: flag(ctx.params, 'history', true) ? ctx.activity.history() : []
  })
}

/** `kit/reputation`: every peer we keep a record of, best score first (at most `limit`). */
const reputation: Handler = async (ctx) => {
  const discovery = discoveryOf(ctx)
  const limit = uint(ctx.params, 'limit') ?? API_REPUTATION_LIMIT
  const now = Date.now()
  const rows =
    discovery == null
      ? []
      : discovery.reputation
          .peers()
          .map((p) => reputationRow(discovery, p, now))
          .filter((r) => r != null)
          .sort((a, b) => b.Score - a.Score)
          .slice(0, limit)
  sendJson(ctx.res, { Peers: rows })
}

/** `kit/buckets`: the k-bucket view (non-empty buckets and their peers) and every connected peer's bucket. */
const buckets: Handler = async (ctx) => {
  const kit = ctx.kit
  const discovery = discoveryOf(ctx)
  const self = kit.peer.offline ? undefined : kit.peer.host.peerId
  const selfKey = self == null ? undefined : kadId(self)
  const bucketOf = (p: PeerId): number =>
    selfKey == null ? -1 : Math.min(commonPrefixLength(selfKey, kadId(p)), KEY_BITS - 1)
  const connected = kit.peer.offline ? [] : kit.peer.host.getConnections()
  const connectedIds = new Set(connected.map((c) => c.remotePeer.toString()))
  const view = discovery?.buckets
  const list: Array<{ Index: number; Peers: Array<Record<string, unknown>> }> = []
  view?.fill().forEach((n, index) => {
    if (n === 0) return
    list.push({
      Index: index,
      Peers: view.bucket(index).map((e) => ({
        ID: e.peerId.toString(),
        LastSeen: e.lastSeen,
        Score: e.stats?.score ?? null,
        Connected: connectedIds.has(e.peerId.toString())
      }))
    })
  })
  const seen = new Set<string>()
  sendJson(ctx.res, {
    Self: self?.toString() ?? kit.repo.config.Identity.PeerID,
    Size: view?.size ?? 0,
    Buckets: list,
    Connected: connected
      .filter((c) => {
        const key = c.remotePeer.toString()
        if (seen.has(key)) return false
        seen.add(key)
        return true
      })
      .map((c) => ({
        ID: c.remotePeer.toString(),
        Addr: c.remoteAddr.toString(),
        Direction: c.direction,
        Bucket: bucketOf(c.remotePeer),
        InTable: view?.has(c.remotePeer) ?? false,
        Score: discovery?.reputation.stats(c.remotePeer)?.score ?? null
      }))
  })
}

/** `kit/providers?arg=<cid>`: known providers, ranked (no network); with `find`, a lookup too. */
const providers: Handler = async (ctx) => {
  const discovery = discoveryOf(ctx)
  const cid = await resolveCid(ctx.kit, arg(ctx.params, 'cid'), ctx.signal)
  const now = Date.now()
  let list: Provider[] = discovery?.getOptimalProviders(cid) ?? []
  if (discovery != null && flag(ctx.params, 'find', false)) {
    const signal = AbortSignal.any([
      ctx.signal,
      AbortSignal.timeout(timeoutOption(ctx.params) ?? DISCOVERY_FIND_TIMEOUT_MS)
    ])
    list = []
    try {
      for await (const p of discovery.findProviders(cid, { signal, count: uint(ctx.params, 'count') }))
        list.push(p)
    } catch (err) {
      if (!signal.aborted) throw err
    }
  }
  sendJson(ctx.res, {
    Key: cid.toString(),
    Providers: list.map((p) => ({
      ID: p.id.toString(),
      Addrs: p.multiaddrs.map((m) => m.toString()),
      Provenance: p.provenance,
      Reputation: discovery == null ? null : (reputationRow(discovery, p.id, now) ?? null)
    }))
  })
}

/** Our own commands under `/api/v0/kit/`. */
export const kitCommands: Record<string, Handler> = {
  'kit/stats': stats,
  'kit/reputation': reputation,
  'kit/buckets': buckets,
  'kit/providers': providers
}
