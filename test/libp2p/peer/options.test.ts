/**
 * The circuit relay v2 server's reservation options from `Swarm.RelayService`'s limits: 0 is no
 * limit (both 0: the relay applies none, so a relayed connection is not `limited`).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  RELAY_MAX_DATA_LIMIT_BYTES,
  RELAY_MAX_DURATION_LIMIT_MS,
  RELAY_SERVICE_LIMITS
} from '../../../src/constants.ts'
import { relayReservations } from '../../../src/libp2p/peer/options.ts'

describe('relay service limits → circuitRelayServer reservations', () => {
  const master = RELAY_SERVICE_LIMITS.master

  it("a role's limits are the relay's default limits", () => {
    assert.deepEqual(relayReservations(master), {
      maxReservations: master.maxReservations,
      reservationTtl: master.reservationTtlMs,
      defaultDurationLimit: master.durationLimitMs,
      defaultDataLimit: BigInt(master.dataLimitBytes)
    })
  })

  it('both limits 0: no default limit applied (nothing sent in HOP/STOP)', () => {
    const r = relayReservations({ ...master, dataLimitBytes: 0, durationLimitMs: 0 })
    assert.equal(r?.applyDefaultLimit, false)
    assert.equal(r?.defaultDataLimit, undefined)
    assert.equal(r?.defaultDurationLimit, undefined)
  })

  it('one limit 0: that one becomes the largest the relay enforces, the other is kept', () => {
    const noData = relayReservations({ ...master, dataLimitBytes: 0 })
    assert.equal(noData?.defaultDataLimit, RELAY_MAX_DATA_LIMIT_BYTES)
    assert.equal(noData?.defaultDurationLimit, master.durationLimitMs)
    const noTime = relayReservations({ ...master, durationLimitMs: 0 })
    assert.equal(noTime?.defaultDurationLimit, RELAY_MAX_DURATION_LIMIT_MS)
    assert.equal(noTime?.defaultDataLimit, BigInt(master.dataLimitBytes))
  })
})
