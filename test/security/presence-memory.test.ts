// What one principal can make the server keep is bounded (DESIGN, "The trust boundary"). Presence keeps
// the clock of every awareness client id it has seen (so that a stale state another client echoes back
// later is not taken as new), and before, it kept them for as long as the record stayed loaded: a client
// that reconnected over and over, each time introducing 4 fresh awareness client ids (the most one
// connection may), grew the record's presence without bound (about 100 bytes an id: a gigabyte in an hour
// of reconnecting) while one socket of its own kept the record loaded. The record's Presence is driven here
// as the room drives it, one connection after another.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { Presence } from '../../src/server/presence.ts'

interface Peer { principal: string, presence (u: Uint8Array): void, close (code: number, reason: string): void }

const update = (entries: readonly { client: number, clock: number, state: unknown }[]): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const x of entries) { encoding.writeVarUint(e, x.client); encoding.writeVarUint(e, x.clock); encoding.writeVarString(e, JSON.stringify(x.state)) }
  return encoding.toUint8Array(e)
}

describe('presence of one record', () => {
  it('keeps a bounded number of departed awareness client ids, however often a client reconnects with fresh ones', () => {
    const peers = new Set<Peer>()
    const presence = new Presence<Peer>(new Y.Doc(), () => peers, { identity: () => undefined, boundTo: () => undefined })
    try {
      const stayer: Peer = { principal: 'u-alice', presence: () => {}, close: () => { throw new Error('the peer that stays is not closed') } }
      peers.add(stayer)
      presence.receive(stayer, update([{ client: 1, clock: 1, state: { cursor: 1 } }]))
      let next = 1000
      for (let i = 0; i < 5000; i++) {
        const peer: Peer = { principal: 'u-alice', presence: () => {}, close: () => { throw new Error('a reconnecting peer within the limits is not closed') } }
        peers.add(peer)
        presence.receive(peer, update([0, 1, 2, 3].map(() => ({ client: next++, clock: 1, state: { cursor: i } }))))
        peers.delete(peer)
        presence.leave(peer)
      }
      expect(presence.awareness.meta.size).toBeLessThanOrEqual(1002) // 1000 departed, the peer that stays, the server's own
      // The peer that stayed keeps its state.
      expect(presence.awareness.getStates().get(1)).toMatchObject({ cursor: 1 })
    } finally {
      presence.destroy()
    }
  })
})
