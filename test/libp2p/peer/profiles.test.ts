/**
 * What each profile runs, read from running nodes (not from the options object): the `public`
 * profile's defaults listen on TCP, WebSockets and QUIC and run AutoNAT v2 (and not v1, whose server
 * closes the asking peer's connection), the relay
 * client, DCUtR, and the relay server on masters only; UPnP is off unless asked for, and never
 * in `local`. Every node here listens on 127.0.0.1 and knows no bootstrap peer, so nothing
 * leaves the machine.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type CircuitRelayService, RELAY_V2_HOP_CODEC, RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2'
import { multicodec as DCUTR_CODEC } from '@libp2p/dcutr'
import { DEFAULT_LISTEN_ADDRS, RELAY_DISCOVERY_LISTEN_ADDR, type Role } from '../../../src/constants.ts'
import { IPFSLibp2pPeer, type IPFSLibp2pPeerInit } from '../../../src/libp2p/peer/index.ts'
import { waitFor } from '../../helpers.ts'

const AUTONAT_V2 = ['/libp2p/autonat/2/dial-request', '/libp2p/autonat/2/dial-back']
const AUTONAT_V1 = '/libp2p/autonat/1.0.0'

/** The public profile's default listen addresses, moved to 127.0.0.1 on ports the OS picks. */
function publicDefaultsOnLoopback(): string[] {
  return DEFAULT_LISTEN_ADDRS.public.map((a) =>
    a.replace('/ip4/0.0.0.0/', '/ip4/127.0.0.1/').replace(/\/(tcp|udp)\/\d+/, '/$1/0')
  )
}

/** A public-profile node on loopback with no bootstrap peer and no mDNS. */
function publicPeer(role: Role, init: IPFSLibp2pPeerInit = {}): IPFSLibp2pPeer {
  return new IPFSLibp2pPeer({
    role,
    profile: 'public',
    listenAddrs: publicDefaultsOnLoopback(),
    bootstrapPeers: [],
    mdns: false,
    ...init
  })
}

/** The transports a node listens with, by the last protocol of each listen address. */
function listeningTransports(peer: IPFSLibp2pPeer): string[] {
  const kinds = new Set<string>()
  for (const ma of listenAddrsOf(peer)) {
    const names = ma.getComponents().map((c) => c.name)
    kinds.add(names.includes('quic-v1') ? 'quic-v1' : names.includes('ws') ? 'ws' : (names.at(-1) ?? ''))
  }
  return [...kinds].sort()
}

/**
 * The addresses the transports really listen on: libp2p's transport manager (a component it
 * does not type publicly), since the announce filter hides loopback addresses on the public DHT.
 */
function listenAddrsOf(peer: IPFSLibp2pPeer): ReturnType<IPFSLibp2pPeer['host']['getMultiaddrs']> {
  const components = (
    peer.host as unknown as {
      components: { transportManager: { getAddrs(): ReturnType<IPFSLibp2pPeer['host']['getMultiaddrs']> } }
    }
  ).components
  return components.transportManager.getAddrs()
}

describe('public profile defaults (on loopback, no bootstrap)', () => {
  let master: IPFSLibp2pPeer
  let worker: IPFSLibp2pPeer
  before(async () => {
    master = publicPeer('master')
    worker = publicPeer('worker')
    await Promise.all([master.start(), worker.start()])
  })
  after(async () => {
    await Promise.all([master?.stop(), worker?.stop()])
  })

  it('the default listen addresses are TCP, WebSockets and QUIC, and each transport listens', () => {
    assert.deepEqual(DEFAULT_LISTEN_ADDRS.public, [
      '/ip4/0.0.0.0/tcp/4001',
      '/ip4/0.0.0.0/tcp/4002/ws',
      '/ip4/0.0.0.0/udp/4001/quic-v1'
    ])
    for (const peer of [master, worker]) assert.deepEqual(listeningTransports(peer), ['quic-v1', 'tcp', 'ws'])
  })

  it('the relay client listens on /p2p-circuit, and takes a reservation on the master it meets', async () => {
    assert.ok(master.settings.listenAddrs.includes(RELAY_DISCOVERY_LISTEN_ADDR))
    assert.ok(worker.settings.listenAddrs.includes(RELAY_DISCOVERY_LISTEN_ADDR))
    // the circuit relay transport handles the stop protocol: relayed connections arrive
    assert.ok(worker.host.getProtocols().includes(RELAY_V2_STOP_CODEC))
    const tcpAddr = listenAddrsOf(master).find((ma) =>
      /\/tcp\/\d+\/?$/.test(ma.toString().split('/p2p/')[0] ?? '')
    )
    assert.ok(tcpAddr != null)
    await worker.host.dial(tcpAddr.encapsulate(`/p2p/${master.peerId.toString()}`), {
      signal: AbortSignal.timeout(10_000)
    })
    const relay = master.host.services.relay as CircuitRelayService
    await waitFor(
      () => relay.reservations.has(worker.peerId),
      'a reservation of the worker on the master',
      20_000
    )
    const viaMaster = `/p2p/${master.peerId.toString()}/p2p-circuit`
    await waitFor(
      () => listenAddrsOf(worker).some((ma) => ma.toString().includes(viaMaster)),
      'a relayed listen address through the master',
      20_000
    )
  })

  it('AutoNAT v2 (not v1) and DCUtR run on every role; the relay server (hop) on masters only', () => {
    for (const peer of [master, worker]) {
      const protocols = peer.host.getProtocols()
      for (const p of [...AUTONAT_V2, DCUTR_CODEC]) {
        assert.ok(protocols.includes(p), `${peer.role} handles ${p}`)
      }
      assert.ok(!protocols.includes(AUTONAT_V1), 'no AutoNAT v1')
      assert.equal(peer.host.services.upnp, undefined, 'UPnP is off by default')
    }
    assert.ok(master.host.getProtocols().includes(RELAY_V2_HOP_CODEC))
    assert.ok(!worker.host.getProtocols().includes(RELAY_V2_HOP_CODEC))
  })

  it('on the public DHT, loopback addresses are neither announced nor counted as reachable: DHT client mode', () => {
    for (const peer of [master, worker]) {
      assert.deepEqual(peer.getMultiaddrs(), [], 'no loopback address announced')
      assert.equal(peer.reachability, 'private')
      assert.equal(peer.host.services.dht.getMode(), 'client')
    }
  })

  it('two public-profile nodes connect over QUIC', async () => {
    const quicAddr = listenAddrsOf(master).find((ma) => ma.toString().includes('/quic-v1'))
    assert.ok(quicAddr != null)
    // force: a new connection, not the TCP one the reservation test opened
    const conn = await worker.host.dial(quicAddr.encapsulate(`/p2p/${master.peerId.toString()}`), {
      signal: AbortSignal.timeout(10_000),
      force: true
    })
    assert.match(conn.remoteAddr.toString(), /\/udp\/\d+\/quic-v1\//)
  })
})

describe('settings that turn services off or on', () => {
  const started: IPFSLibp2pPeer[] = []
  after(async () => {
    await Promise.all(started.map((p) => p.stop()))
  })
  const start = async (peer: IPFSLibp2pPeer): Promise<IPFSLibp2pPeer> => {
    started.push(peer)
    await peer.start()
    return peer
  }

  it('relay client, relay service, hole punching and AutoNAT off: none of their protocols', async () => {
    const peer = await start(
      publicPeer('master', { relayClient: false, relayService: false, holePunching: false, autoNat: false })
    )
    const protocols = peer.host.getProtocols()
    for (const p of [...AUTONAT_V2, AUTONAT_V1, DCUTR_CODEC, RELAY_V2_HOP_CODEC, RELAY_V2_STOP_CODEC]) {
      assert.ok(!protocols.includes(p), `${p} is off`)
    }
    assert.ok(!peer.settings.listenAddrs.includes(RELAY_DISCOVERY_LISTEN_ADDR))
    assert.deepEqual(listeningTransports(peer), ['quic-v1', 'tcp', 'ws'])
  })

  it('a relay service on a worker when asked for', async () => {
    const peer = await start(publicPeer('worker', { relayService: true }))
    assert.ok(peer.host.getProtocols().includes(RELAY_V2_HOP_CODEC))
  })

  it('local profile: UPnP never runs, even when asked for; no /p2p-circuit listen address', async () => {
    const peer = await start(new IPFSLibp2pPeer({ role: 'master', profile: 'local', upnp: true }))
    assert.equal(peer.host.services.upnp, undefined)
    assert.ok(!peer.settings.listenAddrs.includes(RELAY_DISCOVERY_LISTEN_ADDR))
    // loopback counts as dialable on one machine: reachable, and a master serves the DHT
    assert.equal(peer.reachability, 'public')
    assert.equal(peer.host.services.dht.getMode(), 'server')
    assert.deepEqual(listeningTransports(peer), ['quic-v1', 'tcp', 'ws'])
  })

  it('public profile, private swarm: loopback is announced and reachable, a worker serves the DHT, a leecher does not', async () => {
    const worker = await start(publicPeer('worker', { dhtProtocolPrefix: '/ikcore-test' }))
    const leecher = await start(publicPeer('leecher', { dhtProtocolPrefix: '/ikcore-test' }))
    assert.ok(worker.getMultiaddrs().length >= 3)
    assert.equal(worker.reachability, 'public')
    assert.equal(worker.host.services.dht.getMode(), 'server')
    assert.equal(leecher.reachability, 'public')
    assert.equal(leecher.host.services.dht.getMode(), 'client')
  })

  it('public profile on the /ipfs DHT: loopback addresses listed in appendAnnounceAddrs are announced; NoAnnounce wins', async () => {
    const peer = await start(
      publicPeer('worker', {
        listenAddrs: ['/ip4/127.0.0.1/tcp/0'],
        appendAnnounceAddrs: ['/ip4/127.0.0.1/tcp/4999', '/ip4/127.0.0.2/tcp/4999'],
        noAnnounceAddrs: ['/ip4/127.0.0.2/ipcidr/32']
      })
    )
    assert.deepEqual(
      peer.getMultiaddrs().map((ma) => ma.toString()),
      [`/ip4/127.0.0.1/tcp/4999/p2p/${peer.peerId.toString()}`]
    )
  })

  it('a public address the config announces makes the node reachable: a master serves the DHT, a leecher still does not', async () => {
    // 11.0.0.0/8 is a public range: announced, never dialled here
    const announced = { appendAnnounceAddrs: ['/ip4/11.0.0.1/tcp/4001'] }
    const master = await start(publicPeer('master', announced))
    const leecher = await start(publicPeer('leecher', announced))
    assert.equal(master.reachability, 'public')
    assert.equal(master.host.services.dht.getMode(), 'server')
    assert.equal(leecher.reachability, 'public')
    assert.equal(leecher.host.services.dht.getMode(), 'client')
  })

  it('NoAnnounce drops an exact multiaddr and whole ranges', async () => {
    const peer = await start(
      new IPFSLibp2pPeer({
        profile: 'local',
        listenAddrs: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
        appendAnnounceAddrs: ['/ip4/127.0.0.3/tcp/1234', '/ip4/127.0.0.4/tcp/1234'],
        noAnnounceAddrs: ['/ip4/127.0.0.3/tcp/1234', '/ip4/127.0.0.0/ipcidr/30']
      })
    )
    assert.deepEqual(
      peer.getMultiaddrs().map((ma) => ma.toString()),
      [`/ip4/127.0.0.4/tcp/1234/p2p/${peer.peerId.toString()}`]
    )
  })

  it('a bad NoAnnounce range is refused when the peer is made', () => {
    for (const bad of ['/ip4/10.0.0.0/ipcidr/33', '/ip6/::/ipcidr/129', '/ip4/10.0.0.0/ipcidr/8/tcp/1']) {
      assert.throws(
        () => new IPFSLibp2pPeer({ noAnnounceAddrs: [bad] }),
        { name: 'InvalidMultiaddrError' },
        bad
      )
    }
    assert.throws(() => new IPFSLibp2pPeer({ appendAnnounceAddrs: ['/ip4/nope'] }), {
      name: 'InvalidMultiaddrError'
    })
  })
})
