/**
 * The README's benchmark figures are bench/results.md, verbatim, between two markers in its
 * "Benchmarks" section, so that the README quotes no figure that the committed run did not
 * produce. `npm run bench` copies the table in when it writes bench/results.md;
 * `npx node --import tsx bench/readme.ts` copies it again, and the same with `--check` exits
 * with 1 when the README and bench/results.md differ.
 *
 * @packageDocumentation
 */

import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'

const BEGIN = '<!-- bench/results.md, copied by `npm run bench`: do not edit -->'
const END = '<!-- end of bench/results.md -->'

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url))
const resultsPath = fileURLToPath(new URL('./results.md', import.meta.url))

/** The README with `results` between the markers (which it must have, once each). */
export function withResults(readme: string, results: string): string {
  const begin = readme.indexOf(BEGIN)
  const end = readme.indexOf(END)
  if (begin < 0 || end < begin || readme.indexOf(BEGIN, begin + 1) >= 0) {
    throw new Error(`README.md needs the markers "${BEGIN}" and "${END}", once each and in that order`)
  }
  return `${readme.slice(0, begin + BEGIN.length)}\n\n${results.trim()}\n\n${readme.slice(end)}`
}

/** Copy bench/results.md into the README (nothing is written when it is already there). */
export async function copyResultsToReadme(): Promise<void> {
  const readme = await readFile(readmePath, 'utf8')
  const updated = withResults(readme, await readFile(resultsPath, 'utf8'))
  if (updated !== readme) await writeFile(readmePath, updated)
}

/** Whether the README holds bench/results.md as it is. */
export async function readmeHasResults(): Promise<boolean> {
  const readme = await readFile(readmePath, 'utf8')
  return withResults(readme, await readFile(resultsPath, 'utf8')) === readme
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--check')) {
    if (!(await readmeHasResults())) {
      process.stderr.write(
        'README.md does not hold bench/results.md as it is: run `npx node --import tsx bench/readme.ts`\n'
      )
      process.exitCode = 1
    }
  } else {
    await copyResultsToReadme()
  }
}
