/**
 * The README's benchmark figures are bench/results.md, bench/wan/results.md and
 * bench/cluster-results.md, verbatim, each
 * between two markers in its "Benchmarks" section, so that the README quotes no figure that a
 * committed run did not produce. `npm run bench` (`bench:wan`) copies its table in when it writes
 * it;
 * `npx node --import tsx bench/readme.ts` copies it again, and the same with `--check` exits
 * with 1 when the README and bench/results.md differ.
 *
 * @packageDocumentation
 */

import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** A results table the README quotes verbatim, between its two markers. */
interface Quoted {
  path: string
  begin: string
  end: string
}

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url))

/** bench/results.md (`npm run bench`), bench/wan/results.md (`npm run bench:wan`), bench/cluster-results.md (`npm run bench:cluster`). */
export const QUOTED: Record<'loopback' | 'wan' | 'cluster', Quoted> = {
  loopback: {
    path: fileURLToPath(new URL('./results.md', import.meta.url)),
    begin: '<!-- bench/results.md, copied by `npm run bench`: do not edit -->',
    end: '<!-- end of bench/results.md -->'
  },
  wan: {
    path: fileURLToPath(new URL('./wan/results.md', import.meta.url)),
    begin: '<!-- bench/wan/results.md, copied by `npm run bench:wan`: do not edit -->',
    end: '<!-- end of bench/wan/results.md -->'
  },
  cluster: {
    path: fileURLToPath(new URL('./cluster-results.md', import.meta.url)),
    begin: '<!-- bench/cluster-results.md, copied by `npm run bench:cluster`: do not edit -->',
    end: '<!-- end of bench/cluster-results.md -->'
  }
}

/** The README with `results` between the markers of `quoted` (which it must have, once each). */
export function withResults(readme: string, results: string, quoted: Quoted = QUOTED.loopback): string {
  const { begin: BEGIN, end: END } = quoted
  const begin = readme.indexOf(BEGIN)
  const end = readme.indexOf(END)
  if (begin < 0 || end < begin || readme.indexOf(BEGIN, begin + 1) >= 0) {
    throw new Error(`README.md needs the markers "${BEGIN}" and "${END}", once each and in that order`)
  }
  return `${readme.slice(0, begin + BEGIN.length)}\n\n${results.trim()}\n\n${readme.slice(end)}`
}

/** Copy a results table into the README (nothing is written when it is already there). */
export async function copyResultsToReadme(which: keyof typeof QUOTED = 'loopback'): Promise<void> {
  const quoted = QUOTED[which]
  const readme = await readFile(readmePath, 'utf8')
  const updated = withResults(readme, await readFile(quoted.path, 'utf8'), quoted)
  if (updated !== readme) await writeFile(readmePath, updated)
}

/** Whether the README holds every results table as it is. */
export async function readmeHasResults(): Promise<boolean> {
  const readme = await readFile(readmePath, 'utf8')
  for (const quoted of Object.values(QUOTED)) {
    if (withResults(readme, await readFile(quoted.path, 'utf8'), quoted) !== readme) return false
  }
  return true
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--check')) {
    if (!(await readmeHasResults())) {
      process.stderr.write(
        'README.md does not hold bench/results.md and bench/wan/results.md as they are: run `npx node --import tsx bench/readme.ts`\n'
      )
      process.exitCode = 1
    }
  } else {
    await copyResultsToReadme('loopback')
    await copyResultsToReadme('wan')
  }
}
