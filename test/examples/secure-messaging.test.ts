import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ExampleProcess, killAll, quicAddr, requireBuild, startExample, tcpAddr } from './helpers.ts'

const PROTOCOL_ENCRYPTION = '/noise'

/** Start bob (receiver of `expect` messages) and wait for his address. */
async function startBob(
  expect: number
): Promise<{ bob: ExampleProcess; id: string; addr: string; quic: string }> {
  const bob = startExample('secure-messaging', [
    '--name',
    'bob',
    '--expect',
    String(expect),
    '--timeout-ms',
    '40000'
  ])
  const ready = await bob.waitFor('ready')
  return { bob, id: ready.peerId as string, addr: tcpAddr(ready), quic: quicAddr(ready) }
}

describe('example: secure messaging (alice and bob as separate processes)', () => {
  before(() => {
    requireBuild()
  })

  after(() => {
    killAll()
  })

  it('alice finds bob at the rendezvous and bob reads exactly her plaintexts', async () => {
    const messages = ['hello bob', 'ünïcødé ✓ — 你好', '', 'x'.repeat(10_000), 'bye']
    const { bob, id: bobId, addr } = await startBob(messages.length)
    // no --to: the recipient comes from the DHT rendezvous (bob's address only bootstraps the DHT)
    const alice = startExample('secure-messaging', [
      '--name',
      'alice',
      '--bootstrap',
      addr,
      ...messages.flatMap((m) => ['--message', m])
    ])
    const aliceId = (await alice.waitFor('ready')).peerId as string
    assert.deepEqual(await alice.waitExit(40_000), { code: 0, signal: null }, alice.stderr())
    assert.deepEqual(await bob.waitExit(20_000), { code: 0, signal: null }, bob.stderr())

    const discovered = alice.all('discovered').at(-1)
    assert.ok(
      ((discovered?.peers ?? []) as string[]).includes(bobId),
      'alice found bob through the rendezvous'
    )
    assert.equal(discovered?.rendezvous, 'secure-messaging')

    const inbound = await bob.waitFor('session')
    assert.equal(inbound.peer, aliceId)
    assert.equal(inbound.encryption, PROTOCOL_ENCRYPTION, 'the connection is Noise-secured')
    assert.equal((await alice.waitFor('session')).encryption, PROTOCOL_ENCRYPTION)
    assert.match(inbound.addr as string, /\/tcp\//, 'over TCP, as alice dialled')

    const received = bob.all('message')
    assert.deepEqual(
      received.map((m) => m.text),
      messages
    )
    assert.deepEqual(
      received.map((m) => m.seq),
      [1, 2, 3, 4, 5]
    )
    assert.ok(received.every((m) => m.from === aliceId))
    assert.equal(bob.all('rejected').length, 0)
    assert.ok(alice.all('sent').every((s) => s.delivered === true && s.to === bobId))
    assert.equal(alice.all('sent').length, messages.length)
  })

  it('over QUIC (the seed listens on it too), tampered messages are rejected and reported, never delivered', async () => {
    const messages = ['one', 'two (flipped on the wire)', 'three', 'four (corrupted before signing)', 'five']
    const { bob, id: bobId, quic } = await startBob(messages.length)
    const alice = startExample('secure-messaging', [
      '--name',
      'alice',
      '--bootstrap',
      quic,
      '--to',
      bobId,
      '--tamper',
      '2',
      '--tamper',
      '4:resign',
      ...messages.flatMap((m) => ['--message', m])
    ])
    assert.deepEqual(await alice.waitExit(40_000), { code: 0, signal: null }, alice.stderr())
    assert.deepEqual(await bob.waitExit(20_000), { code: 0, signal: null }, bob.stderr())
    // the session ran on the QUIC connection alice bootstrapped through
    assert.match((await alice.waitFor('session')).addr as string, /\/udp\/\d+\/quic-v1/)
    assert.match((await bob.waitFor('session')).addr as string, /\/udp\/\d+\/quic-v1/)

    // delivered: exactly the untouched ones, in order
    assert.deepEqual(
      bob.all('message').map((m) => [m.seq, m.text]),
      [
        [1, 'one'],
        [3, 'three'],
        [5, 'five']
      ]
    )
    // rejected: the signature catches a change after signing, the GCM tag one before it
    assert.deepEqual(
      bob.all('rejected').map((r) => [r.seq, r.reason]),
      [
        [2, 'bad signature'],
        [4, 'decryption failed']
      ]
    )
    const bobOutput = JSON.stringify(bob.events())
    assert.ok(
      !bobOutput.includes('flipped') && !bobOutput.includes('corrupted'),
      'no tampered plaintext leaks'
    )
    // alice hears the same from bob's acknowledgements
    assert.deepEqual(
      alice.all('sent').map((s) => [s.seq, s.delivered, s.reason ?? null]),
      [
        [1, true, null],
        [2, false, 'bad signature'],
        [3, true, null],
        [4, false, 'decryption failed'],
        [5, true, null]
      ]
    )
  })
})
