// One loaded record: its Y.Doc, the peers syncing it, presence, and the ordered path of every update
// from a peer: check -> integrate -> commit -> broadcast. Nothing reaches another peer, or any sync
// reply, before the storage commit that contains it has returned.

import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import type { DocName } from '../ids.ts'
import type { RecordStorage } from './storage/port.ts'
import { CloseCode, MessageType, SyncStep, type CloseCodeValue } from './protocol.ts'
import { encodeAwareness, encodeSyncStep1, encodeSyncUpdate } from './messages.ts'
import { checkUpdate } from './update-check.ts'

/** A connected peer, as the room sees it. */
export interface Peer {
  readonly id: number
  readonly principal: string
  send (message: Uint8Array): void
  close (code: CloseCodeValue, reason: string): void
}

/** Transaction origins the server tags its writes with. */
export type Origin =
  | { source: 'device', peer: Peer }
  | { source: 'storage' }
  | { source: 'projection' }

type Job =
  | { kind: 'step1', peer: Peer, stateVector: Uint8Array }
  | { kind: 'update', peer: Peer, update: Uint8Array }

export interface RoomOptions {
  /** merge the log into one update once it has this many rows */
  readonly compactAfter: number
}

export class Room {
  readonly name: DocName
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  readonly peers = new Set<Peer>()
  /** resolves once the stored state is in `doc`; nothing is answered before */
  readonly ready: Promise<void>
  private readonly storage: RecordStorage
  private readonly options: RoomOptions
  private inbox: Job[] = []
  private running = false
  private idle: Promise<void> = Promise.resolve()
  private logRows = 0
  private lastSeq = 0
  private broken = false
  /** awareness client ids each peer set, so a peer touches only its own presence */
  private readonly presence = new Map<Peer, Set<number>>()

  constructor (name: DocName, storage: RecordStorage, options: RoomOptions) {
    this.name = name
    this.storage = storage
    this.options = options
    this.doc = new Y.Doc({ guid: name, gc: true })
    this.awareness = new awarenessProtocol.Awareness(this.doc)
    this.awareness.setLocalState(null)
    this.awareness.on('update', ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }) => {
      const changed = [...added, ...updated, ...removed]
      const message = encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed))
      for (const p of this.peers) p.send(message)
    })
    this.ready = this.load()
  }

  private async load (): Promise<void> {
    const rows = await this.storage.load(this.name)
    this.doc.transact(() => {
      for (const r of rows) Y.applyUpdate(this.doc, r.data)
    }, { source: 'storage' } satisfies Origin)
    this.logRows = rows.length
    this.lastSeq = rows.length > 0 ? rows[rows.length - 1].seq : 0
  }

  /** Adds a peer and starts the y-websocket handshake (our state vector and current presence). */
  join (peer: Peer): void {
    this.peers.add(peer)
    peer.send(encodeSyncStep1(this.doc))
    const states = this.awareness.getStates()
    if (states.size > 0) peer.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...states.keys()])))
  }

  leave (peer: Peer): void {
    this.peers.delete(peer)
    const owned = this.presence.get(peer)
    this.presence.delete(peer)
    if (owned !== undefined && owned.size > 0) awarenessProtocol.removeAwarenessStates(this.awareness, [...owned], 'leave')
  }

  /** Handles one decoded-enough message from `peer`. Throws on malformed content (the caller closes the peer). */
  receive (peer: Peer, message: Uint8Array): void {
    const d = decoding.createDecoder(message)
    const type = decoding.readVarUint(d)
    switch (type) {
      case MessageType.sync: {
        const step = decoding.readVarUint(d)
        const payload = decoding.readVarUint8Array(d)
        if (step === SyncStep.step1) {
          Y.decodeStateVector(payload) // throws on malformed bytes
          this.enqueue({ kind: 'step1', peer, stateVector: payload })
        } else if (step === SyncStep.step2 || step === SyncStep.update) {
          this.enqueue({ kind: 'update', peer, update: payload })
        } else {
          throw new MalformedMessage(`unknown sync step ${step}`)
        }
        break
      }
      case MessageType.awareness:
        this.receiveAwareness(peer, decoding.readVarUint8Array(d))
        break
      case MessageType.queryAwareness: {
        const states = this.awareness.getStates()
        peer.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...states.keys()])))
        break
      }
      default:
        throw new MalformedMessage(`unknown message type ${type}`)
    }
  }

  private receiveAwareness (peer: Peer, update: Uint8Array): void {
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
    let owned = this.presence.get(peer)
    if (owned === undefined) { owned = new Set(); this.presence.set(peer, owned) }
    const allowed = entries.filter(e => {
      if (owned.has(e.client)) return true
      for (const [other, set] of this.presence) if (other !== peer && set.has(e.client)) return false
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

  private enqueue (job: Job): void {
    this.inbox.push(job)
    if (!this.running) this.idle = this.run()
  }

  /** Resolves when every queued message has been processed and committed. */
  settled (): Promise<void> {
    return this.idle
  }

  get busy (): boolean {
    return this.running || this.inbox.length > 0
  }

  private async run (): Promise<void> {
    this.running = true
    try {
      await this.ready
      while (this.inbox.length > 0 && !this.broken) {
        const jobs = this.inbox
        this.inbox = []
        await this.process(jobs)
      }
    } catch (e) {
      this.fail(e as Error)
    } finally {
      this.running = false
    }
  }

  private async process (jobs: Job[]): Promise<void> {
    const replies: { peer: Peer, stateVector: Uint8Array }[] = []
    const accepted: { peer: Peer, update: Uint8Array }[] = []
    const capture = (update: Uint8Array, origin: unknown): void => {
      const o = origin as Origin | null
      if (o !== null && typeof o === 'object' && o.source === 'device') accepted.push({ peer: o.peer, update })
    }
    this.doc.on('update', capture)
    try {
      for (const job of jobs) {
        if (!this.peers.has(job.peer)) continue
        if (job.kind === 'step1') { replies.push(job); continue }
        const check = checkUpdate(this.doc, job.update)
        if (!check.ok) {
          if (check.problem === 'malformed') job.peer.close(CloseCode.malformed, check.message.slice(0, 120))
          else job.peer.send(encodeSyncStep1(this.doc)) // ask the peer for what we lack
          continue
        }
        Y.applyUpdate(this.doc, job.update, { source: 'device', peer: job.peer } satisfies Origin)
      }
    } finally {
      this.doc.off('update', capture)
    }
    if (accepted.length > 0) {
      const merged = accepted.length === 1 ? accepted[0].update : Y.mergeUpdates(accepted.map(a => a.update))
      this.lastSeq = await this.storage.append(this.name, merged)
      this.logRows++
      for (const a of accepted) {
        const message = encodeSyncUpdate(SyncStep.update, a.update)
        for (const p of this.peers) if (p !== a.peer) p.send(message)
      }
    }
    // The document now equals what storage holds, so a reply cannot leak anything uncommitted.
    for (const r of replies) {
      if (this.peers.has(r.peer)) r.peer.send(encodeSyncUpdate(SyncStep.step2, Y.encodeStateAsUpdate(this.doc, r.stateVector)))
    }
    if (this.logRows > this.options.compactAfter) {
      await this.storage.compact(this.name, Y.encodeStateAsUpdate(this.doc), this.lastSeq)
      this.logRows = 1
    }
  }

  /** Storage failed or the document could not take an update: drop the in-memory state, close every peer. */
  private fail (e: Error): void {
    this.broken = true
    this.inbox = []
    console.error(`record ${this.name}: ${e.message}; closing its peers`)
    for (const p of [...this.peers]) p.close(CloseCode.internalError, 'record unavailable, reconnect')
  }

  get isBroken (): boolean {
    return this.broken
  }

  destroy (): void {
    this.awareness.destroy()
    this.doc.destroy()
  }
}

export class MalformedMessage extends Error {
  override name = 'MalformedMessage'
}
