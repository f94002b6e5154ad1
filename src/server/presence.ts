// Presence of one record (y-protocols awareness): relayed to every peer. The server sets who each state
// belongs to (`user`, from the token); a peer may write only awareness client ids it introduced, that no
// other connection uses and that are not bound to another principal's writes; states, client ids per
// connection and presence queries are bounded (README, "Protocol").

import * as awarenessProtocol from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import type * as Y from 'yjs'
import type { User } from '../authz/org.ts'
import { CloseCode, type CloseCodeValue } from '../protocol/codes.ts'

export const PresenceLimit = {
  /** the largest presence state a client may send, in bytes of JSON */
  stateBytes: 8 * 1024,
  /** awareness client ids one connection may introduce */
  clientIds: 4,
  /** the longest `user.color` kept from a client */
  colorLength: 32,
  /** presence queries (message type 3): a burst of this many, then one per second */
  queryBurst: 10,
  queriesPerSecond: 1,
  /** awareness client ids of departed connections whose clocks are kept (the newest; each departed id's
   * clock keeps an echo of its old state from being taken as new) */
  departedClocks: 1000,
  /** how long an awareness client id another instance relayed a state under stays that instance's
   * connection's (ms): y-protocols clients renew their state every 15 s and drop one unrenewed for 30 s */
  relayedMs: 30_000,
  /** relayed client ids remembered at most (the oldest forgotten first) */
  relayedIds: 4096
} as const

interface PresencePeer {
  /** the user id the peer authenticated as */
  readonly principal: string
  /** gets an awareness update (y-protocols) */
  presence (awarenessUpdate: Uint8Array): void
  close (code: CloseCodeValue, reason: string): void
}

export interface PresenceContext {
  /** the user behind a principal (identity in presence comes from here, never from the client) */
  identity (principal: string): User | undefined
  /** the principal a Yjs client id is bound to in the record (by its writes), if any */
  boundTo (client: number): string | undefined
  /** told each awareness update relayed to the peers (the room publishes it as an event) */
  published?: (awarenessUpdate: Uint8Array) => void
  /** presence updates that change something one connection may send at once, then per second (each is
   * sent to every peer: one connection's flood was multiplied by the viewers); default 60, 20 */
  readonly updates?: { readonly burst: number, readonly perSecond: number }
}


/** One entry of a y-protocols awareness update: a client id, its clock and its state (JSON, 'null' when removed). */
interface AwarenessEntry { readonly client: number, readonly clock: number, readonly state: string }

/** The entries of an awareness update (y-protocols' format). Throws on malformed bytes. */
const decodeEntries = (update: Uint8Array): AwarenessEntry[] => {
  const d = decoding.createDecoder(update)
  const entries: AwarenessEntry[] = []
  // (Read one by one: the count is the sender's, and a claimed count costs nothing until its entries are there.)
  for (let n = decoding.readVarUint(d); n > 0; n--) entries.push({ client: decoding.readVarUint(d), clock: decoding.readVarUint(d), state: decoding.readVarString(d) })
  return entries
}

const encodeEntries = (entries: readonly AwarenessEntry[]): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const x of entries) {
    encoding.writeVarUint(e, x.client)
    encoding.writeVarUint(e, x.clock)
    encoding.writeVarString(e, x.state)
  }
  return encoding.toUint8Array(e)
}

/** What the server keeps about one peer's presence. */
interface PeerPresence {
  /** awareness client ids the peer introduced */
  readonly owned: Set<number>
  /** presence queries it may still make now (token bucket) */
  queries: number
  refilledAt: number
  /** presence updates it may still make now (token bucket) */
  updates: number
  updatesAt: number
}

export class Presence<P extends PresencePeer> {
  readonly awareness: awarenessProtocol.Awareness
  private readonly peers = new Map<P, PeerPresence>()
  private readonly ctx: PresenceContext
  /** client ids of departed connections whose clocks the awareness keeps, oldest first (bounded) */
  private readonly departed = new Set<number>()
  /** client ids connections of other instances write under (their states relayed here, never taken into
   * this awareness), with when each was last heard of, oldest first: no connection here may introduce one */
  private readonly relayedIds = new Map<number, number>()

  private readonly updateLimit: { readonly burst: number, readonly perSecond: number }

  constructor (doc: Y.Doc, peers: () => Iterable<P>, ctx: PresenceContext) {
    this.ctx = ctx
    this.updateLimit = ctx.updates ?? { burst: 60, perSecond: 20 }
    this.awareness = new awarenessProtocol.Awareness(doc)
    this.awareness.setLocalState(null)
    this.awareness.on('update', ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }) => {
      const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...added, ...updated, ...removed])
      for (const p of peers()) p.presence(update)
      ctx.published?.(update)
    })
  }

  private of (peer: P): PeerPresence {
    let x = this.peers.get(peer)
    if (x === undefined) {
      x = { owned: new Set(), queries: PresenceLimit.queryBurst, refilledAt: Date.now(), updates: this.updateLimit.burst, updatesAt: Date.now() }
      this.peers.set(peer, x)
    }
    return x
  }

  /** Sends a peer every current presence state (nothing when there is none). */
  sendAll (peer: P, evenIfEmpty = false): void {
    const states = this.awareness.getStates()
    if (states.size > 0 || evenIfEmpty) peer.presence(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...states.keys()]))
  }

  /** A peer asks for every presence state (message type 3); past the rate limit it is closed with 4429. */
  query (peer: P): void {
    const x = this.of(peer)
    const now = Date.now()
    x.queries = Math.min(PresenceLimit.queryBurst, x.queries + (now - x.refilledAt) / 1000 * PresenceLimit.queriesPerSecond)
    x.refilledAt = now
    if (x.queries < 1) { peer.close(CloseCode.rateLimited, 'too many presence queries'); return }
    x.queries--
    this.sendAll(peer, true)
  }

  /** A peer left: its presence goes. (The awareness keeps each id's clock, so that a stale copy of a
   * state that another client echoes back later is not taken as new.) */
  leave (peer: P): void {
    const owned = this.peers.get(peer)?.owned
    this.peers.delete(peer)
    if (owned === undefined || owned.size === 0) return
    awarenessProtocol.removeAwarenessStates(this.awareness, [...owned], 'leave')
    // Their clocks are kept, but not forever: a client reconnecting with fresh ids would grow them without bound.
    for (const c of owned) { this.departed.delete(c); this.departed.add(c) }
    for (const c of this.departed) {
      if (this.departed.size <= PresenceLimit.departedClocks) break
      this.departed.delete(c)
      if (!this.awareness.states.has(c)) this.awareness.meta.delete(c)
    }
  }

  /**
   * Applies the entries of an awareness update that `peer` may write, each state's `user` set from its
   * principal. Throws on malformed bytes; a state over the size limit or a client id over the
   * per-connection limit closes the peer with 4413 and nothing of the update is applied.
   */
  receive (peer: P, update: Uint8Array): void {
    const entries = decodeEntries(update)
    const x = this.of(peer)
    const { owned } = x
    const introduced = new Set<number>()
    const allowed: AwarenessEntry[] = []
    for (const e of entries) {
      if (Buffer.byteLength(e.state) > PresenceLimit.stateBytes) {
        peer.close(CloseCode.quotaExceeded, `a presence state is larger than ${PresenceLimit.stateBytes} bytes`)
        return
      }
      const state: unknown = JSON.parse(e.state) // throws on malformed presence
      if (state !== null && (typeof state !== 'object' || Array.isArray(state))) throw new Error('a presence state must be a JSON object or null')
      if (!this.mayWrite(peer, owned, e.client)) continue
      if (!owned.has(e.client)) {
        // y-websocket clients send every awareness change back, other clients' too: a removal, or a
        // state no newer than the one the server had, introduces nothing.
        if (state === null || e.clock <= (this.awareness.meta.get(e.client)?.clock ?? 0)) continue
        introduced.add(e.client)
        if (owned.size + introduced.size > PresenceLimit.clientIds) {
          peer.close(CloseCode.quotaExceeded, `a connection may use at most ${PresenceLimit.clientIds} awareness client ids`)
          return
        }
      }
      allowed.push({ ...e, state: state === null ? 'null' : JSON.stringify(this.withIdentity(peer.principal, state as Record<string, unknown>)) })
    }
    if (allowed.length === 0) return
    // Only updates that change something count: y-websocket clients echo every state they receive, and
    // those are dropped above (a limit on them would close viewers of a busy record).
    const now = Date.now()
    x.updates = Math.min(this.updateLimit.burst, x.updates + (now - x.updatesAt) / 1000 * this.updateLimit.perSecond)
    x.updatesAt = now
    if (x.updates < 1) { peer.close(CloseCode.rateLimited, 'too many presence updates'); return }
    x.updates--
    for (const c of introduced) { owned.add(c); this.departed.delete(c) }
    awarenessProtocol.applyAwarenessUpdate(this.awareness, encodeEntries(allowed), peer)
  }

  /** A client id no other connection uses (here or, as far as relayed states tell, on another instance)
   * and no other principal's writes are bound to. */
  private mayWrite (peer: P, owned: ReadonlySet<number>, client: number): boolean {
    const bound = this.ctx.boundTo(client)
    if (bound !== undefined && bound !== peer.principal) return false
    if (owned.has(client)) return true
    if (this.relayedIds.has(client)) return false
    for (const [other, x] of this.peers) if (other !== peer && x.owned.has(client)) return false
    return true
  }

  private ownedHere (client: number): boolean {
    for (const x of this.peers.values()) if (x.owned.has(client)) return true
    return false
  }

  /**
   * An awareness update another instance relayed (its connections' states, identity set there): what of
   * it the peers here get. The client ids it writes are remembered as that instance's connections' (a
   * removal frees one; one not renewed for `relayedMs` is forgotten), and entries under an id a
   * connection here uses are dropped (each instance's connections keep their own ids). Throws on
   * malformed bytes.
   */
  relayed (update: Uint8Array): Uint8Array | null {
    const now = Date.now()
    for (const [c, at] of this.relayedIds) {
      if (now - at < PresenceLimit.relayedMs && this.relayedIds.size <= PresenceLimit.relayedIds) break
      this.relayedIds.delete(c)
    }
    const entries = decodeEntries(update)
    const kept = entries.filter(x => !this.ownedHere(x.client))
    for (const { client, state } of kept) {
      this.relayedIds.delete(client)
      if (state !== 'null') this.relayedIds.set(client, now)
    }
    if (kept.length === 0) return null
    return kept.length === entries.length ? update : encodeEntries(kept)
  }

  /** The state with `user` set from the principal (a short client `user.color` is kept). */
  private withIdentity (principal: string, state: Record<string, unknown>): Record<string, unknown> {
    const u = this.ctx.identity(principal)
    const given = state.user
    const color = typeof given === 'object' && given !== null ? (given as { color?: unknown }).color : undefined
    return {
      ...state,
      user: {
        id: principal,
        login: u?.login ?? '',
        name: u?.fullName ?? '',
        ...(typeof color === 'string' && color.length <= PresenceLimit.colorLength ? { color } : {})
      }
    }
  }

  destroy (): void {
    this.awareness.destroy()
  }
}
