/**
 * Transport security and connection policy, tested on real nodes on 127.0.0.1: Noise on every
 * connection and the remote peer id bound to it, no plaintext, deny lists both ways, per-role
 * connection limits, and the local profile's loopback-only dialling.
 */
import assert from 'node:assert/strict'
import { type Socket, connect as tcpConnect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { ROLES } from '../../src/constants.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { IPFSLibp2pPeer, type IPFSLibp2pPeerInit } from '../../src/libp2p/peer/index.ts'
import { localKit, tempDir, waitFor } from '../helpers.ts'
import { varint } from './fixtures/bitswap-wire.ts'

/** Port of a peer's first TCP listen address. */
function tcpPort(peer: IPFSLibp2pPeer): number {
  const ma = peer.getMultiaddrs().find((m) => !m.toString().includes('/ws'))
  const port = ma?.getComponents().find((c) => c.name === 'tcp')?.value
  if (port == null) throw new Error('no TCP address')
  return Number(port)
}

/** multistream-select message: varint length, text, newline. */
function mss(text: string): Uint8Array {
  const body = new TextEncoder().encode(`${text}\n`)
  return Uint8Array.from([...varint(body.byteLength), ...body])
}

/** Read multistream-select messages from a raw socket until `count` arrived (or 3 s). */
function readMessages(socket: Socket, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const out: string[] = []
    const timer = setTimeout(() => reject(new Error(`got ${JSON.stringify(out)} only`)), 3_000)
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length > 0) {
        const len = buf[0]!
        if (len >= 0x80) throw new Error('long message')
        if (buf.length < 1 + len) break
        out.push(
          buf
            .subarray(1, 1 + len)
            .toString('utf8')
            .trimEnd()
        )
        buf = buf.subarray(1 + len)
      }
      if (out.length >= count) {
        clearTimeout(timer)
        socket.off('data', onData)
        resolve(out)
      }
    }
    socket.on('data', onData)
  })
}

describe('security', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  const peers: IPFSLibp2pPeer[] = []
  const kits: IPFSKit[] = []

  async function startPeer(init: IPFSLibp2pPeerInit = {}): Promise<IPFSLibp2pPeer> {
    const peer = new IPFSLibp2pPeer({ profile: 'local', listenAddrs: ['/ip4/127.0.0.1/tcp/0'], ...init })
    await peer.start()
    peers.push(peer)
    return peer
  }

  before(async () => {
    dir = await tempDir('ipfs-kit-rel-sec-')
  })
  after(async () => {
    await Promise.all(kits.map((k) => k.stop()))
    await Promise.all(peers.map((p) => p.stop()))
    await dir?.cleanup()
  })

  it('every connection is Noise-encrypted and Yamux-muxed; plaintext and other encryptions are refused', async () => {
    const a = await localKit('worker', dir.path)
    const b = await localKit('worker', dir.path)
    kits.push(a, b)
    await a.ipfsSwarmConnect(b.peer.getMultiaddrs()[0]!.toString())
    const { Hash } = await b.ipfsAddString('secret sauce')
    assert.equal(
      new TextDecoder().decode(await a.ipfsCat(Hash, { signal: AbortSignal.timeout(15_000) })),
      'secret sauce'
    )
    for (const kit of [a, b]) {
      const connections = kit.peer.host.getConnections()
      assert.ok(connections.length >= 1)
      for (const c of connections) {
        assert.equal(c.encryption, '/noise', `connection to ${c.remotePeer} is encrypted with Noise`)
        assert.equal(c.multiplexer, '/yamux/1.0.0')
      }
    }

    // a raw TCP client negotiating the security protocol: only /noise is spoken
    const socket = tcpConnect({ host: '127.0.0.1', port: tcpPort(b.peer) })
    try {
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
      socket.write(mss('/multistream/1.0.0'))
      assert.deepEqual(await readMessages(socket, 1), ['/multistream/1.0.0'])
      for (const protocol of ['/plaintext/2.0.0', '/plaintext/1.0.0', '/tls/1.0.0', '/secio/1.0.0']) {
        socket.write(mss(protocol))
        assert.deepEqual(await readMessages(socket, 1), ['na'], `${protocol} is refused`)
      }
      socket.write(mss('/noise'))
      assert.deepEqual(await readMessages(socket, 1), ['/noise'], 'Noise is what it speaks')
    } finally {
      socket.destroy()
    }
  })

  it('a dial is bound to the peer id in the address: the wrong /p2p/ id fails the handshake', async () => {
    const dialer = await startPeer()
    const real = await startPeer()
    const impostorId = (await startPeer()).peerId
    const wrong = `/ip4/127.0.0.1/tcp/${tcpPort(real)}/p2p/${impostorId}`
    await assert.rejects(dialer.connect(wrong), (err: Error & { cause?: Error }) => {
      assert.equal(err.name, 'DialError')
      assert.match(
        `${err.message} ${err.cause?.name}`,
        /does not match|EncryptionFailedError|UnexpectedPeer/i
      )
      return true
    })
    assert.equal(dialer.host.getConnections(real.peerId).length, 0, 'no connection to the real peer')
    assert.equal(dialer.host.getConnections(impostorId).length, 0, 'none to the expected one either')
    // the right id connects
    await dialer.connect(`/ip4/127.0.0.1/tcp/${tcpPort(real)}/p2p/${real.peerId}`)
    assert.equal(dialer.host.getConnections(real.peerId)[0]?.remotePeer.toString(), real.peerId.toString())
  })

  it('a deny list refuses the peer both ways', async () => {
    const outsider = await startPeer()
    const guarded = await startPeer({ denyPeers: [outsider.peerId.toString()] })
    // we never dial it
    await assert.rejects(guarded.connect(outsider.getMultiaddrs()[0]!), (err: Error & { cause?: Error }) => {
      assert.equal(err.cause?.name, 'DialDeniedError')
      return true
    })
    // and it cannot stay connected to us: the connection is closed once its id is known
    await outsider.connect(guarded.getMultiaddrs()[0]!).catch(() => {})
    await waitFor(
      () =>
        outsider.host.getConnections(guarded.peerId).length === 0 &&
        guarded.host.getConnections(outsider.peerId).length === 0,
      'the denied connection to close',
      5_000
    )
    await assert.rejects(
      outsider.host.services.ping.ping(guarded.peerId, { signal: AbortSignal.timeout(3_000) }),
      'no protocol can be used'
    )
    assert.equal(guarded.host.getConnections(outsider.peerId).length, 0)
  })

  it('per-role connection limits: a leecher limited to N keeps at most N, dialled or dialling', async () => {
    assert.equal(
      new IPFSLibp2pPeer({ role: 'leecher' }).settings.maxConnections,
      ROLES.leecher.maxConnections,
      "a leecher's limit is its role's"
    )
    const N = 4
    const leecher = await startPeer({ role: 'leecher', maxConnections: N })
    const others = await Promise.all(Array.from({ length: 2 * N }, () => startPeer({ role: 'worker' })))
    let most = 0
    const watch = setInterval(() => {
      most = Math.max(most, leecher.host.getConnections().length)
    }, 5)
    try {
      // inbound: 2N peers dial it (spaced: libp2p also limits inbound connections per host and second)
      for (const o of others) {
        await o.connect(leecher.getMultiaddrs()[0]!).catch(() => {})
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      await waitFor(
        () => leecher.host.getConnections().length <= N,
        `at most ${N} inbound connections`,
        5_000
      )
      // outbound: it dials all of them itself
      await Promise.all(others.map((o) => leecher.connect(o.getMultiaddrs()[0]!).catch(() => {})))
      await waitFor(() => leecher.host.getConnections().length <= N, `pruned back to ${N}`, 10_000)
    } finally {
      clearInterval(watch)
    }
    console.log(
      `leecher limited to ${N}: most connections seen at once ${most}, now ${leecher.host.getConnections().length}`
    )
    assert.ok(leecher.host.getConnections().length <= N)
    assert.ok(most <= 2 * N, `never near ${2 * N} (saw ${most})`)
  })

  it('the local profile never dials a non-loopback address: the connection gater refuses before any packet', async () => {
    const peer = await startPeer()
    const target = (await startPeer()).peerId
    const kit = await localKit('leecher', dir.path)
    kits.push(kit)
    for (const addr of [
      `/ip4/10.1.2.3/tcp/4001/p2p/${target}`,
      `/ip4/192.0.2.1/tcp/4001/p2p/${target}`,
      `/ip6/2001:db8::1/tcp/4001/p2p/${target}`,
      `/dns4/example.com/tcp/4001/p2p/${target}`,
      `/ip4/0.0.0.0/tcp/4001/p2p/${target}`
    ]) {
      for (const dial of [() => peer.connect(addr), () => kit.ipfsSwarmConnect(addr)]) {
        const started = Date.now()
        await assert.rejects(dial(), (err: Error & { cause?: Error }) => {
          assert.equal(err.name, 'DialError')
          // the gater's refusal, not a network error (a dial that left the machine would time
          // out or be refused by a host; nothing listens at these addresses)
          assert.equal(err.cause?.name, 'DialDeniedError', `${addr}: ${err.message}`)
          assert.match(err.message, /gater/)
          return true
        })
        assert.ok(Date.now() - started < 1_000, `${addr} refused at once`)
      }
    }
    assert.equal(peer.host.getConnections().length, 0)
    // loopback still works
    await peer.connect(`/ip4/127.0.0.1/tcp/${tcpPort(peers[peers.length - 1]!)}/p2p/${target}`)
  })
})
