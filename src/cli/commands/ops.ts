import type { Command, Option } from 'commander'
import { InvalidParametersError, NotFoundError } from '../../errors.ts'
import type { BandwidthStats, BitswapStat, PingResult } from '../../kit/index.ts'
import { checkCIDPaths } from '../cids.ts'
import { groupCommand } from '../group.ts'
import { responseLines } from '../ndjson.ts'
import { checkMultiaddrs, globalsOf, parseNonNegativeInt } from '../options.ts'
import { printJson, printLine } from '../output.ts'
import { withRpc } from '../rpc.ts'

/** Kubo's `commands` entry: a command, its subcommands and its options' names. */
export interface CommandEntry {
  Name: string
  Subcommands: CommandEntry[]
  Options: Array<{ Names: string[] }>
}

/** The names of an option without dashes, long first (Kubo's `Names`). */
function optionNames(o: Option): string[] {
  return [o.long, o.short].filter((n): n is string => n != null).map((n) => n.replace(/^-+/, ''))
}

/** The command tree of a commander program in Kubo's `commands` shape. */
export function commandTree(cmd: Command): CommandEntry {
  return {
    Name: cmd.name(),
    Subcommands: cmd.commands.map(commandTree),
    Options: cmd.options.map((o) => ({ Names: optionNames(o) }))
  }
}

/** Every command path of a tree, one line each (Kubo's text `commands`); with `flags`, their options too. */
function commandLines(entry: CommandEntry, prefix: string, flags: boolean): string[] {
  const path = prefix === '' ? entry.Name : `${prefix} ${entry.Name}`
  const own = flags
    ? [
        path,
        ...entry.Options.map(
          (o) => `${path} ${o.Names.map((n) => (n.length === 1 ? `-${n}` : `--${n}`)).join(' / ')}`
        )
      ]
    : [path]
  return [...own, ...entry.Subcommands.flatMap((s) => commandLines(s, path, flags))]
}

/**
 * Bytes as go-humanize's `Bytes` prints them (Kubo's human sizes): SI units, one decimal
 * under 10 (`1.2 kB`), none above (`262 kB`).
 */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB']
  const e = Math.min(Math.floor(Math.log(n) / Math.log(1000)), units.length - 1)
  const value = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${units[e]}`
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T
}

/** The subcommand group `name` of the program, made if it does not exist yet. */
function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? groupCommand(program, name, description)
}

/** `routing`, `swarm addrs|disconnect`, `ping`, `bitswap`, `stats`, `repo gc|version`, `shutdown`, `commands`, `log`. */
export function registerOps(program: Command): void {
  registerRouting(program)
  registerSwarm(program)
  registerStats(program)

  program
    .command('ping')
    .description('Send libp2p pings to a peer (a peer id, or a multiaddr ending in /p2p/<id>)')
    .argument('<peer>')
    .option('-n, --count <count>', 'pings to send', parseNonNegativeInt, 10)
    .action(async (peer: string, opts: { count: number }, cmd: Command) => {
      const globals = globalsOf(cmd)
      if (opts.count < 1) throw new InvalidParametersError('ping count must be greater than 0')
      let failure: string | undefined
      await withRpc(globals, { network: true }, async (rpc) => {
        const res = await rpc.request('ping', { arg: peer, count: opts.count })
        if (res.body == null) return
        for await (const value of responseLines(res)) {
          const line = value as PingResult
          // a failed ping's last line is its error, printed once, on standard error
          if (!line.Success && !/^Ping error/.test(line.Text)) {
            failure = line.Text
            continue
          }
          if (globals.json) await printJson(line)
          else if (line.Text === '' && line.Success) {
            await printLine(`Pong received: time=${(line.Time / 1e6).toFixed(2)} ms`)
          } else await printLine(line.Text)
        }
      })
      if (failure != null) throw new NotFoundError(failure)
    })

  const repo = group(program, 'repo', 'The repo on disk')
  repo
    .command('gc')
    .description('Remove every block no pin holds (as `gc`): prints removed <cid>')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await withRpc(globals, {}, async (rpc) => {
        const res = await rpc.request('repo/gc')
        if (res.body == null) return
        for await (const value of responseLines(res)) {
          const key = (value as { Key?: { '/': string } }).Key?.['/']
          if (key == null) continue
          if (globals.json) await printJson(value)
          else await printLine(globals.quiet ? key : `removed ${key}`)
        }
      })
    })
  repo
    .command('version')
    .description("The repo's layout version")
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { Version } = await withRpc(globals, {}, async (rpc) =>
        json<{ Version: string }>(await rpc.request('repo/version'))
      )
      if (globals.json) return printJson({ Version })
      await printLine(globals.quiet ? `fs-repo@${Version}` : `ipfs-kit repo version fs-repo@${Version}`)
    })

  program
    .command('shutdown')
    .description('Stop the running daemon (it removes its api file and exits 0)')
    .action(async (_opts: unknown, cmd: Command) => {
      await withRpc(globalsOf(cmd), {}, async (rpc) => {
        await (await rpc.request('shutdown')).text()
      })
    })

  program
    .command('commands')
    .description('Every command, one per line (the JSON tree with --enc json)')
    .option('-f, --flags', 'list the options of each command too')
    .action(async (opts: { flags?: boolean }, cmd: Command) => {
      const tree = commandTree(program)
      if (globalsOf(cmd).json) return printJson(tree)
      for (const line of commandLines(tree, '', opts.flags === true)) await printLine(line)
    })

  const log = group(program, 'log', "The daemon's debug logs (on its standard error)")
  log
    .command('level')
    .description(
      'Set the log level of a subsystem (a logger name such as kit:routing or libp2p:dialer, or all)'
    )
    .argument('<subsystem>')
    .argument('<level>', 'debug, info, warn, error, dpanic, panic or fatal')
    .action(async (subsystem: string, level: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { Message } = await withRpc(globals, {}, async (rpc) =>
        json<{ Message: string }>(await rpc.request('log/level', { arg: [subsystem, level] }))
      )
      if (globals.json) return printJson({ Message })
      await printLine(Message.trimEnd())
    })
}

function registerRouting(program: Command): void {
  const routing = group(program, 'routing', 'Ask the DHT: peers, providers; announce content')
  routing
    .command('findpeer')
    .description("A peer's addresses, one per line")
    .argument('<peer>')
    .action(async (peer: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await withRpc(globals, { network: true }, async (rpc) => {
        const res = await rpc.request('routing/findpeer', { arg: peer })
        if (res.body == null) return
        for await (const value of responseLines(res)) {
          if (globals.json) await printJson(value)
          else
            for (const r of (value as { Responses?: Array<{ Addrs: string[] }> }).Responses ?? []) {
              for (const a of r.Addrs) await printLine(a)
            }
        }
      })
    })
  routing
    .command('findprovs')
    .description('Peers that provide a CID, one per line')
    .argument('<cid>')
    .option('-n, --num-providers <count>', 'stop after this many', parseNonNegativeInt, 20)
    .action(async (cid: string, opts: { numProviders: number }, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(cid)
      if (opts.numProviders < 1) throw new InvalidParametersError('--num-providers must be 1 or more')
      await withRpc(globals, { network: true }, async (rpc) => {
        const res = await rpc.request('routing/findprovs', { arg: cid, 'num-providers': opts.numProviders })
        if (res.body == null) return
        for await (const value of responseLines(res)) {
          if (globals.json) await printJson(value)
          else
            for (const r of (value as { Responses?: Array<{ ID: string }> }).Responses ?? [])
              await printLine(r.ID)
        }
      })
    })
  routing
    .command('provide')
    .description('Announce to the DHT that this node has these CIDs (they must be held here)')
    .argument('<cids...>')
    .option('-r, --recursive', 'announce every block of each DAG')
    .action(async (cids: string[], opts: { recursive?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(...cids)
      await withRpc(globals, { network: true }, async (rpc) => {
        await (await rpc.request('routing/provide', { arg: cids, recursive: opts.recursive === true })).text()
      })
    })
}

function registerSwarm(program: Command): void {
  const swarm = group(program, 'swarm', 'Connections to other peers')
  const addrs = swarm
    .command('addrs')
    .description('The addresses of every known peer')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { Addrs } = await withRpc(globals, { network: true }, async (rpc) =>
        json<{ Addrs: Record<string, string[]> }>(await rpc.request('swarm/addrs'))
      )
      if (globals.json) return printJson({ Addrs })
      for (const peer of Object.keys(Addrs).sort()) {
        const list = Addrs[peer] ?? []
        await printLine(`${peer} (${list.length})`)
        for (const a of [...list].sort()) await printLine(`\t${a}`)
      }
    })
  addrs
    .command('local')
    .description('The addresses this node listens on')
    .option('--id', 'end each with /p2p/<our id>')
    .action(async (opts: { id?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { Strings } = await withRpc(globals, { network: true }, async (rpc) =>
        json<{ Strings: string[] }>(await rpc.request('swarm/addrs/local', { id: opts.id === true }))
      )
      if (globals.json) return printJson({ Strings })
      for (const a of Strings) await printLine(a)
    })
  swarm
    .command('disconnect')
    .description('Close the connections to peers (multiaddrs ending in /p2p/<id>)')
    .argument('<multiaddrs...>')
    .action(async (targets: string[], _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkMultiaddrs(targets)
      const { Strings } = await withRpc(globals, { network: true }, async (rpc) =>
        json<{ Strings: string[] }>(await rpc.request('swarm/disconnect', { arg: targets }))
      )
      if (globals.json) return printJson({ Strings })
      for (const line of Strings) await printLine(line)
    })
}

function registerStats(program: Command): void {
  const bitswap = group(program, 'bitswap', 'Block exchange with peers')
  const printStat = async (cmd: Command, opts: { verbose?: boolean; human?: boolean }): Promise<void> => {
    const globals = globalsOf(cmd)
    const s = await withRpc(globals, {}, async (rpc) => json<BitswapStat>(await rpc.request('bitswap/stat')))
    if (globals.json) return printJson(s)
    const size = (n: number): string => (opts.human === true ? humanBytes(n) : String(n))
    await printLine('bitswap status')
    await printLine(`\tprovides buffer: ${s.ProvideBufLen}`)
    await printLine(`\tblocks received: ${s.BlocksReceived}`)
    await printLine(`\tblocks sent: ${s.BlocksSent}`)
    await printLine(`\tdata received: ${size(s.DataReceived)}`)
    await printLine(`\tdata sent: ${size(s.DataSent)}`)
    await printLine(`\tdup blocks received: ${s.DupBlksReceived}`)
    await printLine(`\tdup data received: ${size(s.DupDataReceived)}`)
    await printLine(`\twantlist [${s.Wantlist.length} keys]`)
    for (const k of s.Wantlist) await printLine(`\t\t${k['/']}`)
    await printLine(`\tpartners [${s.Peers.length}]`)
    if (opts.verbose === true) for (const p of s.Peers) await printLine(`\t\t${p}`)
  }
  for (const parent of [bitswap, group(program, 'stats', 'Node statistics')]) {
    parent
      .command(parent === bitswap ? 'stat' : 'bitswap')
      .description('Blocks and bytes exchanged, wants, partners')
      .option('-v, --verbose', 'list the partners')
      .option('--human', 'sizes in kB, MB…')
      .action(async (opts: { verbose?: boolean; human?: boolean }, cmd: Command) => printStat(cmd, opts))
  }
  bitswap
    .command('wantlist')
    .description('The blocks this node is fetching (with --peer, those a peer asked this node for)')
    .option('-p, --peer <peer>', 'what this peer wants from us')
    .action(async (opts: { peer?: string }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const { Keys } = await withRpc(globals, {}, async (rpc) =>
        json<{ Keys: Array<{ '/': string }> }>(await rpc.request('bitswap/wantlist', { peer: opts.peer }))
      )
      if (globals.json) return printJson({ Keys })
      for (const k of Keys) await printLine(k['/'])
    })

  const stats = group(program, 'stats', 'Node statistics')
  stats
    .command('bw')
    .description("Bytes on libp2p's wire: totals and rates (or one peer's or protocol's)")
    .option('-p, --peer <peer>', "one peer's bytes")
    .option('-t, --proto <protocol>', "one protocol's bytes (e.g. /ipfs/bitswap/1.2.0)")
    .option('--poll', 'print again every --interval until interrupted')
    .option('-i, --interval <duration>', 'time between --poll lines (e.g. 1s)', '1s')
    .action(
      async (opts: { peer?: string; proto?: string; poll?: boolean; interval: string }, cmd: Command) => {
        const globals = globalsOf(cmd)
        if (opts.peer != null && opts.proto != null)
          throw new InvalidParametersError('use --peer or --proto, not both')
        await withRpc(globals, {}, async (rpc) => {
          const res = await rpc.request('stats/bw', {
            peer: opts.peer,
            proto: opts.proto,
            ...(opts.poll === true ? { poll: true, interval: opts.interval } : {})
          })
          if (res.body == null) return
          for await (const value of responseLines(res)) {
            const b = value as BandwidthStats
            if (globals.json) {
              await printJson(b)
              continue
            }
            await printLine('Bandwidth')
            await printLine(`TotalIn: ${humanBytes(b.TotalIn)}`)
            await printLine(`TotalOut: ${humanBytes(b.TotalOut)}`)
            await printLine(`RateIn: ${humanBytes(Math.round(b.RateIn))}/s`)
            await printLine(`RateOut: ${humanBytes(Math.round(b.RateOut))}/s`)
          }
        })
      }
    )
  stats
    .command('repo')
    .description('Blocks held and bytes used (as `repo stat`)')
    .option('-s, --size-only', 'only RepoSize and StorageMax')
    .option('-H, --human', 'sizes in kB, MB…')
    .action(async (opts: { sizeOnly?: boolean; human?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const s = await withRpc(globals, {}, async (rpc) =>
        json<{ RepoSize: number; StorageMax: number; NumObjects: number; RepoPath: string; Version: string }>(
          await rpc.request('stats/repo')
        )
      )
      if (globals.json) return printJson(s)
      const size = (n: number): string => (opts.human === true ? humanBytes(n) : String(n))
      if (opts.sizeOnly !== true) await printLine(`NumObjects: ${s.NumObjects}`)
      await printLine(`RepoSize:   ${size(s.RepoSize)}`)
      await printLine(`StorageMax: ${size(s.StorageMax)}`)
      if (opts.sizeOnly === true) return
      await printLine(`RepoPath:   ${s.RepoPath}`)
      await printLine(`Version:    ${s.Version}`)
    })
}
