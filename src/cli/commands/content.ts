import { resolve } from 'node:path'
import type { Command } from 'commander'
import { checkCIDPaths, loadCids } from '../cids.ts'
import { withContent } from '../client.ts'
import { connectOption, globalsOf, parseNonNegativeInt } from '../options.ts'
import { printJson, printLine, writeOut } from '../output.ts'

interface CatOptions {
  offset?: number
  length?: number
  connect: string[]
}

interface GetOptions {
  output?: string
  connect: string[]
}

/** Default output of `get`: the last path element, or the CID. */
export async function defaultOutputName(path: string): Promise<string> {
  const { parseCIDPath } = await loadCids()
  const { cid, path: sub } = parseCIDPath(path)
  return sub?.split('/').at(-1) ?? cid.toString()
}

/** `ipfs-kit cat`, `get` and `ls`: read content, local first. */
export function registerContent(program: Command): void {
  program
    .command('cat')
    .description('Write the bytes of a file to standard output')
    .argument('<path>', 'CID, <cid>/path or /ipfs/<cid>/path')
    .option('-o, --offset <bytes>', 'start at this byte', parseNonNegativeInt)
    .option('-l, --length <bytes>', 'write at most this many bytes', parseNonNegativeInt)
    .addOption(connectOption())
    .action(async (path: string, opts: CatOptions, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(path)
      const offset = opts.offset ?? 0
      let written = 0
      await withContent(globals, opts.connect, async (client) => {
        // a second (online) run resumes after the bytes already written
        const length = opts.length == null ? undefined : opts.length - written
        if (length === 0) return
        for await (const chunk of client.ipfsCatStream(path, { offset: offset + written, length })) {
          await writeOut(chunk)
          written += chunk.byteLength
        }
      })
    })

  program
    .command('get')
    .description(
      'Write a file, folder or symlink to a local path (a symlink that could lead outside it is refused)'
    )
    .argument('<path>', 'CID, <cid>/path or /ipfs/<cid>/path')
    .option(
      '-o, --output <path>',
      'where to write it (default: the CID or last path element, in this folder)'
    )
    .addOption(connectOption())
    .action(async (path: string, opts: GetOptions, cmd: Command) => {
      const globals = globalsOf(cmd)
      const out = resolve(opts.output ?? (await defaultOutputName(path)))
      if (!globals.quiet && !globals.json) await printLine(`Saving file(s) to ${out}`)
      await withContent(globals, opts.connect, (client) => client.ipfsGet(path, out))
      if (globals.json) await printJson({ Path: path, Output: out })
    })

  program
    .command('ls')
    .description(
      'List a folder: <cid> <size> <name>, folders with a trailing /, symlinks as <name> -> <target>'
    )
    .argument('<path>', 'CID, <cid>/path or /ipfs/<cid>/path')
    .addOption(connectOption())
    .action(async (path: string, opts: { connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      await checkCIDPaths(path)
      const entries = await withContent(globals, opts.connect, (client) => client.ipfsLs(path))
      if (globals.json) {
        const Links = entries.map((e) => ({
          Name: e.Name,
          Hash: e.Hash,
          Size: e.Size,
          Type: e.Type,
          ...(e.Type === 'symlink' ? { Target: e.Target ?? '' } : {})
        }))
        await printJson({ Objects: [{ Hash: path, Links }] })
        return
      }
      for (const e of entries) {
        // folders with a trailing /, symlinks with their target (as `ls -l`)
        const name =
          e.Type === 'directory'
            ? `${e.Name}/`
            : e.Type === 'symlink'
              ? `${e.Name} -> ${e.Target ?? ''}`
              : e.Name
        await printLine(globals.quiet ? e.Hash : `${e.Hash} ${e.Size} ${name}`)
      }
    })
}
