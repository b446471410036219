/**
 * Reachability from the address manager's verification state: a verified public address makes
 * a node `public`; with only private interface addresses it is `private`; a public interface
 * address AutoNAT has not judged yet leaves it `unknown`. Private addresses count as dialable
 * only where asked (a private swarm, the `local` profile); relayed addresses never count.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Libp2pEvents, TypedEventEmitter } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import {
  type AddressMetadata,
  dhtModeFollowsReachability,
  ReachabilityService,
  reachabilityOf
} from '../../../src/libp2p/peer/reachability.ts'

const addr = (ma: string, type: AddressMetadata['type'], verified: boolean): AddressMetadata => ({
  multiaddr: multiaddr(ma),
  type,
  verified
})
const RELAY = '/ip4/11.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit'

describe('reachabilityOf', () => {
  it('behind a NAT: private interface addresses and an observed address AutoNAT has not confirmed', () => {
    const addrs = [
      addr('/ip4/10.1.0.2/tcp/4001', 'transport', true),
      addr('/ip4/10.1.0.2/udp/4001/quic-v1', 'transport', true),
      addr('/ip4/11.0.0.9/tcp/61234', 'observed', false),
      addr(RELAY, 'transport', true)
    ]
    assert.equal(reachabilityOf(addrs, false), 'private')
    // the same swarm, private: the LAN addresses are dialable by its peers
    assert.equal(reachabilityOf(addrs, true), 'public')
  })

  it('an observed address AutoNAT confirmed, or a public interface address it verified: public', () => {
    assert.equal(
      reachabilityOf(
        [addr('/ip4/10.1.0.2/tcp/4001', 'transport', true), addr('/ip4/11.0.0.9/tcp/4001', 'observed', true)],
        false
      ),
      'public'
    )
    assert.equal(reachabilityOf([addr('/ip4/11.0.0.2/udp/4001/quic-v1', 'transport', true)], false), 'public')
  })

  it('a public interface address not verified yet: unknown', () => {
    assert.equal(reachabilityOf([addr('/ip4/11.0.0.2/tcp/4001', 'transport', false)], false), 'unknown')
  })

  it('a relayed address, even verified, is not reachability', () => {
    assert.equal(reachabilityOf([addr(RELAY, 'transport', true)], false), 'private')
    assert.equal(reachabilityOf([addr(RELAY, 'transport', true)], true), 'private')
  })

  it('loopback: reachable only where private addresses count (local profile)', () => {
    const loop = [addr('/ip4/127.0.0.1/tcp/40001', 'transport', true)]
    assert.equal(reachabilityOf(loop, false), 'private')
    assert.equal(reachabilityOf(loop, true), 'public')
    assert.equal(reachabilityOf([], true), 'private')
  })

  it('an announced public address (the config says so) counts', () => {
    assert.equal(reachabilityOf([addr('/dns4/node.example.com/tcp/4001', 'announce', true)], false), 'public')
  })
})

describe('ReachabilityService and the DHT mode', () => {
  it('follows self:peer:update: private, then public when AutoNAT confirms an observed address, then private again; the DHT follows', async () => {
    const events = new TypedEventEmitter<Libp2pEvents>()
    let addrs: AddressMetadata[] = [addr('/ip4/10.1.0.2/udp/4001/quic-v1', 'transport', true)]
    const service = new ReachabilityService(
      { addressManager: { getAddressesWithMetadata: () => addrs }, events, logger: defaultLogger() },
      { privateDialable: false }
    )
    // libp2p's DHT interface, recording the modes it is asked for
    const modes: string[] = []
    let mode: 'client' | 'server' = 'client'
    const dht = {
      getMode: () => mode,
      setMode: async (m: 'client' | 'server') => {
        modes.push(m)
        mode = m
      }
    }
    const seen: string[] = []
    service.addEventListener('change', (evt) => seen.push(evt.detail))
    assert.equal(service.reachability, 'unknown')
    service.start()
    service.afterStart()
    const stop = await dhtModeFollowsReachability(
      { dht, reachability: service },
      defaultLogger().forComponent('t')
    )
    assert.equal(service.reachability, 'private')
    assert.deepEqual(modes, [], 'already a client')

    addrs = [...addrs, addr('/ip4/11.0.0.9/udp/4001/quic-v1', 'observed', true)]
    events.safeDispatchEvent('self:peer:update', {})
    assert.equal(service.reachability, 'public')
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(modes, ['server'])

    addrs = addrs.slice(0, 1)
    events.safeDispatchEvent('self:peer:update', {})
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(modes, ['server', 'client'])
    assert.deepEqual(seen, ['private', 'public', 'private'])

    stop()
    service.stop()
    addrs = [addr('/ip4/11.0.0.9/udp/4001/quic-v1', 'observed', true)]
    events.safeDispatchEvent('self:peer:update', {})
    assert.equal(service.reachability, 'unknown', 'stopped: no longer follows')
    assert.deepEqual(modes, ['server', 'client'])
  })
})
