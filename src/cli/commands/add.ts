import { lstat } from 'node:fs/promises'
import { type Command, Option } from 'commander'
import { PathNotFoundError } from '../../errors.ts'
import { UsageError } from '../errors.ts'
import { globalsOf, parseCidVersion } from '../options.ts'
import { note, printJson, printLine } from '../output.ts'
import { withRpc } from '../rpc.ts'

interface AddCliOptions {
  recursive?: boolean
  hidden?: boolean
  cidVersion?: 0 | 1
  rawLeaves?: boolean
  chunker?: string
  trickle?: boolean
  hash?: string
  cidBase?: string
  upgradeCidv0InOutput?: boolean
  wrapWithDirectory?: boolean
  progress?: boolean
  stdinName?: string
  pin: boolean
  onlyHash?: boolean
  quieter?: boolean
  toFiles?: string
}

/** One line of `add`'s answer: an added entry (with `Hash`) or a progress object. */
interface AddEvent {
  Name: string
  Hash?: string
  Bytes?: number
  Size?: string
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
      const { specialKind } = await import('../../kit/add.ts')
      throw new PathNotFoundError(`${path} is neither a file, a folder nor a symlink (${specialKind(info)})`)
    }
  }
}

/** The query of `/api/v0/add` for these flags (Kubo's option names); undefined ones left out. */
function addQuery(opts: AddCliOptions, progress: boolean): URLSearchParams {
  const query = new URLSearchParams()
  const set = (name: string, value: string | number | boolean | undefined): void => {
    if (value !== undefined) query.set(name, String(value))
  }
  set('stream-channels', true)
  set('cid-version', opts.cidVersion)
  set('raw-leaves', opts.rawLeaves)
  set('chunker', opts.chunker)
  set('trickle', opts.trickle === true ? true : undefined)
  set('hash', opts.hash)
  set('cid-base', opts.cidBase)
  set('upgrade-cidv0-in-output', opts.upgradeCidv0InOutput)
  set('wrap-with-directory', opts.wrapWithDirectory === true ? true : undefined)
  set('pin', opts.pin)
  set('only-hash', opts.onlyHash === true ? true : undefined)
  set('progress', progress ? true : undefined)
  set('to-files', opts.toFiles)
  return query
}

/** Why what was just added is not announced, for the note after an add (undefined: it is). */
function notProvidedNote(provides: string | null): string | undefined {
  if (provides === 'leecher') {
    return 'Note: this node is a leecher: it does not announce (provide) what it adds, so other peers find it only if they are connected to this node; a worker or master provides (ipfs-kit daemon --role worker).'
  }
  if (provides === 'offline') {
    return 'Note: added while no daemon runs: the content is in the repo but not announced to the network; add through a running `ipfs-kit daemon` to provide it.'
  }
  return undefined
}

/** `ipfs-kit add`: add files, folders (`-r`) or stdin; print `added <cid> <name>` per entry as it is added. */
export function registerAdd(program: Command): void {
  program
    .command('add')
    .description(
      'Add files or folders (or stdin) to the repo and print their CIDs, each as it is added. A leecher (the default role) does not announce what it adds to the network; a worker or master does.'
    )
    .argument('[paths...]', 'files or folders to add; - or nothing reads standard input')
    .option('-r, --recursive', 'add folders and everything in them')
    .option('--hidden', 'include files and folders whose name starts with a dot')
    .option('-w, --wrap-with-directory', 'wrap what is added in a folder (its CID is printed last, unnamed)')
    .option('--no-wrap-with-directory', 'do not wrap (the default); also --wrap-with-directory=false')
    .option('--cid-version <version>', 'CID version: 0 (default) or 1', parseCidVersion)
    .option('--raw-leaves', 'raw leaf blocks (the default with CIDv1)')
    .option('--no-raw-leaves', 'dag-pb leaf blocks (the default with CIDv0); also --raw-leaves=false')
    .option(
      '--chunker <spec>',
      'chunking: size-<bytes> (default size-262144), rabin, rabin-<avg>, rabin-<min>-<avg>-<max> or buzhash'
    )
    .option('-t, --trickle', "Kubo's trickle DAG layout instead of the balanced one")
    .option('--no-trickle', 'the balanced layout (the default); also --trickle=false')
    .option('--hash <name>', 'hash function: sha2-256 (default) or sha2-512 (implies CIDv1)')
    .option('--cid-base <base>', 'multibase of the printed CIDs (base32, base36, …); CIDv0 shown as CIDv1')
    .option('--upgrade-cidv0-in-output', 'with --cid-base, print CIDv0 as CIDv1 (the default)')
    .option('--no-upgrade-cidv0-in-output', 'with --cid-base, keep CIDv0 as it is')
    .option(
      '--progress',
      'progress: a bar on a terminal (the default there); with --enc json, the progress objects'
    )
    .option('--no-progress', 'no progress bar; also --progress=false')
    .addOption(new Option('--stdin-name <name>', 'name of the file read from standard input'))
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
      const stdinName = opts.stdinName ?? ''
      if (
        paths.includes(STDIN) &&
        stdinName === '' &&
        (paths.length > 1 || opts.wrapWithDirectory === true)
      ) {
        throw new UsageError(
          'standard input needs a name among other paths or with -w: pass --stdin-name <name>'
        )
      }
      if (opts.toFiles != null) {
        const { parseMfsPath } = await import('../../fs/mfs.ts')
        parseMfsPath(opts.toFiles)
      }
      await checkPaths(paths, opts.recursive === true)
      const hidden = opts.hidden === true
      const quiet = globals.quiet === true || opts.quieter === true
      // the bar, on a terminal (as Kubo's, unless quiet); with --enc json and --progress, the objects
      const { bytesToAdd, progressBar } = await import('../progress.ts')
      const printProgress = globals.json === true && opts.progress === true
      const showBar =
        !quiet && globals.json !== true && opts.progress !== false && process.stderr.isTTY === true
      const query = addQuery(opts, printProgress || showBar)
      // every flag is checked here, before a node starts or a byte is sent
      const { addParams } = await import('../../api/rpc/add-params.ts')
      addParams(query)
      let total: number | undefined = 0
      for (const p of paths)
        total = p === STDIN || total == null ? undefined : total + (await bytesToAdd(p, hidden))
      const { pathCandidates } = await import('../../kit/add.ts')
      const { uploadBody, lines } = await import('../../api/client.ts')
      async function* parts() {
        for (const path of paths) {
          if (path === STDIN) yield { path: stdinName, content: process.stdin }
          else {
            // FIFOs, sockets and devices have no bytes to add: skipped, with a warning
            const onSkip = (skipped: string, kind: string) => note(`Warning: skipped ${skipped}: ${kind}`)
            yield* await pathCandidates(path, { hidden, onSkip })
          }
        }
      }
      let root: string | undefined
      const provides = await withRpc(globals, {}, async (rpc) => {
        const { body, boundary } = uploadBody(parts())
        const res = await rpc.request('add', Object.fromEntries(query), { body, boundary })
        const bar = progressBar(showBar, total)
        // Kubo's bar: each file's Bytes count from 0, so a drop or a new name starts the next file
        let file = ''
        let fileBytes = 0
        try {
          for await (const line of lines(res.body ?? ReadableStream.from([]))) {
            const event = line as AddEvent
            if (event.Hash == null) {
              if (printProgress) await printJson(event)
              const bytes = event.Bytes ?? 0
              if (event.Name !== file || bytes < fileBytes) {
                file = event.Name
                fileBytes = 0
              }
              bar.add(bytes - fileBytes)
              fileBytes = bytes
              continue
            }
            root = event.Hash
            if (opts.quieter === true) continue
            bar.clear()
            if (globals.json) await printJson(event)
            else if (globals.quiet) await printLine(event.Hash)
            else await printLine(`added ${event.Hash} ${event.Name}`)
          }
        } finally {
          bar.stop()
        }
        return res.headers.get('X-Ipfs-Kit-Provides')
      })
      if (opts.quieter === true && root != null) await printLine(root)
      const why = opts.onlyHash === true || quiet ? undefined : notProvidedNote(provides)
      if (why != null) note(why)
    })
}
