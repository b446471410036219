import type { Command } from 'commander'
import { parseCIDPath } from '../../cids.ts'
import { CorruptBlockError } from '../../errors.ts'
import type { PinEntry } from '../../kit/index.ts'
import { withClient, withContent } from '../client.ts'
import { groupCommand } from '../group.ts'
import { connectOption, globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'

/** `ipfs-kit pin add|rm|ls|verify`. */
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
      for (const path of paths) parseCIDPath(path)
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
      for (const path of paths) parseCIDPath(path)
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
    .description('List pins: <cid> <type>')
    .argument('[paths...]', 'only these CIDs (an error if one is not pinned)')
    .action(async (paths: string[], _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      for (const path of paths) parseCIDPath(path)
      const pins = await withClient(globals, { network: false }, async (client) => {
        if (paths.length === 0) return client.ipfsPinLs()
        const out: PinEntry[] = []
        for (const cid of paths) out.push(...(await client.ipfsPinLs({ cid })))
        return out
      })
      const type = (p: PinEntry): string => (p.Through == null ? p.Type : `${p.Type} through ${p.Through}`)
      if (globals.json) {
        return printJson({ Keys: Object.fromEntries(pins.map((p) => [p.Hash, { Type: type(p) }])) })
      }
      for (const p of pins) await printLine(globals.quiet ? p.Hash : `${p.Hash} ${type(p)}`)
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
