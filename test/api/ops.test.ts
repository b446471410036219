/**
 * The config, network and operations commands through the real `kubo-rpc-client`, unchanged,
 * against two API nodes on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { pseudoRandomBytes, tempDir } from '../helpers.ts'
import { type ApiNode, apiNode, concat, connect } from './helpers.ts'

const FILE_BYTES = 400_000

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of source) out.push(x)
  return out
}

describe('config, network and operations commands with the real kubo-rpc-client', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let a: ApiNode
  let b: ApiNode
  let clientA: KuboRPCClient
  let clientB: KuboRPCClient
  let idA = ''

  before(async () => {
    dir = await tempDir()
    a = await apiNode(dir.path)
    b = await apiNode(dir.path)
    clientA = create({ url: `${a.url}/api/v0` })
    clientB = create({ url: `${b.url}/api/v0` })
    idA = a.kit.repo.config.Identity.PeerID
    await connect(b.kit, a.kit)
  })

  after(async () => {
    await a?.stop()
    await b?.stop()
    await dir?.cleanup()
  })

  it("id: Kubo's fields, and ipfs-kit's Reachability (local profile: loopback counts, so public)", async () => {
    const res = await fetch(`${a.url}/api/v0/id`, { method: 'POST' })
    const id = (await res.json()) as Record<string, unknown>
    assert.equal(id.ID, idA)
    for (const field of ['PublicKey', 'Addresses', 'AgentVersion', 'Protocols']) assert.ok(field in id, field)
    assert.equal(id.Reachability, 'public')
    assert.ok((id.Protocols as string[]).includes('/libp2p/autonat/2/dial-request'))
    // the kubo-rpc-client reads it unchanged
    assert.equal((await clientA.id()).id.toString(), idA)
  })

  it('config.set of the network fields: checked as the file is', async () => {
    await clientA.config.set('Swarm.EnableHolePunching', false)
    assert.equal(await clientA.config.get('Swarm.EnableHolePunching'), false)
    await clientA.config.set('Swarm.EnableHolePunching', true)
    await assert.rejects(clientA.config.set('AutoNAT.ServiceMode', 'sometimes'), /AutoNAT\.ServiceMode/)
    await assert.rejects(
      clientA.config.set('Swarm.RelayClient.Enabled', 'yes'),
      /Swarm\.RelayClient\.Enabled/
    )
    assert.equal(await clientA.config.get('AutoNAT.ServiceMode'), 'enabled')
  })

  it('config.get, set (string, boolean, JSON), getAll, replace; bad values refused', async () => {
    assert.equal(await clientA.config.get('Kit.Role'), 'worker')
    await clientA.config.set('Discovery.MDNS.Enabled', false)
    assert.equal(await clientA.config.get('Discovery.MDNS.Enabled'), false)
    await clientA.config.set('Addresses.Announce', ['/ip4/127.0.0.1/tcp/4001'])
    assert.deepEqual(await clientA.config.get('Addresses.Announce'), ['/ip4/127.0.0.1/tcp/4001'])
    await clientA.config.set('Kit.Role', 'master')
    const all = (await clientA.config.getAll()) as Record<string, Record<string, unknown>>
    assert.equal((all.Kit as { Role: string }).Role, 'master')
    assert.equal(all.Identity?.PrivKey, undefined)
    // written to the repo; the running node keeps its role until restarted
    const file = JSON.parse(await readFile(join(a.kit.repo.path, 'config'), 'utf8')) as {
      Kit: { Role: string }
    }
    assert.equal(file.Kit.Role, 'master')
    assert.equal(a.kit.role, 'worker')
    await assert.rejects(clientA.config.get('Nope'), /no key "Nope"/)
    await assert.rejects(clientA.config.set('Kit.Role', 'boss'), /Kit\.Role must be/)
    await assert.rejects(clientA.config.set('Discovery.MDNS.Enabled', 'yes'), /takes a boolean/)
    const before = await readFile(join(a.kit.repo.path, 'config'), 'utf8')
    await assert.rejects(
      clientA.config.replace({ ...all, Kit: { Role: 'boss', Profile: 'local' } } as never),
      /Kit\.Role/
    )
    await assert.rejects(clientA.config.replace({ ...all, Extra: 1 } as never), /Extra/)
    assert.equal(await readFile(join(a.kit.repo.path, 'config'), 'utf8'), before)
    await clientA.config.replace({ ...all, Kit: { Role: 'worker', Profile: 'local' } } as never)
    assert.equal(await clientA.config.get('Kit.Role'), 'worker')
    assert.equal(await clientA.config.get('Identity.PeerID'), idA)
  })

  it('bootstrap.add, list, rm, rm --all', async () => {
    const addr = `${a.kit.peer.getMultiaddrs()[0]?.toString()}`
    assert.deepEqual((await clientB.bootstrap.list()).Peers, [])
    assert.deepEqual((await clientB.bootstrap.add(addr as never)).Peers.map(String), [addr])
    assert.deepEqual((await clientB.bootstrap.list()).Peers.map(String), [addr])
    assert.deepEqual((await clientB.bootstrap.rm(addr as never)).Peers.map(String), [addr])
    await clientB.bootstrap.add(addr as never)
    assert.deepEqual(
      (await clientB.bootstrap.rm(undefined as never, { all: true } as never)).Peers.map(String),
      [addr]
    )
    assert.deepEqual((await clientB.bootstrap.list()).Peers, [])
  })

  it('swarm.addrs, localAddrs, ping, routing.findPeer', async () => {
    const addrs = await clientB.swarm.addrs()
    assert.ok(addrs.some((p) => p.id.toString() === idA && p.addrs.length > 0))
    const local = (await clientA.swarm.localAddrs()).map(String)
    assert.ok(local.length > 0 && local.every((m) => !m.includes('/p2p/')))
    const pongs = await collect(clientB.ping(idA as never, { count: 2 }))
    assert.equal(pongs.length, 4)
    assert.ok(pongs.every((p) => p.success))
    assert.match(pongs.at(-1)?.text ?? '', /^Average latency/)
    const events = await collect(clientB.routing.findPeer(idA as never))
    const final = events.find((e) => e.name === 'FINAL_PEER')
    assert.ok(final != null && 'peer' in final && final.peer.multiaddrs.length > 0)
  })

  it('stats.bw rises by at least the bytes of a block fetched from the other node; bitswap.stat counts it', async () => {
    const before = (await collect(clientB.stats.bw()))[0]
    const { cid } = await clientA.add(pseudoRandomBytes(FILE_BYTES, 15))
    assert.equal((await concat(clientB.cat(cid))).byteLength, FILE_BYTES)
    const after = (await collect(clientB.stats.bw()))[0]
    assert.ok(before != null && after != null)
    assert.ok(after.totalIn - before.totalIn >= BigInt(FILE_BYTES), `${before.totalIn} → ${after.totalIn}`)
    const peer = (await collect(clientB.stats.bw({ peer: idA as never })))[0]
    assert.ok(peer != null && peer.totalIn >= BigInt(FILE_BYTES))
    const stat = await clientB.bitswap.stat()
    assert.ok(stat.blocksReceived >= 2n && stat.dataReceived >= BigInt(FILE_BYTES))
    assert.ok(stat.peers.some((p) => p.toString() === idA))
    const sent = await clientA.stats.bitswap()
    assert.ok(sent.blocksSent >= 2n && sent.dataSent >= BigInt(FILE_BYTES))
    assert.ok((await clientB.bitswap.wantlist()).every((c) => CID.asCID(c) != null))
    const asked = await clientA.bitswap.wantlistForPeer(b.kit.repo.config.Identity.PeerID as never)
    assert.ok(asked.every((c) => CID.asCID(c) != null))
  })

  it('a block being fetched is on the wantlist', async () => {
    const missing = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    const controller = new AbortController()
    const fetch = concat(clientB.cat(missing, { signal: controller.signal })).catch(() => undefined)
    let listed = false
    for (let i = 0; i < 100 && !listed; i++) {
      listed = (await clientB.bitswap.wantlist()).some((c) => c.equals(missing))
      if (!listed) await new Promise((r) => setTimeout(r, 50))
    }
    controller.abort()
    await fetch
    assert.ok(listed)
  })

  it('routing.provide, then findProvs from the other node; swarm.disconnect', async () => {
    const { cid } = await clientB.add('provided through kubo-rpc-client')
    assert.deepEqual(await collect(clientB.routing.provide(cid)), [])
    const found = await collect(clientA.routing.findProvs(cid, { numProviders: 1 } as never))
    assert.ok(
      found.some(
        (e) =>
          e.name === 'PROVIDER' &&
          e.providers.some((p) => p.id.toString() === b.kit.repo.config.Identity.PeerID)
      )
    )
    const lines = await clientB.swarm.disconnect(`/p2p/${idA}` as never)
    assert.deepEqual(lines, [`disconnect ${idA} success`])
    await assert.rejects(
      collect(
        clientB.routing.provide(CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'))
      )
    )
  })

  it('stats.repo, repo.gc, repo.version, commands, log.level', async () => {
    const repo = await clientB.stats.repo()
    assert.equal(repo.repoPath, b.kit.repo.path)
    assert.ok(repo.storageMax >= repo.repoSize)
    const removed = await collect(clientB.repo.gc())
    assert.ok(removed.every((r) => r.err == null))
    assert.equal(await clientB.repo.version(), '1')
    const tree = (await clientB.commands()) as unknown as {
      Name: string
      Subcommands: Array<{ Name: string }>
    }
    assert.equal(tree.Name, 'ipfs-kit')
    assert.ok(tree.Subcommands.some((c) => c.Name === 'config'))
    assert.deepEqual(await clientB.log.level('kit:routing', 'error'), {
      message: "Changed log level of 'kit:routing' to 'error'\n"
    })
    await assert.rejects(clientB.log.level('all', 'loud'), /not a log level/)
  })

  it('stop (shutdown) reaches the daemon that serves the kit; a kit no daemon serves refuses it', async () => {
    await assert.rejects(clientA.stop(), /running daemon/)
    let reason: string | undefined
    a.kit.setShutdownHandler((r) => {
      reason = r
    })
    try {
      await clientA.stop()
      for (let i = 0; i < 100 && reason == null; i++) await new Promise((r) => setTimeout(r, 20))
      assert.equal(reason, 'a shutdown request')
    } finally {
      a.kit.setShutdownHandler(undefined)
    }
  })
})
