/**
 * The `local` profile never sends a packet off the machine, DNS queries included: names other
 * than `localhost` are refused before any resolver runs, whichever way a dial is asked for.
 * Every resolver Node has (the `dns` module's lookups and queries, which libp2p's DNS uses)
 * is counted while the test dials.
 */
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import dns from 'node:dns'
import { networkInterfaces } from 'node:os'
import { after, before, describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { IPFSLibp2pPeer } from '../../../src/libp2p/peer/index.ts'
import { offMachineReason } from '../../../src/libp2p/peer/loopback.ts'

/**
 * Record every call to a DNS resolver of Node's while installed, and fail it without sending
 * anything (so that even a regression sends no query from this test).
 */
function countResolverCalls(): { calls: string[]; restore: () => void } {
  const calls: string[] = []
  const restores: Array<() => void> = []
  const wrap = (target: Record<string, unknown>, name: string, label: string): void => {
    const original = target[name]
    if (typeof original !== 'function') return
    target[name] = (...args: unknown[]) => {
      calls.push(`${label}.${name}(${String(args[0])})`)
      throw new Error('a DNS query was attempted')
    }
    restores.push(() => {
      target[name] = original
    })
  }
  const methods = ['resolve', 'resolve4', 'resolve6', 'resolveTxt', 'resolveCname', 'resolveAny', 'lookup']
  for (const name of methods) {
    wrap(dns.promises.Resolver.prototype as unknown as Record<string, unknown>, name, 'dns.promises.Resolver')
    wrap(dns.Resolver.prototype as unknown as Record<string, unknown>, name, 'dns.Resolver')
    wrap(dns.promises as unknown as Record<string, unknown>, name, 'dns.promises')
    wrap(dns as unknown as Record<string, unknown>, name, 'dns')
  }
  return {
    calls,
    restore: () => {
      for (const r of restores) r()
    }
  }
}

describe('local profile: no DNS query, no packet off the machine', () => {
  let peer: IPFSLibp2pPeer
  let target: IPFSLibp2pPeer
  before(async () => {
    peer = new IPFSLibp2pPeer({ profile: 'local' })
    target = new IPFSLibp2pPeer({ profile: 'local' })
    await Promise.all([peer.start(), target.start()])
  })
  after(async () => {
    await Promise.all([peer?.stop(), target?.stop()])
  })

  it('refuses names and off-machine IPs in a dial, before any resolver is called', async () => {
    const id = target.peerId.toString()
    const refused = [
      '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
      `/dns4/example.com/tcp/4001/p2p/${id}`,
      `/dns6/example.com/tcp/4001/p2p/${id}`,
      `/dns/example.com/tcp/4001/p2p/${id}`,
      `/dns4/example.com/tcp/443/wss/p2p/${id}`,
      `/dnsaddr/localhost/p2p/${id}`,
      `/ip4/192.0.2.1/tcp/4001/p2p/${id}`,
      // QUIC, and a relayed address through a relay off the machine
      `/ip4/192.0.2.1/udp/4001/quic-v1/p2p/${id}`,
      `/ip6/2001:db8::1/udp/4001/quic-v1/p2p/${id}`,
      `/dns4/example.com/udp/4001/quic-v1/p2p/${id}`,
      `/ip4/192.0.2.1/udp/4001/quic-v1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit/p2p/${id}`
    ]
    const spy = countResolverCalls()
    try {
      for (const addr of refused) {
        await assert.rejects(peer.connect(addr), { name: 'LoopbackOnlyError' }, addr)
        await assert.rejects(peer.dialProtocol(addr, '/ipfs/ping/1.0.0'), { name: 'LoopbackOnlyError' }, addr)
        // libp2p itself, asked directly (its resolvers run before its connection gater)
        await assert.rejects(peer.host.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) }), addr)
      }
      // a peer id whose only addresses are names (as a DHT provider record may hold)
      const stranger = peerIdFromString('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')
      await peer.host.peerStore.merge(stranger, {
        multiaddrs: [multiaddr('/dns4/example.com/tcp/4001'), multiaddr('/dnsaddr/bootstrap.libp2p.io')]
      })
      await assert.rejects(peer.host.dial(stranger, { signal: AbortSignal.timeout(10_000) }))
      await assert.rejects(peer.connect(stranger.toString()))
    } finally {
      spy.restore()
    }
    assert.deepEqual(spy.calls, [], 'no resolver was called')
    assert.equal(peer.host.getConnections().length, 0)
  })

  it('dials localhost by name, resolved by rule (no resolver called)', async () => {
    const port = target
      .getMultiaddrs()
      .flatMap((ma) => ma.getComponents())
      .find((c) => c.name === 'tcp')?.value
    assert.ok(port != null)
    const spy = countResolverCalls()
    try {
      const remote = await peer.connect(`/dns4/localhost/tcp/${port}/p2p/${target.peerId}`)
      assert.ok(remote.equals(target.peerId))
    } finally {
      spy.restore()
    }
    assert.deepEqual(spy.calls, [], 'no resolver was called')
  })

  it('a QUIC dial to an address of this machine that is not loopback sends no datagram', async (t) => {
    const own = Object.values(networkInterfaces())
      .flat()
      .find((i) => i != null && i.family === 'IPv4' && !i.internal)
    if (own == null) {
      t.skip('this machine has no IPv4 address but loopback')
      return
    }
    // a plain UDP socket on that address stands where a QUIC listener off the machine would be
    const socket = createSocket('udp4')
    const received: number[] = []
    socket.on('message', (msg) => received.push(msg.byteLength))
    await new Promise<void>((resolve) => socket.bind(0, own.address, resolve))
    try {
      // a peer we are not connected to (libp2p would hand back an open connection unasked)
      const stranger = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
      const addr = `/ip4/${own.address}/udp/${socket.address().port}/quic-v1/p2p/${stranger}`
      await assert.rejects(peer.connect(addr), { name: 'LoopbackOnlyError' })
      await assert.rejects(peer.host.dial(multiaddr(addr), { signal: AbortSignal.timeout(5_000) }))
      // a datagram sent to a local address arrives at once; give it a moment
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.deepEqual(received, [], 'no datagram reached the socket')
    } finally {
      socket.close()
    }
  })

  it('tells why an address is off the machine', () => {
    assert.equal(offMachineReason(multiaddr('/ip4/127.0.0.1/tcp/1')), undefined)
    assert.equal(offMachineReason(multiaddr('/ip6/::1/tcp/1')), undefined)
    assert.equal(offMachineReason(multiaddr('/dns4/localhost/tcp/1')), undefined)
    assert.match(offMachineReason(multiaddr('/ip4/10.0.0.1/tcp/1')) ?? '', /not a loopback/)
    assert.match(offMachineReason(multiaddr('/dns4/localhost.example.com/tcp/1')) ?? '', /DNS name/)
  })
})
