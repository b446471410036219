/**
 * Truncated digests are refused: a CID whose digest is shorter than its hash function's output
 * (zero bytes, at the extreme) would match bytes an attacker chose.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { blockMatches, verifyBlock } from '../../src/blocks/verify.ts'
import { VerifyingBlockstore } from '../../src/blocks/verifying-blockstore.ts'
import { checkDigest, parseCID } from '../../src/cids.ts'
import { isErrorNamed } from '../../src/errors.ts'
import { suiteKit } from '../helpers.ts'

const bytes = new TextEncoder().encode('any bytes at all')
const evil = new TextEncoder().encode('bytes an attacker chose')

async function truncated(length: number): Promise<CID> {
  const full = await sha256.digest(bytes)
  return CID.createV1(raw.code, createDigest(sha256.code, full.digest.subarray(0, length)))
}

const invalidCid = (err: unknown): boolean => isErrorNamed(err, 'InvalidCIDError')

describe('truncated digests', () => {
  it('a CID with a zero-length sha2-256 digest matches nothing and is refused by the blockstore', async () => {
    const empty = await truncated(0)
    await assert.rejects(blockMatches(empty, evil), invalidCid)
    const store = new VerifyingBlockstore(new MemoryBlockstore())
    await assert.rejects(store.put(empty, evil), invalidCid)
    assert.equal(await store.has(empty), false)
  })

  it('a 20-byte prefix of the right digest is refused too: only whole digests verify', async () => {
    const prefix = await truncated(20)
    await assert.rejects(verifyBlock(prefix, bytes), invalidCid)
    const whole = await truncated(32)
    await verifyBlock(whole, bytes)
  })

  it('parsing refuses short or over-long digests, and keeps identity CIDs', async () => {
    for (const length of [0, 1, 19, 20, 31]) {
      const cid = await truncated(length)
      assert.throws(() => parseCID(cid.toString()), invalidCid, `${length} bytes`)
      assert.throws(() => parseCID(cid), invalidCid, `${length} bytes (a CID object)`)
    }
    // an unknown hash function: under 20 bytes is refused (as Kubo), 20 or more is accepted
    const unknown = (n: number): CID =>
      CID.createV1(raw.code, createDigest(0xb220, new Uint8Array(n).fill(7)))
    assert.throws(() => checkDigest(unknown(16)), invalidCid)
    assert.equal(checkDigest(unknown(32)).multihash.size, 32)
    assert.throws(() => checkDigest(CID.createV1(raw.code, identity.digest(new Uint8Array(129)))), invalidCid)
    const small = CID.createV1(raw.code, identity.digest(new Uint8Array([1, 2, 3])))
    assert.equal(parseCID(small.toString()).toString(), small.toString())
  })
})

describe('truncated digests through the kit', () => {
  const suite = suiteKit()

  it('the kit refuses a zero-length digest CID at once, as a bad argument', async () => {
    const empty = await truncated(0)
    await assert.rejects(suite.kit.ipfsCat(empty.toString()), invalidCid)
    await assert.rejects(suite.kit.ipfsPinAdd(empty), invalidCid)
  })
})
