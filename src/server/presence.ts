// Presence of one record (y-protocols awareness): relayed to every peer, and each peer may set or
// remove only the awareness client ids it introduced (or that nobody holds).

import * as awarenessProtocol from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import type * as Y from 'yjs'
import { encodeAwareness } from './messages.ts'

interface PresencePeer { send (message: Uint8Array): void }

export class Presence<P extends PresencePeer> {
  readonly awareness: awarenessProtocol.Awareness
  /** awareness client ids each peer set */
  private readonly owners = new Map<P, Set<number>>()

  constructor (doc: Y.Doc, peers: () => Iterable<P>) {
    this.awareness = new awarenessProtocol.Awareness(doc)
    this.awareness.setLocalState(null)
    this.awareness.on('update', ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }) => {
      const message = encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...added, ...updated, ...removed]))
      for (const p of peers()) p.send(message)
    })
  }

  /** Sends a peer every current presence state (nothing when there is none). */
  sendAll (peer: P, evenIfEmpty = false): void {
    const states = this.awareness.getStates()
    if (states.size > 0 || evenIfEmpty) peer.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...states.keys()])))
  }

  /** A peer left: its presence goes. */
  leave (peer: P): void {
    const owned = this.owners.get(peer)
    this.owners.delete(peer)
    if (owned !== undefined && owned.size > 0) awarenessProtocol.removeAwarenessStates(this.awareness, [...owned], 'leave')
  }

  /** Applies the entries of an awareness update that `peer` may write. Throws on malformed bytes. */
  receive (peer: P, update: Uint8Array): void {
    // Decode everything first; keep only entries for client ids this peer owns or that nobody owns.
    const d = decoding.createDecoder(update)
    const n = decoding.readVarUint(d)
    const entries: { client: number, clock: number, state: string }[] = []
    for (let i = 0; i < n; i++) {
      const client = decoding.readVarUint(d)
      const clock = decoding.readVarUint(d)
      const state = decoding.readVarString(d)
      JSON.parse(state) // throws on malformed presence
      entries.push({ client, clock, state })
    }
    let owned = this.owners.get(peer)
    if (owned === undefined) { owned = new Set(); this.owners.set(peer, owned) }
    const allowed = entries.filter(e => {
      if (owned.has(e.client)) return true
      for (const [other, set] of this.owners) if (other !== peer && set.has(e.client)) return false
      owned.add(e.client)
      return true
    })
    if (allowed.length === 0) return
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, allowed.length)
    for (const a of allowed) {
      encoding.writeVarUint(e, a.client)
      encoding.writeVarUint(e, a.clock)
      encoding.writeVarString(e, a.state)
    }
    awarenessProtocol.applyAwarenessUpdate(this.awareness, encoding.toUint8Array(e), peer)
  }

  destroy (): void {
    this.awareness.destroy()
  }
}
