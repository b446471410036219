/**
 * The config file's network fields (issue 16): `Addresses.AppendAnnounce`/`NoAnnounce`,
 * `Swarm.*` (the relay service limits included) and `AutoNAT.ServiceMode` parse, get their
 * defaults in a config written before they existed, and a bad value is a RepoError that names
 * the field.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DEFAULT_LISTEN_ADDRS, RELAY_SERVICE_LIMITS } from '../../src/constants.ts'
import { defaultConfig, type KitConfig, parseConfig, relayServiceLimitsOf } from '../../src/kit/config.ts'
import { ipfsKit } from '../../src/kit/index.ts'
import { IPFSLibp2pPeer } from '../../src/libp2p/peer/index.ts'
import { tempDir } from '../helpers.ts'

const IDENTITY = { PeerID: '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', PrivKey: 'CAESQ...' }
const FILE = '/repo/config'

/** A config as written before issue 16: no AppendAnnounce/NoAnnounce, no Swarm, no AutoNAT. */
function oldConfig(role: string): Record<string, unknown> {
  return {
    Identity: IDENTITY,
    Kit: { Role: role, Profile: 'public' },
    Addresses: {
      Swarm: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'],
      API: '/ip4/127.0.0.1/tcp/5001',
      Announce: []
    },
    Bootstrap: [],
    Discovery: { MDNS: { Enabled: true } },
    Routing: { DHTProtocolPrefix: '/ipfs' }
  }
}

const parse = (doc: unknown): KitConfig => parseConfig(JSON.stringify(doc), FILE)

describe('config: network fields', () => {
  it('a fresh config lists QUIC, and has the Swarm and AutoNAT defaults of its role', () => {
    const master = defaultConfig(IDENTITY, { role: 'master', profile: 'public' })
    assert.deepEqual(master.Addresses.Swarm, [...DEFAULT_LISTEN_ADDRS.public])
    assert.ok(master.Addresses.Swarm.includes('/ip4/0.0.0.0/udp/4001/quic-v1'))
    assert.deepEqual(
      defaultConfig(IDENTITY, { role: 'leecher', profile: 'local' }).Addresses.Swarm.filter((a) =>
        a.includes('quic')
      ),
      ['/ip4/127.0.0.1/udp/0/quic-v1']
    )
    // RelayService.Enabled absent: the role decides when the node starts
    assert.deepEqual(master.Swarm, {
      RelayClient: { Enabled: true },
      RelayService: {},
      EnableHolePunching: true,
      DisableNatPortMap: true
    })
    assert.deepEqual(master.AutoNAT, { ServiceMode: 'enabled' })
    assert.deepEqual([master.Addresses.AppendAnnounce, master.Addresses.NoAnnounce], [[], []])
    // what is written parses back the same
    assert.deepEqual(parse(master), master)
  })

  it('an old config gets the defaults: relay service as the role says (on masters only), hole punching on, UPnP off, AutoNAT on', () => {
    for (const role of ['master', 'worker', 'leecher'] as const) {
      const c = parse(oldConfig(role))
      assert.deepEqual(c.Addresses.AppendAnnounce, [])
      assert.deepEqual(c.Addresses.NoAnnounce, [])
      assert.equal(c.Swarm.RelayClient.Enabled, true)
      assert.equal(c.Swarm.RelayService.Enabled, undefined)
      // what the node makes of it (as the kit passes it on)
      const peer = new IPFSLibp2pPeer({ role, relayService: c.Swarm.RelayService.Enabled })
      assert.equal(peer.settings.relayService, role === 'master')
      // the relay's limits absent: the role's, when the node starts
      assert.deepEqual(relayServiceLimitsOf(c), {
        dataLimitBytes: undefined,
        durationLimitMs: undefined,
        maxReservations: undefined
      })
      assert.deepEqual(peer.settings.relayServiceLimits, RELAY_SERVICE_LIMITS[role])
      assert.equal(c.Swarm.EnableHolePunching, true)
      assert.equal(c.Swarm.DisableNatPortMap, true)
      assert.equal(c.AutoNAT.ServiceMode, 'enabled')
    }
  })

  it('Swarm.RelayService.Enabled null (Kubo\'s "default") is the same as absent', () => {
    const c = parse({ ...oldConfig('master'), Swarm: { RelayService: { Enabled: null } } })
    assert.deepEqual(c.Swarm.RelayService, {})
  })

  it('given values are kept; a Swarm section with some fields gets the rest as defaults', () => {
    const c = parse({
      ...oldConfig('master'),
      Addresses: {
        ...(oldConfig('master').Addresses as object),
        AppendAnnounce: ['/dns4/node.example.com/tcp/4001'],
        NoAnnounce: ['/ip4/10.0.0.0/ipcidr/8', '/ip4/1.2.3.4/tcp/4001', '/ip6/fd00::/ipcidr/8']
      },
      Swarm: { RelayService: { Enabled: false }, DisableNatPortMap: false, ConnMgr: { HighWater: 10 } },
      AutoNAT: { ServiceMode: 'disabled' }
    })
    assert.deepEqual(c.Addresses.AppendAnnounce, ['/dns4/node.example.com/tcp/4001'])
    assert.equal(c.Addresses.NoAnnounce.length, 3)
    assert.equal(c.Swarm.RelayService.Enabled, false)
    assert.equal(c.Swarm.RelayClient.Enabled, true)
    assert.equal(c.Swarm.EnableHolePunching, true)
    assert.equal(c.Swarm.DisableNatPortMap, false)
    // a Kubo field we do not use stays in the file
    assert.deepEqual((c.Swarm as unknown as { ConnMgr: unknown }).ConnMgr, { HighWater: 10 })
    assert.equal(c.AutoNAT.ServiceMode, 'disabled')
  })

  it('relay service limits: a Go duration or ms, 0 for no limit, absent fields from the role', () => {
    const limits = (RelayService: Record<string, unknown>) =>
      relayServiceLimitsOf(parse({ ...oldConfig('worker'), Swarm: { RelayService } }))
    const given = limits({ ConnectionDurationLimit: '1h30m', ConnectionDataLimit: 1 << 20 })
    assert.deepEqual(given, {
      dataLimitBytes: 1 << 20,
      durationLimitMs: 90 * 60_000,
      maxReservations: undefined
    })
    // what the node makes of it (as the kit passes it on): the rest from its role
    assert.deepEqual(
      new IPFSLibp2pPeer({ role: 'master', relayServiceLimits: given }).settings.relayServiceLimits,
      {
        ...RELAY_SERVICE_LIMITS.master,
        dataLimitBytes: 1 << 20,
        durationLimitMs: 90 * 60_000
      }
    )
    assert.equal(limits({ ConnectionDurationLimit: 90_000 }).durationLimitMs, 90_000)
    assert.equal(limits({ ConnectionDurationLimit: '500ms' }).durationLimitMs, 500)
    assert.deepEqual(limits({ ConnectionDurationLimit: '0s', ConnectionDataLimit: 0, MaxReservations: 7 }), {
      dataLimitBytes: 0,
      durationLimitMs: 0,
      maxReservations: 7
    })
    assert.equal(limits({ ConnectionDurationLimit: '0' }).durationLimitMs, 0)
    assert.equal(limits({ ConnectionDurationLimit: 0 }).durationLimitMs, 0)
  })

  it("a kit's relay service gets the config's limits (Kubo's field names), the rest from its role", async () => {
    const dir = await tempDir()
    try {
      const repo = join(dir.path, 'master')
      await (await ipfsKit({ repo, role: 'master', profile: 'local', offline: true })).stop()
      const file = join(repo, 'config')
      const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, Record<string, unknown>>
      doc.Swarm!.RelayService = { ConnectionDataLimit: 0, ConnectionDurationLimit: '0s', MaxReservations: 3 }
      await writeFile(file, JSON.stringify(doc))
      const kit = await ipfsKit({ repo, offline: true })
      try {
        assert.equal(kit.peer.settings.relayService, true)
        assert.deepEqual(kit.peer.settings.relayServiceLimits, {
          ...RELAY_SERVICE_LIMITS.master,
          dataLimitBytes: 0,
          durationLimitMs: 0,
          maxReservations: 3
        })
      } finally {
        await kit.stop()
      }
    } finally {
      await dir.cleanup()
    }
  })

  it('bad values are a RepoError naming the field and the file', () => {
    const bad: Array<[string, (doc: Record<string, unknown>) => void, RegExp]> = [
      [
        'NoAnnounce not a list',
        (d) => Object.assign(d.Addresses as object, { NoAnnounce: 'x' }),
        /Addresses\.NoAnnounce/
      ],
      [
        'NoAnnounce range too wide',
        (d) => Object.assign(d.Addresses as object, { NoAnnounce: ['/ip4/10.0.0.0/ipcidr/40'] }),
        /Addresses\.NoAnnounce/
      ],
      [
        'NoAnnounce range with a port',
        (d) => Object.assign(d.Addresses as object, { NoAnnounce: ['/ip4/10.0.0.0/ipcidr/8/tcp/1'] }),
        /Addresses\.NoAnnounce/
      ],
      [
        'AppendAnnounce not a multiaddr',
        (d) => Object.assign(d.Addresses as object, { AppendAnnounce: ['hello'] }),
        /Addresses\.AppendAnnounce/
      ],
      ['Swarm not an object', (d) => Object.assign(d, { Swarm: [] }), /Swarm must be an object/],
      [
        'RelayClient.Enabled not a boolean',
        (d) => Object.assign(d, { Swarm: { RelayClient: { Enabled: 'yes' } } }),
        /Swarm\.RelayClient\.Enabled/
      ],
      [
        'RelayService not an object',
        (d) => Object.assign(d, { Swarm: { RelayService: true } }),
        /Swarm\.RelayService\.Enabled/
      ],
      [
        'ConnectionDataLimit negative',
        (d) => Object.assign(d, { Swarm: { RelayService: { ConnectionDataLimit: -1 } } }),
        /Swarm\.RelayService\.ConnectionDataLimit/
      ],
      [
        'ConnectionDataLimit a text',
        (d) => Object.assign(d, { Swarm: { RelayService: { ConnectionDataLimit: '1MiB' } } }),
        /Swarm\.RelayService\.ConnectionDataLimit/
      ],
      [
        'ConnectionDurationLimit not a duration',
        (d) => Object.assign(d, { Swarm: { RelayService: { ConnectionDurationLimit: 'two minutes' } } }),
        /Swarm\.RelayService\.ConnectionDurationLimit/
      ],
      [
        'ConnectionDurationLimit a fraction of ms',
        (d) => Object.assign(d, { Swarm: { RelayService: { ConnectionDurationLimit: 1.5 } } }),
        /Swarm\.RelayService\.ConnectionDurationLimit/
      ],
      [
        'ConnectionDurationLimit longer than a timer',
        (d) => Object.assign(d, { Swarm: { RelayService: { ConnectionDurationLimit: '600h' } } }),
        /Swarm\.RelayService\.ConnectionDurationLimit/
      ],
      [
        'MaxReservations not whole',
        (d) => Object.assign(d, { Swarm: { RelayService: { MaxReservations: 2.5 } } }),
        /Swarm\.RelayService\.MaxReservations/
      ],
      [
        'EnableHolePunching not a boolean',
        (d) => Object.assign(d, { Swarm: { EnableHolePunching: 1 } }),
        /Swarm\.EnableHolePunching/
      ],
      [
        'DisableNatPortMap not a boolean',
        (d) => Object.assign(d, { Swarm: { DisableNatPortMap: 'false' } }),
        /Swarm\.DisableNatPortMap/
      ],
      [
        'AutoNAT.ServiceMode unknown',
        (d) => Object.assign(d, { AutoNAT: { ServiceMode: 'sometimes' } }),
        /AutoNAT\.ServiceMode/
      ],
      ['AutoNAT not an object', (d) => Object.assign(d, { AutoNAT: 'enabled' }), /AutoNAT must be/]
    ]
    for (const [what, change, field] of bad) {
      const doc = oldConfig('worker')
      change(doc)
      assert.throws(
        () => parse(doc),
        (err: Error) => err.name === 'RepoError' && field.test(err.message) && err.message.includes(FILE),
        what
      )
    }
  })
})
