/**
 * Hostile bitswap peers against a real node (a kit on a repo, with discovery and routing),
 * all on 127.0.0.1: blocks that do not match their CID, blocks nobody asked for, a frame over
 * the size limit, a flood of want-lists. Each is refused, nothing bad is stored or can be
 * reprovided, the peer is penalised, and the node keeps serving a bystander.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { unixfs } from '@helia/unixfs'
import type { Connection } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { BITSWAP_MAX_MESSAGE_BYTES, BITSWAP_PEER_BUDGET } from '../../src/constants.ts'
import type { IPFSKit } from '../../src/kit/index.ts'
import { registerLibp2pWithIpfsKit } from '../../src/kit/integration.ts'
import type { LibP2PIntegration } from '../../src/libp2p/integration/index.ts'
import { IPFSLibp2pPeer } from '../../src/libp2p/peer/index.ts'
import { bitswapOf, type InboundBitswapMessage } from '../../src/libp2p/routing/bitswap-access.ts'
import { localKit, pseudoRandomBytes, tempDir, waitFor } from '../helpers.ts'
import {
  cidPrefix,
  encodeMessage,
  frame,
  openBitswapStream,
  varint,
  type WireBlock,
  wantFloodFrame,
  write
} from './fixtures/bitswap-wire.ts'
import { corruptedCid, LyingBlockstore, verifyEveryBlock } from './fixtures/stores.ts'

/** want-list entries in each frame of the flood (a frame just under 4 MiB) */
const FLOOD_WANTS = 90_000

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function catAll(peer: IPFSLibp2pPeer, cid: CID, ms: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of unixfs(peer.helia).cat(cid, { signal: AbortSignal.timeout(ms) }))
    parts.push(chunk)
  return new Uint8Array(Buffer.concat(parts))
}

/** Random, self-consistent raw blocks (valid CIDs; nobody asked for them). */
async function randomBlocks(n: number, seed: number): Promise<Array<{ cid: CID; block: WireBlock }>> {
  const out: Array<{ cid: CID; block: WireBlock }> = []
  for (let i = 0; i < n; i++) {
    const data = pseudoRandomBytes(2048, seed + i)
    const cid = CID.createV1(raw.code, await sha256.digest(data))
    out.push({ cid, block: { prefix: cidPrefix(cid), data } })
  }
  return out
}

/** The blocks of a file as a provider holds them. */
async function blocksOf(peer: IPFSLibp2pPeer): Promise<Array<{ cid: CID; bytes: Uint8Array }>> {
  const out: Array<{ cid: CID; bytes: Uint8Array }> = []
  for await (const pair of peer.helia.blockstore.getAll()) {
    const parts: Uint8Array[] = []
    for await (const p of pair.bytes) parts.push(p)
    out.push({ cid: pair.cid, bytes: new Uint8Array(Buffer.concat(parts)) })
  }
  return out
}

describe('hostile bitswap peers', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let victim: IPFSKit
  let integration: LibP2PIntegration
  let honest: IPFSLibp2pPeer
  let bystander: IPFSLibp2pPeer
  const others: IPFSLibp2pPeer[] = []
  const extraKits: IPFSKit[] = []

  /** A fresh file on the victim that the bystander must be able to read, now. */
  async function victimStillServes(seed: number, ms = 15_000): Promise<void> {
    const bytes = pseudoRandomBytes(512 * 1024, seed)
    const { cid } = await victim.ipfsAddBytes(bytes)
    if (bystander.host.getConnections(victim.peer.peerId).length === 0) {
      await bystander.connect(victim.peer.getMultiaddrs()[0]!)
    }
    const got = await catAll(bystander, cid, ms)
    assert.equal(sha(got), sha(bytes), 'the bystander got the content from the victim')
  }

  async function startPeer(
    init: ConstructorParameters<typeof IPFSLibp2pPeer>[0] = {}
  ): Promise<IPFSLibp2pPeer> {
    const peer = new IPFSLibp2pPeer({ profile: 'local', listenAddrs: ['/ip4/127.0.0.1/tcp/0'], ...init })
    await peer.start()
    others.push(peer)
    return peer
  }

  before(async () => {
    dir = await tempDir('ipfs-kit-rel-bitswap-')
    victim = await localKit('worker', dir.path)
    // bitswap only: these are attacks on bitswap (our block stream has its own hostile-peer tests)
    integration = await registerLibp2pWithIpfsKit(victim, victim.peer, { routing: { blockStream: false } })
    honest = await startPeer({ role: 'worker' })
    bystander = await startPeer({ role: 'leecher' })
  })

  after(async () => {
    await Promise.all(extraKits.map((k) => k.stop()))
    await victim?.stop()
    await Promise.all(others.map((p) => p.stop()))
    await dir?.cleanup()
  })

  it('blocks that do not match their CID: refused, the sender flagged and backed off, the content comes from an honest peer', async () => {
    const store = new LyingBlockstore()
    const liar = await startPeer({ role: 'worker', blockstore: store })
    const file = pseudoRandomBytes(1024 * 1024 + 77, 11)
    const cid = await unixfs(liar.helia).addBytes(file)
    assert.deepEqual(await unixfs(honest.helia).addBytes(file), cid)
    // and a file only the liar holds
    const onlyLiar = await unixfs(liar.helia).addBytes(pseudoRandomBytes(64 * 1024, 12))
    store.lying = true
    await victim.ipfsSwarmConnect(liar.getMultiaddrs()[0]!.toString())
    await victim.ipfsSwarmConnect(honest.getMultiaddrs()[0]!.toString())

    // the liar is asked first
    const got = await integration.router.retrieveContent(cid, {
      preferredPeers: [liar.peerId],
      timeout: 30_000
    })
    assert.equal(sha(got), sha(file), 'the right bytes, from the honest peer')
    assert.ok(store.reads >= 1, 'the liar was asked and answered')

    const discovery = integration.discovery
    assert.ok(discovery.reputation.isFlagged(liar.peerId), 'the liar is flagged')
    assert.ok(discovery.backoff.level(liar.peerId) >= 1, 'the liar is backed off')
    assert.ok(discovery.getMetrics().corruptBlocks >= 1)
    assert.ok(
      discovery.reputation.score(liar.peerId) < discovery.reputation.score(honest.peerId),
      'the liar ranks below the honest peer'
    )

    // nothing bad stored: every block verifies, and no block under a corrupted CID exists
    await verifyEveryBlock(victim.repo.blockstore)
    for (const { cid: c, bytes } of await blocksOf(honest)) {
      const bad = await corruptedCid(c, bytes)
      assert.equal(await victim.repo.blockstore.has(bad), false, `no corrupted block ${bad} stored`)
      // and nothing bad can be announced: only blocks held are
      await assert.rejects(integration.router.announceContent(bad), { name: 'NotFoundError' })
    }

    // Helia's own bitswap path, for content only the liar has: no bytes, a timeout, nothing stored
    const lonely = await localKit('leecher', dir.path)
    extraKits.push(lonely)
    await lonely.ipfsSwarmConnect(liar.getMultiaddrs()[0]!.toString())
    await assert.rejects(lonely.ipfsCat(onlyLiar, { signal: AbortSignal.timeout(3_000) }), {
      name: 'TimeoutError'
    })
    assert.deepEqual(await verifyEveryBlock(lonely.repo.blockstore), [], 'the lonely leecher stored nothing')

    await victimStillServes(101)
  })

  it('blocks nobody asked for: never stored; a peer we asked that sends them is flagged', async () => {
    const attacker = await startPeer({ role: 'worker' })
    await attacker.connect(victim.peer.getMultiaddrs()[0]!)
    // 1. out of the blue
    const junk = await randomBlocks(50, 5000)
    const stream = await openBitswapStream(attacker, victim.peer)
    await write(stream, frame(encodeMessage({ blocks: junk.map((j) => j.block) })))
    await stream.close()
    await new Promise((resolve) => setTimeout(resolve, 500))
    for (const { cid } of junk)
      assert.equal(await victim.repo.blockstore.has(cid), false, 'unsolicited block not stored')

    // 2. in answer to a want: whenever the victim asks the attacker for anything, it answers
    // with blocks of other CIDs
    const more = await randomBlocks(20, 7000)
    const network = bitswapOf(attacker.helia).bitswap.network
    assert.ok(network != null)
    let answered = 0
    network.addEventListener('bitswap:message', (evt) => {
      if (
        !evt.detail.peer.equals(victim.peer.peerId) ||
        (evt.detail.message.wantlist?.entries?.length ?? 0) === 0
      )
        return
      answered++
      void openBitswapStream(attacker, victim.peer)
        .then(async (s) => {
          await write(s, frame(encodeMessage({ blocks: more.map((j) => j.block) })))
          await s.close()
        })
        .catch(() => {})
    })
    const bytes = pseudoRandomBytes(300 * 1024, 13)
    const cid = await unixfs(honest.helia).addBytes(bytes)
    await victim.ipfsSwarmConnect(honest.getMultiaddrs()[0]!.toString())
    const got = await integration.router.retrieveContent(cid, {
      preferredPeers: [attacker.peerId],
      timeout: 30_000
    })
    assert.equal(sha(got), sha(bytes))
    await waitFor(
      () => integration.discovery.reputation.isFlagged(attacker.peerId),
      'the attacker to be flagged',
      5_000
    )
    assert.ok(answered >= 1)
    for (const { cid: c } of [...junk, ...more]) {
      assert.equal(await victim.repo.blockstore.has(c), false, 'unrequested block not stored')
    }
    await verifyEveryBlock(victim.repo.blockstore)
    await victimStillServes(102)
  })

  it(`a frame over ${BITSWAP_MAX_MESSAGE_BYTES} bytes: the stream is reset, the sender disconnected and refused`, async () => {
    const attacker = await startPeer({ role: 'leecher' })
    await attacker.connect(victim.peer.getMultiaddrs()[0]!)
    const before = victim.peer.bitswapGuard.getStats().oversized
    const stream = await openBitswapStream(attacker, victim.peer)
    // the length prefix says one byte more than the limit; then some of the bytes
    await write(stream, varint(BITSWAP_MAX_MESSAGE_BYTES + 1)).catch(() => {})
    await write(stream, new Uint8Array(64 * 1024)).catch(() => {})
    await waitFor(
      () => attacker.host.getConnections(victim.peer.peerId).length === 0,
      'the victim to drop the connection',
      5_000
    )
    assert.equal(victim.peer.bitswapGuard.getStats().oversized, before + 1)
    assert.ok(victim.peer.bitswapGuard.isBanned(attacker.peerId))
    await assertRefused(attacker, victim.peer)
    assert.ok(
      integration.discovery.reputation.score(attacker.peerId) < 0.5,
      'its reputation is below an unknown peer'
    )
    await victimStillServes(103)
  })

  it(`a want-list flood (4 MiB frames, ${FLOOD_WANTS} wants each): cut off within one frame past its budget, banned, and the node keeps serving others`, async () => {
    const frames = Array.from({ length: 12 }, (_, m) => wantFloodFrame(FLOOD_WANTS, m))
    assert.ok(frames[0]!.byteLength < BITSWAP_MAX_MESSAGE_BYTES, 'each frame is within the size limit')
    const attacker = await startPeer({ role: 'leecher' })
    await attacker.connect(victim.peer.getMultiaddrs()[0]!)
    const guard = victim.peer.bitswapGuard
    const floodsBefore = guard.getStats().floods
    // every message from the attacker that Helia's network decodes, charged as the guard charges
    // it; this listener runs after the guard's, so `accepted` ends with the message that crossed
    // the budget, and `afterBan` counts what was decoded from the attacker once it was banned
    let accepted = 0
    let acceptedMessages = 0
    let afterBan = 0
    let banned = false
    const network = bitswapOf(victim.peer.helia).bitswap.network
    assert.ok(network != null)
    const onMessage = (evt: CustomEvent<InboundBitswapMessage>): void => {
      if (!evt.detail.peer.equals(attacker.peerId)) return
      if (banned) {
        afterBan++
        return
      }
      const { message } = evt.detail
      accepted +=
        1 +
        (message.wantlist?.entries?.length ?? 0) +
        (message.blocks?.length ?? 0) +
        (message.blockPresences?.length ?? 0)
      acceptedMessages++
      banned = guard.isBanned(attacker.peerId)
    }
    network.addEventListener('bitswap:message', onMessage)
    try {
      const stream = await openBitswapStream(attacker, victim.peer)
      const flood = (async () => {
        for (const f of frames) await write(stream, f, AbortSignal.timeout(30_000))
      })().catch(() => {})
      // a bystander reads fresh content from the victim meanwhile
      const serving = victimStillServes(104, 60_000)
      await waitFor(
        () => attacker.host.getConnections(victim.peer.peerId).length === 0,
        'the victim to drop the flooder',
        30_000
      )
      await serving
      await flood
    } finally {
      network.removeEventListener('bitswap:message', onMessage)
    }
    console.log(
      `flooder: ${acceptedMessages} messages (${accepted} units) accepted up to the cut-off, ${afterBan} decoded after it`
    )
    assert.ok(banned, 'the flooder was banned while its messages were arriving')
    assert.ok(
      accepted <= BITSWAP_PEER_BUDGET + FLOOD_WANTS + 1,
      `at most one frame past the budget accepted (${accepted} units in ${acceptedMessages} messages)`
    )
    assert.equal(guard.getStats().floods, floodsBefore + 1, 'counted as one flood')
    assert.ok(guard.isBanned(attacker.peerId))
    await assertRefused(attacker, victim.peer)
    assert.ok(integration.discovery.reputation.score(attacker.peerId) < 0.5)
    await victimStillServes(105)
  })
})

/**
 * The attacker cannot connect again (the victim refuses it once the handshake names it: no
 * connection from it opens on the victim's side, and its own side is closed), and the victim
 * will not dial it.
 */
async function assertRefused(attacker: IPFSLibp2pPeer, victim: IPFSLibp2pPeer): Promise<void> {
  let opened = 0
  const onOpen = (evt: CustomEvent<Connection>): void => {
    if (evt.detail.remotePeer.equals(attacker.peerId)) opened++
  }
  victim.host.addEventListener('connection:open', onOpen)
  try {
    // its side may finish its handshake before the victim's refusal arrives
    await attacker.connect(victim.getMultiaddrs()[0]!).catch(() => {})
    await waitFor(
      () => attacker.host.getConnections(victim.peerId).length === 0,
      'the refused connection to close',
      15_000
    )
    await assert.rejects(
      attacker.host.services.ping.ping(victim.peerId, { signal: AbortSignal.timeout(10_000) }),
      'no protocol can be used'
    )
    await assert.rejects(victim.connect(attacker.getMultiaddrs()[0]!), (err: Error & { cause?: Error }) => {
      assert.equal(err.cause?.name, 'DialDeniedError', err.message)
      return true
    })
  } finally {
    victim.host.removeEventListener('connection:open', onOpen)
  }
  assert.equal(opened, 0, 'no connection from the banned peer opened on the victim')
  assert.equal(victim.host.getConnections(attacker.peerId).length, 0)
  assert.equal(attacker.host.getConnections(victim.peerId).length, 0, 'the banned peer stays disconnected')
}
