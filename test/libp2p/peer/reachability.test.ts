/**
 * Reachability from the address manager's verification state: a verified public address makes
 * a node `public`; with only private interface addresses it is `private`; a public interface
 * address AutoNAT has not judged yet leaves it `unknown`. Private addresses count as dialable
 * only where asked (a private swarm, the `local` profile); relayed addresses never count.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { type AddressMetadata, reachabilityOf } from '../../../src/libp2p/peer/reachability.ts'

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
