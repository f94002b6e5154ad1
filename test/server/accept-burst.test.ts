// A burst of connections is not accepted a full turn of paced work at a time. Node's libuv accepts one
// connection per turn of the event loop (libuv/libuv#3696): with every turn's budget taken by paced work
// (a morning's sync cycles), a hundred connections waited a hundred turns in the kernel's queue, and a
// GET /healthz behind them waited as long. A turn after an accepted connection runs no paced slice, up to
// MAX_ACCEPTING_TURNS in a row, after which one full turn runs: paced work is never stopped for long.
// Counted in paced slices (what a turn of the loop runs), not in time.

import { connect, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { MAX_ACCEPTING_TURNS, pace } from '../../src/server/pacing.ts'
import { startServer } from '../security/support.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

/** Paced work that fills every turn's budget: `workers` loops of slices of `ms`, counted until stopped. */
const pacedWork = (workers: number, ms: number): { slices: () => number, stop: () => Promise<void> } => {
  let slices = 0
  let running = true
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      await pace()
      const end = performance.now() + ms
      while (performance.now() < end) { /* a slice's work */ }
      slices++
    }
  })
  return { slices: () => slices, stop: async () => { running = false; await Promise.all(loops) } }
}

/**
 * Opens `n` connections in one turn (the kernel completes their handshakes at once: they wait in the
 * accept queue), each asking GET /healthz; resolves with the paced slices that ran until every answer
 * came, and how many answers were 200.
 */
const burst = async (port: number, n: number, work: { slices: () => number }): Promise<{ slices: number, ok: number }> => {
  const before = work.slices()
  const answers = Array.from({ length: n }, () => new Promise<boolean>((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1')
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => { text += d })
    socket.once('end', () => resolve(text.startsWith('HTTP/1.1 200')))
    socket.once('error', reject)
    socket.end('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n')
  }))
  const ok = (await Promise.all(answers)).filter(Boolean).length
  return { slices: work.slices() - before, ok }
}

describe('a burst of connections while paced work fills the loop', () => {
  it('is accepted without a full turn of paced work per connection', async () => {
    const s = await startServer(cleanups)
    const work = pacedWork(4, 2)
    cleanups.push(() => work.stop())
    await new Promise(resolve => setTimeout(resolve, 50)) // (let the work fill its turns)
    const n = 50
    const { slices, ok } = await burst(s.port, n, work)
    expect(ok).toBe(n)
    // A turn's budget (10 ms) holds about five 2 ms slices: one full turn per accepted connection ran
    // about 5n slices before (measured: 250 and more); now the connections take fewer than one each.
    expect(slices).toBeLessThan(n)
  })

  it('still runs paced work when more connections come than the accepting turns allow', async () => {
    const s = await startServer(cleanups)
    const work = pacedWork(4, 2)
    cleanups.push(() => work.stop())
    await new Promise(resolve => setTimeout(resolve, 50))
    const n = MAX_ACCEPTING_TURNS * 2 + 20
    const { slices, ok } = await burst(s.port, n, work)
    expect(ok).toBe(n)
    // At least a full turn's slices ran between the accepting runs, far fewer than a turn per connection.
    expect(slices).toBeGreaterThan(0)
    expect(slices).toBeLessThan(n)
  })
})
