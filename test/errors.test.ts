import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidCIDError, IpfsKitError, isErrorNamed } from '../src/errors.ts'

describe('errors', () => {
  it('carry a stable name and code', () => {
    const err = new InvalidCIDError('bad cid')
    assert.ok(err instanceof IpfsKitError)
    assert.equal(err.name, 'InvalidCIDError')
    assert.equal(err.code, 'ERR_INVALID_CID')
    assert.ok(isErrorNamed(err, 'InvalidCIDError'))
  })
})
