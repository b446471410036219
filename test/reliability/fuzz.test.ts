/**
 * Bad input, fuzzed with fast-check (seeded, 10 000 cases or more each): every parser that
 * takes text from outside answers with a value or with its own typed error, never anything
 * else, and never hangs.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import fc from 'fast-check'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { base64, base64url } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { parseCID, parseCIDPath } from '../../src/cids.ts'
import { isErrorNamed } from '../../src/errors.ts'
import { durationLimitMs, type KitConfig, parseConfig } from '../../src/kit/config.ts'
import { parseMultiaddr } from '../../src/libp2p/peer/index.ts'
import { parseAnnouncement } from '../../src/libp2p/routing/announcements.ts'

const SEED = 0x1bad1dea
const RUNS = 10_000
/** a single parse slower than this counts as a hang */
const SLOW_MS = 250

const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

/** An edit of a string: insert, delete or replace a character at a position. */
type Edit = { op: 'insert' | 'delete' | 'replace'; at: number; ch: string }

const edits = fc.array(
  fc.record({
    op: fc.constantFrom<Edit['op']>('insert', 'delete', 'replace'),
    at: fc.nat(),
    ch: fc.oneof(
      fc.string({ minLength: 1, maxLength: 1 }),
      fc.constantFrom('/', '%', '\u0000', '\uffff', '😀', ' ')
    )
  }),
  { maxLength: 4 }
)

function applyEdits(text: string, list: readonly Edit[]): string {
  let s = text
  for (const e of list) {
    const at = s.length === 0 ? 0 : e.at % (s.length + 1)
    if (e.op === 'insert') s = s.slice(0, at) + e.ch + s.slice(at)
    else if (e.op === 'delete') s = s.slice(0, at) + s.slice(at + 1)
    else s = s.slice(0, at) + e.ch + s.slice(at + 1)
  }
  return s
}

/** Strings near `seeds` (a few edits away) and strings from nowhere. */
function around(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...seeds), edits).map(([s, e]) => applyEdits(s, e)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 120 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...seeds), fc.constantFrom(...seeds))
        .map(([a, b]) => a.slice(0, a.length >> 1) + b.slice(b.length >> 1))
    }
  )
}

/** Run `fn`, return what it threw (or undefined), and fail if it took longer than SLOW_MS. */
function timed(what: string, fn: () => unknown): unknown {
  const started = performance.now()
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  const ms = performance.now() - started
  if (ms > SLOW_MS) throw new Error(`${what} took ${ms.toFixed(0)} ms`)
  return thrown
}

function onlyThrows(thrown: unknown, name: string, input: unknown): void {
  if (thrown === undefined) return
  if (!isErrorNamed(thrown, name)) {
    throw new Error(`threw ${fc.stringify(thrown)} for ${fc.stringify(input)}`)
  }
}

const digest = await sha256.digest(new TextEncoder().encode('fuzz'))
const v1 = CID.createV1(raw.code, digest)
const v0 = CID.createV0(digest)
const CID_SEEDS = [
  v0.toString(),
  v1.toString(),
  v1.toString(base58btc),
  v1.toString(base36),
  v1.toString(base64),
  v1.toString(base64url),
  v1.toString(base32),
  CID.createV1(raw.code, identity.digest(new TextEncoder().encode('tiny'))).toString(),
  'bafkqaaa',
  'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'
]
const PATH_SEEDS = [
  ...CID_SEEDS,
  `/ipfs/${v0}/a/b.txt`,
  `ipfs://${v1}/dir/`,
  `${v1}//x//y`,
  `/ipns/${v1}`,
  '/ipfs/',
  'ipfs://'
]

describe('fuzzed input: a value or a typed error, never a hang', () => {
  it(`parseCID: ${RUNS} strings, and values of any type — only InvalidCIDError`, () => {
    fc.assert(
      fc.property(around(CID_SEEDS), (text) => {
        let parsed: CID | undefined
        const thrown = timed('parseCID', () => {
          parsed = parseCID(text)
        })
        onlyThrows(thrown, 'InvalidCIDError', text)
        if (parsed != null) {
          // what is accepted is a usable CID
          assert.ok(CID.asCID(parsed) != null)
          assert.equal(CID.parse(parsed.toString()).equals(parsed), true)
        }
      }),
      { numRuns: RUNS, seed: SEED }
    )
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true }),
        (value) => {
          const thrown = timed('parseCID', () => parseCID(value as string))
          onlyThrows(thrown, 'InvalidCIDError', value)
        }
      ),
      { numRuns: RUNS, seed: SEED }
    )
  })

  it(`parseCIDPath: ${RUNS} paths — only InvalidCIDError`, () => {
    fc.assert(
      fc.property(around(PATH_SEEDS), (text) => {
        let parsed: ReturnType<typeof parseCIDPath> | undefined
        const thrown = timed('parseCIDPath', () => {
          parsed = parseCIDPath(text)
        })
        onlyThrows(thrown, 'InvalidCIDError', text)
        if (parsed != null) {
          assert.ok(CID.asCID(parsed.cid) != null)
          assert.ok(parsed.path === undefined || (parsed.path !== '' && !parsed.path.startsWith('/')))
        }
      }),
      { numRuns: RUNS, seed: SEED }
    )
  })

  it(`parseMultiaddr: ${RUNS} strings — only InvalidMultiaddrError, and what is accepted can be used`, () => {
    const seeds = [
      '/ip4/127.0.0.1/tcp/4001',
      `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`,
      '/ip6/::1/tcp/4001/ws',
      `/dns4/example.com/tcp/443/wss/p2p/${PEER}`,
      '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
      `/ip4/1.2.3.4/udp/4001/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g/p2p/${PEER}`,
      '/ip4/1.2.3.4/udp/4001/quic-v1',
      `/ip4/1.2.3.4/tcp/4001/p2p/${PEER}/p2p-circuit/p2p/${PEER}`,
      '/unix/tmp%2Fipfs.sock',
      '/ip4/1.2.3.4/tcp/80/http',
      '/ip6zone/x/ip6/fe80::1/tcp/1',
      '/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234',
      '/ip4/1.2.3.4/tcp/1/tls/sni/example.com/ws',
      '/memory/x'
    ]
    fc.assert(
      fc.property(around(seeds), (text) => {
        let ma: ReturnType<typeof parseMultiaddr> | undefined
        const thrown = timed('parseMultiaddr', () => {
          ma = parseMultiaddr(text)
        })
        onlyThrows(thrown, 'InvalidMultiaddrError', text)
        if (ma != null) {
          // accepted means usable: printable, splittable, and it parses back to itself
          const printed = ma.toString()
          ma.getComponents()
          assert.equal(parseMultiaddr(printed).toString(), printed)
        }
      }),
      { numRuns: RUNS, seed: SEED }
    )
  })

  it(`parseConfig: ${RUNS} mutated config files — only RepoError naming the file, and what is accepted is well-typed`, () => {
    const valid: KitConfig = {
      Identity: { PeerID: PEER, PrivKey: 'CAESQ...' },
      Kit: { Role: 'worker', Profile: 'local' },
      Addresses: {
        Swarm: ['/ip4/127.0.0.1/tcp/0'],
        API: '/ip4/127.0.0.1/tcp/5001',
        Announce: [],
        AppendAnnounce: [],
        NoAnnounce: ['/ip4/10.0.0.0/ipcidr/8']
      },
      Bootstrap: [],
      Discovery: { MDNS: { Enabled: false } },
      Routing: { DHTProtocolPrefix: '/ipfs', DelegatedRouters: ['http://127.0.0.1:8080'] },
      Swarm: {
        RelayClient: { Enabled: true },
        RelayService: {
          Enabled: false,
          ConnectionDataLimit: 131072,
          ConnectionDurationLimit: '2m',
          MaxReservations: 32
        },
        EnableHolePunching: true,
        DisableNatPortMap: true
      },
      AutoNAT: { ServiceMode: 'enabled' }
    }
    const paths: string[][] = []
    const walk = (node: unknown, at: string[]): void => {
      paths.push(at)
      if (node != null && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) walk(v, [...at, k])
      }
    }
    walk(valid, [])
    const json = fc.jsonValue({ maxDepth: 2 })
    const structural = fc
      .array(
        fc.record({
          path: fc.constantFrom(...paths),
          change: fc.oneof(
            fc.constant<{ kind: 'delete' }>({ kind: 'delete' }),
            json.map((value) => ({ kind: 'set' as const, value }))
          )
        }),
        { minLength: 1, maxLength: 3 }
      )
      .map((changes) => {
        const doc = structuredClone(valid) as unknown as Record<string, unknown>
        let root: unknown = doc
        for (const { path, change } of changes) {
          if (path.length === 0) {
            root = change.kind === 'set' ? change.value : undefined
            continue
          }
          let node: unknown = root
          for (const key of path.slice(0, -1))
            node =
              node != null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined
          if (node == null || typeof node !== 'object') continue
          const last = path.at(-1)!
          if (change.kind === 'delete') delete (node as Record<string, unknown>)[last]
          else (node as Record<string, unknown>)[last] = change.value
        }
        return root === undefined ? '' : JSON.stringify(root)
      })
    const textual = fc
      .tuple(fc.constant(JSON.stringify(valid, null, 2)), edits)
      .map(([s, e]) => applyEdits(s, e))
    const truncated = fc.nat({ max: 400 }).map((n) => JSON.stringify(valid).slice(0, n))
    const FILE = '/repo/config'
    fc.assert(
      fc.property(fc.oneof(structural, textual, truncated, fc.string({ maxLength: 50 })), (text) => {
        let config: KitConfig | undefined
        const thrown = timed('parseConfig', () => {
          config = parseConfig(text, FILE)
        })
        onlyThrows(thrown, 'RepoError', text)
        if (thrown !== undefined) assert.match((thrown as Error).message, /\/repo\/config/)
        if (config != null) assertWellTyped(config, text)
      }),
      { numRuns: RUNS, seed: SEED }
    )
  })

  it(`parseAnnouncement: ${RUNS} byte strings and ${RUNS} near-announcements — a value or a reason, never a throw`, () => {
    const from = peerIdFromString(PEER)
    const check = (bytes: Uint8Array): void => {
      let result: ReturnType<typeof parseAnnouncement> | undefined
      const thrown = timed('parseAnnouncement', () => {
        result = parseAnnouncement(from, bytes)
      })
      if (thrown !== undefined) throw new Error(`parseAnnouncement threw ${String(thrown)}`)
      if (typeof result === 'object') {
        assert.ok(result.from.equals(from))
        assert.ok(result.cids.length >= 1)
        for (const c of result.cids) assert.ok(CID.asCID(c) != null)
        for (const a of result.addrs) a.toString()
      } else assert.equal(typeof result, 'string')
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => check(bytes)),
      { numRuns: RUNS, seed: SEED }
    )
    const field = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
      fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) })
    const announcement = fc.record(
      {
        v: field(fc.constant(1)),
        cids: field(fc.array(around(CID_SEEDS), { minLength: 1, maxLength: 4 })),
        addrs: field(
          fc.array(
            fc.constantFrom(
              '/ip4/127.0.0.1/tcp/4001',
              `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`,
              '/ip4/127.0.0.1/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
              '/not/an/addr'
            ),
            { maxLength: 3 }
          )
        ),
        size: field(fc.oneof(fc.nat(), fc.integer(), fc.double())),
        metadata: field(
          fc.dictionary(
            fc.string({ maxLength: 8 }),
            fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null))
          )
        ),
        ts: field(fc.nat())
      },
      { requiredKeys: [] }
    )
    fc.assert(
      fc.property(announcement, (a) => check(new TextEncoder().encode(JSON.stringify(a)))),
      { numRuns: RUNS, seed: SEED }
    )
  })
})

/** A config that parseConfig returns must hold the types the rest of the code relies on. */
function assertWellTyped(c: KitConfig, text: string): void {
  const fail = (what: string): never => assert.fail(`parseConfig accepted ${what}: ${text}`)
  const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string')
  if (typeof c.Identity?.PeerID !== 'string' || typeof c.Identity.PrivKey !== 'string') fail('a bad Identity')
  if (!['master', 'worker', 'leecher'].includes(c.Kit?.Role)) fail('a bad Kit.Role')
  if (!['public', 'local'].includes(c.Kit?.Profile)) fail('a bad Kit.Profile')
  if (!strings(c.Addresses?.Swarm)) fail('a bad Addresses.Swarm')
  if (!strings(c.Addresses?.Announce)) fail('a bad Addresses.Announce')
  if (typeof c.Addresses?.API !== 'string') fail('a bad Addresses.API')
  if (!strings(c.Bootstrap)) fail('a bad Bootstrap')
  if (typeof c.Discovery?.MDNS?.Enabled !== 'boolean') fail('a bad Discovery.MDNS.Enabled')
  if (typeof c.Routing?.DHTProtocolPrefix !== 'string') fail('a bad Routing.DHTProtocolPrefix')
  if (!strings(c.Routing?.DelegatedRouters)) fail('a bad Routing.DelegatedRouters')
  if (!strings(c.Addresses?.AppendAnnounce)) fail('a bad Addresses.AppendAnnounce')
  if (!strings(c.Addresses?.NoAnnounce)) fail('a bad Addresses.NoAnnounce')
  if (typeof c.Swarm?.RelayClient?.Enabled !== 'boolean') fail('a bad Swarm.RelayClient.Enabled')
  const relayService = c.Swarm?.RelayService
  if (relayService == null || !['boolean', 'undefined'].includes(typeof relayService.Enabled)) {
    fail('a bad Swarm.RelayService.Enabled')
  }
  for (const name of ['ConnectionDataLimit', 'MaxReservations'] as const) {
    const v = relayService?.[name]
    if (v != null && (!Number.isSafeInteger(v) || v < 0)) fail(`a bad Swarm.RelayService.${name}`)
  }
  const duration = relayService?.ConnectionDurationLimit
  if (duration != null && durationLimitMs(duration) == null) {
    fail('a bad Swarm.RelayService.ConnectionDurationLimit')
  }
  if (typeof c.Swarm?.EnableHolePunching !== 'boolean') fail('a bad Swarm.EnableHolePunching')
  if (typeof c.Swarm?.DisableNatPortMap !== 'boolean') fail('a bad Swarm.DisableNatPortMap')
  if (!['enabled', 'disabled'].includes(c.AutoNAT?.ServiceMode)) fail('a bad AutoNAT.ServiceMode')
}
