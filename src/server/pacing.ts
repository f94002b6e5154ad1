// Long work done in slices (device sync cycles) shares the event loop fairly: `pace()` resolves in a
// later turn of the loop, and once the slices run in one turn add up to the budget, the rest wait for the
// next turn. However many cycles run at once, sockets and timers wait about one budget, not their sum.

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

/** How long paced slices may run in one turn of the event loop, together (ms): a record's batches (live
 * edits, committed together once per turn) start within this much of a turn. */
export const TURN_BUDGET_MS = 10

/** Bulk work (sync cycles, sweeps, index loads) starts a slice only within this much of a turn (ms): a
 * morning's cycles fill every turn, and a slice begun late in one runs past the budget by its length. */
export const BULK_TURN_BUDGET_MS = 5

/**
 * How many turns in a row may run no paced slice while connections are being accepted. Node's libuv
 * accepts one connection per turn of the loop (libuv/libuv#3696): when a morning's devices connect
 * together, the rest wait in the kernel's queue a turn each, and so does anyone else's request behind
 * them (a hundred connections took one to two seconds to accept with full turns, /healthz waiting as
 * long). A turn that follows an accepted connection runs no paced slice, so the queue empties in turns
 * that cost only their I/O; past this many, one full turn runs, so a flood of connections cannot stop
 * paced work (the upgrades of those connections among it).
 */
export const MAX_ACCEPTING_TURNS = 128

/** When the current turn's first slice began (-1: none this turn). */
let turnStart = -1
/** Whether the current turn runs no paced slice (it follows an accepted connection). */
let accepting = false
/** Whether a connection was accepted since the current turn began; how many turns in a row ran none. */
let accepted = false
let acceptingTurns = 0

const tick = (resolve: () => void, budget: number): void => {
  const now = performance.now()
  if (turnStart < 0) {
    turnStart = now
    accepting = accepted && acceptingTurns < MAX_ACCEPTING_TURNS
    acceptingTurns = accepting ? acceptingTurns + 1 : 0
    accepted = false
    // Queued now, it runs first in the next turn's check phase: that turn starts a budget of its own.
    setImmediate(() => { turnStart = -1 })
  }
  if (accepting || now - turnStart > budget) { setImmediate(tick, resolve, budget); return }
  resolve()
}

/** Notes that the server accepted a connection (its 'connection' event): the next turn runs no paced slice. */
export const noteAccepted = (): void => { accepted = true }

/**
 * Resolves when the caller may run its next slice of work (keep a slice to a few milliseconds). Slices
 * resume in the order they asked: each gets a turn's budget eventually. `budget`: how far into a turn
 * the slice may start (bulk work by default; a record's batches take TURN_BUDGET_MS).
 */
export const pace = (budget = BULK_TURN_BUDGET_MS): Promise<void> => new Promise(resolve => { setImmediate(tick, resolve, budget) })

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
