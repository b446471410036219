/**
 * `ipfs-kit key …`, `name publish|resolve`, `resolve` and `routing get|put`: each one call of
 * the `/api/v0` command of the same name (see `src/api/rpc/keys.ts` and `names.ts`), printed
 * as Kubo prints it, or its JSON with `--json` / `--enc json`.
 *
 * @packageDocumentation
 */
import { readFile, writeFile } from 'node:fs/promises'
import { type Command, InvalidArgumentError, Option } from 'commander'
import type { HttpKitClient } from '../../api/client.ts'
import { REPO_SECRET_FILE_MODE, SELF_KEY_NAME } from '../../constants.ts'
import { PathNotFoundError } from '../../errors.ts'
import { daemonOf, openKit } from '../client.ts'
import { groupCommand } from '../group.ts'
import { type GlobalOptions, globalsOf, parseDuration } from '../options.ts'
import { printJson, printLine, writeOut } from '../output.ts'
import { loadRepoConfig } from '../repo.ts'
import { apiToken, apiUrl, withRpc } from '../rpc.ts'

const KEY_FORMATS = ['libp2p-protobuf-cleartext', 'pem-pkcs8-cleartext'] as const

interface KeyOut {
  Name: string
  Id: string
}

function ipnsBaseOption(): Option {
  return new Option(
    '--ipns-base <base>',
    'encoding of key ids: base36, base32, base58btc, base16 or b58mh'
  ).default('base36')
}

function formatOption(): Option {
  return new Option('-f, --format <format>', 'key file format').choices(KEY_FORMATS).default(KEY_FORMATS[0])
}

/** A duration option, sent to the API as Kubo's Go duration (`<ms>ms`). */
function durationOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser(parseDuration)
}

/** One file as a multipart body (Kubo sends a command's file argument so). */
function fileBody(bytes: Uint8Array): { body: AsyncIterable<Uint8Array>; boundary: string } {
  const boundary = `----ipfs-kit-${crypto.randomUUID()}`
  const encoder = new TextEncoder()
  return {
    boundary,
    body: (async function* () {
      yield encoder.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n`
      )
      yield bytes
      yield encoder.encode(`\r\n--${boundary}--\r\n`)
    })()
  }
}

async function readLocalFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    throw new PathNotFoundError(`cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
}

async function json<T>(
  rpc: HttpKitClient,
  command: string,
  params: Parameters<HttpKitClient['request']>[1],
  init?: Parameters<HttpKitClient['request']>[2]
): Promise<T> {
  return (await (await rpc.request(command, params, init)).json()) as T
}

/** Kubo's key table (`key list -l`): columns padded as Go's tabwriter pads them. */
async function printKeys(keys: KeyOut[], long: boolean, globals: GlobalOptions): Promise<void> {
  if (globals.json) return printJson({ Keys: keys })
  const idWidth = Math.max(0, ...keys.map((k) => k.Id.length))
  for (const k of keys) await printLine(long && !globals.quiet ? `${k.Id.padEnd(idWidth)} ${k.Name}` : k.Name)
}

/**
 * The bytes of a key file from `key/export`: the API asks for the repo's own token (proof of
 * access to the repo's files), so the CLI sends it; with no daemon, the repo's kit exports it.
 */
async function exportKey(globals: GlobalOptions, name: string, format: string): Promise<Uint8Array> {
  const params = { arg: name, format }
  const { HttpKitClient } = await import('../../api/client.ts')
  const fetchKey = async (rpc: HttpKitClient): Promise<Uint8Array> =>
    new Uint8Array(await (await rpc.request('key/export', params)).arrayBuffer())
  if (globals.api != null) {
    const token = apiToken(globals)
    return fetchKey(
      new HttpKitClient({ url: await apiUrl(globals.api), ...(token == null ? {} : { token }) })
    )
  }
  const repo = (await loadRepoConfig()).resolveRepoPath(globals.repo)
  const daemon = await daemonOf(repo)
  if (daemon != null) {
    const { repoToken } = await import('../../api/auth.ts')
    return fetchKey(new HttpKitClient({ url: daemon.url, token: await repoToken(repo) }))
  }
  const kit = await openKit(globals, { network: false })
  try {
    return await kit.keys.export(name, { format: format as (typeof KEY_FORMATS)[number] })
  } finally {
    await kit.stop()
  }
}

/** `ipfs-kit key gen|list|ls|rm|rename|import|export`. */
function registerKey(program: Command): void {
  const key = groupCommand(program, 'key', 'Create and manage the keys IPNS names are signed with')

  key
    .command('gen')
    .description('Create a new key; prints its id (its IPNS name)')
    .argument('<name>', 'name of the key to create')
    .addOption(new Option('-t, --type <type>', 'type of the key: ed25519 or rsa').default('ed25519'))
    .addOption(
      new Option('-s, --size <bits>', 'size of an RSA key in bits').argParser((v: string) => {
        if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a number of bits, e.g. 2048.')
        return Number(v)
      })
    )
    .addOption(ipnsBaseOption())
    .action(async (name: string, opts: { type: string; size?: number; ipnsBase: string }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const out = await withRpc(globals, {}, (rpc) =>
        json<KeyOut>(rpc, 'key/gen', {
          arg: name,
          type: opts.type,
          size: opts.size,
          'ipns-base': opts.ipnsBase
        })
      )
      if (globals.json) return printJson(out)
      await printLine(out.Id)
    })

  for (const [command, hidden] of [
    ['list', false],
    ['ls', true]
  ] as const) {
    key
      .command(command, { hidden })
      .description(`List the keys: names, or ids and names with -l${hidden ? ' (same as list)' : ''}`)
      .option('-l', 'show the id of each key')
      .addOption(ipnsBaseOption())
      .action(async (opts: { l?: boolean; ipnsBase: string }, cmd: Command) => {
        const globals = globalsOf(cmd)
        const out = await withRpc(globals, {}, (rpc) =>
          json<{ Keys: KeyOut[] }>(rpc, 'key/list', { 'ipns-base': opts.ipnsBase })
        )
        await printKeys(out.Keys, opts.l === true, globals)
      })
  }

  key
    .command('rm')
    .description('Remove keys (every name is checked first: none is removed if one is unknown)')
    .argument('<names...>', 'names of the keys to remove')
    .option('-l', 'show the id of each key')
    .addOption(ipnsBaseOption())
    .action(async (names: string[], opts: { l?: boolean; ipnsBase: string }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const out = await withRpc(globals, {}, (rpc) =>
        json<{ Keys: KeyOut[] }>(rpc, 'key/rm', { arg: names, 'ipns-base': opts.ipnsBase })
      )
      await printKeys(out.Keys, opts.l === true, globals)
    })

  key
    .command('rename')
    .description('Rename a key')
    .argument('<name>', 'name of the key to rename')
    .argument('<newName>', 'its new name')
    .option('-f, --force', 'replace a key that has the new name')
    .addOption(ipnsBaseOption())
    .action(async (from: string, to: string, opts: { force?: boolean; ipnsBase: string }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const out = await withRpc(globals, {}, (rpc) =>
        json<{ Was: string; Now: string; Id: string; Overwrite: boolean }>(rpc, 'key/rename', {
          arg: [from, to],
          force: opts.force === true,
          'ipns-base': opts.ipnsBase
        })
      )
      if (globals.json) return printJson(out)
      await printLine(`Key ${out.Id} renamed to ${out.Now}${out.Overwrite ? ' with overwriting' : ''}`)
    })

  key
    .command('import')
    .description('Import a key from a file; prints its id')
    .argument('<name>', 'name to keep the key under')
    .argument('<file>', 'the key file')
    .addOption(formatOption())
    .option('--allow-any-key-type', 'take key types other than Ed25519 and RSA')
    .addOption(ipnsBaseOption())
    .action(
      async (
        name: string,
        file: string,
        opts: { format: string; allowAnyKeyType?: boolean; ipnsBase: string },
        cmd: Command
      ) => {
        const globals = globalsOf(cmd)
        const bytes = await readLocalFile(file)
        const out = await withRpc(globals, {}, (rpc) =>
          json<KeyOut>(
            rpc,
            'key/import',
            {
              arg: name,
              format: opts.format,
              'allow-any-key-type': opts.allowAnyKeyType === true,
              'ipns-base': opts.ipnsBase
            },
            fileBody(bytes)
          )
        )
        if (globals.json) return printJson(out)
        await printLine(out.Id)
      }
    )

  key
    .command('export')
    .description('Write a private key to a file (mode 0600): <name>.key, or <name>.pem for PEM')
    .argument('<name>', 'name of the key to export')
    .option('-o, --output <path>', 'the file to write')
    .addOption(formatOption())
    .action(async (name: string, opts: { output?: string; format: string }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const bytes = await exportKey(globals, name, opts.format)
      const out = opts.output ?? `${name}.${opts.format === 'pem-pkcs8-cleartext' ? 'pem' : 'key'}`
      await writeFile(out, bytes, { mode: REPO_SECRET_FILE_MODE })
    })
}

/** `ipfs-kit name publish|resolve`. */
function registerName(program: Command): void {
  const name = groupCommand(program, 'name', 'Publish and resolve IPNS names')

  name
    .command('publish')
    .description('Point an IPNS name (a key) at a path; without a daemon, needs --allow-offline')
    .argument('<ipfs-path>', 'the path to publish: /ipfs/<cid>[/path], <cid> or /ipns/<name>')
    .option('-k, --key <name>', 'the key to sign with, by name or id', SELF_KEY_NAME)
    .addOption(durationOption('-t, --lifetime <duration>', 'how long the record is valid (default 48h)'))
    .addOption(durationOption('--ttl <duration>', 'how long resolvers may cache the record (default 5m)'))
    .option('--resolve', 'check that the path resolves first (the default)', true)
    .option('--no-resolve', 'publish without checking the path; also --resolve=false')
    .option('--allow-offline', 'keep the record in the repo when the node is offline')
    .option('-Q, --quieter', 'print only the name')
    .addOption(ipnsBaseOption())
    .action(
      async (
        path: string,
        opts: {
          key: string
          lifetime?: number
          ttl?: number
          resolve: boolean
          allowOffline?: boolean
          quieter?: boolean
          ipnsBase: string
        },
        cmd: Command
      ) => {
        const globals = globalsOf(cmd)
        const out = await withRpc(globals, {}, (rpc) =>
          json<{ Name: string; Value: string }>(rpc, 'name/publish', {
            arg: path,
            key: opts.key,
            lifetime: opts.lifetime == null ? undefined : `${opts.lifetime}ms`,
            ttl: opts.ttl == null ? undefined : `${opts.ttl}ms`,
            resolve: opts.resolve,
            'allow-offline': opts.allowOffline === true,
            'ipns-base': opts.ipnsBase
          })
        )
        if (globals.json) return printJson(out)
        await printLine(
          opts.quieter === true || globals.quiet ? out.Name : `Published to ${out.Name}: ${out.Value}`
        )
      }
    )

  name
    .command('resolve')
    .description("The path an IPNS name points at (the node's own name by default)")
    .argument('[name]', '/ipns/<name>[/path] or <name>')
    .option('-r, --recursive', 'follow names that point at names (the default)', true)
    .option('--no-recursive', 'one step only; also --recursive=false')
    .option('-n, --nocache', 'ask the network even when a cached record is fresh')
    .option('-s, --stream', 'accepted for Kubo (one answer is printed)')
    .action(
      async (target: string | undefined, opts: { recursive: boolean; nocache?: boolean }, cmd: Command) => {
        const globals = globalsOf(cmd)
        const out = await withRpc(globals, {}, (rpc) =>
          json<{ Path: string }>(rpc, 'name/resolve', {
            arg: target,
            recursive: opts.recursive,
            nocache: opts.nocache === true
          })
        )
        if (globals.json) return printJson(out)
        await printLine(out.Path)
      }
    )
}

/** `ipfs-kit routing get|put` of `/ipns/` records. */
function registerRouting(program: Command): void {
  const routing = groupCommand(program, 'routing', 'Records and providers in the routing system (DHT)')

  routing
    .command('get')
    .description('The best valid record of /ipns/<name>, as raw bytes')
    .argument('<key>', '/ipns/<name>')
    .action(async (key: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const event = await withRpc(globals, {}, (rpc) =>
        json<{ Extra: string }>(rpc, 'routing/get', { arg: key })
      )
      if (globals.json) return printJson(event)
      const { base64pad } = await import('multiformats/bases/base64')
      await writeOut(base64pad.baseDecode(event.Extra))
    })

  routing
    .command('put')
    .description('Check a signed /ipns/ record from a file, then store it (the repo, DHT and pubsub)')
    .argument('<key>', '/ipns/<name>')
    .argument('<value-file>', 'the record')
    .option('--allow-offline', 'keep the record in the repo when the node is offline')
    .action(async (key: string, file: string, opts: { allowOffline?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const bytes = await readLocalFile(file)
      const event = await withRpc(globals, {}, (rpc) =>
        json<{ ID: string }>(
          rpc,
          'routing/put',
          { arg: key, 'allow-offline': opts.allowOffline === true },
          fileBody(bytes)
        )
      )
      if (globals.json) return printJson(event)
      await printLine(event.ID)
    })
}

/** `ipfs-kit key …`, `name …`, `resolve`, `routing get|put`. */
export function registerNames(program: Command): void {
  registerKey(program)
  registerName(program)
  program
    .command('resolve')
    .description('Resolve /ipns/ names and /ipfs/ paths to the /ipfs/ path of the CID they end at')
    .argument('<name>', '/ipns/<name>[/path] or /ipfs/<cid>[/path]')
    .option('-r, --recursive', 'resolve until the result is an /ipfs/ path (the default)', true)
    .option('--no-recursive', 'one IPNS step only; also --recursive=false')
    .option('--cid-base <base>', 'multibase of CIDv1 in the output: base32, base36, base58btc or base16')
    .action(async (target: string, opts: { recursive: boolean; cidBase?: string }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const out = await withRpc(globals, {}, (rpc) =>
        json<{ Path: string }>(rpc, 'resolve', {
          arg: target,
          recursive: opts.recursive,
          'cid-base': opts.cidBase
        })
      )
      if (globals.json) return printJson(out)
      await printLine(out.Path)
    })
  registerRouting(program)
}
