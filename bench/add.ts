/**
 * Item 1, add throughput: our `ipfsAddBytes` (Kubo layout, into the repo's verifying
 * `blockstore-fs`, pinned) against SHA-256 over the same bytes (the physical limit: an add must
 * hash every byte once) and against plain Helia's `unixfs.addBytes` into a `blockstore-fs`, once
 * with Helia's defaults and once with the same Kubo layout as ours. Each contender runs `runs` times,
 * interleaved, and its fastest run counts.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { FsBlockstore } from 'blockstore-fs'
import { createHeliaLight } from 'helia'
import { kuboImporterOptions } from '../src/kit/importer.ts'
import { ipfsKit } from '../src/kit/index.ts'
import { type BenchFigure, MiB, note, row, seededBytes } from './common.ts'

/** Options of {@link runAddBench}. */
export interface AddBenchInit {
  /** file size in MiB @default 256 */
  sizeMiB?: number
  /** timed runs of each contender (the fastest is reported: the least disturbed) @default 2 */
  runs?: number
}

/** Run item 1 in a temp folder (removed afterwards) and return its figures. */
export async function runAddBench(init: AddBenchInit = {}): Promise<BenchFigure[]> {
  const sizeMiB = init.sizeMiB ?? 256
  const runs = init.runs ?? 2
  const bytes = seededBytes('add', sizeMiB * MiB)
  const dir = await mkdtemp(join(tmpdir(), 'ipfs-kit-bench-add-'))
  const rate = (ms: number): number => sizeMiB / (ms / 1000)
  // the same importer options as ours (Helia's add types its progress events differently)
  const { onProgress: _progress, ...kuboLayout } = kuboImporterOptions()
  try {
    const times = {
      sha: [] as number[],
      ours: [] as number[],
      heliaDefault: [] as number[],
      heliaKubo: [] as number[]
    }
    let oursCid = ''
    let heliaKuboCid = ''
    // interleaved, so that a slow moment of the machine hits every contender alike
    for (let run = 0; run < runs; run++) {
      let start = performance.now()
      createHash('sha256').update(bytes).digest()
      times.sha.push(performance.now() - start)

      const kit = await ipfsKit({ repo: join(dir, `ours-${run}`), profile: 'local', offline: true })
      try {
        start = performance.now()
        oursCid = (await kit.ipfsAddBytes(bytes)).Hash
        times.ours.push(performance.now() - start)
      } finally {
        await kit.stop()
      }

      for (const layout of ['default', 'kubo'] as const) {
        const blockstore = new FsBlockstore(join(dir, `helia-${layout}-${run}`))
        await blockstore.open()
        const helia = createHeliaLight({ blockstore })
        await helia.start()
        try {
          start = performance.now()
          const cid = await unixfs(helia).addBytes(bytes, layout === 'kubo' ? kuboLayout : {})
          ;(layout === 'kubo' ? times.heliaKubo : times.heliaDefault).push(performance.now() - start)
          if (layout === 'kubo') heliaKuboCid = cid.toString()
        } finally {
          await helia.stop()
          await blockstore.close()
        }
      }
      await rm(join(dir, `ours-${run}`), { recursive: true, force: true })
      await rm(join(dir, `helia-default-${run}`), { recursive: true, force: true })
      await rm(join(dir, `helia-kubo-${run}`), { recursive: true, force: true })
      note(
        `add ${sizeMiB} MiB run ${run + 1}/${runs}: sha256 ${times.sha.at(-1)?.toFixed(0)} ms, ours ${times.ours
          .at(-1)
          ?.toFixed(
            0
          )} ms, helia ${times.heliaDefault.at(-1)?.toFixed(0)} ms, helia (kubo layout) ${times.heliaKubo
          .at(-1)
          ?.toFixed(0)} ms`
      )
    }
    if (oursCid !== heliaKuboCid) {
      throw new Error(`same bytes, same layout, different CIDs: ours ${oursCid}, Helia ${heliaKuboCid}`)
    }
    const ours = rate(Math.min(...times.ours))
    const figure = `add throughput, ${sizeMiB} MiB file, best of ${runs}`
    return [
      row({
        figure,
        ours,
        baseline: rate(Math.min(...times.sha)),
        baselineName: 'SHA-256 over the same bytes (node:crypto)',
        unit: 'MiB/s',
        better: 'higher',
        goal: 'within 1.5× of SHA-256 (ratio ≥ 0.67)',
        goalRatio: 1 / 1.5
      }),
      row({
        figure,
        ours,
        baseline: rate(Math.min(...times.heliaDefault)),
        baselineName: 'plain Helia unixfs.addBytes, Helia defaults (CIDv1, 1 MiB raw leaves), blockstore-fs',
        unit: 'MiB/s',
        better: 'higher',
        goal: 'report (different DAG: fewer, larger blocks)'
      }),
      row({
        figure,
        ours,
        baseline: rate(Math.min(...times.heliaKubo)),
        baselineName: 'plain Helia unixfs.addBytes, same Kubo layout (same CID), blockstore-fs',
        unit: 'MiB/s',
        better: 'higher',
        goal: '≥ 0.9× plain Helia (ours also verifies and pins)',
        goalRatio: 0.9
      })
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
