/**
 * Making a testbed, step by step: namespaces and veths, the switch, each host, the delay
 * backend, shaping, loss and the delay line. `Testbed.up` (testbed.ts) calls {@link build} after
 * it wrote the state, and tears everything down if it throws.
 *
 * @packageDocumentation
 */

import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  delayLinePorts,
  hostScript,
  iptablesRules,
  namespaceBatch,
  routerRules,
  routerScript,
  shapeBatch,
  switchBatch,
  switchEthtoolScript
} from './shaping.ts'
import { hasCommand, processStartTime, requireCommand, run } from './shell.ts'
import { stateDir, writeState } from './state.ts'
import {
  DEFAULT_QUEUE_MS,
  DELAY_LINE_PRIORITY,
  DELAY_LINE_READY_MS,
  DELAY_QUEUE,
  type DelayBackend,
  HOST_IF,
  type HostLink,
  type TestbedInit,
  type TestbedState,
  UnsupportedKernelError
} from './types.ts'

const DELAY_LINE = fileURLToPath(new URL('./delay-line.py', import.meta.url))
/** The word the delay line's command line holds (checked before it is killed). */
const DELAY_LINE_MARKER = 'delay-line.py'
/** Hosts configured at once while the testbed is made. */
const SETUP_CONCURRENCY = 4

/** Run `items` through `fn`, at most `limit` at once. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** Whether the kernel has netem (tried on the switch's loopback, then removed). */
async function hasNetem(switchNs: string): Promise<boolean> {
  try {
    await run('tc', ['-n', switchNs, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'])
  } catch {
    return false
  }
  await run('tc', ['-n', switchNs, 'qdisc', 'del', 'dev', 'lo', 'root'])
  return true
}

/** Make what `state` describes (its state file is written already). */
export async function build(state: TestbedState, root: string, init: TestbedInit): Promise<void> {
  const log = init.log ?? (() => {})
  const signal = init.signal
  const started = performance.now()
  const { hosts } = state
  const routers = state.routers ?? []
  const sw = `${state.prefix}-sw`
  const queueMs = init.queueMs ?? DEFAULT_QUEUE_MS
  const needDelay = hosts.some((h) => h.link.delayMs > 0 || h.link.jitterMs > 0)
  const needLoss = hosts.some((h) => h.link.lossPct > 0)
  const ethtool = hasCommand('ethtool')
  if (!ethtool) log('ethtool is not installed: offloads limited with `ip link set … gso_max_segs 1` only')
  if (routers.length > 0) requireCommand('iptables-restore', 'iptables', 'the NAT routers')
  signal?.throwIfAborted()

  await run('ip', ['-batch', '-'], { input: namespaceBatch(sw, hosts, routers), signal })
  await run('ip', ['-n', sw, '-batch', '-'], { input: switchBatch(hosts, routers), signal })
  signal?.throwIfAborted()

  let backend: DelayBackend = 'none'
  if (needDelay) {
    const netem = init.delay !== 'nfqueue' && (await hasNetem(sw))
    if (init.delay === 'netem' && !netem) {
      throw new UnsupportedKernelError('netem was asked for, but this kernel has no netem qdisc')
    }
    backend = netem ? 'netem' : 'nfqueue'
  }
  state.delay = backend
  await writeState(state, root)

  const shape = (dev: string, rateMbit: number, link: HostLink): string[] =>
    shapeBatch({ dev, rateMbit, delayMs: link.delayMs, jitterMs: link.jitterMs, backend, queueMs })
  await eachLimited(hosts, SETUP_CONCURRENCY, async (h) => {
    signal?.throwIfAborted()
    const upload = shape(HOST_IF, h.link.upMbit, h.link)
    await run('ip', ['netns', 'exec', h.netns, 'sh', '-ec', hostScript(h, ethtool, upload.length > 0)], {
      input: upload.length > 0 ? `${upload.join('\n')}\n` : undefined,
      signal
    })
  })
  await eachLimited(routers, SETUP_CONCURRENCY, async (r) => {
    signal?.throwIfAborted()
    await run('ip', ['netns', 'exec', r.netns, 'sh', '-ec', routerScript(r, ethtool)], {
      input: routerRules(r),
      signal
    })
  })
  if (ethtool) {
    await run('ip', ['netns', 'exec', sw, 'sh', '-ec', switchEthtoolScript(hosts, routers)], { signal })
  }
  const download = hosts.flatMap((h) => shape(h.netns, h.link.downMbit, h.link))
  if (download.length > 0)
    await run('tc', ['-n', sw, '-batch', '-'], { input: `${download.join('\n')}\n`, signal })
  signal?.throwIfAborted()

  const delayLine = backend === 'nfqueue'
  if (needLoss || delayLine) {
    requireCommand('iptables-restore', 'iptables', needLoss ? 'packet loss' : 'the delay line’s NFQUEUE rule')
    try {
      await run('ip', [
        'netns',
        'exec',
        sw,
        'sh',
        '-c',
        'echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables'
      ])
    } catch (err) {
      throw new UnsupportedKernelError(
        `bridged packets cannot go through iptables (br_netfilter missing: modprobe br_netfilter): ${(err as Error).message}`,
        { cause: err }
      )
    }
    // the delay line binds its queue before any packet is sent to it
    if (delayLine) await startDelayLine(state, root, init, sw)
    await run('ip', ['netns', 'exec', sw, 'iptables-restore', '--noflush'], {
      input: iptablesRules(hosts, delayLine),
      signal
    })
  }
  const ms = performance.now() - started
  const nat = routers.length === 0 ? '' : `, ${routers.length} NAT router${routers.length === 1 ? '' : 's'}`
  log(
    `testbed ${state.prefix}: ${hosts.length} hosts${nat}, delay: ${backend}, made in ${(ms / 1000).toFixed(2)} s`
  )
}

/** The python3 that runs the delay line: Debian's own where it is (no shim on the way). */
function python(): string {
  if (existsSync('/usr/bin/python3')) return '/usr/bin/python3'
  requireCommand('python3', 'python3', 'the delay line')
  return 'python3'
}

/** Whether this process may give real-time priority (`chrt -f`); refused without real root. */
async function realtimeAllowed(): Promise<boolean> {
  if (!hasCommand('chrt')) return false
  try {
    await run('chrt', ['-f', String(DELAY_LINE_PRIORITY), 'true'])
    return true
  } catch {
    return false
  }
}

async function startDelayLine(
  state: TestbedState,
  root: string,
  init: TestbedInit,
  sw: string
): Promise<void> {
  const dir = stateDir(state.prefix, root)
  const portsFile = join(dir, 'delay-ports.json')
  const readyFile = join(dir, 'delay-line.ready')
  const logFile = join(dir, 'delay-line.log')
  await writeFile(portsFile, JSON.stringify(delayLinePorts(state.hosts, state.routers)))
  await rm(readyFile, { force: true })
  const rt = (await realtimeAllowed()) ? ['chrt', '-f', String(DELAY_LINE_PRIORITY)] : []
  if (rt.length === 0)
    init.log?.('real-time priority refused: the delay line runs at normal priority (noisier under load)')
  const args = ['--ports', portsFile, '--ready', readyFile, '--queue', String(DELAY_QUEUE)]
  if (init.seed != null) args.push('--seed', String(init.seed))
  const out = openSync(logFile, 'a')
  // detached and unreferenced: it outlives `up` when the CLI made the testbed; `down` stops it
  const child = spawn('ip', ['netns', 'exec', sw, ...rt, python(), DELAY_LINE, ...args], {
    detached: true,
    stdio: ['ignore', out, out]
  })
  closeSync(out)
  child.unref()
  const pid = child.pid
  const startTime = pid == null ? undefined : processStartTime(pid)
  if (pid == null || startTime == null) throw new UnsupportedKernelError('the delay line did not start')
  state.helpers.push({ pid, startTime, marker: DELAY_LINE_MARKER })
  await writeState(state, root)
  const deadline = Date.now() + DELAY_LINE_READY_MS
  while (!existsSync(readyFile)) {
    if (child.exitCode != null || child.signalCode != null || Date.now() > deadline) {
      const why = (await readFile(logFile, 'utf8').catch(() => '')).trim()
      throw new UnsupportedKernelError(
        `the delay line did not bind NFQUEUE ${DELAY_QUEUE}: ${why || 'no output'}`
      )
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}
