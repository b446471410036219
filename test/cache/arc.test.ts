/** ARC and LRU policies: scan resistance on a shared trace, and ARC's invariants under fast-check. */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { DEFAULT_TRACE, replay, scanHotTrace } from '../../bench/cache-trace.ts'
import { ArcCache, LruCache } from '../../src/cache/index.ts'

const KiB = 1024

describe('ARC vs LRU', () => {
  it('a one-pass scan larger than memory does not flush ARC’s hot set as it does LRU’s', async () => {
    const trace = await scanHotTrace(DEFAULT_TRACE)
    const arc = await replay(trace, 'arc', 256 * KiB)
    const lru = await replay(trace, 'lru', 256 * KiB)
    console.log(
      `scan+hot trace (${trace.reads.length} reads, hot 160 KiB, scan 8 MiB, memory 256 KiB): ` +
        `ARC hit ratio ${arc.toFixed(3)}, LRU hit ratio ${lru.toFixed(3)}`
    )
    assert.ok(arc > lru, `ARC ${arc} should beat LRU ${lru}`)
    // half the reads are hot; ARC should serve nearly all of them, LRU loses those the scan flushed
    assert.ok(arc > 0.45, `ARC hit ratio ${arc}`)
    assert.ok(arc - lru > 0.1, `ARC ${arc} should beat LRU ${lru} by more than 0.1`)
  })

  it('on a trace without a scan both hit equally once warm', async () => {
    const trace = await scanHotTrace({ ...DEFAULT_TRACE, scanBlocks: 0 })
    assert.equal(await replay(trace, 'arc', 256 * KiB), 0.5)
    assert.equal(await replay(trace, 'lru', 256 * KiB), 0.5)
  })
})

type Op = { kind: 'set'; key: number; size: number } | { kind: 'get' | 'delete'; key: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    key: fc.integer({ min: 0, max: 60 }),
    size: fc.integer({ min: 0, max: 150 })
  }),
  fc.record({
    kind: fc.constantFrom('get' as const, 'delete' as const),
    key: fc.integer({ min: 0, max: 60 })
  })
)

describe('ArcCache', () => {
  it('keeps its invariants and its contents under random operations', () => {
    const capacity = 500
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400, size: 'max' }), (ops) => {
        const arc = new ArcCache<number, string>(capacity)
        const model = new Map<number, { value: string; size: number }>()
        ops.forEach((op, i) => {
          if (op.kind === 'set') {
            const value = `v${i}`
            for (const evicted of arc.set(op.key, value, op.size)) {
              assert.equal(model.get(evicted.key)?.value, evicted.value)
              model.delete(evicted.key)
            }
            if (op.size <= capacity) {
              model.set(op.key, { value, size: op.size })
            } else {
              model.delete(op.key)
            }
          } else if (op.kind === 'get') {
            assert.equal(arc.get(op.key), model.get(op.key)?.value)
          } else {
            assert.equal(arc.delete(op.key), model.has(op.key))
            model.delete(op.key)
          }
          const { p, t1Bytes, t2Bytes, b1Bytes, b2Bytes } = arc.state()
          assert.ok(t1Bytes + t2Bytes <= capacity, 't1 + t2 <= c')
          assert.ok(t1Bytes + b1Bytes <= capacity, 't1 + b1 <= c')
          assert.ok(t1Bytes + t2Bytes + b1Bytes + b2Bytes <= 2 * capacity, 'all lists <= 2c')
          assert.ok(p >= 0 && p <= capacity, `0 <= p=${p} <= c`)
          assert.equal(arc.count, model.size)
          assert.equal(
            arc.bytes,
            [...model.values()].reduce((sum, e) => sum + e.size, 0)
          )
        })
      }),
      { seed: 1234, numRuns: 300 }
    )
  })

  it('adapts p: ghost hits in B1 grow it, ghost hits in B2 shrink it', () => {
    const arc = new ArcCache<string, string>(100)
    arc.set('a', 'a', 50)
    arc.set('b', 'b', 50)
    arc.get('a') // a moves to T2
    arc.set('c', 'c', 50) // T1 is over p = 0: its LRU, b, becomes a B1 ghost
    assert.deepEqual(arc.state(), { p: 0, t1Bytes: 50, t2Bytes: 50, b1Bytes: 50, b2Bytes: 0 })
    assert.equal(arc.has('b'), false)
    arc.set('b', 'b', 50) // B1 ghost hit: T1 was too small, p grows; T2's LRU, a, becomes a B2 ghost
    assert.deepEqual(arc.state(), { p: 50, t1Bytes: 50, t2Bytes: 50, b1Bytes: 0, b2Bytes: 50 })
    assert.equal(arc.has('b'), true)
    assert.equal(arc.has('a'), false)
    arc.set('a', 'a', 50) // B2 ghost hit: T2 was too small, p shrinks
    assert.equal(arc.state().p, 0)
    assert.equal(arc.has('a'), true)
  })
})

describe('LruCache', () => {
  it('evicts least recently used first and stays within capacity', () => {
    const lru = new LruCache<string, number>(100)
    lru.set('a', 1, 40)
    lru.set('b', 2, 40)
    lru.get('a')
    const evicted = lru.set('c', 3, 40)
    assert.deepEqual(
      evicted.map((e) => e.key),
      ['b']
    )
    assert.equal(lru.bytes, 80)
    assert.deepEqual(lru.set('huge', 4, 101), [])
    assert.equal(lru.has('huge'), false)
  })
})
