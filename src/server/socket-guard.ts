// Limits every websocket (/sync and /device) lives under: a bounded send buffer (a client that stops
// reading is closed with 4408) and the token's lifetime (the socket closes with 4401 when it expires).

import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { CloseCode, type CloseCodeValue } from '../protocol/codes.ts'

/** A paced sender (a device cycle) waiting for the socket to drain closes it as a slow consumer when
 * its backlog has not shrunk for this long. */
export const STALL_MS = 30_000

/** setTimeout's longest delay; a token lasting longer is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

export interface SocketGuardOptions {
  /** the most the socket may have unsent when there is more to send (README, MAX_SEND_BUFFER_BYTES) */
  readonly maxSendBufferBytes: number
  /** when the socket's token expires (ms since the epoch), if it does */
  readonly expiresAt: number | undefined
  /** told when the guard itself closes the socket (slow consumer, token expired), before the close
   * handshake ends: whatever serves the socket can stop now */
  readonly closing?: () => void
}

export interface SocketGuard {
  /** Sends `bytes`; a socket whose backlog already exceeds the limit is closed with 4408 instead. */
  send (bytes: Uint8Array): void
  close (code: CloseCodeValue, reason: string): void
  /** Closes the socket with 4401 as if its token had expired (its sign-in ended), telling `closing` first. */
  expire (reason: string): void
  /** While the backlog is above half the limit: resolves once the socket has drained (or closed). */
  drained (): Promise<void> | undefined
  /** Clears the timers; call when the socket has closed. */
  dispose (): void
}

const OPEN = 1

/** The TCP socket under a ws WebSocket (ws keeps it as `_socket`). */
const tcpOf = (ws: WebSocket): Partial<Pick<Duplex, 'cork' | 'uncork'>> & NodeJS.EventEmitter | undefined => (ws as unknown as { _socket?: Duplex })._socket

export const guardSocket = (ws: WebSocket, opts: SocketGuardOptions): SocketGuard => {
  const { maxSendBufferBytes: max } = opts
  let expiry: ReturnType<typeof setTimeout> | undefined
  const close = (code: CloseCodeValue, reason: string): void => {
    if (ws.readyState <= OPEN) ws.close(code, reason)
  }
  const closeOwn = (code: CloseCodeValue, reason: string): void => {
    if (ws.readyState > OPEN) return
    close(code, reason)
    opts.closing?.()
  }
  const armExpiry = (at: number): void => {
    const left = at - Date.now()
    if (left <= 0) { closeOwn(CloseCode.tokenExpired, 'token expired, reconnect with a fresh one'); return }
    expiry = setTimeout(() => armExpiry(at), Math.min(left, MAX_TIMER_MS))
  }
  if (opts.expiresAt !== undefined) armExpiry(opts.expiresAt)
  // Everything sent to the socket in one synchronous run (a batch published to its members, a device
  // cycle's frames) leaves in one write: the socket is corked at the first send and uncorked on the next
  // tick, so a batch of n updates costs one system call per member instead of n.
  const tcp = tcpOf(ws)
  const corkable = typeof tcp?.cork === 'function' && typeof tcp.uncork === 'function'
  let corked = false
  const uncork = (): void => { corked = false; tcp?.uncork?.() }

  return {
    send (bytes) {
      if (ws.readyState !== OPEN) return
      // Checked before sending, so one message larger than the limit still reaches a client that reads.
      if (ws.bufferedAmount > max) { closeOwn(CloseCode.slowConsumer, 'send buffer full: the client is not reading'); return }
      if (!corked && corkable) { corked = true; tcp?.cork?.(); process.nextTick(uncork) }
      ws.send(bytes)
    },
    close,
    expire (reason) { closeOwn(CloseCode.tokenExpired, reason) },
    drained () {
      if (ws.readyState !== OPEN || ws.bufferedAmount <= max / 2) return undefined
      // The net.Socket under ws says when its write buffer has emptied.
      const socket = tcp
      return new Promise<void>(resolve => {
        let last = ws.bufferedAmount
        const stall = setInterval(() => {
          const now = ws.bufferedAmount
          if (now >= last) { closeOwn(CloseCode.slowConsumer, 'send buffer full: the client is not reading'); done() }
          last = now
        }, STALL_MS)
        const check = (): void => { if (ws.readyState !== OPEN || ws.bufferedAmount <= max / 2) done() }
        const done = (): void => {
          clearInterval(stall)
          socket?.off('drain', check)
          ws.off('close', done)
          resolve()
        }
        socket?.on('drain', check)
        ws.on('close', done)
      })
    },
    dispose () {
      if (expiry !== undefined) clearTimeout(expiry)
    }
  }
}
