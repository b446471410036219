import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { reclaimHashed, Sha256Pool, sha256Here, wasHashedHere } from '../../src/blocks/hasher.ts'
import { VerifyingBlockstore } from '../../src/blocks/verifying-blockstore.ts'
import { isErrorNamed } from '../../src/errors.ts'
import { pseudoRandomBytes } from '../helpers.ts'

const rawCid = (digest: Uint8Array): CID => CID.createV1(raw.code, Digest.create(sha256.code, digest))

describe('Sha256Pool and blocks hashed here', () => {
  const pool = new Sha256Pool({ workers: 2 })
  after(async () => {
    await pool.stop()
  })

  it('hashes on workers as node:crypto does, many at once', async () => {
    const inputs = Array.from({ length: 20 }, (_, i) => pseudoRandomBytes(1000 * i + 1, i))
    const expected = inputs.map((b) => createHash('sha256').update(b).digest('hex'))
    const results = await Promise.all(inputs.map((b) => pool.digest(b.slice())))
    assert.deepEqual(
      results.map((r) => Buffer.from(r.digest).toString('hex')),
      expected
    )
    for (const [i, r] of results.entries()) assert.deepEqual(r.bytes, inputs[i])
  })

  it('refuses an array that does not own its buffer (it would be taken from its owner)', async () => {
    await assert.rejects(pool.digest(new Uint8Array(10).subarray(2)), TypeError)
  })

  it('knows only the very arrays it hashed, under their own CID', async () => {
    const { bytes, digest } = await pool.digest(pseudoRandomBytes(4096, 1))
    const cid = rawCid(digest)
    assert.equal(wasHashedHere(cid, bytes), true)
    assert.equal(wasHashedHere(cid, bytes.slice()), false, 'a copy was not hashed here')
    const other = rawCid(sha256Here(new Uint8Array([1])))
    assert.equal(wasHashedHere(other, bytes), false, 'another CID')
  })

  it('the verifying blockstore hashes a block that was not hashed here, and refuses a bad one', async () => {
    const store = new VerifyingBlockstore(new MemoryBlockstore())
    const good = pseudoRandomBytes(1000, 2)
    const cid = rawCid(createHash('sha256').update(good).digest())
    const bad = good.slice()
    bad[0] = (bad[0] ?? 0) ^ 1
    await assert.rejects(store.put(cid, bad), (err) => isErrorNamed(err, 'BlockVerificationError'))
    await store.put(cid, good)
    assert.equal(await store.has(cid), true)
  })

  it('start: ready once a worker is up, can be called twice; a digest before then waits for it', async () => {
    const p = new Sha256Pool({ workers: 1 })
    assert.equal(p.ready, false, 'no worker before start or a digest')
    const early = p.digest(new Uint8Array([1, 2, 3]))
    assert.equal(p.ready, false, 'a worker thread is not up at once')
    await p.start()
    await p.start()
    assert.equal(p.ready, true)
    assert.equal(
      Buffer.from((await early).digest).toString('hex'),
      createHash('sha256')
        .update(new Uint8Array([1, 2, 3]))
        .digest('hex')
    )
    await p.stop()
    assert.equal(p.ready, false)
    await assert.rejects(p.start(), (err) => isErrorNamed(err, 'NotStartedError'))
  })

  it('reclaimHashed: the array is emptied and forgotten, its memory moved out with its bytes', async () => {
    const { bytes, digest } = await pool.digest(pseudoRandomBytes(4096, 3))
    const cid = rawCid(digest)
    const copy = bytes.slice()
    const memory = reclaimHashed(bytes)
    assert.equal(bytes.byteLength, 0, 'whoever kept the array sees it empty, never other bytes')
    assert.equal(wasHashedHere(cid, bytes), false)
    assert.deepEqual(new Uint8Array(memory!), copy, 'moved, not copied or cleared')
    // a view of a bigger buffer is only forgotten: its buffer is not the array's to give away
    const whole = pseudoRandomBytes(100, 4)
    const view = whole.subarray(10, 20)
    const viewCid = rawCid(sha256Here(view))
    assert.equal(reclaimHashed(view), undefined)
    assert.equal(wasHashedHere(viewCid, view), false)
    assert.equal(view.byteLength, 10)
  })

  it('a stopped pool refuses work; stop can be called twice', async () => {
    const p = new Sha256Pool({ workers: 1 })
    await p.digest(new Uint8Array(4))
    await p.stop()
    await p.stop()
    await assert.rejects(p.digest(new Uint8Array(4)), (err) => isErrorNamed(err, 'NotStartedError'))
  })
})
