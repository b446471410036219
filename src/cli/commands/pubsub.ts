import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import { CLI_POLL_INTERVAL_MS, CLI_PUBSUB_WAIT_MS } from '../../constants.ts'
import type { PubsubMessage } from '../../kit/index.ts'
import { type KitClient, withClient } from '../client.ts'
import { UsageError } from '../errors.ts'
import { groupCommand } from '../group.ts'
import { connectOption, globalsOf } from '../options.ts'
import { note, printJson, printLine, writeOut } from '../output.ts'
import { aborted, onShutdown } from '../signals.ts'

/** Poll `peers` until it lists someone or `ms` pass; the peers found (maybe none). */
export async function waitForPeers(peers: () => Promise<string[]>, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const found = await peers()
    if (found.length > 0 || Date.now() >= deadline) return found
    await sleep(CLI_POLL_INTERVAL_MS)
  }
}

async function readStdin(): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of process.stdin) parts.push(chunk as Uint8Array)
  return Buffer.concat(parts)
}

/** One message as `pubsub sub` prints it: the data on its own line, or a JSON line. */
async function printMessage(message: PubsubMessage, json: boolean): Promise<void> {
  if (json) {
    return printJson({
      from: message.from,
      data: Buffer.from(message.data).toString('base64'),
      seqno: message.seqno,
      topicIDs: message.topicIDs
    })
  }
  await writeOut(message.data)
  if (message.data.at(-1) !== 0x0a) await writeOut('\n')
}

/** Subscribe and print messages until SIGINT/SIGTERM (or until standard output closes). */
async function subscribe(client: KitClient, topic: string, json: boolean, stop: AbortSignal): Promise<void> {
  const outputClosed = new AbortController()
  let printing: Promise<void> = Promise.resolve()
  await client.ipfsPubsubSubscribe(topic, (message) => {
    printing = printing.then(() => printMessage(message, json)).catch(() => outputClosed.abort())
  })
  note(`Subscribed to ${topic}`)
  await aborted(AbortSignal.any([stop, outputClosed.signal]))
  await client.ipfsPubsubUnsubscribe(topic)
  await printing
}

/** `ipfs-kit pubsub pub|sub|ls|peers`. */
export function registerPubsub(program: Command): void {
  const pubsub = groupCommand(program, 'pubsub', 'Publish and subscribe to topics (gossipsub)')

  pubsub
    .command('pub')
    .description('Publish one message: the data argument, else standard input')
    .argument('<topic>')
    .argument('[data]', 'message text (default: all of standard input)')
    .addOption(connectOption())
    .action(async (topic: string, data: string | undefined, opts: { connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      if (data == null && process.stdin.isTTY === true) {
        throw new UsageError('pubsub pub needs the data as an argument or on standard input')
      }
      const bytes = data == null ? await readStdin() : new TextEncoder().encode(data)
      await withClient(globals, { network: true, connect: opts.connect }, async (client) => {
        if (opts.connect.length > 0) {
          const subscribers = await waitForPeers(() => client.ipfsPubsubPeers(topic), CLI_PUBSUB_WAIT_MS)
          if (subscribers.length === 0) {
            note(`no subscriber of ${topic} seen within ${CLI_PUBSUB_WAIT_MS / 1000} s; publishing anyway`)
          }
        }
        await client.ipfsPubsubPublish(topic, bytes)
      })
    })

  pubsub
    .command('sub')
    .description('Print every message on a topic, one per line, until SIGINT or SIGTERM')
    .argument('<topic>')
    .addOption(connectOption())
    .action(async (topic: string, opts: { connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const shutdown = onShutdown()
      try {
        await withClient(globals, { network: true, connect: opts.connect }, async (client) => {
          for (const addr of (await client.ipfsId()).Addresses) note(`Listening on ${addr}`)
          await subscribe(client, topic, globals.json === true, shutdown.signal)
        })
      } finally {
        shutdown.dispose()
      }
    })

  pubsub
    .command('ls')
    .description('Topics this node is subscribed to')
    .action(async (_opts: unknown, cmd: Command) => {
      const globals = globalsOf(cmd)
      const topics = await withClient(globals, { network: true }, (client) => client.ipfsPubsubLs())
      if (globals.json) return printJson({ Strings: topics })
      for (const topic of topics) await printLine(topic)
    })

  pubsub
    .command('peers')
    .description('Peers we exchange pubsub messages with (on a topic, or any)')
    .argument('[topic]')
    .addOption(connectOption())
    .action(async (topic: string | undefined, opts: { connect: string[] }, cmd: Command) => {
      const globals = globalsOf(cmd)
      const peers = await withClient(globals, { network: true, connect: opts.connect }, (client) =>
        opts.connect.length > 0
          ? waitForPeers(() => client.ipfsPubsubPeers(topic), CLI_PUBSUB_WAIT_MS)
          : client.ipfsPubsubPeers(topic)
      )
      if (globals.json) return printJson({ Strings: peers })
      for (const peer of peers) await printLine(peer)
    })
}
