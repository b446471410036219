/**
 * Integer and duration parameters of `/api/v0/*`: plain decimal digits only, as Kubo's strconv
 * parsing takes them; anything else is a typed 400 naming the parameter. Unit checks of the
 * parsers, then the real HTTP API on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { durationOption, timeoutOption, uint } from '../../src/api/http.ts'
import { NOT_WHOLE_NUMBERS, tempDir } from '../helpers.ts'
import { type ApiNode, apiNode } from './helpers.ts'

const q = (entries: Record<string, string>): URLSearchParams => new URLSearchParams(entries)

describe('API parameter parsers', () => {
  it('uint takes plain decimal digits up to Number.MAX_SAFE_INTEGER', () => {
    assert.equal(uint(q({ n: '0' }), 'n'), 0)
    assert.equal(uint(q({ n: '5' }), 'n'), 5)
    assert.equal(uint(q({ n: '007' }), 'n'), 7)
    assert.equal(uint(q({ n: String(Number.MAX_SAFE_INTEGER) }), 'n'), Number.MAX_SAFE_INTEGER)
    assert.equal(uint(q({}), 'n'), undefined, 'absent')
    assert.equal(uint(q({ n: '' }), 'n'), undefined, 'empty is absent')
  })

  it('uint refuses anything else with InvalidParametersError naming the option', () => {
    for (const v of NOT_WHOLE_NUMBERS) {
      assert.throws(
        () => uint(q({ offset: v }), 'offset'),
        (err: Error) => err.name === 'InvalidParametersError' && err.message.includes('option "offset"'),
        `"${v}" must be refused`
      )
    }
  })

  it('durations are cut to the longest timer instead of firing at once or throwing', () => {
    assert.equal(timeoutOption(q({ timeout: '10s' })), 10_000)
    assert.equal(timeoutOption(q({ timeout: '1.5ms' })), 2)
    // past 2^31 - 1 ms, Node's timers fire after 1 ms, and AbortSignal.timeout throws past 2^32
    assert.equal(timeoutOption(q({ timeout: '1000h' })), 2 ** 31 - 1)
    assert.equal(timeoutOption(q({ timeout: `${'9'.repeat(400)}h` })), 2 ** 31 - 1)
    assert.throws(
      () => durationOption(q({ interval: '1e3s' }), 'interval'),
      (err: Error) => err.name === 'InvalidParametersError' && err.message.includes('option "interval"')
    )
  })
})

describe('API integer parameters over HTTP', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: ApiNode
  let cid = ''

  const post = async (command: string, params: Record<string, string>): Promise<Response> =>
    fetch(`${node.url}/api/v0/${command}?${new URLSearchParams(params)}`, { method: 'POST' })

  /** Expect Kubo's 400 error body naming InvalidParametersError and the option. */
  const badRequest = async (res: Response, option: string, what: string): Promise<void> => {
    const text = await res.text()
    assert.equal(res.status, 400, `${what}: ${res.status} ${text}`)
    const body = JSON.parse(text) as { Name: string; Message: string; Code: number; Type: string }
    assert.equal(body.Type, 'error')
    assert.equal(body.Code, 1, 'a client error')
    assert.equal(body.Name, 'InvalidParametersError', what)
    assert.ok(body.Message.includes(`option "${option}"`), `${what}: ${body.Message}`)
  }

  before(async () => {
    dir = await tempDir('ipfs-kit-api-params-')
    node = await apiNode(dir.path)
    cid = (await node.kit.ipfsAddString('hello world\n')).Hash
  })

  after(async () => {
    await node?.stop()
    await dir?.cleanup()
  })

  it('cat: offset and length in plain digits work, leading zeros too', async () => {
    const res = await post('cat', { arg: cid, offset: '6', length: '003' })
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'wor')
  })

  it('cat: offset and length that are not plain whole numbers are a 400 naming the option', async () => {
    for (const option of ['offset', 'length']) {
      for (const v of NOT_WHOLE_NUMBERS) {
        await badRequest(
          await post('cat', { arg: cid, [option]: v }),
          option,
          `${option}=${JSON.stringify(v)}`
        )
      }
    }
  })

  it('routing/findprovs num-providers and kit/reputation limit: the same rule', async () => {
    for (const v of ['1e3', '0x10', ' 5', '5.0', '-1', '99999999999999999999999']) {
      await badRequest(
        await post('routing/findprovs', { arg: cid, 'num-providers': v }),
        'num-providers',
        `num-providers=${v}`
      )
      await badRequest(await post('kit/reputation', { limit: v }), 'limit', `limit=${v}`)
    }
    const ok = await post('kit/reputation', { limit: '10' })
    assert.equal(ok.status, 200)
    await ok.arrayBuffer()
  })

  it('a timeout longer than Node can wait is no timeout, not an instant one or a 500', async () => {
    for (const timeout of ['1000h', '99999999999999h']) {
      const res = await post('cat', { arg: cid, timeout })
      assert.equal(res.status, 200, `timeout=${timeout}: ${res.status}`)
      assert.equal(await res.text(), 'hello world\n')
    }
  })

  it('stats/bw: a bad interval is a 400 naming "interval"', async () => {
    await badRequest(await post('stats/bw', { poll: 'true', interval: '1e3s' }), 'interval', 'interval=1e3s')
  })
})
