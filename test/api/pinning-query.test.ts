import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cidKeys, nameMatches, parseListQuery, parsePinBody, parseTime } from '../../src/api/pinning/index.ts'

describe('Pinning Service API query parsing', () => {
  it('reads RFC 3339 times to whole ms, a finer fraction rounded the way a strict comparison needs', () => {
    const ms = Date.parse('2020-07-27T17:32:28.123Z')
    assert.equal(parseTime('2020-07-27T17:32:28.123Z', 'before', 'up'), ms)
    assert.equal(parseTime('2020-07-27T17:32:28.123000001Z', 'before', 'up'), ms + 1)
    assert.equal(parseTime('2020-07-27T17:32:28.123000001Z', 'after', 'down'), ms)
    assert.equal(parseTime('2020-07-27T17:32:28.1230Z', 'before', 'up'), ms)
    assert.equal(parseTime('2020-07-27T19:32:28+02:00', 'after', 'down'), Date.parse('2020-07-27T17:32:28Z'))
    for (const bad of ['2020-07-27', 'yesterday', '2020-07-27T17:32:28', '2020-13-45T99:99:99Z']) {
      assert.throws(() => parseTime(bad, 'before', 'up'), { name: 'InvalidParametersError' }, bad)
    }
  })

  it('defaults: only pinned, 10 results, exact names', () => {
    const q = parseListQuery(new URLSearchParams())
    assert.deepEqual([...q.statuses], ['pinned'])
    assert.equal(q.limit, 10)
    assert.equal(q.match, 'exact')
    assert.equal(q.cids, undefined)
  })

  it('takes cid and status repeated or comma-separated (boxo sends CSV)', () => {
    const v0 = 'QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n'
    const q = parseListQuery(new URLSearchParams(`cid=${v0},bafkqaaa&status=queued,pinning&status=failed`))
    assert.deepEqual([...q.statuses].sort(), ['failed', 'pinning', 'queued'])
    // a CIDv0 is looked up as itself and as its CIDv1
    assert.ok(q.cids?.has(v0))
    assert.ok(q.cids?.has(cidKeys(v0).find((k) => k.startsWith('bafy')) ?? ''))
    assert.ok(q.cids?.has('bafkqaaa'))
  })

  it('matches names by each strategy', () => {
    assert.ok(nameMatches('Report.pdf', 'Report.pdf', 'exact'))
    assert.ok(!nameMatches('Report.pdf', 'report.pdf', 'exact'))
    assert.ok(nameMatches('Report.pdf', 'report.PDF', 'iexact'))
    assert.ok(nameMatches('Report.pdf', 'port', 'partial'))
    assert.ok(!nameMatches('Report.pdf', 'PORT', 'partial'))
    assert.ok(nameMatches('Report.pdf', 'PORT', 'ipartial'))
    assert.ok(!nameMatches(undefined, 'x', 'ipartial'))
  })

  it('keeps a Pin as given, without unknown fields', () => {
    const pin = parsePinBody(
      JSON.stringify({
        cid: 'bafkqaaa',
        name: 'n',
        origins: ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/1'],
        meta: { a: 'b' },
        extra: 1
      })
    )
    assert.deepEqual(pin, { cid: 'bafkqaaa', name: 'n', origins: ['/ip4/127.0.0.1/tcp/1'], meta: { a: 'b' } })
    assert.throws(
      () =>
        parsePinBody(JSON.stringify({ cid: 'bafkqaaa', origins: Array(21).fill('/ip4/127.0.0.1/tcp/1') })),
      {
        name: 'InvalidParametersError'
      }
    )
    assert.throws(() => parsePinBody('{"cid":"nope"}'), { name: 'InvalidCIDError' })
  })
})
