/**
 * The config file's `Routing.DelegatedRouters`: its defaults per profile, its checks (http or
 * https URLs; loopback only on the `local` profile), an old config without it, and its way to
 * the node's peer.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DEFAULT_DELEGATED_ROUTERS } from '../../src/constants.ts'
import { defaultConfig, type KitConfig, parseConfig } from '../../src/kit/config.ts'
import { ipfsKit } from '../../src/kit/index.ts'
import { initRepo } from '../../src/kit/repo.ts'
import { tempDir } from '../helpers.ts'

const identity = { PeerID: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo', PrivKey: 'CAESQ...' }

function text(profile: 'public' | 'local', routing: Record<string, unknown> | undefined): string {
  const config = defaultConfig(identity, { profile }) as unknown as Record<string, unknown>
  if (routing === undefined) delete config.Routing
  else config.Routing = routing
  return JSON.stringify(config)
}

describe('config: Routing.DelegatedRouters', () => {
  it('defaults to the public router on public, none on local (new configs and old ones without the field)', () => {
    assert.deepEqual(DEFAULT_DELEGATED_ROUTERS.public, ['https://delegated-ipfs.dev'])
    assert.deepEqual(defaultConfig(identity, { profile: 'public' }).Routing.DelegatedRouters, [
      'https://delegated-ipfs.dev'
    ])
    assert.deepEqual(defaultConfig(identity, { profile: 'local' }).Routing.DelegatedRouters, [])
    for (const profile of ['public', 'local'] as const) {
      const old = parseConfig(text(profile, { DHTProtocolPrefix: '/ipfs' }), 'config')
      assert.deepEqual(old.Routing.DelegatedRouters, DEFAULT_DELEGATED_ROUTERS[profile])
      const none = parseConfig(text(profile, undefined), 'config')
      assert.deepEqual(none.Routing.DelegatedRouters, DEFAULT_DELEGATED_ROUTERS[profile])
    }
  })

  it('keeps http(s) URLs, and refuses anything else with a RepoError naming the field', () => {
    const ok = parseConfig(
      text('public', {
        DHTProtocolPrefix: '/ipfs',
        DelegatedRouters: ['http://10.0.0.1:8080', 'https://r.example']
      }),
      'config'
    )
    assert.deepEqual(ok.Routing.DelegatedRouters, ['http://10.0.0.1:8080', 'https://r.example'])
    for (const bad of [['ftp://r.example'], ['not a url'], 'https://r.example', [42]]) {
      assert.throws(
        () => parseConfig(text('public', { DHTProtocolPrefix: '/ipfs', DelegatedRouters: bad }), 'config'),
        (err: Error) => err.name === 'RepoError' && /Routing\.DelegatedRouters/.test(err.message),
        JSON.stringify(bad)
      )
    }
  })

  it('on the local profile, takes loopback routers only', () => {
    const local = parseConfig(
      text('local', {
        DHTProtocolPrefix: '/ipfs',
        DelegatedRouters: ['http://127.0.0.1:5001', 'http://localhost:1']
      }),
      'config'
    )
    assert.equal(local.Routing.DelegatedRouters.length, 2)
    assert.throws(
      () =>
        parseConfig(
          text('local', { DHTProtocolPrefix: '/ipfs', DelegatedRouters: ['https://delegated-ipfs.dev'] }),
          'config'
        ),
      (err: Error) => err.name === 'RepoError' && /Routing\.DelegatedRouters.*local profile/.test(err.message)
    )
  })

  it("reaches the node's peer", async () => {
    const dir = await tempDir()
    try {
      await initRepo(dir.path, { profile: 'local', role: 'leecher' })
      const file = join(dir.path, 'config')
      const config = JSON.parse(await readFile(file, 'utf8')) as KitConfig
      config.Routing.DelegatedRouters = ['http://127.0.0.1:9']
      await writeFile(file, JSON.stringify(config))
      const kit = await ipfsKit({ repo: dir.path, offline: true })
      try {
        assert.deepEqual(kit.peer.settings.delegatedRouters, ['http://127.0.0.1:9'])
      } finally {
        await kit.stop()
      }
    } finally {
      await dir.cleanup()
    }
  })
})
