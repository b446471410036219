import type { Command } from 'commander'
import type { ClusterAlert, ClusterPeer, ClusterPin, ClusterPinStatus } from '../../cluster/types.ts'
import { InvalidParametersError } from '../../errors.ts'
import { checkCIDPaths } from '../cids.ts'
import { groupCommand } from '../group.ts'
import { globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'
import { withRpc } from '../rpc.ts'

function factor(value: string): string {
  if (!/^-?[0-9]+$/.test(value) || (Number(value) < 1 && value !== '-1')) {
    throw new InvalidParametersError(
      `a replication factor is -1 (everywhere) or a whole number of members, not "${value}"`
    )
  }
  return value
}

function meta(value: string, previous: string[] = []): string[] {
  if (!/^[^=]+=/.test(value)) throw new InvalidParametersError(`--meta takes key=value, not "${value}"`)
  return [...previous, value]
}

const pinLine = (p: ClusterPin): string =>
  `${p.cid} | ${p.name === '' ? '-' : p.name} | rmin ${p.replicationFactorMin} rmax ${p.replicationFactorMax} | ${
    p.replicationFactorMax === -1 ? 'everywhere' : `allocations: ${p.allocations.join(', ') || 'none'}`
  }`

async function printStatus(s: ClusterPinStatus, quiet: boolean): Promise<void> {
  if (quiet) return printLine(`${s.cid} ${s.summary}`)
  await printLine(`${s.cid}${s.name === '' ? '' : ` (${s.name})`}: ${s.summary}`)
  for (const p of Object.values(s.peerMap)) {
    await printLine(`  > ${p.peer} : ${p.status.toUpperCase()}${p.error == null ? '' : ` (${p.error})`}`)
  }
}

/** `ipfs-kit cluster pin add|rm|ls|status|recover`, `cluster peers|alerts|id|role|grant`. */
export function registerCluster(program: Command): void {
  const cluster = groupCommand(
    program,
    'cluster',
    'The cluster this node is a member of (a replicated pinset)'
  )
  const pin = groupCommand(cluster, 'pin', 'Pin and unpin in the cluster, see where pins are held')

  pin
    .command('add')
    .description('Pin a CID in the cluster (on a master, or a granted worker)')
    .argument('<cid>')
    .option('--rmin <n>', 'replicationFactorMin: fewest members holding it (-1: every member)', factor)
    .option('--rmax <n>', 'replicationFactorMax: most members holding it (-1: every member)', factor)
    .option('--name <name>', 'a name for people')
    .option('--expire-at <date>', 'unpin after this date (RFC 3339)')
    .option('--meta <key=value>', 'metadata (repeat for more)', meta)
    .action(
      async (
        cid: string,
        opts: { rmin?: string; rmax?: string; name?: string; expireAt?: string; meta?: string[] },
        cmd: Command
      ) => {
        const globals = globalsOf(cmd)
        await checkCIDPaths(cid)
        const params: Record<string, string> = { arg: cid }
        if (opts.rmin != null) params['replication-min'] = opts.rmin
        if (opts.rmax != null) params['replication-max'] = opts.rmax
        if (opts.name != null) params.name = opts.name
        if (opts.expireAt != null) params['expire-at'] = opts.expireAt
        for (const m of opts.meta ?? []) {
          const at = m.indexOf('=')
          params[`meta-${m.slice(0, at)}`] = m.slice(at + 1)
        }
        const p = await withRpc(globals, { network: true }, async (rpc) =>
          (await rpc.request('cluster/pin/add', params)).json()
        )
        if (globals.json) return printJson(p)
        await printLine(globals.quiet ? (p as ClusterPin).cid : pinLine(p as ClusterPin))
      }
    )

  pin
    .command('rm')
    .description('Remove a CID from the cluster (its holders unpin it)')
    .argument('<cid>')
    .action(async (cid: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(cid)
      const p = (await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/pin/rm', { arg: cid })).json()
      )) as ClusterPin
      if (globals.json) return printJson(p)
      await printLine(globals.quiet ? p.cid : `unpinned ${p.cid}`)
    })

  pin
    .command('ls')
    .description('List the pinset: <cid> | <name> | factors | allocations')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { Pins } = (await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/pin/ls')).json()
      )) as { Pins: ClusterPin[] }
      if (globals.json) return printJson({ Pins })
      for (const p of Pins) await printLine(globals.quiet ? p.cid : pinLine(p))
    })

  pin
    .command('status')
    .description("A pin's status on every member (every pin without a CID)")
    .argument('[cids...]')
    .option('--local', 'this member only')
    .action(async (cids: string[], opts: { local?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(...cids)
      const { Statuses } = (await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/pin/status', { arg: cids, local: opts.local === true })).json()
      )) as { Statuses: ClusterPinStatus[] }
      if (globals.json) return printJson({ Statuses })
      for (const s of Statuses) await printStatus(s, globals.quiet === true)
    })

  pin
    .command('recover')
    .description('Re-allocate replicas lost to members that are down, and retry pins in error')
    .argument('<cid>')
    .action(async (cid: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(cid)
      const s = (await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/pin/recover', { arg: cid })).json()
      )) as ClusterPinStatus
      if (globals.json) return printJson(s)
      await printStatus(s, globals.quiet === true)
    })

  cluster
    .command('peers')
    .description('The members: <peer id> <role> <alive|down> [writer] <pins allocated>')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { Peers } = (await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/peers')).json()
      )) as { Peers: ClusterPeer[] }
      if (globals.json) return printJson({ Peers })
      for (const p of Peers) {
        await printLine(
          globals.quiet
            ? p.id
            : `${p.id} ${p.role} ${p.state}${p.writer ? ' writer' : ''} ${p.allocated} pins${p.self ? ' (self)' : ''}`
        )
      }
    })

  cluster
    .command('alerts')
    .description('Members found down: heartbeat expired and no answer to a ping')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { Alerts } = (await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/alerts')).json()
      )) as { Alerts: ClusterAlert[] }
      if (globals.json) return printJson({ Alerts })
      for (const a of Alerts) {
        await printLine(
          `${new Date(a.detectedAt).toISOString()} ${a.peer} (${a.role}) down: ${a.name} expired`
        )
      }
    })

  cluster
    .command('id')
    .description("The cluster's address (what members join) and this member's role")
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const r = (await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/id')).json()
      )) as { ID: string; Address: string; Role: string; Writer: boolean }
      if (globals.json) return printJson(r)
      await printLine(
        globals.quiet ? r.Address : `${r.Address} ${r.ID} ${r.Role}${r.Writer ? ' writer' : ''}`
      )
    })

  cluster
    .command('role')
    .description("Change this member's role (a worker becoming a leecher hands its replicas over first)")
    .argument('<role>', 'master, worker or leecher')
    .action(async (role: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const r = (await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/role', { arg: role })).json()
      )) as { Role: string }
      if (globals.json) return printJson(r)
      await printLine(`role: ${r.Role}`)
    })

  cluster
    .command('grant')
    .description('Let a member write the pinset (run on the master that created the cluster)')
    .argument('<peer>', 'peer id of a member, or its OrbitDB identity id')
    .action(async (peer: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await withRpc(globals, { network: true }, async (rpc) =>
        (await rpc.request('cluster/grant', { arg: peer })).json()
      )
      if (globals.json) return printJson({ Granted: peer })
      await printLine(`granted ${peer}`)
    })
}
