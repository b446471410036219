/**
 * Item 1, add throughput: our `ipfsAddBytes` (Kubo layout, into the repo's verifying
 * {@link RepoBlockstore}, pinned) against SHA-256 over the same bytes (the physical limit: an add
 * must hash every byte once) and against plain Helia's `unixfs.addBytes` into the same block store
 * class, once with Helia's defaults and once with the same Kubo layout as ours. Each contender
 * runs `runs` times, every run in the opposite order to the one before, and its fastest run counts.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { createHeliaLight } from 'helia'
import { RepoBlockstore } from '../src/blocks/fs-blockstore.ts'
import { kuboImporterOptions } from '../src/kit/importer.ts'
import { ipfsKit } from '../src/kit/index.ts'
import { alternate, type BenchFigure, MiB, note, row, seededBytes } from './common.ts'

/** The contenders, in the order of even runs (odd runs reverse it). */
const CONTENDERS = ['sha', 'ours', 'heliaDefault', 'heliaKubo'] as const
type Contender = (typeof CONTENDERS)[number]

interface Timed {
  ms: number
  /** the root CID (for SHA-256: the digest) */
  cid: string
}

async function timed(add: () => Promise<string>): Promise<Timed> {
  const start = performance.now()
  const cid = await add()
  return { ms: performance.now() - start, cid }
}

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
    const times: Record<Contender, number[]> = { sha: [], ours: [], heliaDefault: [], heliaKubo: [] }
    const cids: Partial<Record<Contender, string>> = {}
    const heliaAdd = async (store: string, options: object): Promise<Timed> => {
      // the same block store class as ours (the repo's RepoBlockstore), without our verifying layer
      const blockstore = new RepoBlockstore(store)
      await blockstore.open()
      const helia = createHeliaLight({ blockstore })
      await helia.start()
      try {
        return await timed(async () => (await unixfs(helia).addBytes(bytes, options)).toString())
      } finally {
        await helia.stop()
        await blockstore.close()
      }
    }
    /** one add into a fresh store: only the add is timed (not opening and closing the store) */
    const contenders: Record<Contender, (store: string) => Promise<Timed>> = {
      sha: () => timed(async () => createHash('sha256').update(bytes).digest('hex')),
      ours: async (store) => {
        const kit = await ipfsKit({ repo: store, profile: 'local', offline: true })
        try {
          return await timed(async () => (await kit.ipfsAddBytes(bytes)).Hash)
        } finally {
          await kit.stop()
        }
      },
      heliaDefault: (store) => heliaAdd(store, {}),
      heliaKubo: (store) => heliaAdd(store, kuboLayout)
    }
    // every run in the opposite order to the one before (ABBA), so that no contender always goes
    // first, and a slow moment of the machine hits every contender alike
    for (let run = 0; run < runs; run++) {
      for (const who of alternate(CONTENDERS, run)) {
        const store = join(dir, `${who}-${run}`)
        const { ms, cid } = await contenders[who](store)
        times[who].push(ms)
        cids[who] = cid
        // stores are removed at the end: ext4 allocates new files slowly next to inodes freed
        // moments ago, and a removal between contenders would slow the next one down
      }
      const ms = (who: Contender): string => times[who].at(-1)?.toFixed(0) ?? '?'
      note(
        `add ${sizeMiB} MiB run ${run + 1}/${runs} (${alternate(CONTENDERS, run).join(', ')}): ` +
          `sha256 ${ms('sha')} ms, ours ${ms('ours')} ms, helia ${ms('heliaDefault')} ms, ` +
          `helia (kubo layout) ${ms('heliaKubo')} ms`
      )
    }
    if (cids.ours !== cids.heliaKubo) {
      throw new Error(`same bytes, same layout, different CIDs: ours ${cids.ours}, Helia ${cids.heliaKubo}`)
    }
    const ours = rate(Math.min(...times.ours))
    const figure = `add throughput, ${sizeMiB} MiB file, best of ${runs} (alternating order)`
    const store = 'RepoBlockstore (the same block store class as ours)'
    return [
      row({
        figure,
        ours,
        baseline: rate(Math.min(...times.sha)),
        baselineName: 'SHA-256 over the same bytes (node:crypto)',
        unit: 'MiB/s',
        better: 'higher',
        goal: 'close to SHA-256, the physical limit (an add hashes every byte once)',
        target: { op: '>=', value: 1 / 1.5 }
      }),
      row({
        figure,
        ours,
        baseline: rate(Math.min(...times.heliaDefault)),
        baselineName: `plain Helia unixfs.addBytes, Helia defaults (CIDv1, 1 MiB raw leaves), ${store}`,
        unit: 'MiB/s',
        better: 'higher',
        goal: 'report (different DAG: fewer, larger blocks)'
      }),
      row({
        figure,
        ours,
        baseline: rate(Math.min(...times.heliaKubo)),
        baselineName: `plain Helia unixfs.addBytes, same Kubo layout (same CID), ${store}`,
        unit: 'MiB/s',
        better: 'higher',
        goal: 'close to plain Helia (ours also verifies and pins)',
        target: { op: '>=', value: 0.9 }
      })
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
