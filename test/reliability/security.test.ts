/**
 * Transport security and connection policy, tested on real nodes on 127.0.0.1: Noise on every
 * connection and the remote peer id bound to it, no plaintext, deny lists both ways, per-role
 * connection limits, and the local profile's loopback-only dialling.
 */
import assert from 'node:assert/strict'
import { type Socket, connect as tcpConnect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
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

  it('per-role connection limits: a leecher limited to N refuses inbound connections past N and closes the excess of its own dials, against 5N peers', async () => {
    assert.equal(
      new IPFSLibp2pPeer({ role: 'leecher' }).settings.maxConnections,
      ROLES.leecher.maxConnections,
      "a leecher's limit is its role's"
    )
    const N = 4
    const leecher = await startPeer({ role: 'leecher', maxConnections: N })
    // DHT servers: the leecher's DHT also keeps its closest peers alive, and redials them
    const others = await Promise.all(Array.from({ length: 5 * N }, () => startPeer({ role: 'worker' })))
    const count = (): number => leecher.host.getConnections().length
    // how many connections the leecher holds each time one opens (libp2p's connection manager
    // adds it before the event reaches other listeners), and which peers it was connected to
    let most = 0
    const connectedTo = new Set<string>()
    const onOpen = (evt: CustomEvent<Connection>): void => {
      most = Math.max(most, count())
      connectedTo.add(evt.detail.remotePeer.toString())
    }
    leecher.host.addEventListener('connection:open', onOpen)
    let mostDialled = 0
    let mostDialling = 0
    const settled: number[] = []
    try {
      // dialled: every peer dials it, one after the other; once it holds N, libp2p refuses
      // the rest (as it refuses more than 5 a second from one host)
      let accepted = 0
      for (const o of others) {
        const ok = await o.connect(leecher.getMultiaddrs()[0]!).then(
          () => true,
          () => false
        )
        if (!ok) continue
        accepted++
        // the leecher's side may finish its upgrade after the dialler's
        await waitFor(
          () => connectedTo.has(o.peerId.toString()) || o.host.getConnections(leecher.peerId).length === 0,
          "the leecher's side of the connection",
          30_000
        )
      }
      mostDialled = most
      console.log(`${accepted} of ${others.length} inbound dials accepted`)

      // dialling: it dials every peer itself, N at a time; libp2p does not refuse outbound
      // connections, and its pruner leaves those with a gossipsub stream open
      most = 0
      for (let i = 0; i < others.length; i += N) {
        await Promise.allSettled(others.slice(i, i + N).map((o) => leecher.connect(o.getMultiaddrs()[0]!)))
        await waitFor(() => count() <= N, `pruned back to ${N} after outbound dials`, 30_000)
        settled.push(count())
      }
      mostDialling = most
    } finally {
      leecher.host.removeEventListener('connection:open', onOpen)
    }
    console.log(
      `leecher limited to ${N}: connected to ${connectedTo.size} peers in turn; most at once ${mostDialled} while dialled, ${mostDialling} while dialling; after each round ${settled.join(', ')}`
    )
    assert.equal(mostDialled, N, `it took ${N} inbound connections and never more`)
    assert.ok(connectedTo.size > 2 * N, `it faced more than ${2 * N} peers (${connectedTo.size})`)
    assert.ok(
      mostDialling > N,
      `its own dials crossed the limit, so the excess had to be closed (${mostDialling})`
    )
    assert.ok(count() <= N)
  })

  it('the local profile never dials a non-loopback address: refused before any packet (and by the gater too)', async () => {
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
      // the node's own dials: refused by the profile's policy, before any resolver or transport
      for (const dial of [() => peer.connect(addr), () => kit.ipfsSwarmConnect(addr)]) {
        await assert.rejects(dial(), (err: Error) => {
          assert.equal(err.name, 'LoopbackOnlyError', `${addr}: ${err.message}`)
          assert.match(err.message, /local/)
          return true
        })
      }
      // libp2p asked directly: an IP address is refused by the connection gater (not a network
      // error: nothing listens at these addresses, so a dial that left the machine would time
      // out or be refused by a host); a name is refused unresolved
      await assert.rejects(peer.host.dial(multiaddr(addr)), (err: Error) => {
        const expected = addr.startsWith('/dns') ? /local profile/ : /gater/
        assert.match(err.message, expected, `${addr}: ${err.name}: ${err.message}`)
        return true
      })
    }
    assert.equal(peer.host.getConnections().length, 0)
    // loopback still works
    await peer.connect(`/ip4/127.0.0.1/tcp/${tcpPort(peers[peers.length - 1]!)}/p2p/${target}`)
  })
})
