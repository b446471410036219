import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Presets, SingleBar } from 'cli-progress'

/** A byte counter shown on standard error; a no-op when it should not be shown. */
export interface Progress {
  add(bytes: number): void
  /** clear the bar's line, before a line is printed (the bar is drawn again on its next update) */
  clear(): void
  stop(): void
}

const silent: Progress = { add() {}, clear() {}, stop() {} }

/** Bytes of the files under `path` that an add reads (dot files only with `hidden`). */
export async function bytesToAdd(path: string, hidden: boolean): Promise<number> {
  const info = await lstat(path)
  if (info.isFile()) return info.size
  if (!info.isDirectory()) return 0
  let total = 0
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (!hidden && entry.name.startsWith('.')) continue
    if (entry.isFile() || entry.isDirectory()) total += await bytesToAdd(join(path, entry.name), hidden)
  }
  return total
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`
}

/**
 * A progress bar on standard error when it is a terminal and `show` is true (not with
 * `-q` or `--json`). `total` undefined: a running byte count without a bar (stdin).
 */
export function progressBar(show: boolean, total: number | undefined): Progress {
  if (!show || process.stderr.isTTY !== true) return silent
  const known = total != null && total > 0
  const bar = new SingleBar(
    {
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      format: known ? ' {bar} {percentage}% | {done} / {size}' : ' {done} read',
      fps: 10
    },
    Presets.shades_classic
  )
  let done = 0
  bar.start(known ? total : 1, 0, { done: mib(0), size: mib(total ?? 0) })
  return {
    add(bytes: number) {
      done += bytes
      bar.update(known ? done : 0, { done: mib(done) })
    },
    clear() {
      process.stderr.write('\x1b[2K\r')
    },
    stop() {
      bar.stop()
    }
  }
}
