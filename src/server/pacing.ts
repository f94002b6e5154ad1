// Long work done in slices (device sync cycles) shares the event loop fairly: `pace()` resolves in a
// later turn of the loop, and once the slices run in one turn add up to the budget, the rest wait for the
// next turn. However many cycles run at once, sockets and timers wait about one budget, not their sum.

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

/** How long paced slices may run in one turn of the event loop, together (ms). */
export const TURN_BUDGET_MS = 10

/** When the current turn's first slice began (-1: none this turn). */
let turnStart = -1

const tick = (resolve: () => void): void => {
  const now = performance.now()
  if (turnStart < 0) {
    turnStart = now
    // Queued now, it runs first in the next turn's check phase: that turn starts a budget of its own.
    setImmediate(() => { turnStart = -1 })
  }
  if (now - turnStart > TURN_BUDGET_MS) { setImmediate(tick, resolve); return }
  resolve()
}

/**
 * Resolves when the caller may run its next slice of work (keep a slice to a few milliseconds). Slices
 * resume in the order they asked: each gets a turn's budget eventually.
 */
export const pace = (): Promise<void> => new Promise(resolve => { setImmediate(tick, resolve) })

/** A pacer for one piece of work: `due()` says whether its current slice has run `sliceMs` or more. */
export const slicer = (sliceMs = 4): { due: () => boolean, pace: () => Promise<void> } => {
  let since = performance.now()
  return {
    due: () => performance.now() - since >= sliceMs,
    pace: async () => { await pace(); since = performance.now() }
  }
}

/** What the websocket adapter (websockets.ts) takes of a server: its 'upgrade' listener. */
export interface UpgradeSource {
  on (event: 'upgrade', listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown
}

/**
 * A server whose websocket upgrades are handled a paced slice at a time: a morning's devices connect
 * together, and a hundred upgrades (token check, handshake, session) in one turn would hold the loop
 * for all of them. Node takes its own error handler off a socket it hands to 'upgrade', and the token
 * check is asynchronous: a client that resets its connection meanwhile (or after a refusal) made an
 * unhandled 'error' event that ended the process. Such a socket is dropped, whenever it fails.
 */
export const pacedUpgrades = (server: UpgradeSource): UpgradeSource => ({
  on: (event, listener) => server.on(event, (request, socket, head) => {
    socket.on('error', () => { socket.destroy() })
    void pace().then(() => { if (!socket.destroyed) listener(request, socket, head) })
  })
})
