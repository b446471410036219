import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import type { Command } from 'commander'
import { PathNotFoundError } from '../../errors.ts'
import { UsageError } from '../errors.ts'
import { groupCommand } from '../group.ts'
import { globalsOf, parseCidVersion, parseNonNegativeInt } from '../options.ts'
import { printJson, printLine, writeOut } from '../output.ts'
import { withRpc } from '../rpc.ts'

type Params = Record<string, string | number | boolean | undefined | string[]>

interface StatJson {
  Hash: string
  Size: number
  CumulativeSize: number
  Blocks: number
  Type: string
  Mode?: number
  Mtime?: number
  MtimeNsecs?: number
}

interface LsJson {
  Entries: Array<{ Name: string; Type: number; Size: number; Hash: string }> | null
}

/** Kubo's default `files stat` format. */
const DEFAULT_STAT_FORMAT =
  '<hash>\nSize: <size>\nCumulativeSize: <cumulsize>\nChildBlocks: <childs>\nType: <type>\nMode: <mode> (<mode-octal>)\nMtime: <mtime>'

/** Go's `os.FileMode.String()` of UnixFS mode bits, lower-cased as Kubo prints it. */
function modeString(mode: number, type: string): string {
  const bits = 'rwxrwxrwx'
  let s = type === 'directory' ? 'd' : '-'
  for (let i = 0; i < 9; i++) s += (mode & (1 << (8 - i))) !== 0 ? bits[i] : '-'
  return s
}

/** Kubo's text for a `files stat` answer in the given format. */
export function formatStat(s: StatJson, format: string): string {
  const set = s.Mode != null && s.Mode !== 0
  const timed = s.Mtime != null && s.Mtime > 0
  const date = timed
    ? new Date((s.Mtime as number) * 1000)
        .toUTCString()
        .replace(/^\w+, (\d+) (\w+) (\d+) ([\d:]+) GMT$/, '$1 $2 $3, $4 UTC')
    : 'not set'
  const tokens: Record<string, string> = {
    '<hash>': s.Hash,
    '<size>': String(s.Size),
    '<cumulsize>': String(s.CumulativeSize),
    '<childs>': String(s.Blocks),
    '<type>': s.Type,
    '<mode>': set ? modeString(s.Mode as number, s.Type) : 'not set',
    '<mode-octal>': set ? `0${((s.Mode as number) & 0o777).toString(8)}` : 'not set',
    '<mtime>': date,
    '<mtime-secs>': timed ? String(s.Mtime) : 'not set',
    '<mtime-nsecs>': timed ? String(s.MtimeNsecs ?? 0) : 'not set'
  }
  return format.replace(/<[a-z-]+>/g, (t) => tokens[t] ?? t)
}

/** A one-part multipart body holding `content` (what Kubo's clients send to `files/write`). */
async function* multipart(boundary: string, content: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const enc = new TextEncoder()
  yield enc.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="data"\r\nContent-Type: application/octet-stream\r\n\r\n`
  )
  yield* content
  yield enc.encode(`\r\n--${boundary}--\r\n`)
}

/** Call a command and read its whole answer (JSON, or nothing) while the node is there. */
async function call<T = unknown>(cmd: Command, command: string, params: Params): Promise<T> {
  return withRpc(globalsOf(cmd), {}, async (rpc) => {
    const text = await (await rpc.request(command, params)).text()
    return (text === '' ? undefined : JSON.parse(text)) as T
  })
}

/** `ipfs-kit files mkdir|write|read|ls|stat|cp|mv|rm|flush|chcid`: Kubo's MFS. */
export function registerFiles(program: Command): void {
  const files = groupCommand(program, 'files', 'The MFS: a folder tree of your own, kept in the repo (Kubo)')

  files
    .command('mkdir')
    .description('Make a folder')
    .argument('<path>', 'MFS path, e.g. /docs')
    .option('-p, --parents', 'make missing parent folders; no error if it exists')
    .option('--cid-version <version>', 'CID version of the new folders: 0 or 1', parseCidVersion)
    .option('--hash <name>', 'hash function (only sha2-256); implies CIDv1')
    .action(
      async (path: string, opts: { parents?: boolean; cidVersion?: 0 | 1; hash?: string }, cmd: Command) => {
        await call(cmd, 'files/mkdir', {
          arg: path,
          parents: opts.parents,
          'cid-version': opts.cidVersion,
          hash: opts.hash
        })
      }
    )

  files
    .command('write')
    .description('Write bytes (a file, or standard input) into an MFS file')
    .argument('<path>', 'MFS path of the file')
    .argument('[file]', 'local file to read; standard input when left out')
    .option('-e, --create', 'create the file if it does not exist')
    .option('-p, --parents', 'make missing parent folders')
    .option('-t, --truncate', 'empty the file before writing')
    .option('-o, --offset <bytes>', 'byte offset to write at', parseNonNegativeInt)
    .option('-n, --count <bytes>', 'write at most this many bytes', parseNonNegativeInt)
    .option('--raw-leaves', 'raw leaf blocks (the default for a CIDv1 file)')
    .option('--no-raw-leaves', 'dag-pb leaf blocks; also --raw-leaves=false')
    .option('--cid-version <version>', 'CID version of a new file: 0 or 1', parseCidVersion)
    .option('--hash <name>', 'hash function (only sha2-256); implies CIDv1')
    .action(
      async (
        path: string,
        file: string | undefined,
        opts: {
          create?: boolean
          parents?: boolean
          truncate?: boolean
          offset?: number
          count?: number
          rawLeaves?: boolean
          cidVersion?: 0 | 1
          hash?: string
        },
        cmd: Command
      ) => {
        if (file != null && file !== '-') {
          await access(file).catch((err: Error) => {
            throw new PathNotFoundError(`no such file: ${file}`, { cause: err })
          })
        } else if (process.stdin.isTTY === true) {
          throw new UsageError('files write needs a file argument or data on standard input')
        }
        const content: AsyncIterable<Uint8Array> =
          file != null && file !== '-' ? createReadStream(file) : (process.stdin as AsyncIterable<Uint8Array>)
        const boundary = `----ipfs-kit-${crypto.randomUUID()}`
        await withRpc(globalsOf(cmd), {}, (rpc) =>
          rpc.request(
            'files/write',
            {
              arg: path,
              create: opts.create,
              parents: opts.parents,
              truncate: opts.truncate,
              offset: opts.offset,
              count: opts.count,
              'raw-leaves': opts.rawLeaves,
              'cid-version': opts.cidVersion,
              hash: opts.hash
            },
            { body: multipart(boundary, content), boundary }
          )
        )
      }
    )

  files
    .command('read')
    .description("Print an MFS file's bytes")
    .argument('<path>', 'MFS path of the file')
    .option('-o, --offset <bytes>', 'byte offset to start at', parseNonNegativeInt)
    .option('-n, --count <bytes>', 'read at most this many bytes', parseNonNegativeInt)
    .action(async (path: string, opts: { offset?: number; count?: number }, cmd: Command) => {
      await withRpc(globalsOf(cmd), {}, async (rpc) => {
        const res = await rpc.request('files/read', { arg: path, offset: opts.offset, count: opts.count })
        if (res.body != null) for await (const chunk of res.body) await writeOut(chunk)
      })
    })

  files
    .command('ls')
    .description('List a folder (sorted by name unless -U)')
    .argument('[path]', 'MFS path', '/')
    .option('-l, --long', 'names, CIDs and sizes (folders end with /)')
    .option('-U', 'do not sort: the folder’s own order')
    .action(async (path: string, opts: { long?: boolean; U?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const out = await call<LsJson>(cmd, 'files/ls', { arg: path, long: opts.long === true })
      if (globals.json) return printJson(out)
      const entries = [...(out.Entries ?? [])]
      if (opts.U !== true) entries.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0))
      for (const e of entries) {
        if (opts.long === true) await printLine(`${e.Name}${e.Type === 1 ? '/' : ''}\t${e.Hash}\t${e.Size}`)
        else await printLine(e.Name)
      }
    })

  files
    .command('stat')
    .description('Show the CID, sizes and type of an MFS path (or an /ipfs/ path)')
    .argument('<path>', 'MFS path or /ipfs/<cid>/…')
    .option(
      '--format <format>',
      'print in this format: <hash> <size> <cumulsize> <type> <childs> <mode> <mtime>'
    )
    .option('--hash', "print only the CID: --format='<hash>'")
    .option('--size', "print only the cumulative size: --format='<cumulsize>'")
    .action(async (path: string, opts: { format?: string; hash?: boolean; size?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      if ([opts.format != null, opts.hash === true, opts.size === true].filter(Boolean).length > 1) {
        throw new UsageError('format was set by multiple options. Only one format option is allowed')
      }
      const stat = await call<StatJson>(cmd, 'files/stat', { arg: path })
      if (globals.json) return printJson(stat)
      const format =
        opts.hash === true
          ? '<hash>'
          : opts.size === true
            ? '<cumulsize>'
            : (opts.format ?? DEFAULT_STAT_FORMAT)
      await printLine(formatStat(stat, format))
    })

  files
    .command('cp')
    .description('Copy an MFS path or an /ipfs/ path to a new MFS path')
    .argument('<source>', 'MFS path or /ipfs/<cid>/…')
    .argument('<dest>', 'MFS path (ending with / copies into that folder)')
    .option('-p, --parents', 'make missing parent folders')
    .action(async (source: string, dest: string, opts: { parents?: boolean }, cmd: Command) => {
      await call(cmd, 'files/cp', { arg: [source, dest], parents: opts.parents })
    })

  files
    .command('mv')
    .description('Move an MFS entry (onto a folder: into it)')
    .argument('<source>', 'MFS path')
    .argument('<dest>', 'MFS path')
    .action(async (source: string, dest: string, _opts: unknown, cmd: Command) => {
      await call(cmd, 'files/mv', { arg: [source, dest] })
    })

  files
    .command('rm')
    .description('Remove MFS entries')
    .argument('<paths...>', 'MFS paths')
    .option('-r, --recursive', 'remove folders and what they hold')
    .option('--force', 'no error for missing paths; removes folders too')
    .action(async (paths: string[], opts: { recursive?: boolean; force?: boolean }, cmd: Command) => {
      await call(cmd, 'files/rm', { arg: paths, recursive: opts.recursive, force: opts.force })
    })

  files
    .command('flush')
    .description('Print the CID of an MFS path (every change is already stored)')
    .argument('[path]', 'MFS path', '/')
    .action(async (path: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const out = await call<{ Cid: string }>(cmd, 'files/flush', { arg: path })
      if (globals.json) return printJson(out)
      await printLine(out.Cid)
    })

  files
    .command('chcid')
    .description('Change the CID version of an MFS folder (the root by default)')
    .argument('[path]', 'MFS path of a folder', '/')
    .option('--cid-version <version>', 'CID version: 0 or 1', parseCidVersion)
    .option('--hash <name>', 'hash function (only sha2-256); implies CIDv1')
    .action(async (path: string, opts: { cidVersion?: 0 | 1; hash?: string }, cmd: Command) => {
      await call(cmd, 'files/chcid', { arg: path, 'cid-version': opts.cidVersion, hash: opts.hash })
    })
}
