import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type AllocationCandidate, allocate } from '../../src/cluster/allocator.ts'
import { checkClusterInit, pinFromOptions } from '../../src/cluster/config.ts'
import { planRecovery, type RecoveryView } from '../../src/cluster/recovery.ts'
import { rendezvousOrder, rendezvousPick } from '../../src/cluster/rendezvous.ts'
import type { ClusterPin } from '../../src/cluster/types.ts'

const GiB = 1024 ** 3

function member(id: string, init: Partial<AllocationCandidate> = {}): AllocationCandidate {
  return { id, tags: {}, freeSpace: 100 * GiB, allocated: 0, reputation: 0.5, ...init }
}

function pin(cid: string, allocations: string[], min = 2, max = 2): ClusterPin {
  return {
    cid,
    name: '',
    replicationFactorMin: min,
    replicationFactorMax: max,
    allocations,
    expireAt: 0,
    metadata: {},
    mode: 'recursive',
    timestamp: 1,
    updatedBy: 'm',
    reallocated: 0
  }
}

describe('rendezvous hashing', () => {
  it('every caller picks the same candidate, whatever the order', () => {
    const peers = ['a', 'b', 'c', 'd', 'e']
    for (const key of ['k1', 'k2', 'k3', 'k4']) {
      assert.equal(rendezvousPick(key, peers), rendezvousPick(key, [...peers].reverse()))
      assert.equal(rendezvousOrder(key, peers)[0], rendezvousPick(key, peers))
    }
    assert.equal(rendezvousPick('k', []), undefined)
  })

  it('losing a candidate moves only the keys it had', () => {
    const peers = ['a', 'b', 'c', 'd', 'e']
    const keys = Array.from({ length: 500 }, (_, i) => `cid-${i}`)
    let moved = 0
    for (const key of keys) {
      const before = rendezvousPick(key, peers)
      const after = rendezvousPick(
        key,
        peers.filter((p) => p !== 'c')
      )
      if (before !== 'c') assert.equal(after, before)
      else moved++
    }
    // about a fifth, never none and never all
    assert.ok(moved > 50 && moved < 200, `moved ${moved}`)
  })
})

describe('balanced allocator', () => {
  it('spreads replicas over tag values first', () => {
    const members = [
      member('a1', { tags: { group: 'a' }, freeSpace: 900 * GiB }),
      member('a2', { tags: { group: 'a' }, freeSpace: 800 * GiB }),
      member('b1', { tags: { group: 'b' }, freeSpace: 10 * GiB })
    ]
    const chosen = allocate(members, { key: 'x', count: 2, allocateBy: ['group'] })
    assert.deepEqual(new Set(chosen), new Set(['a1', 'b1']))
  })

  it('then free space (in steps), then fewer pins held, then reputation', () => {
    const members = [
      member('small', { freeSpace: 5 * GiB }),
      member('busy', { allocated: 10 }),
      member('idle-bad', { reputation: 0.1 }),
      member('idle-good', { reputation: 0.9 })
    ]
    assert.deepEqual(allocate(members, { key: 'x', count: 3 }), ['idle-good', 'idle-bad', 'busy'])
  })

  it('never returns more than there are, nor a member that holds it already', () => {
    const members = [member('a'), member('b')]
    assert.deepEqual(allocate(members, { key: 'x', count: 5, existing: [member('a')] }), ['b'])
    assert.deepEqual(allocate([], { key: 'x', count: 2 }), [])
  })

  it('user allocations go first', () => {
    const members = [member('a', { reputation: 1 }), member('b'), member('c')]
    assert.deepEqual(allocate(members, { key: 'x', count: 2, userAllocations: ['c', 'nobody'] }).at(0), 'c')
  })
})

describe('recovery planning', () => {
  const view = (over: Partial<RecoveryView>): RecoveryView => ({
    self: 'm',
    writers: ['m'],
    candidates: ['m', 'w1', 'w2', 'w3'].map((id) => member(id)),
    lost: () => false,
    allocateBy: [],
    now: 1000,
    ...over
  })

  it('a lost holder is replaced by one live member, the other holder kept', () => {
    const changes = planRecovery([pin('c1', ['w1', 'w2'])], view({ lost: (p) => p === 'w2' }))
    assert.equal(changes.length, 1)
    const c = changes[0]!
    assert.equal(c.kind, 'reallocate')
    if (c.kind !== 'reallocate') return
    assert.equal(c.pin.allocations.length, 2)
    assert.equal(c.pin.allocations[0], 'w1')
    assert.ok(!c.pin.allocations.includes('w2'))
    assert.equal(c.pin.reallocated, 1)
  })

  it('only the coordinator of a CID writes its new allocations (one repin, never two)', () => {
    const pins = Array.from({ length: 200 }, (_, i) => pin(`c${i}`, ['w1', 'w2']))
    const writers = ['m', 'w1', 'w3']
    const lost = (p: string): boolean => p === 'w2'
    const byWriter = writers.map((self) =>
      planRecovery(pins, view({ self, writers, lost })).map((c) =>
        c.kind === 'reallocate' ? c.pin.cid : c.cid
      )
    )
    const all = byWriter.flat()
    assert.equal(all.length, pins.length)
    assert.equal(new Set(all).size, pins.length)
  })

  it('1,000 lost pins are spread over the live members, not all on one', () => {
    const pins = Array.from({ length: 1000 }, (_, i) => pin(`c${i}`, ['w1', 'w2']))
    const changes = planRecovery(pins, view({ lost: (p) => p === 'w2' }))
    const counts = new Map<string, number>()
    for (const c of changes) {
      if (c.kind !== 'reallocate') continue
      const added = c.pin.allocations.find((a) => a !== 'w1')!
      counts.set(added, (counts.get(added) ?? 0) + 1)
    }
    assert.equal(changes.length, 1000)
    for (const [, n] of counts) assert.ok(n > 250, `uneven: ${[...counts]}`)
  })

  it('fewer members than the minimum: keeps what there is, tops up when members come', () => {
    const few = view({ candidates: [member('m')] })
    assert.deepEqual(planRecovery([pin('c', ['m'], 3, 3)], few), [])
    const more = planRecovery([pin('c', ['m'], 3, 3)], view({}))
    assert.equal(more.length, 1)
    if (more[0]?.kind === 'reallocate') assert.equal(more[0].pin.allocations.length, 3)
  })

  it('a lost holder no one can replace stays allocated while under the minimum', () => {
    const alone = view({ candidates: [member('m')], lost: (p) => p === 'w1' })
    assert.deepEqual(planRecovery([pin('c', ['m', 'w1'])], alone), [])
  })

  it('pins for everyone are left alone; expired pins are removed', () => {
    assert.deepEqual(planRecovery([pin('all', [], -1, -1)], view({ lost: () => true })), [])
    const expired = { ...pin('old', ['w1', 'w2']), expireAt: 500 }
    assert.deepEqual(planRecovery([expired], view({})), [{ kind: 'expire', cid: 'old' }])
  })
})

describe('cluster options and pin options', () => {
  it('a pin takes IPFS Cluster defaults and checks its factors', () => {
    const p = pinFromOptions('cid', {}, 'me', 10)
    assert.equal(p.replicationFactorMin, -1)
    assert.equal(p.replicationFactorMax, -1)
    assert.equal(pinFromOptions('cid', { replicationFactorMin: 2 }, 'me').replicationFactorMax, 2)
    assert.throws(() => pinFromOptions('cid', { replicationFactorMin: 3, replicationFactorMax: 2 }, 'me'), {
      name: 'InvalidParametersError'
    })
    assert.throws(() => pinFromOptions('cid', { replicationFactorMin: -1, replicationFactorMax: 2 }, 'me'), {
      name: 'InvalidParametersError'
    })
    assert.throws(() => pinFromOptions('cid', { replicationFactorMin: 1.5 }, 'me'), {
      name: 'InvalidParametersError'
    })
    assert.throws(() => pinFromOptions('cid', { expireAt: 5 }, 'me', 10), { name: 'InvalidParametersError' })
  })

  it('cluster options are checked by name', () => {
    assert.throws(() => checkClusterInit({ heartbeatTtlMs: -1 }), { name: 'InvalidClusterConfigError' })
    assert.throws(() => checkClusterInit({ nope: 1 }), /unknown option "nope"/)
    assert.throws(() => checkClusterInit({ heartbeatIntervalMs: 5000, heartbeatTtlMs: 1000 }), /longer/)
    assert.throws(() => checkClusterInit({ role: 'boss' }), /master, worker or leecher/)
    assert.deepEqual(checkClusterInit({ tags: { group: 'a' } }), { tags: { group: 'a' } })
  })
})
