import { lstat } from 'node:fs/promises'
import type { Command } from 'commander'
import { PathNotFoundError } from '../../errors.ts'
import { parseMfsPath } from '../../fs/mfs.ts'
import { specialKind } from '../../kit/add.ts'
import type { AddOptions, AddResult } from '../../kit/index.ts'
import { withClient } from '../client.ts'
import { UsageError } from '../errors.ts'
import { type GlobalOptions, globalsOf, parseChunker, parseCidVersion } from '../options.ts'
import { note, printJson, printLine } from '../output.ts'
import type { Progress } from '../progress.ts'
import { withRpc } from '../rpc.ts'

interface AddCliOptions {
  recursive?: boolean
  hidden?: boolean
  cidVersion?: 0 | 1
  rawLeaves?: boolean
  chunker?: number
  pin: boolean
  onlyHash?: boolean
  quieter?: boolean
  toFiles?: string
}

const STDIN = '-'

/** Check every path before the node starts: it exists, and a folder comes with `-r`. */
async function checkPaths(paths: string[], recursive: boolean): Promise<void> {
  for (const path of paths) {
    if (path === STDIN) continue
    const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT')
        throw new PathNotFoundError(`no such file or folder: ${path}`, { cause: err })
      throw new PathNotFoundError(`cannot read ${path}: ${err.message}`, { cause: err })
    })
    if (info.isDirectory() && !recursive) {
      throw new UsageError(`${path} is a directory, use the '-r' flag to specify directories`)
    }
    // a symlink is added as a UnixFS symlink, never followed (as Kubo)
    if (!info.isDirectory() && !info.isFile() && !info.isSymbolicLink()) {
      throw new PathNotFoundError(`${path} is neither a file, a folder nor a symlink (${specialKind(info)})`)
    }
  }
}

async function* counted(source: AsyncIterable<Uint8Array>, progress: Progress): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    progress.add(chunk.byteLength)
    yield chunk
  }
}

/** `add --to-files`: copy the added root into MFS (into a folder under the added name). */
async function copyToFiles(globals: GlobalOptions, root: AddResult, toFiles: string): Promise<void> {
  const name = root.Name.split('/').at(-1) || root.Hash
  await withRpc(globals, {}, async (rpc) => {
    let dst = toFiles
    if (dst.endsWith('/')) dst = `${dst}${name}`
    else {
      const stat = await rpc.request('files/stat', { arg: dst }).then(
        async (res) => ((await res.json()) as { Type: string }).Type,
        () => undefined
      )
      if (stat === 'directory') dst = `${dst}/${name}`
    }
    await (await rpc.request('files/cp', { arg: [`/ipfs/${root.Hash}`, dst] })).text()
  })
}

/** `ipfs-kit add`: add files, folders (`-r`) or stdin; print `added <cid> <name>` per entry. */
export function registerAdd(program: Command): void {
  program
    .command('add')
    .description('Add files or folders (or stdin) to the repo and print their CIDs')
    .argument('[paths...]', 'files or folders to add; - or nothing reads standard input')
    .option('-r, --recursive', 'add folders and everything in them')
    .option('--hidden', 'include files and folders whose name starts with a dot')
    .option('--cid-version <version>', 'CID version: 0 (default) or 1', parseCidVersion)
    .option('--raw-leaves', 'raw leaf blocks (the default with CIDv1)')
    .option('--no-raw-leaves', 'dag-pb leaf blocks (the default with CIDv0); also --raw-leaves=false')
    .option('--chunker <spec>', 'chunking: size-<bytes> (default size-262144)', parseChunker)
    .option('--pin', 'pin the added root (the default)', true)
    .option('--no-pin', 'do not pin the added root; also --pin=false')
    .option('-n, --only-hash', 'only compute the CIDs: store nothing')
    .option('-Q, --quieter', 'print only the final root CID')
    .option(
      '--to-files <mfs-path>',
      'also copy the added root into MFS at this path (into it if a folder or ending with /)'
    )
    .action(async (args: string[], opts: AddCliOptions, cmd: Command) => {
      const globals = globalsOf(cmd)
      const paths = args.length === 0 ? [STDIN] : args
      if (paths.filter((p) => p === STDIN).length > 1)
        throw new UsageError('standard input (-) can be added once only')
      if (args.length === 0 && process.stdin.isTTY === true) {
        throw new UsageError('add needs a file or folder, or data on standard input')
      }
      if (opts.toFiles != null) parseMfsPath(opts.toFiles)
      await checkPaths(paths, opts.recursive === true)
      const hidden = opts.hidden === true
      // the progress bar's module is loaded by `add` only
      const { bytesToAdd, progressBar } = await import('../progress.ts')
      const quiet = globals.quiet === true || opts.quieter === true
      let total: number | undefined = 0
      for (const p of paths)
        total = p === STDIN || total == null ? undefined : total + (await bytesToAdd(p, hidden))
      const options: AddOptions = {
        cidVersion: opts.cidVersion,
        rawLeaves: opts.rawLeaves,
        chunkSize: opts.chunker,
        pin: opts.pin,
        onlyHash: opts.onlyHash === true
      }
      const print = async (entry: AddResult): Promise<void> => {
        if (opts.quieter === true) return
        if (globals.json) await printJson({ Name: entry.Name, Hash: entry.Hash, Size: String(entry.Size) })
        else if (globals.quiet) await printLine(entry.Hash)
        else await printLine(`added ${entry.Hash} ${entry.Name}`)
      }
      const results = await withClient(globals, { network: false }, async (client) => {
        const progress = progressBar(!quiet && globals.json !== true, total)
        const all: AddResult[] = []
        try {
          for (const path of paths) {
            const entries =
              path === STDIN
                ? [await client.ipfsAddBytes(counted(process.stdin, progress), options)]
                : await client.ipfsAddPath(path, {
                    ...options,
                    hidden,
                    onProgress: (n) => progress.add(n),
                    // FIFOs, sockets and devices have no bytes to add: skipped, with a warning
                    onSkip: (skipped, kind) => note(`Warning: skipped ${skipped}: ${kind}`)
                  })
            all.push(...entries)
          }
        } finally {
          progress.stop()
        }
        return all
      })
      const root = results.at(-1)
      if (opts.toFiles != null && root != null) await copyToFiles(globals, root, opts.toFiles)
      for (const entry of results) await print(entry)
      if (opts.quieter === true && root != null) await printLine(root.Hash)
    })
}
