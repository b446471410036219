import type { ComponentLogger, Logger } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'

export type { ComponentLogger, Logger }

/**
 * The logger every component gets unless one is injected: quiet by default,
 * enabled per component with `DEBUG=kit:*` (or `DEBUG=kit:discovery`).
 */
export function kitLogger(): ComponentLogger {
  return defaultLogger()
}
