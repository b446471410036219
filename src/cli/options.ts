import { type Command, InvalidArgumentError, Option } from 'commander'
import durationMs from 'parse-duration'
import { InvalidMultiaddrError } from '../errors.ts'

/** Options every command accepts (set before or after the command name). */
export interface GlobalOptions {
  /** repo folder @default `$IPFS_KIT_PATH`, else the nearest `.ipfs-kit` here or above, else `~/.ipfs-kit` */
  repo?: string
  /** machine-readable output (JSON) */
  json?: boolean
  /** minimal output */
  quiet?: boolean
  /** never touch the network */
  offline?: boolean
  /** the daemon to talk to (`--api <multiaddr|url>`), instead of the repo's */
  api?: string
  /** `--api-auth bearer:<token>`: the token sent to `--api` (else `$IPFS_KIT_API_TOKEN`) */
  apiAuth?: string
  /** `--timeout <duration>`: the command fails after this many ms */
  timeoutMs?: number
}

/** The global options as seen from a (sub)command. */
export function globalsOf(cmd: Command): GlobalOptions {
  const all = cmd.optsWithGlobals<GlobalOptions & { enc?: string; timeout?: number }>()
  return {
    repo: all.repo,
    json: all.json === true || all.enc === 'json',
    quiet: all.quiet === true,
    offline: all.offline === true,
    ...(all.api == null ? {} : { api: all.api }),
    ...(all.apiAuth == null ? {} : { apiAuth: all.apiAuth }),
    ...(all.timeout == null ? {} : { timeoutMs: all.timeout })
  }
}

/** Kubo's `--enc`: `json` or `text`. */
export function parseEncoding(value: string): 'json' | 'text' {
  if (value === 'json' || value === 'text') return value
  throw new InvalidArgumentError('expected json or text.')
}

/** A Go-style duration (`300ms`, `30s`, `1m30s`, `2h`) in ms; more than 0. */
export function parseDuration(value: string): number {
  const ms = /^\d+(\.\d+)?$/.test(value) ? undefined : durationMs(value)
  if (ms == null || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidArgumentError('expected a duration with a unit, e.g. 300ms, 30s, 1m30s or 2h.')
  }
  return ms
}

/**
 * Parse a whole number of 0 or more (offsets, lengths) in plain decimal digits, as Kubo's
 * strconv parsing: `1e3`, `0x10`, ` 5`, `5.0`, `+5` and `-1` are refused, and so is a value
 * past `Number.MAX_SAFE_INTEGER` (it would not be exact).
 */
export function parseNonNegativeInt(value: string): number {
  if (!/^[0-9]+$/.test(value)) {
    throw new InvalidArgumentError('expected a whole number in decimal digits, 0 or more.')
  }
  const n = Number(value)
  if (!Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`expected a whole number up to ${Number.MAX_SAFE_INTEGER}.`)
  }
  return n
}

/** Boolean flags that Kubo users spell `--flag=false` (see {@link normalizeBooleanFlags}). */
export const KUBO_BOOLEAN_FLAGS: ReadonlySet<string> = new Set([
  'pin',
  'raw-leaves',
  'recursive',
  'resolve',
  'progress',
  'trickle',
  'wrap-with-directory',
  'upgrade-cidv0-in-output',
  'pin-roots',
  'unpin'
])

/**
 * Rewrite Kubo's `--flag=false` / `--flag=true` into commander's `--no-flag` / `--flag`
 * for the flags in `flags` (up to a `--` separator); everything else is left alone.
 */
export function normalizeBooleanFlags(
  args: readonly string[],
  flags: ReadonlySet<string> = KUBO_BOOLEAN_FLAGS
): string[] {
  const out: string[] = []
  let done = false
  for (const arg of args) {
    const m = done ? null : /^--([a-z0-9-]+)=(true|false)$/i.exec(arg)
    if (arg === '--') done = true
    const name = m?.[1]
    if (m == null || name == null || !flags.has(name)) out.push(arg)
    else out.push(m[2]?.toLowerCase() === 'false' ? `--no-${name}` : `--${name}`)
  }
  return out
}

/** Parse a CID version: 0 or 1. */
export function parseCidVersion(value: string): 0 | 1 {
  if (value === '0') return 0
  if (value === '1') return 1
  throw new InvalidArgumentError('expected 0 or 1.')
}

/** The multiaddr parser, once {@link loadMultiaddr} has loaded it. */
let multiaddrModule: typeof import('@multiformats/multiaddr') | undefined

/**
 * Load the multiaddr parser (`@multiformats/multiaddr` and its part of multiformats), which
 * `--version`, `--help` and most commands never need. {@link checkMultiaddr} needs it first.
 */
export async function loadMultiaddr(): Promise<void> {
  multiaddrModule ??= await import('@multiformats/multiaddr')
}

/**
 * Check that `value` parses as a multiaddr (before any node starts); returns it unchanged.
 * Synchronous, for option parsers: {@link loadMultiaddr} must have been awaited
 * ({@link createProgram}'s `preSubcommand` hook does, for a command with a {@link multiaddrOption}).
 */
export function checkMultiaddr(value: string): string {
  if (multiaddrModule == null) throw new Error('checkMultiaddr() before loadMultiaddr()')
  try {
    multiaddrModule.multiaddr(value)
  } catch (err) {
    throw new InvalidMultiaddrError(`"${value}" is not a valid multiaddr: ${(err as Error).message}`, {
      cause: err
    })
  }
  return value
}

/** Check every value as {@link checkMultiaddr}, loading the parser first (for command actions). */
export async function checkMultiaddrs(values: readonly string[]): Promise<void> {
  await loadMultiaddr()
  for (const value of values) checkMultiaddr(value)
}

/** Options whose parser is {@link checkMultiaddr}: see {@link needsMultiaddr}. */
const MULTIADDR_OPTIONS = new WeakSet<Option>()

/** Mark `option` as one whose parser calls {@link checkMultiaddr}. */
export function multiaddrOption(option: Option): Option {
  MULTIADDR_OPTIONS.add(option)
  return option
}

/** True when `cmd` or a subcommand of it has a {@link multiaddrOption}: parsing it needs {@link loadMultiaddr}. */
export function needsMultiaddr(cmd: Command): boolean {
  return cmd.options.some((o) => MULTIADDR_OPTIONS.has(o)) || cmd.commands.some(needsMultiaddr)
}

function collectMultiaddr(value: string, previous: string[]): string[] {
  try {
    return [...previous, checkMultiaddr(value)]
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

/** `--connect <multiaddr>`, repeatable: peers a one-shot command dials before it works. */
export function connectOption(): Option {
  return multiaddrOption(
    new Option('--connect <multiaddr>', 'dial this peer (/…/p2p/<id>) first; repeatable')
      .argParser(collectMultiaddr)
      .default([])
  )
}
