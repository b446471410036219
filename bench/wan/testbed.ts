/**
 * A wide-area network on one Linux machine: N hosts (network namespaces), each with one access
 * link (delay, jitter, loss, upload and download rate) to a Linux bridge that lives in a switch
 * namespace of its own. Nothing is created in the root namespace, and no host has a route out:
 * a packet sent in the testbed stays in it. See bench/wan/README.md for the model and commands.
 *
 * As a module:
 *
 * ```ts
 * const bed = await Testbed.up({ hosts: [{ name: 'a' }, { name: 'b', delayMs: 25, upMbit: 20 }] })
 * try {
 *   const child = bed.spawn('b', process.execPath, ['server.js', bed.host('b').address])
 *   await bed.exec('a', 'curl', [`http://${bed.host('b').address}:8080/`])
 * } finally {
 *   await bed.down()
 * }
 * ```
 *
 * As a command (as root, or inside `unshare --user --map-root-user --net --mount`):
 *
 * ```sh
 * node --import tsx bench/wan/testbed.ts up bench/wan/example.spec.json [--prefix P]
 * node --import tsx bench/wan/testbed.ts status
 * node --import tsx bench/wan/testbed.ts exec <host> [--prefix P] -- <command> [args…]
 * node --import tsx bench/wan/testbed.ts down [--prefix P]
 * ```
 *
 * @packageDocumentation
 */

import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from './build.ts'
import { planHosts, planRouters } from './shaping.ts'
import { type CommandOutput, processStartTime, type RunOptions, requireCommand, run } from './shell.ts'
import { readSpecFile, resolveSpec, specSubnet } from './spec.ts'
import {
  checkPrefix,
  listStates,
  prefixNamespaces,
  readState,
  stateDir,
  stateRoot,
  teardown,
  writeState
} from './state.ts'
import {
  DEFAULT_PREFIX,
  DELAY_QUEUE,
  type DelayBackend,
  type HostLink,
  InvalidSpecError,
  type TeardownReport,
  TestbedExistsError,
  type TestbedHost,
  type TestbedInit,
  TestbedNotFoundError,
  type TestbedRouter,
  type TestbedSpec,
  type TestbedState
} from './types.ts'

export * from './spec.ts'
export { prefixNamespaces, stateDir, stateRoot, teardown } from './state.ts'
export * from './types.ts'

/** A running testbed: its hosts, and how to run commands inside them. */
export class Testbed {
  readonly prefix: string
  readonly hosts: readonly TestbedHost[]
  /** NAT routers (hosts whose spec names one sit behind it) */
  readonly routers: readonly TestbedRouter[]
  /** first two octets of the switch's addresses */
  readonly subnet: string
  /** how delay and jitter are applied */
  readonly delay: DelayBackend
  readonly #root: string

  private constructor(state: TestbedState, root: string) {
    this.prefix = state.prefix
    this.hosts = state.hosts
    this.routers = state.routers ?? []
    this.subnet = state.subnet ?? specSubnet({})
    this.delay = state.delay
    this.#root = root
  }

  /**
   * Make a testbed. If any step fails (or `signal` aborts) everything made so far is removed
   * before this throws. Throws a {@link TestbedExistsError} if namespaces of the prefix exist.
   */
  static async up(spec: TestbedSpec | readonly HostLink[], init: TestbedInit = {}): Promise<Testbed> {
    init.signal?.throwIfAborted()
    // resolved links are checked again: a caller may have made them by hand
    const full: TestbedSpec = Array.isArray(spec) ? { hosts: [...spec] } : (spec as TestbedSpec)
    const links = resolveSpec(full)
    const subnet = specSubnet(full)
    const prefix = init.prefix ?? DEFAULT_PREFIX
    const root = init.stateDir ?? stateRoot()
    checkPrefix(prefix)
    requireCommand('ip', 'iproute2', 'namespaces, veths, the bridge')
    requireCommand('tc', 'iproute2', 'rate limits')
    const existing = await prefixNamespaces(prefix)
    if (existing.length > 0) {
      throw new TestbedExistsError(
        `namespaces of prefix "${prefix}" exist (${existing.slice(0, 3).join(', ')}…): ` +
          `run \`npm run wan -- down --prefix ${prefix}\` first, or pick another prefix`
      )
    }
    const hosts = planHosts(prefix, links, subnet)
    const routers = planRouters(prefix, links, subnet)
    const state: TestbedState = {
      version: 1,
      prefix,
      createdAt: new Date().toISOString(),
      delay: 'none',
      namespaces: [`${prefix}-sw`, ...hosts.map((h) => h.netns), ...routers.map((r) => r.netns)],
      helpers: [],
      hosts,
      routers,
      subnet
    }
    // written before anything exists: a crash at any point leaves enough for `down`
    await writeState(state, root)
    try {
      await build(state, root, init)
    } catch (err) {
      await teardown(prefix, { root, log: init.log }).catch((e: Error) =>
        init.log?.(`teardown: ${e.message}`)
      )
      throw err
    }
    return new Testbed(state, root)
  }

  /** The testbed of `prefix` made earlier (by the CLI, say), from its state file. */
  static async attach(prefix = DEFAULT_PREFIX, root = stateRoot()): Promise<Testbed> {
    const state = await readState(prefix, root)
    if (state == null)
      throw new TestbedNotFoundError(`no testbed "${prefix}" (no state in ${stateDir(prefix, root)})`)
    return new Testbed(state, root)
  }

  /** Remove the testbed of `prefix`, from its state file and a sweep of its namespaces. */
  static down(
    prefix = DEFAULT_PREFIX,
    options: { root?: string; log?: (line: string) => void } = {}
  ): Promise<TeardownReport> {
    return teardown(prefix, options)
  }

  /** A host by 1-based index or by name. */
  host(which: number | string): TestbedHost {
    const host = typeof which === 'number' ? this.hosts[which - 1] : this.hosts.find((h) => h.name === which)
    if (host == null) throw new InvalidSpecError(`no host ${JSON.stringify(which)} in testbed ${this.prefix}`)
    return host
  }

  /** A NAT router by name (as the spec's hosts name it). */
  router(name: string): TestbedRouter {
    const router = this.routers.find((r) => r.name === name)
    if (router == null)
      throw new InvalidSpecError(`no NAT router ${JSON.stringify(name)} in testbed ${this.prefix}`)
    return router
  }

  /**
   * The address others see a host's connections come from: its own on the switch, its router's
   * behind a NAT router.
   */
  publicAddress(which: number | string | TestbedHost): string {
    const h = typeof which === 'object' ? which : this.host(which)
    return h.router == null ? h.address : this.router(h.router).address
  }

  /**
   * The command line that runs `cmd args` inside a host (or a router):
   * `ip netns exec <ns> cmd args`.
   */
  argv(
    host: number | string | TestbedHost | TestbedRouter,
    cmd: string,
    args: readonly string[] = []
  ): [string, string[]] {
    const h = typeof host === 'object' ? host : this.host(host)
    return ['ip', ['netns', 'exec', h.netns, cmd, ...args]]
  }

  /** Run a command inside a host and wait for it; throws a `CommandError` if it fails. */
  exec(
    host: number | string | TestbedHost | TestbedRouter,
    cmd: string,
    args: readonly string[] = [],
    options: RunOptions = {}
  ): Promise<CommandOutput> {
    const [c, a] = this.argv(host, cmd, args)
    return run(c, a, options)
  }

  /**
   * Start a command inside a host. Its pid is the command's own (`ip netns exec` replaces
   * itself with it). Whatever is still running in the testbed is killed by {@link down}.
   */
  spawn(
    host: number | string | TestbedHost,
    cmd: string,
    args: readonly string[] = [],
    options: SpawnOptions = {}
  ): ChildProcess {
    const [c, a] = this.argv(host, cmd, args)
    return spawn(c, a, options)
  }

  /** Remove everything the testbed made; can be called twice. */
  down(options: { log?: (line: string) => void } = {}): Promise<TeardownReport> {
    return teardown(this.prefix, { root: this.#root, log: options.log })
  }
}

/* ----------------------------------------------------------------------------------------- */
/* the command                                                                                */

const USAGE = `usage: node --import tsx bench/wan/testbed.ts <command> [options]
  up <spec.json> [--prefix P] [--delay auto|netem|nfqueue] [--seed N]   make a testbed
  down [--prefix P]                                                  remove it (state file + sweep)
  status [--prefix P] [--json]                                       what exists
  exec <host> [--prefix P] -- <command> [args…]                     run a command in a host
(default prefix: ${DEFAULT_PREFIX}; state in ${stateRoot()}/<prefix>)`

function table(hosts: readonly TestbedHost[], routers: readonly TestbedRouter[] = []): string {
  const rows = [
    ['host', 'netns', 'address', 'behind', 'delay ms', 'jitter ms', 'loss %', 'up Mbit', 'down Mbit']
  ]
  for (const h of hosts) {
    const l = h.link
    const behind =
      h.router == null ? '-' : `${h.router} (${routers.find((r) => r.name === h.router)?.address})`
    rows.push(
      [h.name, h.netns, h.address, behind, l.delayMs, l.jitterMs, l.lossPct, l.upMbit, l.downMbit].map(String)
    )
  }
  for (const r of routers) {
    rows.push([`${r.name} (NAT)`, r.netns, r.address, `LAN ${r.lanSubnet}`, '0', '0', '0', '0', '0'])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n')
}

/** Packets the kernel dropped on the delay line's queue (full, or not delivered to it). */
async function delayLineDrops(switchNs: string): Promise<number | undefined> {
  try {
    const { stdout } = await run('ip', [
      'netns',
      'exec',
      switchNs,
      'cat',
      '/proc/net/netfilter/nfnetlink_queue'
    ])
    const row = stdout.split('\n').find((l) => l.trim().split(/\s+/)[0] === String(DELAY_QUEUE))
    const f = row?.trim().split(/\s+/)
    return f == null || f.length < 7 ? undefined : Number(f[5]) + Number(f[6])
  } catch {
    return undefined
  }
}

async function status(prefix: string | undefined, json: boolean): Promise<void> {
  const states = (await listStates()).filter((s) => prefix == null || s.prefix === prefix)
  const report = await Promise.all(
    states.map(async (s) => ({
      ...s,
      present: (await prefixNamespaces(s.prefix)).length,
      helpersAlive: s.helpers.filter((h) => processStartTime(h.pid) === h.startTime).length,
      delayLineDrops: s.delay === 'nfqueue' ? await delayLineDrops(`${s.prefix}-sw`) : undefined
    }))
  )
  // namespaces of a prefix that has no state: a crash before the state was written, or a hand
  const asked = prefix ?? DEFAULT_PREFIX
  const strays = states.some((s) => s.prefix === asked) ? [] : await prefixNamespaces(asked)
  if (json) {
    process.stdout.write(`${JSON.stringify({ testbeds: report, strays }, null, 2)}\n`)
    return
  }
  if (report.length === 0) process.stdout.write('no testbed\n')
  for (const s of report) {
    process.stdout.write(
      `testbed ${s.prefix}: ${s.hosts.length} hosts, delay ${s.delay}, made ${s.createdAt}, ` +
        `${s.present}/${s.namespaces.length} namespaces, ${s.helpersAlive}/${s.helpers.length} helpers running` +
        (s.delayLineDrops == null ? '' : `, delay line dropped ${s.delayLineDrops} packets`) +
        `\n` +
        `${table(s.hosts, s.routers)}\n`
    )
  }
  if (strays.length > 0) {
    process.stdout.write(
      `namespaces of prefix ${asked} without a state: ${strays.join(' ')} (down removes them)\n`
    )
  }
}

async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--')
  const own = dash < 0 ? argv : argv.slice(0, dash)
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: {
      prefix: { type: 'string' },
      delay: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  const [command, arg] = positionals
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`)
  }
  if (values.help === true || command == null) {
    process.stdout.write(`${USAGE}\n`)
    return command == null && values.help !== true ? 2 : 0
  }
  const prefix = values.prefix ?? DEFAULT_PREFIX
  switch (command) {
    case 'up': {
      if (arg == null) throw new InvalidSpecError('up needs a spec file')
      const delay = values.delay ?? 'auto'
      if (delay !== 'auto' && delay !== 'netem' && delay !== 'nfqueue') {
        throw new InvalidSpecError(`--delay must be auto, netem or nfqueue, not "${delay}"`)
      }
      const seed = values.seed == null ? undefined : Number(values.seed)
      const bed = await Testbed.up(await readSpecFile(arg), { prefix, delay, seed, log })
      process.stdout.write(`${table(bed.hosts, bed.routers)}\n`)
      process.stdout.write(
        `run inside a host: ip netns exec ${bed.hosts[0]?.netns} <command>   remove: npm run wan -- down --prefix ${prefix}\n`
      )
      return 0
    }
    case 'down':
      await Testbed.down(prefix, { log })
      return 0
    case 'status':
      await status(values.prefix, values.json === true)
      return 0
    case 'exec': {
      if (arg == null || dash < 0 || dash === argv.length - 1)
        throw new InvalidSpecError('usage: exec <host> -- <command> [args…]')
      const bed = await Testbed.attach(prefix)
      const [cmd, ...args] = argv.slice(dash + 1)
      const child = bed.spawn(/^[0-9]+$/.test(arg) ? Number(arg) : arg, cmd!, args, { stdio: 'inherit' })
      return await new Promise<number>((done) => child.on('exit', (code) => done(code ?? 1)))
    }
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`)
      return 2
  }
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (err: Error) => {
      process.stderr.write(`${err.name}: ${err.message}\n`)
      process.exitCode = 1
    }
  )
}
