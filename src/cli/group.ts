import type { Command } from 'commander'
import { UsageError } from './errors.ts'

/**
 * A command that only groups subcommands: run alone, or with an unknown subcommand,
 * it is a one-line usage error. A group already made (by another command file) is reused.
 */
export function groupCommand(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name)
  if (existing != null) return existing
  const group = program.command(name).description(description)
  group.argument('[command]').action((sub: string | undefined) => {
    const names = group.commands.map((c) => c.name()).join(', ')
    if (sub == null) throw new UsageError(`'${name}' needs a subcommand: ${names}`)
    throw new UsageError(`unknown command '${name} ${sub}': use ${names}`)
  })
  return group
}
