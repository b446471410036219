import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { InvalidConfigError } from '../../errors.ts'
import { groupCommand } from '../group.ts'
import { globalsOf } from '../options.ts'
import { printJson, printLine } from '../output.ts'
import { withRpc } from '../rpc.ts'

const encoder = new TextEncoder()

/** One file as a multipart body (the form `config/replace` reads, as Kubo's client sends it). */
function multipart(bytes: Uint8Array): { body: AsyncIterable<Uint8Array>; boundary: string } {
  const boundary = `----ipfs-kit-${crypto.randomUUID()}`
  async function* body(): AsyncGenerator<Uint8Array> {
    yield encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="config"\r\nContent-Type: application/octet-stream\r\n\r\n`
    )
    yield bytes
    yield encoder.encode(`\r\n--${boundary}--\r\n`)
  }
  return { body: body(), boundary }
}

/** A config value as Kubo prints it: a string as it is, anything else as indented JSON. */
function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2)
}

/** `ipfs-kit config`, `config show|replace` and `bootstrap list|add|rm`. */
export function registerConfig(program: Command): void {
  const config = program
    .command('config')
    .description(
      'Get or set a config key (`config Addresses.API`, `config --json Discovery.MDNS.Enabled false`); changes apply when the node starts again'
    )
    .argument('<key>', 'a dotted key, e.g. Addresses.API')
    .argument('[value]', 'the new value: a string, or JSON with --json, or true/false with --bool')
    .option('--bool', 'the value is true or false')
    .action(async (key: string, value: string | undefined, opts: { bool?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      // Kubo's `config --json` means the value is JSON; only `--enc json` asks for a JSON answer
      const all = cmd.optsWithGlobals<{ json?: boolean; enc?: string }>()
      const json = all.json === true
      const enc = all.enc === 'json'
      if (value != null && json && opts.bool === true) {
        throw new InvalidConfigError('use --json or --bool, not both')
      }
      const params: Record<string, string | boolean | string[]> = {
        arg: value == null ? [key] : [key, value],
        ...(value != null && json ? { json: true } : {}),
        ...(value != null && opts.bool === true ? { bool: true } : {})
      }
      const answer = (await withRpc(globals, {}, async (rpc) =>
        (await rpc.request('config', params)).json()
      )) as { Key: string; Value: unknown }
      if (enc) return printJson(answer)
      if (value == null) await printLine(json ? JSON.stringify(answer.Value) : valueText(answer.Value))
    })

  config
    .command('show')
    .description('The whole config (without the private key)')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const all = await withRpc(globals, {}, async (rpc) => (await rpc.request('config/show')).json())
      if (globals.json) return printJson(all)
      await printLine(JSON.stringify(all, null, 2))
    })

  config
    .command('replace')
    .description(
      'Replace the config with a file ("-" for standard input): refused whole if it does not check'
    )
    .argument('<file>', 'a JSON config file (without Identity.PrivKey: the identity is kept)')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      let bytes: Uint8Array
      try {
        bytes = file === '-' ? await readStdin() : await readFile(file)
      } catch (err) {
        throw new InvalidConfigError(`cannot read ${file}: ${(err as Error).message}`, { cause: err })
      }
      await withRpc(globals, {}, async (rpc) => {
        await (await rpc.request('config/replace', {}, multipart(bytes))).text()
      })
    })

  const bootstrap = groupCommand(
    program,
    'bootstrap',
    'The peers the node dials on start (applies on restart)'
  )

  const peersOf = async (res: Response): Promise<string[]> =>
    ((await res.json()) as { Peers: string[] }).Peers

  bootstrap
    .command('list')
    .description('The bootstrap peers, one per line')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const peers = await withRpc(globals, {}, async (rpc) => peersOf(await rpc.request('bootstrap/list')))
      if (globals.json) return printJson({ Peers: peers })
      for (const p of peers) await printLine(p)
    })

  bootstrap
    .command('add')
    .description('Add peers (multiaddrs ending in /p2p/<id>) to the bootstrap list')
    .argument('[peers...]')
    .option('--default', 'add the public IPFS bootstrap peers')
    .action(async (peers: string[], opts: { default?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      if (peers.length === 0 && opts.default !== true) {
        throw new InvalidConfigError('give the peers to add, or --default')
      }
      const added = await withRpc(globals, {}, async (rpc) =>
        peersOf(
          await rpc.request('bootstrap/add', {
            arg: peers,
            ...(opts.default === true ? { default: true } : {})
          })
        )
      )
      if (globals.json) return printJson({ Peers: added })
      for (const p of added) await printLine(`added ${p}`)
    })

  bootstrap
    .command('rm')
    .description('Remove peers from the bootstrap list (--all: every one)')
    .argument('[peers...]')
    .option('--all', 'remove every bootstrap peer')
    .action(async (peers: string[], opts: { all?: boolean }, cmd: Command) => {
      const globals = globalsOf(cmd)
      if (peers.length === 0 && opts.all !== true)
        throw new InvalidConfigError('give the peers to remove, or --all')
      const removed = await withRpc(globals, {}, async (rpc) =>
        peersOf(
          await rpc.request('bootstrap/rm', { arg: peers, ...(opts.all === true ? { all: true } : {}) })
        )
      )
      if (globals.json) return printJson({ Peers: removed })
      for (const p of removed) await printLine(`removed ${p}`)
    })
}

async function readStdin(): Promise<Uint8Array> {
  const parts: Buffer[] = []
  for await (const chunk of process.stdin) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}
