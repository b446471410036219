import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type IndexEntry, StateIndex } from '../../src/cluster/state-index.ts'
import type { ClusterPin } from '../../src/cluster/types.ts'

function pinValue(cid: string, allocations: string[], name = ''): ClusterPin {
  return {
    cid,
    name,
    replicationFactorMin: 1,
    replicationFactorMax: 2,
    allocations,
    expireAt: 0,
    metadata: {},
    mode: 'recursive',
    timestamp: 1,
    updatedBy: 'm',
    reallocated: 0
  }
}

let n = 0
function entry(time: number, id: string, payload: unknown): IndexEntry {
  return { hash: `h${++n}`, payload, clock: { id, time } }
}

describe('the state index', () => {
  it('keeps the last write of each key by clock, in whatever order entries arrive', () => {
    const e1 = entry(1, 'a', { op: 'PUT', key: 'pin/x', value: pinValue('x', ['p1'], 'first') })
    const e2 = entry(2, 'a', { op: 'PUT', key: 'pin/x', value: pinValue('x', ['p2'], 'second') })
    const e3 = entry(2, 'b', { op: 'DEL', key: 'pin/x', value: null })
    for (const order of [
      [e1, e2, e3],
      [e3, e2, e1],
      [e2, e3, e1]
    ]) {
      const index = new StateIndex()
      for (const e of order) index.apply(e)
      // (2, 'b') is after (2, 'a'): the delete wins, and an older put does not bring it back
      assert.equal(index.pins.has('x'), false)
      assert.equal(index.allocatedTo('p1'), 0)
      assert.equal(index.allocatedTo('p2'), 0)
    }
  })

  it('applies batches in order and counts allocations per member', () => {
    const index = new StateIndex()
    const changes = index.apply(
      entry(1, 'a', {
        op: 'BATCH',
        key: null,
        value: [
          { op: 'PUT', key: 'pin/x', value: pinValue('x', ['p1', 'p2']) },
          { op: 'PUT', key: 'pin/y', value: pinValue('y', ['p1']) },
          { op: 'PUT', key: 'pin/x', value: pinValue('x', ['p3']) },
          {
            op: 'PUT',
            key: 'member/p1',
            value: { id: 'p1', role: 'worker', identity: 'i', tags: {}, joined: 1 }
          }
        ]
      })
    )
    assert.equal(changes.length, 4)
    assert.deepEqual(index.pins.get('x')?.allocations, ['p3'])
    assert.equal(index.allocatedTo('p1'), 1)
    assert.equal(index.allocatedTo('p2'), 0)
    assert.equal(index.allocatedTo('p3'), 1)
    assert.equal(index.members.get('p1')?.role, 'worker')
  })

  it('ignores what is not a pin or a member (a bad value from a writer)', () => {
    const index = new StateIndex()
    assert.deepEqual(index.apply(entry(1, 'a', { op: 'PUT', key: 'pin/x', value: { cid: 'x' } })), [])
    assert.deepEqual(index.apply(entry(1, 'a', { op: 'PUT', key: 'pin/y', value: pinValue('z', []) })), [])
    assert.deepEqual(index.apply(entry(1, 'a', 'garbage')), [])
    assert.deepEqual(index.apply(entry(1, 'a', { op: 'PUT', key: 'other/k', value: 1 })), [])
    assert.equal(index.pins.size, 0)
  })
})
