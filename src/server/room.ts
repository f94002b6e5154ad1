// One loaded record: its Y.Doc, the peers syncing it, presence, and the ordered path of every update
// from a peer: check -> integrate -> commit -> broadcast. Nothing reaches another peer, or any sync
// reply, before the storage commit that contains it has returned.

import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import type { EntityDef } from '../docs/catalog-types.ts'
import { readRecord, type RecordState } from '../docs/record.ts'
import type { Change } from '../docs/diff.ts'
import { mayAccess, type ModelIndex } from '../authz/decide.ts'
import { parseDocName, type DocName } from '../ids.ts'
import { projectUpdate, type ProjectContext } from '../projection/project.ts'
import { Reason, type Receipt, type ReasonCode } from '../projection/receipts.ts'
import { rowOf } from '../projection/rows.ts'
import type { ClientBinding, CommitEffects, RecordStorage } from './storage/port.ts'
import { CloseCode, MessageType, SyncStep, type CloseCodeValue } from './protocol.ts'
import { encodeReceipts, encodeSyncStep1, encodeSyncUpdate } from './messages.ts'
import { Presence } from './presence.ts'
import { checkUpdate } from './update-check.ts'
import { META as META_MAP } from '../docs/record.ts'
import type { Security } from './security.ts'
import type { BusinessRule } from '../metadata/business-rules.ts'
import type { ProcessFlow } from '../metadata/process-flows.ts'

/** A connected peer, as the room sees it. */
export interface Peer {
  readonly id: number
  /** the user id the peer authenticated as */
  readonly principal: string
  /** the privilege version the device last received (for `privilege-revoked`) */
  readonly delivered: number | undefined
  /** whether the peer asked for receipts pushed on its socket */
  readonly wantsReceipts: boolean
  send (message: Uint8Array): void
  close (code: CloseCodeValue, reason: string): void
}

/** The principal the server's own writes (compensations, assignments) are bound to. */
export const SERVER_PRINCIPAL = '@server'

/** Transaction origins the server tags its writes with. */
export type Origin =
  | { source: 'device', peer: Peer }
  | { source: 'storage' }
  | { source: 'projection' }

/** What the command coordinator decided for one part of a multi-record command. */
export type PartDecision =
  | { readonly kind: 'accept', readonly command: { readonly target: string, readonly statecode: number } }
  | { readonly kind: 'reject', readonly command: string, readonly reason: ReasonCode, readonly message: string }
  /** not decided (another part's record failed): nothing is integrated; the device sends it again */
  | { readonly kind: 'abort' }

/** How a room takes part in a command (src/server/commands.ts). */
export interface CommandGate {
  /** Called when the room's pipeline reaches the part, with nothing else queued before it and the
   * document equal to storage; the pipeline waits for the returned decision. */
  arrive (): Promise<PartDecision>
  /** The room failed before the part was decided. */
  fail (e: Error): void
}

/** What integrating a command part would do, found on a copy of the document. */
export type PartTrial =
  | { readonly ok: true, readonly before: RecordState, readonly after: RecordState, readonly changes: readonly Change[], readonly denied: { reason: ReasonCode, message: string } | null }
  | { readonly ok: false, readonly reason: ReasonCode, readonly message: string, readonly missing: boolean }

type Job =
  | { kind: 'step1', peer: Peer, stateVector: Uint8Array }
  | { kind: 'update', peer: Peer, update: Uint8Array }
  | { kind: 'server', write: (doc: Y.Doc) => void, done: (e?: Error) => void }
  | { kind: 'command', peer: Peer, update: Uint8Array, gate: CommandGate, decision?: PartDecision }

export interface RoomOptions {
  /** merge the log into one update once it has this many rows */
  readonly compactAfter: number
}

export interface RoomContext {
  readonly entity: EntityDef
  readonly security: Security
  readonly now: () => string
  /** told after every commit that changed the record */
  readonly onCommit?: (name: DocName) => void
  /** business rules and process flows the projection enforces */
  readonly rules?: readonly BusinessRule[]
  readonly flows?: readonly ProcessFlow[]
  /** the size of a completely uploaded attachment blob */
  readonly blobSize?: (hash: string) => number | undefined
}

/** Server client ids come from a low range: Yjs breaks ties between concurrent map writes in favour of
 * the higher client id, so a device's later edit wins over a compensation it had not seen yet. */
const SERVER_CLIENT_RANGE = 1 << 20

export class Room {
  readonly name: DocName
  readonly doc: Y.Doc
  readonly peers = new Set<Peer>()
  readonly presence: Presence<Peer>
  /** resolves once the stored state is in `doc`; nothing is answered before */
  readonly ready: Promise<void>
  private readonly storage: RecordStorage
  private readonly options: RoomOptions
  private readonly ctx: RoomContext
  /** Yjs client id -> the principal that first wrote with it */
  private readonly bindings = new Map<number, string>()
  private serverBound = false
  private inbox: Job[] = []
  private running = false
  private idle: Promise<void> = Promise.resolve()
  private logRows = 0
  private lastSeq = 0
  private broken = false

  constructor (name: DocName, storage: RecordStorage, options: RoomOptions, ctx: RoomContext) {
    this.name = name
    this.storage = storage
    this.options = options
    this.ctx = ctx
    this.doc = new Y.Doc({ guid: name, gc: true })
    this.presence = new Presence(this.doc, () => this.peers, { identity: id => this.ctx.security.index.user(id), boundTo: c => this.bindings.get(c) })
    this.ready = this.load()
  }

  private async load (): Promise<void> {
    const { updates, bindings } = await this.storage.load(this.name)
    this.doc.transact(() => {
      for (const r of updates) Y.applyUpdate(this.doc, r.data)
    }, { source: 'storage' } satisfies Origin)
    this.logRows = updates.length
    this.lastSeq = updates.length > 0 ? updates[updates.length - 1].seq : 0
    for (const b of bindings) this.bindings.set(b.client, b.principal)
    // A fresh client id for this server's writes, never one that has written to this record before.
    let client: number
    do client = 1 + Math.floor(Math.random() * (SERVER_CLIENT_RANGE - 1))
    while (this.bindings.has(client) || Y.getState(this.doc.store, client) > 0)
    this.doc.clientID = client
    this.bindings.set(client, SERVER_PRINCIPAL)
  }

  get entity (): EntityDef { return this.ctx.entity }

  /** The record's owner as a decision needs it, or undefined while it does not exist. */
  ownership (): { name: string, ownerid: string, owningbusinessunit: string } | undefined {
    const meta = this.doc.getMap(META_MAP)
    const ownerid = meta.get('ownerid')
    const bu = meta.get('owningbusinessunit')
    if (!meta.has('entity') || typeof ownerid !== 'string' || typeof bu !== 'string') return undefined
    return { name: this.name, ownerid, owningbusinessunit: bu }
  }

  /** Whether a user may open this record: read access, or (while it does not exist) create access. */
  mayOpen (ix: ModelIndex, userId: string): boolean {
    const o = this.ownership()
    return o === undefined
      ? mayAccess(ix, userId, 'create', this.ctx.entity.name).allowed
      : mayAccess(ix, userId, 'read', this.ctx.entity.name, o).allowed
  }

  /** Closes the sockets of peers that may no longer read the record. */
  revokeUnreadable (ix: ModelIndex): void {
    for (const p of [...this.peers]) {
      if (!this.mayOpen(ix, p.principal)) p.close(CloseCode.readRevoked, 'read access revoked')
    }
  }

  /** Runs a server-side write (an assignment, say) through the same commit path as device updates. */
  write (f: (doc: Y.Doc) => void): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'server', write: f, done: e => e === undefined ? resolve() : reject(e) }))
  }

  /** Adds a peer and starts the y-websocket handshake (our state vector and current presence). */
  join (peer: Peer): void {
    this.peers.add(peer)
    peer.send(encodeSyncStep1(this.doc))
    this.presence.sendAll(peer)
  }

  leave (peer: Peer): void {
    this.peers.delete(peer)
    this.presence.leave(peer)
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
        this.presence.receive(peer, decoding.readVarUint8Array(d))
        break
      case MessageType.queryAwareness:
        this.presence.query(peer)
        break
      default:
        throw new MalformedMessage(`unknown message type ${type}`)
    }
  }

  private projectionContext (peer: Peer, decision?: PartDecision): ProjectContext {
    const { entity, security } = this.ctx
    return {
      entity, record: this.name, userId: peer.principal, ix: security.index,
      delivered: peer.delivered === undefined ? undefined : security.at(peer.delivered),
      rules: this.ctx.rules, flows: this.ctx.flows, blobSize: this.ctx.blobSize, isServerClient: c => this.bindings.get(c) === SERVER_PRINCIPAL,
      command: decision?.kind === 'accept' ? decision.command : undefined,
      reject: decision?.kind === 'reject' ? decision : undefined
    }
  }

  /** A Yjs client id among `clients` that another principal first wrote with, if any. */
  private foreignClient (clients: readonly number[], principal: string): number | undefined {
    return clients.find(c => (this.bindings.get(c) ?? principal) !== principal)
  }

  /** Queues a part of a command; `gate` decides it together with the other parts. */
  command (peer: Peer, update: Uint8Array, gate: CommandGate): void {
    if (this.broken) { gate.fail(new Error(`record ${this.name} is unavailable`)); return }
    this.enqueue({ kind: 'command', peer, update, gate })
  }

  /**
   * What integrating `update` from `peer` as a part of an accepted command would do, found on a copy of
   * the document (nothing here changes). Call it from `CommandGate.arrive`, when the room is waiting.
   */
  trial (peer: Peer, update: Uint8Array, command: { target: string, statecode: number }): PartTrial {
    const check = checkUpdate(this.doc, update)
    if (!check.ok) return { ok: false, reason: Reason.invalidValue, message: check.message, missing: check.problem !== 'malformed' }
    const foreign = this.foreignClient(check.clients, peer.principal)
    if (foreign !== undefined) return { ok: false, reason: Reason.foreignClientId, message: `Yjs client id ${foreign} belongs to another writer of ${this.name}`, missing: false }
    const copy = new Y.Doc({ guid: this.name })
    try {
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(this.doc))
      const r = projectUpdate(copy, update, this.projectionContext(peer, { kind: 'accept', command }), null, this.ctx.now())
      const first = r.receipts[0]
      return { ok: true, before: r.before, after: r.after, changes: r.changes, denied: first === undefined ? null : { reason: first.reason, message: first.message } }
    } finally {
      copy.destroy()
    }
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
    let jobs: Job[] = []
    try {
      await this.ready
      while (this.inbox.length > 0 && !this.broken) {
        // A command part is processed alone, once the coordinator has decided the whole command.
        const at = this.inbox.findIndex(j => j.kind === 'command')
        if (at === 0) {
          const job = this.inbox.shift() as Extract<Job, { kind: 'command' }>
          jobs = [job]
          job.decision = await job.gate.arrive()
        } else {
          jobs = at < 0 ? this.inbox : this.inbox.slice(0, at)
          this.inbox = at < 0 ? [] : this.inbox.slice(at)
        }
        await this.process(jobs)
      }
    } catch (e) {
      for (const j of [...jobs, ...this.inbox]) {
        if (j.kind === 'server') j.done(e as Error)
        if (j.kind === 'command' && j.decision === undefined) j.gate.fail(e as Error)
      }
      this.fail(e as Error)
    } finally {
      this.running = false
    }
  }

  private async process (jobs: Job[]): Promise<void> {
    const replies: { peer: Peer, stateVector: Uint8Array }[] = []
    const accepted: { peer: Peer | null, update: Uint8Array, echo: boolean }[] = []
    const receipts: { peer: Peer, receipt: Receipt }[] = []
    const newBindings: ClientBinding[] = []
    const serverJobs: ((e?: Error) => void)[] = []
    const { entity, security, now } = this.ctx
    const ownerBefore = this.ownership()
    let current: { peer: Peer | null, echo: boolean } | null = null
    const capture = (update: Uint8Array): void => {
      if (current !== null) accepted.push({ ...current, update })
    }
    this.doc.on('update', capture)
    try {
      for (const job of jobs) {
        if (job.kind === 'server') {
          current = { peer: null, echo: true }
          this.doc.transact(() => job.write(this.doc), { source: 'projection' } satisfies Origin)
          serverJobs.push(job.done)
          continue
        }
        if (!this.peers.has(job.peer)) continue
        if (job.kind === 'step1') { replies.push(job); continue }
        const decision = job.kind === 'command' ? job.decision : undefined
        if (decision?.kind === 'abort') continue
        const check = checkUpdate(this.doc, job.update)
        if (!check.ok) {
          if (check.problem === 'malformed') job.peer.close(CloseCode.malformed, check.message.slice(0, 120))
          else job.peer.send(encodeSyncStep1(this.doc)) // ask the peer for what we lack
          continue
        }
        const principal = job.peer.principal
        const foreign = this.foreignClient(check.clients, principal)
        const ix = security.index
        if (foreign !== undefined) {
          receipts.push({ peer: job.peer, receipt: {
            principal, record: this.name, change: 'update', field: null, attempted: null, kept: null,
            reason: Reason.foreignClientId, message: `Yjs client id ${foreign} belongs to another writer of this record; use a new Y.Doc client id`,
            privilegeVersion: ix.version, at: now()
          } })
          continue
        }
        for (const c of check.clients) {
          if (!this.bindings.has(c)) { this.bindings.set(c, principal); newBindings.push({ client: c, principal }) }
        }
        current = { peer: job.peer, echo: false }
        const result = projectUpdate(this.doc, job.update, this.projectionContext(job.peer, decision), { source: 'device', peer: job.peer } satisfies Origin, now())
        // The author needs the result too when part of its update was reverted.
        if (result.compensated && accepted.length > 0) accepted[accepted.length - 1].echo = true
        for (const r of result.receipts) receipts.push({ peer: job.peer, receipt: r })
      }
    } finally {
      this.doc.off('update', capture)
    }
    if (accepted.some(a => a.peer === null || a.echo) && !this.serverBound) {
      newBindings.push({ client: this.doc.clientID, principal: SERVER_PRINCIPAL })
      this.serverBound = true
    }
    if (accepted.length > 0 || receipts.length > 0 || newBindings.length > 0) {
      const merged = accepted.length === 0 ? null : accepted.length === 1 ? accepted[0].update : Y.mergeUpdates(accepted.map(a => a.update))
      const { id } = parseDocName(this.name)!
      const effects: CommitEffects = {
        receipts: receipts.map(r => r.receipt),
        bindings: newBindings,
        row: accepted.length > 0 ? { entity: entity.name, id, values: rowOf(entity, readRecord(this.doc, entity)) } : undefined
      }
      const committed = await this.storage.append(this.name, merged, effects)
      if (merged !== null) { this.lastSeq = committed.seq; this.logRows++ }
      for (const a of accepted) {
        const message = encodeSyncUpdate(SyncStep.update, a.update)
        for (const p of this.peers) if (p !== a.peer || a.echo) p.send(message)
      }
      if (accepted.length > 0) this.ctx.onCommit?.(this.name)
      committed.receipts.forEach((r, i) => {
        const peer = receipts[i].peer
        if (peer.wantsReceipts && this.peers.has(peer)) peer.send(encodeReceipts([r]))
      })
    }
    for (const done of serverJobs) done()
    // The document now equals what storage holds, so a reply cannot leak anything uncommitted.
    for (const r of replies) {
      if (this.peers.has(r.peer)) r.peer.send(encodeSyncUpdate(SyncStep.step2, Y.encodeStateAsUpdate(this.doc, r.stateVector)))
    }
    const ownerAfter = this.ownership()
    if (ownerAfter?.ownerid !== ownerBefore?.ownerid || ownerAfter?.owningbusinessunit !== ownerBefore?.owningbusinessunit) {
      this.revokeUnreadable(security.index)
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
    this.presence.destroy()
    this.doc.destroy()
  }
}

export class MalformedMessage extends Error {
  override name = 'MalformedMessage'
}
