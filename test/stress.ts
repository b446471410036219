/**
 * `npm run test:stress`: the README's test command, run while CPU-burning child processes
 * compete for the cores, as on a busy developer machine or CI runner. A test that waits for a
 * time instead of for its condition fails here.
 *
 * Environment: `STRESS_BURNERS` (default 2) processes spinning; `STRESS_RUNS` (default 1) runs
 * of the suite in a row, stopping at the first that fails. Every burner is stopped by its pid
 * when the runner ends, however it ends, and a burner whose parent is gone stops itself.
 */
import { type ChildProcess, spawn } from 'node:child_process'

const burners = Number(process.env.STRESS_BURNERS ?? 2)
const runs = Number(process.env.STRESS_RUNS ?? 1)
if (!Number.isSafeInteger(burners) || burners < 0 || !Number.isSafeInteger(runs) || runs < 1) {
  process.stderr.write('STRESS_BURNERS must be a whole number ≥ 0 and STRESS_RUNS ≥ 1\n')
  process.exit(2)
}

/** Spin in 100 ms slices; between slices, exit if the parent (this runner) is gone. */
const BURN = `
const parent = process.ppid
function slice() {
  const end = Date.now() + 100
  while (Date.now() < end) {}
  if (process.ppid !== parent) process.exit(0)
  setImmediate(slice)
}
slice()
`

const children: ChildProcess[] = []
function stopBurners(): void {
  for (const child of children) {
    if (child.pid != null && child.exitCode == null) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}
process.on('exit', stopBurners)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopBurners()
    process.exit(130)
  })
}

for (let i = 0; i < burners; i++) {
  children.push(spawn(process.execPath, ['-e', BURN], { stdio: 'ignore' }))
}
process.stderr.write(
  `test:stress: ${burners} CPU burners running (pids ${children.map((c) => c.pid).join(', ')})\n`
)

let code = 0
for (let run = 1; run <= runs; run++) {
  const started = Date.now()
  // the README's test command; npm puts the project's Node (node_modules/.bin) first on the PATH
  const suite = spawn('npm', ['test'], { stdio: 'inherit' })
  code = await new Promise<number>((resolve) =>
    suite.on('exit', (c, s) => resolve(c ?? (s == null ? 1 : 128)))
  )
  const minutes = ((Date.now() - started) / 60_000).toFixed(1)
  process.stderr.write(
    `test:stress: run ${run} of ${runs} ${code === 0 ? 'passed' : `failed (exit ${code})`} in ${minutes} min\n`
  )
  if (code !== 0) break
}
stopBurners()
process.exit(code)
