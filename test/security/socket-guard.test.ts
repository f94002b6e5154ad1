// The per-socket limits on a stand-in socket: the send-buffer rule, pacing (drained) and its stall
// limit, token expiry timers (fake timers, so nothing waits on the clock).

import { afterEach, describe, expect, it, vi } from 'vitest'
import { EventEmitter } from 'node:events'
import type { WebSocket } from 'ws'
import { guardSocket, STALL_MS } from '../../src/server/socket-guard.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { ConfigError, parseConfig } from '../../src/server/config.ts'

class FakeSocket extends EventEmitter {
  readyState = 1
  bufferedAmount = 0
  readonly sent: Uint8Array[] = []
  readonly closes: number[] = []
  readonly _socket = new EventEmitter()
  send (b: Uint8Array): void { this.sent.push(b); this.bufferedAmount += b.length }
  close (code: number): void { this.closes.push(code); this.readyState = 2 }
  /** the client takes `n` bytes */
  take (n: number): void {
    this.bufferedAmount = Math.max(0, this.bufferedAmount - n)
    if (this.bufferedAmount === 0) this._socket.emit('drain')
  }
}

const guard = (ws: FakeSocket, max: number, expiresAt?: number, closing?: () => void) =>
  guardSocket(ws as unknown as WebSocket, { maxSendBufferBytes: max, expiresAt, closing })

afterEach(() => { vi.useRealTimers() })

describe('socket guard', () => {
  it('sends while the backlog is within the limit, then closes with 4408 instead of queuing more', () => {
    const ws = new FakeSocket()
    let closing = 0
    const g = guard(ws, 1000, undefined, () => closing++)
    g.send(new Uint8Array(1500)) // one message larger than the limit reaches an empty socket
    expect(ws.sent).toHaveLength(1)
    g.send(new Uint8Array(10))
    expect(ws.sent).toHaveLength(1)
    expect(ws.closes).toEqual([CloseCode.slowConsumer])
    g.send(new Uint8Array(10))
    expect(ws.closes).toEqual([CloseCode.slowConsumer])
    expect(closing).toBe(1)
  })

  it('paces: drained() waits while the backlog is above half the limit and resolves when it drains', async () => {
    const ws = new FakeSocket()
    const g = guard(ws, 1000)
    g.send(new Uint8Array(400))
    expect(g.drained()).toBeUndefined()
    g.send(new Uint8Array(400))
    const waiting = g.drained()
    expect(waiting).toBeInstanceOf(Promise)
    let done = false
    void waiting!.then(() => { done = true })
    ws.take(300)
    await Promise.resolve()
    expect(done).toBe(false)
    ws.take(500)
    await waiting
    expect(ws.closes).toEqual([])
  })

  it('closes a paced socket whose backlog does not shrink for STALL_MS with 4408', async () => {
    vi.useFakeTimers()
    const ws = new FakeSocket()
    const g = guard(ws, 1000)
    g.send(new Uint8Array(900))
    const waiting = g.drained()!
    ws.take(100) // some progress: the first interval passes
    vi.advanceTimersByTime(STALL_MS)
    expect(ws.closes).toEqual([])
    vi.advanceTimersByTime(STALL_MS) // none since
    await waiting
    expect(ws.closes).toEqual([CloseCode.slowConsumer])
  })

  it('closes with 4401 when the token expires, also past setTimeout\'s range, and not after dispose', () => {
    vi.useFakeTimers()
    const now = Date.now()
    const ws = new FakeSocket()
    guard(ws, 1000, now + 5000)
    vi.advanceTimersByTime(4999)
    expect(ws.closes).toEqual([])
    vi.advanceTimersByTime(1)
    expect(ws.closes).toEqual([CloseCode.tokenExpired])

    const far = new FakeSocket()
    guard(far, 1000, now + 40 * 86_400_000) // 40 days
    vi.advanceTimersByTime(30 * 86_400_000)
    expect(far.closes).toEqual([])
    vi.advanceTimersByTime(10 * 86_400_000)
    expect(far.closes).toEqual([CloseCode.tokenExpired])

    const gone = new FakeSocket()
    guard(gone, 1000, Date.now() + 1000).dispose()
    vi.advanceTimersByTime(2000)
    expect(gone.closes).toEqual([])

    const expired = new FakeSocket()
    guard(expired, 1000, Date.now() - 1)
    expect(expired.closes).toEqual([CloseCode.tokenExpired])
  })

  it('reads MAX_SEND_BUFFER_BYTES from the environment (default 8 MiB), refusing bad values by name', () => {
    expect(parseConfig({}).maxSendBufferBytes).toBe(8 * 1024 * 1024)
    expect(parseConfig({ MAX_SEND_BUFFER_BYTES: '65536' }).maxSendBufferBytes).toBe(65536)
    for (const bad of ['100', '1.5', 'lots']) expect(() => parseConfig({ MAX_SEND_BUFFER_BYTES: bad })).toThrow(ConfigError)
    expect(() => parseConfig({ MAX_SEND_BUFFER_BYTES: '100' })).toThrow(/MAX_SEND_BUFFER_BYTES/)
  })
})
