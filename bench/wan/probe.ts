/**
 * Measuring a testbed's links from inside its hosts, with nothing but Node: round-trip time
 * over TCP, loss of UDP datagrams, bulk TCP throughput. Run inside a host
 * (`ip netns exec <ns> node bench/wan/probe.ts …`); each mode prints one JSON line.
 *
 * - `serve <address>`: a TCP and a UDP socket on the same port of `address`; prints
 *   `{"ready":true,"port":N}` and serves until SIGTERM or the end of its standard input.
 *   TCP lines: `ping` → `pong`; `count` → UDP datagrams received so far; `bulk <bytes>` → that
 *   many bytes, then the connection is closed; `whoami` → the address and port the connection
 *   comes from, as the server sees it (a host behind a NAT router: the router's).
 * - `rtt <address> <port> <n>`: n pings in a row on one connection (Nagle off) →
 *   `{"samplesMs":[…]}`.
 * - `udp <address> <port> <n>`: n datagrams, then the server's count → `{"sent":n,"received":m}`.
 * - `bulk <address> <port> <bytes>`: the server sends `bytes` → `{"bytes","ms","mbit","steadyMbit"}`,
 *   steadyMbit being the rate of the last three quarters (past TCP's slow start).
 * - `bulk-all '<json>'`: several `bulk`s at once, one connection each (`[{"address","port","bytes"}]`,
 *   all connected before any is asked) → `{"bytes","ms","mbit","streams":[{"address","bytes","ms"}]}`,
 *   `ms` from the requests to the last byte of the last stream.
 * - `connect <address> <port> <timeoutMs>`: whether a TCP connection can be opened (and what the
 *   server sees it come from) → `{"connected":true,"seenAs":"a.b.c.d:port"}` or
 *   `{"connected":false,"error":"ECONNREFUSED"|"ENETUNREACH"|"ETIMEDOUT"|…}`.
 * - `punch <bindAddress> <port> <peerAddress> <peerPort> <ms>`: a UDP hole punch, run on two hosts
 *   at once: a datagram every 20 ms from `bindAddress:port` to the peer for `ms`, counting those
 *   that come back → `{"sent","received","from":["a.b.c.d:port",…]}`.
 *
 * @packageDocumentation
 */

import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

/** Datagrams sent before the sender sleeps 1 ms: a few thousand a second, so no queue on the way overflows. */
const UDP_BURST = 4
/** Wait after the last datagram before asking the count, ms (longer than any testbed RTT). */
const UDP_SETTLE_MS = 1500
const CHUNK = new Uint8Array(64 * 1024).fill(0x5a)

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

async function serve(address: string): Promise<void> {
  let datagrams = 0
  const server = createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('error', () => socket.destroy())
    createInterface({ input: socket }).on('line', (line) => {
      const [cmd, arg] = line.split(' ')
      if (cmd === 'ping') socket.write('pong\n')
      else if (cmd === 'count') socket.write(`${datagrams}\n`)
      else if (cmd === 'bulk') void sendBulk(socket, Number(arg))
      else if (cmd === 'whoami') socket.write(`${socket.remoteAddress}:${socket.remotePort}\n`)
      else socket.destroy()
    })
  })
  server.listen(0, address)
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const udp = createSocket('udp4')
  udp.on('message', () => {
    datagrams++
  })
  udp.bind(port, address)
  await once(udp, 'listening')
  const stop = (): void => {
    server.close()
    udp.close()
    process.exit(0)
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  process.stdin.on('end', stop)
  process.stdin.resume()
  print({ ready: true, port })
}

async function sendBulk(socket: Socket, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.byteLength) {
    const part = bytes - sent < CHUNK.byteLength ? CHUNK.subarray(0, bytes - sent) : CHUNK
    if (!socket.write(part)) await once(socket, 'drain')
  }
  socket.end()
}

async function open(
  address: string,
  port: number
): Promise<{ socket: Socket; lines: AsyncIterator<string> }> {
  const socket = connect({ host: address, port, noDelay: true })
  await once(socket, 'connect')
  return { socket, lines: createInterface({ input: socket })[Symbol.asyncIterator]() }
}

async function rtt(address: string, port: number, n: number): Promise<void> {
  const { socket, lines } = await open(address, port)
  const samplesMs: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    socket.write('ping\n')
    await lines.next()
    samplesMs.push(performance.now() - t)
  }
  socket.destroy()
  print({ samplesMs })
}

async function udp(address: string, port: number, n: number): Promise<void> {
  const sock = createSocket('udp4')
  const payload = new Uint8Array(64)
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) =>
      sock.send(payload, port, address, (err) => (err ? reject(err) : resolve()))
    )
    if (i % UDP_BURST === UDP_BURST - 1) await new Promise((r) => setTimeout(r, 1))
  }
  sock.close()
  await new Promise((r) => setTimeout(r, UDP_SETTLE_MS))
  const { socket, lines } = await open(address, port)
  socket.write('count\n')
  const received = Number((await lines.next()).value)
  socket.destroy()
  print({ sent: n, received })
}

async function bulk(address: string, port: number, bytes: number): Promise<void> {
  const { socket } = await open(address, port)
  const start = performance.now()
  let got = 0
  let quarter: { at: number; bytes: number } | undefined
  socket.on('data', (d: Buffer) => {
    got += d.byteLength
    if (quarter == null && got >= bytes / 4) quarter = { at: performance.now(), bytes: got }
  })
  socket.write(`bulk ${bytes}\n`)
  await once(socket, 'end')
  const end = performance.now()
  socket.destroy()
  const ms = end - start
  const q = quarter ?? { at: start, bytes: 0 }
  print({
    bytes: got,
    ms,
    mbit: (got * 8) / (ms * 1000),
    steadyMbit: ((got - q.bytes) * 8) / ((end - q.at) * 1000)
  })
}

/** One stream of {@link bulkAll}. */
export interface BulkStream {
  address: string
  port: number
  bytes: number
}

async function bulkAll(streams: BulkStream[]): Promise<void> {
  const conns = await Promise.all(streams.map((s) => open(s.address, s.port)))
  const start = performance.now()
  const done = await Promise.all(
    conns.map(async ({ socket }, i) => {
      let got = 0
      socket.on('data', (d: Buffer) => {
        got += d.byteLength
      })
      socket.write(`bulk ${streams[i]!.bytes}\n`)
      await once(socket, 'end')
      const ms = performance.now() - start
      socket.destroy()
      return { address: streams[i]!.address, bytes: got, ms }
    })
  )
  const ms = performance.now() - start
  const bytes = done.reduce((sum, d) => sum + d.bytes, 0)
  print({ bytes, ms, mbit: (bytes * 8) / (ms * 1000), streams: done })
}

async function tryConnect(address: string, port: number, timeoutMs: number): Promise<void> {
  const socket = connect({ host: address, port, noDelay: true })
  const timer = setTimeout(
    () => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
    timeoutMs
  )
  try {
    await once(socket, 'connect')
    const lines = createInterface({ input: socket })[Symbol.asyncIterator]()
    socket.write('whoami\n')
    const seenAs = String((await lines.next()).value)
    print({ connected: true, seenAs })
  } catch (err) {
    print({ connected: false, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message })
  } finally {
    clearTimeout(timer)
    socket.destroy()
  }
}

/** Datagrams of {@link punch}: one every this many ms. */
const PUNCH_EVERY_MS = 20

async function punch(bind: string, port: number, peer: string, peerPort: number, ms: number): Promise<void> {
  const sock = createSocket('udp4')
  const from = new Set<string>()
  let received = 0
  sock.on('message', (_msg, rinfo) => {
    received++
    from.add(`${rinfo.address}:${rinfo.port}`)
  })
  sock.bind(port, bind)
  await once(sock, 'listening')
  let sent = 0
  const end = performance.now() + ms
  while (performance.now() < end) {
    sock.send(`punch ${sent++}`, peerPort, peer)
    await new Promise((r) => setTimeout(r, PUNCH_EVERY_MS))
  }
  sock.close()
  print({ sent, received, from: [...from] })
}

const [mode, address, port, n, ...more] = process.argv.slice(2)
if (mode === 'serve' && address != null) await serve(address)
else if (mode === 'rtt' && address != null) await rtt(address, Number(port), Number(n))
else if (mode === 'udp' && address != null) await udp(address, Number(port), Number(n))
else if (mode === 'bulk' && address != null) await bulk(address, Number(port), Number(n))
else if (mode === 'bulk-all' && address != null) await bulkAll(JSON.parse(address) as BulkStream[])
else if (mode === 'connect' && address != null) await tryConnect(address, Number(port), Number(n))
else if (mode === 'punch' && address != null && n != null)
  await punch(address, Number(port), n, Number(more[0]), Number(more[1]))
else {
  process.stderr.write(
    "usage: probe.ts serve <address> | rtt|udp|bulk <address> <port> <n> | bulk-all '<json>' | connect <address> <port> <timeoutMs> | punch <bind> <port> <peer> <peerPort> <ms>\n"
  )
  process.exit(2)
}
