import { spawn } from 'node:child_process'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..', '..')

/** Run an example as its own process (the project's Node, which strips types); bounded. */
export async function runExample(
  file: string,
  env: Record<string, string>,
  timeoutMs = 90_000
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(root, 'examples', file)], {
    cwd: root,
    env: { ...process.env, IPFS_KIT_PROFILE: 'local', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  try {
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    return { code, stdout, stderr }
  } finally {
    clearTimeout(timer)
    if (child.exitCode == null && child.pid != null) child.kill('SIGKILL')
  }
}

/** The number after `label: ` in a program's output. */
export function numberAfter(output: string, label: string): number {
  const m = output.match(new RegExp(`^${label}: ([0-9.]+)$`, 'm'))
  if (m == null) throw new Error(`no "${label}: <number>" line in:\n${output}`)
  return Number(m[1])
}
