import { type Command, Option } from 'commander'
import { CorruptBlockError } from '../../errors.ts'
import { checkCIDPaths } from '../cids.ts'
import { withClient, withContent } from '../client.ts'
import { groupCommand } from '../group.ts'
import { responseLines } from '../ndjson.ts'
import { connectOption, globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'
import { withRpc } from '../rpc.ts'

/** `ipfs-kit pin add|rm|ls|update|verify`. */
export function registerPin(program: Command): void {
  const pin = groupCommand(program, 'pin', 'Keep content in the repo (gc does not remove pinned blocks)')

  pin
    .command('add')
    .description('Pin CIDs (fetching missing blocks from peers when online)')
    .argument('<paths...>', 'CIDs or /ipfs/ paths')
    .option('-r, --recursive', 'pin the whole DAG (the default)', true)
    .option('--no-recursive', 'pin the root block only; also --recursive=false')
    .addOption(connectOption())
    .action(async (paths: string[], opts: { recursive: boolean; connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(...paths)
      const pinned: string[] = []
      await withContent(globals, opts.connect, async (client) => {
        for (const path of paths.slice(pinned.length)) {
          pinned.push((await client.ipfsPinAdd(path, { recursive: opts.recursive })).toString())
        }
      })
      if (globals.json) return printJson({ Pins: pinned })
      for (const cid of pinned) {
        await printLine(globals.quiet ? cid : `pinned ${cid} ${opts.recursive ? 'recursively' : 'directly'}`)
      }
    })

  pin
    .command('rm')
    .description('Unpin CIDs')
    .argument('<paths...>', 'CIDs or /ipfs/ paths')
    .action(async (paths: string[], _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(...paths)
      const unpinned = await withClient(globals, { network: false }, async (client) => {
        const out: string[] = []
        for (const path of paths) out.push((await client.ipfsPinRm(path)).toString())
        return out
      })
      if (globals.json) return printJson({ Pins: unpinned })
      for (const cid of unpinned) await printLine(globals.quiet ? cid : `unpinned ${cid}`)
    })

  pin
    .command('ls')
    .description('List pins: <cid> <type> (all kinds by default, indirect ones too)')
    .argument('[paths...]', 'only these CIDs (an error if one is not pinned)')
    .addOption(
      new Option('-t, --type <type>', 'the kind of pins: direct, indirect, recursive or all')
        .choices(['direct', 'indirect', 'recursive', 'all'])
        .default('all')
    )
    .option('-s, --stream', 'print each pin as it is found (NDJSON with --enc json)')
    .action(async (paths: string[], opts: { type: string; stream?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(...paths)
      const stream = opts.stream === true
      await withRpc(globals, {}, async (rpc) => {
        const res = await rpc.request('pin/ls', {
          arg: paths.length === 0 ? undefined : paths,
          type: opts.type,
          stream
        })
        if (stream) {
          for await (const line of responseLines(res)) {
            const p = line as { Cid: string; Type: string }
            if (globals.json) await printJson(p)
            else await printLine(globals.quiet ? p.Cid : `${p.Cid} ${p.Type}`)
          }
          return
        }
        const body = (await res.json()) as { Keys: Record<string, { Type: string }> }
        if (globals.json) return printJson(body)
        for (const [cid, { Type }] of Object.entries(body.Keys)) {
          await printLine(globals.quiet ? cid : `${cid} ${Type}`)
        }
      })
    })

  pin
    .command('update')
    .description(
      'Move a recursive pin to a new CID (pins the new one, then unpins the old unless --unpin=false)'
    )
    .argument('<from-path>', 'the recursively pinned CID or path')
    .argument('<to-path>', 'the CID or path to pin instead')
    .option('--unpin', 'remove the old pin (the default)', true)
    .option('--no-unpin', 'keep the old pin; also --unpin=false')
    .addOption(connectOption())
    .action(async (from: string, to: string, opts: { unpin: boolean; connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(from, to)
      const body = (await withRpc(
        globals,
        { network: opts.connect.length > 0, connect: opts.connect },
        async (rpc) => (await rpc.request('pin/update', { arg: [from, to], unpin: opts.unpin })).json()
      )) as { Pins: string[] }
      if (globals.json) return printJson(body)
      await printLine(`updated ${body.Pins[0]} to ${body.Pins[1]}`)
    })

  pin
    .command('verify')
    .description("Check that every pin's blocks are held and good, fetching missing or bad ones from peers")
    .option('--verbose', 'also print the pins that are fine')
    .addOption(connectOption())
    .action(async (opts: { verbose?: boolean; connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const broken: string[] = []
      // online (unless --offline) so that missing blocks can be fetched again
      await withClient(
        globals,
        { network: globals.offline !== true, connect: opts.connect },
        async (client) => {
          for await (const r of client.ipfsPinVerify()) {
            if (!r.Ok) broken.push(r.Cid)
            if (r.Ok && opts.verbose !== true) continue
            if (globals.json) await printJson(r)
            else if (globals.quiet) await printLine(r.Cid)
            else {
              await printLine(`${r.Cid} ${r.Ok ? 'ok' : 'broken'}`)
              for (const b of r.BadNodes ?? []) await printLine(`  ${b.Cid}: ${b.Err}`)
            }
          }
        }
      )
      if (broken.length > 0) {
        throw new CorruptBlockError(
          `${broken.length} pin(s) have blocks that are missing or bad and could not be fetched again: connect to a peer that has them (--connect) and run it again`
        )
      }
    })
}
