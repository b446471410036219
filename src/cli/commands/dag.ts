import { type Command, Option } from 'commander'
import { InvalidParametersError, NotFoundError } from '../../errors.ts'
import type { DagStatSummary } from '../../kit/index.ts'
import { groupCommand } from '../group.ts'
import { responseLines } from '../ndjson.ts'
import { connectOption, globalsOf } from '../options.ts'
import { note, printJson, printLine, writeOut } from '../output.ts'
import { withRpc } from '../rpc.ts'
import { inputFiles, multipartFiles } from '../upload.ts'

/** Kubo's text table of `dag stat`: one row per DAG, then the summary. */
function statText(s: DagStatSummary): string {
  const width = s.DagStats[0]?.Cid.length ?? 3
  const rows = s.DagStats.map((d) => `${d.Cid}\t${String(d.NumBlocks).padEnd(15)}\t${d.Size}`)
  return [
    '',
    `${'CID'.padEnd(width)}\t${'Blocks'.padEnd(15)}\tSize`,
    ...rows,
    '',
    'Summary',
    `Total Size: ${s.TotalSize}`,
    `Unique Blocks: ${s.UniqueBlocks}`,
    `Shared Size: ${s.SharedSize}`,
    `Ratio: ${s.Ratio.toFixed(6)}`,
    '',
    '',
    ''
  ].join('\n')
}

/** A summary line of the daemon (fields left out when 0, as Kubo's JSON). */
function summaryOf(line: unknown): DagStatSummary {
  const s = line as Partial<DagStatSummary>
  return {
    UniqueBlocks: s.UniqueBlocks ?? 0,
    TotalSize: s.TotalSize ?? 0,
    SharedSize: s.SharedSize ?? 0,
    Ratio: s.Ratio ?? 0,
    DagStats: (s.DagStats ?? []).map((d) => ({ Cid: d.Cid, Size: d.Size ?? 0, NumBlocks: d.NumBlocks ?? 0 }))
  }
}

/** `ipfs-kit dag put|get|resolve|stat|export|import`. */
export function registerDag(program: Command): void {
  const dag = groupCommand(program, 'dag', 'Interact with IPLD DAG objects (dag-cbor, dag-json, dag-pb, raw)')

  dag
    .command('put')
    .description('Add DAG nodes: each file (or standard input) is one object; prints each CID')
    .argument('[files...]', 'objects to put (standard input when none)')
    .option(
      '--store-codec <codec>',
      'codec of the stored object: dag-cbor, dag-json, dag-pb or raw',
      'dag-cbor'
    )
    .option('--input-codec <codec>', 'codec of the input: dag-json, dag-cbor, dag-pb or raw', 'dag-json')
    .option('--pin', 'pin the object when adding (recursively)')
    .option('--hash <function>', 'multihash function: sha2-256 or sha2-512', 'sha2-256')
    .option('--allow-big-block', 'take a block over 1 MiB (other peers cannot fetch it)')
    .action(
      async (
        paths: string[],
        opts: {
          storeCodec: string
          inputCodec: string
          pin?: boolean
          hash: string
          allowBigBlock?: boolean
        },
        cmd: Command
      ) => {
        const globals = globalsOf(cmd)
        const { body, boundary } = multipartFiles(await inputFiles(paths))
        const lines = await withRpc(globals, {}, async (rpc) => {
          const res = await rpc.request(
            'dag/put',
            {
              'store-codec': opts.storeCodec,
              'input-codec': opts.inputCodec,
              hash: opts.hash,
              pin: opts.pin === true,
              'allow-big-block': opts.allowBigBlock === true
            },
            { body, boundary }
          )
          const out: Array<{ Cid: { '/': string } }> = []
          for await (const line of responseLines(res)) out.push(line as { Cid: { '/': string } })
          return out
        })
        for (const line of lines) await (globals.json ? printJson(line) : printLine(line.Cid['/']))
      }
    )

  dag
    .command('get')
    .description('Print a DAG node (or the value at a path in it), encoded with --output-codec')
    .argument('<ref>', 'CID or path: <cid>/a/b, /ipfs/<cid>/a/b, /ipld/<cid>/Links/0/Hash')
    .option('--output-codec <codec>', 'dag-json, dag-cbor, dag-pb or raw', 'dag-json')
    .addOption(connectOption())
    .action(async (ref: string, opts: { outputCodec: string; connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const bytes = await withRpc(
        globals,
        { network: opts.connect.length > 0, connect: opts.connect },
        async (rpc) =>
          new Uint8Array(
            await (await rpc.request('dag/get', { arg: ref, 'output-codec': opts.outputCodec })).arrayBuffer()
          )
      )
      await writeOut(bytes)
    })

  dag
    .command('resolve')
    .description('Print the last block a path reaches and the path left inside it')
    .argument('<ref>', 'the path to resolve')
    .addOption(connectOption())
    .action(async (ref: string, opts: { connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const out = await withRpc(
        globals,
        { network: opts.connect.length > 0, connect: opts.connect },
        async (rpc) => (await rpc.request('dag/resolve', { arg: ref })).json()
      )
      const { Cid, RemPath } = out as { Cid: { '/': string }; RemPath: string }
      if (globals.json) return printJson(out)
      // as Kubo: no newline
      await writeOut(RemPath === '' ? Cid['/'] : `${Cid['/']}/${RemPath}`)
    })

  dag
    .command('stat')
    .description('Blocks and bytes of DAGs (each block counted once per DAG), and what they share')
    .argument('<roots...>', 'CIDs of DAG roots')
    .addOption(
      new Option('-p, --progress', 'show each DAG as it is read, on standard error').default(
        process.stderr.isTTY === true,
        'when standard error is a terminal'
      )
    )
    .option('--no-progress', 'no progress lines; also --progress=false')
    .addOption(connectOption())
    .action(async (roots: string[], opts: { progress: boolean; connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const summary = await withRpc(
        globals,
        { network: opts.connect.length > 0, connect: opts.connect },
        async (rpc) => {
          const res = await rpc.request('dag/stat', { arg: roots, progress: opts.progress })
          let last: DagStatSummary | undefined
          let raw: unknown
          for await (const line of responseLines(res)) {
            raw = line
            last = summaryOf(line)
            const current = last.DagStats.at(-1)
            if (opts.progress && last.Ratio === 0 && current != null) {
              note(`CID: ${current.Cid}, Size: ${current.Size}, NumBlocks: ${current.NumBlocks}`)
            }
          }
          if (last == null) throw new InvalidParametersError('the daemon answered no figures')
          return { last, raw }
        }
      )
      // the daemon's JSON as it is (Kubo's: figures of 0 left out)
      if (globals.json) return printJson(summary.raw)
      await writeOut(statText(summary.last))
    })

  dag
    .command('export')
    .description('Write the DAG under a root as a CARv1 to standard output (depth first, each block once)')
    .argument('<root>', 'CID of the root to export')
    .addOption(connectOption())
    .action(async (root: string, opts: { connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      await withRpc(globals, { network: opts.connect.length > 0, connect: opts.connect }, async (rpc) => {
        const res = await rpc.request('dag/export', { arg: root })
        if (res.body == null) return
        for await (const chunk of res.body) await writeOut(chunk)
      })
    })

  dag
    .command('import')
    .description(
      'Import the blocks of CAR files (or standard input), checked against their CIDs; pin their roots'
    )
    .argument('[files...]', 'CAR files (standard input when none)')
    .option('--pin-roots', 'pin the roots of the CAR headers (the default)', true)
    .option('--no-pin-roots', 'do not pin the roots; also --pin-roots=false')
    .option('--silent', 'no output')
    .option('--stats', 'print the blocks and bytes imported')
    .option('--allow-big-block', 'take blocks over 1 MiB')
    .action(
      async (
        paths: string[],
        opts: { pinRoots: boolean; silent?: boolean; stats?: boolean; allowBigBlock?: boolean },
        cmd: Command
      ) => {
        const globals = globalsOf(cmd)
        const { body, boundary } = multipartFiles(await inputFiles(paths))
        const lines = await withRpc(globals, {}, async (rpc) => {
          const res = await rpc.request(
            'dag/import',
            {
              'pin-roots': opts.pinRoots,
              stats: opts.stats === true,
              'allow-big-block': opts.allowBigBlock === true
            },
            { body, boundary }
          )
          const out: unknown[] = []
          for await (const line of responseLines(res)) out.push(line)
          return out
        })
        for (const line of lines) {
          const { Root, Stats } = line as {
            Root?: { Cid: { '/': string }; PinErrorMsg: string }
            Stats?: { BlockCount: number; BlockBytesCount: number }
          }
          if (globals.json) {
            if (opts.silent !== true) await printJson(line)
          } else if (Root != null && Root.PinErrorMsg !== '') {
            throw new NotFoundError(`pinning root "${Root.Cid['/']}" FAILED: ${Root.PinErrorMsg}`)
          } else if (opts.silent === true) {
            // nothing
          } else if (Root != null) await printLine(`Pinned root\t${Root.Cid['/']}\tsuccess`)
          else if (Stats != null) {
            await printLine(`Imported ${Stats.BlockCount} blocks (${Stats.BlockBytesCount} bytes)`)
          }
        }
      }
    )
}
