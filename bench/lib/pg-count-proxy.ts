// A TCP proxy in front of PostgreSQL that counts statements and round trips (bench/cluster with
// COUNT_PG=1). Statements: frontend messages that end a command — Sync (extended query protocol) and
// Query (simple protocol). Round trips: times a client sends after PostgreSQL has answered it (statements
// sent together, pipelined, count once). Run as a child process (its CPU is not the benchmark's): prints
// "pg-count-proxy <port>" once listening; on SIGUSR2 it prints
// "pg-count <n> <statements> <round trips> <bytes to PostgreSQL> <bytes from PostgreSQL>" (n: how many
// it printed).
// Usage: tsx bench/lib/pg-count-proxy.ts <pg host> <pg port>

import { createServer, connect, type Socket } from 'node:net'

const [host, port] = [process.argv[2] ?? '127.0.0.1', Number(process.argv[3] ?? 5432)]
let statements = 0
let trips = 0
let bytesUp = 0
let bytesDown = 0

/** Counts Sync ('S') and Query ('Q') messages in one connection's frontend stream. */
const counter = (): ((b: Buffer) => void) => {
  let started = false // the startup message has no type byte
  let pending: Buffer = Buffer.alloc(0)
  return b => {
    pending = pending.length === 0 ? b : Buffer.concat([pending, b])
    for (;;) {
      if (!started) {
        if (pending.length < 4) return
        const len = pending.readInt32BE(0)
        if (pending.length < len) return
        const code = pending.readInt32BE(4)
        pending = pending.subarray(len)
        // SSLRequest / GSSENCRequest are answered with one byte and followed by another startup message
        if (code !== 80877103 && code !== 80877104) started = true
        continue
      }
      if (pending.length < 5) return
      const len = pending.readInt32BE(1)
      if (pending.length < 1 + len) return
      const type = pending[0]
      if (type === 0x53 || type === 0x51) statements++
      pending = pending.subarray(1 + len)
    }
  }
}

const server = createServer((client: Socket) => {
  const upstream = connect(port, host)
  const count = counter()
  client.setNoDelay(true)
  upstream.setNoDelay(true)
  let answered = true
  client.on('data', b => { bytesUp += b.length; if (answered) { trips++; answered = false } count(b); upstream.write(b) })
  upstream.on('data', b => { bytesDown += b.length; answered = true; client.write(b) })
  const end = (): void => { client.destroy(); upstream.destroy() }
  client.on('error', end).on('close', end)
  upstream.on('error', end).on('close', end)
})
server.listen(0, '127.0.0.1', () => {
  console.log(`pg-count-proxy ${(server.address() as { port: number }).port}`)
})
let asked = 0
process.on('SIGUSR2', () => console.log(`pg-count ${++asked} ${statements} ${trips} ${bytesUp} ${bytesDown}`))
