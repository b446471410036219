/**
 * Kubo's `log level <subsystem|all> <level>` over libp2p's debug loggers (`@libp2p/logger`,
 * which every libp2p, Helia and ipfs-kit component logs through): a subsystem is a logger
 * namespace (`kit:routing`, `libp2p:dialer`, `helia:bitswap`), `all` is every one.
 *
 * @packageDocumentation
 */
import { enable } from '@libp2p/logger'
import { LOG_MAX_SUBSYSTEMS } from '../constants.ts'
import { InvalidParametersError } from '../errors.ts'

/** Kubo's (zap's) levels, most verbose first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'] as const

/** A Kubo log level. */
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Levels set, by subsystem ('*' for all), in the order they were set. */
const levels = new Map<string, LogLevel>()
/** What `DEBUG` enabled at start, kept under any level set later. */
let base: string | undefined

/**
 * The debug namespaces of a subsystem at a level: `debug` shows everything (trace lines too),
 * `info` and `warn` all but trace lines, `error` and above only error lines (libp2p's loggers
 * have these three kinds).
 */
function patterns(subsystem: string, level: LogLevel): string[] {
  const all = subsystem === '*'
  const children = all ? '*' : `${subsystem}:*`
  if (level === 'debug') return all ? ['*'] : [subsystem, children]
  if (level === 'info' || level === 'warn') {
    return [
      ...(all ? ['*'] : [subsystem, children]),
      all ? '-*:trace' : `-${subsystem}:trace`,
      ...(all ? [] : [`-${subsystem}:*:trace`])
    ]
  }
  return all ? ['*:error'] : [`${subsystem}:error`, `${subsystem}:*:error`]
}

/**
 * Set the level of a subsystem (a logger namespace such as `kit:routing`), or of every one with
 * `all` (which replaces the levels set before). Returns Kubo's message.
 * @throws {InvalidParametersError} for an unknown level or a malformed subsystem
 */
export function setLogLevel(subsystem: string, level: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InvalidParametersError(`"${level}" is not a log level: use one of ${LOG_LEVELS.join(', ')}`)
  }
  if (!/^[\w.:/@*-]+$/.test(subsystem) || subsystem.startsWith('-')) {
    throw new InvalidParametersError(
      `"${subsystem}" is not a subsystem: give a logger name such as kit:routing, or all`
    )
  }
  base ??= process.env.DEBUG ?? ''
  const key = subsystem === 'all' ? '*' : subsystem
  if (key === '*') levels.clear()
  levels.delete(key)
  if (levels.size >= LOG_MAX_SUBSYSTEMS) {
    throw new InvalidParametersError(
      `levels are set for ${LOG_MAX_SUBSYSTEMS} subsystems already: set all instead`
    )
  }
  levels.set(key, level as LogLevel)
  const list = [base, ...[...levels].flatMap(([s, l]) => patterns(s, l))].filter((p) => p !== '')
  enable(list.join(','))
  return `Changed log level of '${subsystem}' to '${level}'\n`
}

/** The subsystems a level was set for, with their levels (`all` for every subsystem). */
export function logLevels(): Record<string, LogLevel> {
  return Object.fromEntries([...levels].map(([s, l]) => [s === '*' ? 'all' : s, l]))
}
