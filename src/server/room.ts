// One loaded record: its Y.Doc, the peers syncing it, presence, and the ordered path of every update
// from a peer: check -> integrate -> commit -> broadcast. Nothing reaches another peer, or any sync
// reply, before the storage commit that contains it has returned.

import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import type { EntityDef } from '../docs/catalog-types.ts'
import { readRecord, type RecordState } from '../docs/record.ts'
import type { Change } from '../docs/diff.ts'
import { fieldPermission, mayAccess, type ModelIndex } from '../authz/decide.ts'
import { metaOwnership, type RecordOwnership } from '../docs/ownership.ts'
import { parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import { projectUpdate, revertForSender, type ProjectContext } from '../projection/project.ts'
import type { ConflictStrategy } from '../metadata/conflict-strategies.ts'
import { EVERY_DEVICE, Reason, type Receipt, type ReasonCode } from '../protocol/receipts.ts'
import { rowOf, sqlValue } from '../projection/rows.ts'
import type { ClientBinding, CommitEffects, PrincipalUsage, RecordStorage } from './storage/port.ts'
import { CloseCode, MessageType, SyncStep, type CloseCodeValue } from '../protocol/codes.ts'
import { encodeReceipts, encodeSyncStep1, encodeSyncUpdate } from '../protocol/sync-messages.ts'
import { Presence } from './presence.ts'
import { MalformedMessage } from '../errors.ts'
import { checkUpdate, type DecodedUpdate } from './update-check.ts'
import { checkLayout, type LayoutOptions } from '../docs/layout.ts'
import { DEFAULT_LIMITS, RecordQuotas, type QuotaLimits } from './quotas.ts'
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
  /** the device (its id from /device hello) the peer's changes come from; absent for a plain /sync socket */
  readonly device?: string
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
  /** what one principal may make the server keep in a record (defaults: DEFAULT_LIMITS) */
  readonly limits?: Partial<QuotaLimits>
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
  /** the size of attachment content the user uploaded completely */
  readonly blobSize?: (userId: string, hash: string) => number | undefined
  /** told when a commit changed the record's owner (its fields' documents check their readers too) */
  readonly onOwnerChange?: (name: DocName) => void
  /** set for the document of one secured field of a record (`<entity>/<id>/<attribute>`): the attribute */
  readonly field?: string
  /** for a field's document: the owner of its record now (undefined while the record does not exist) */
  readonly parentOwnership?: () => RecordOwnership | undefined
  readonly ownershipOf?: ProjectContext['ownershipOf']
  /** same-field conflicts: each field's strategy and the clock skew allowed */
  readonly conflicts?: { readonly strategyOf: (field: string) => ConflictStrategy, readonly maxSkewMs: number }
}

/** Server client ids come from a low range: Yjs breaks ties between concurrent map writes in favour of
 * the higher client id, so a device's later edit wins over a compensation it had not seen yet. */
export const SERVER_CLIENT_RANGE = 1 << 20

/** A row has no notes: none are read for it. */
const NO_NOTES: ReadonlySet<string> = new Set()

/** What one connection may have waiting in a record's pipeline (README, "Security"). */
export const MAX_WAITING_PER_PEER = { messages: 16_384, bytes: 16 * 1024 * 1024 }

/** A fresh client id outside the server's range, for what the server writes for a sender alone (it
 * comes back, if ever, as part of that sender's state, and is then bound to it). */
const senderScratchClient = (): number => SERVER_CLIENT_RANGE + Math.floor(Math.random() * (0xffffffff - SERVER_CLIENT_RANGE))

/** What one batch of jobs produces, committed together and then published in job order. */
interface Batch {
  /** updates to keep, in order; `peer` is the author (null: the server), `echo` sends it to the author too */
  readonly accepted: { peer: Peer | null, update: Uint8Array, echo: boolean }[]
  /** `peer` null: a receipt for a user other than the sender, pushed to every connection of theirs here */
  readonly receipts: { peer: Peer | null, receipt: Receipt }[]
  readonly bindings: ClientBinding[]
  readonly usage: Map<string, { receipts: number, refusedBytes: number }>
  /** messages for one peer alone (what a refused update's sender needs to converge), after `accepted[at - 1]` */
  readonly direct: { peer: Peer, message: Uint8Array | (() => Uint8Array), at: number }[]
  /** peers to close once the batch is committed */
  readonly closes: { peer: Peer, code: CloseCodeValue, reason: string }[]
}

export class Room {
  readonly name: DocName
  readonly peers = new Set<Peer>()
  readonly presence: Presence<Peer>
  /** resolves once the stored state is in `doc`; nothing is answered before */
  readonly ready: Promise<void>
  private readonly storage: RecordStorage
  private readonly options: RoomOptions
  private readonly ctx: RoomContext
  /** the record's document; replaced (rebuilt from what is committed) when an update must leave no trace */
  private current: Y.Doc
  /** Yjs client id -> the principal that first wrote with it */
  private readonly bindings = new Map<number, string>()
  private serverBound = false
  /** the client id the server writes under in this record (bound to SERVER_PRINCIPAL) */
  private serverClient = 0
  private quotas!: RecordQuotas
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
    this.current = new Y.Doc({ guid: name, gc: true })
    // Presence does not depend on the record's content: it keeps its own document.
    this.presence = new Presence(new Y.Doc(), () => this.peers, { identity: id => this.ctx.security.index.user(id), boundTo: c => this.bindings.get(c) })
    this.ready = this.load()
  }

  /** The record's document as committed (plus what the batch being processed has integrated). */
  get doc (): Y.Doc { return this.current }

  private async load (): Promise<void> {
    const { updates, bindings, usage } = await this.storage.load(this.name)
    this.current.transact(() => {
      for (const r of updates) Y.applyUpdate(this.current, r.data)
    }, { source: 'storage' } satisfies Origin)
    this.logRows = updates.length
    this.lastSeq = updates.length > 0 ? updates[updates.length - 1].seq : 0
    for (const b of bindings) this.bindings.set(b.client, b.principal)
    this.quotas = new RecordQuotas({ ...DEFAULT_LIMITS, ...this.options.limits }, usage, bindings.map(b => b.principal))
    // A fresh client id for this server's writes, never one that has written to this record before.
    let client: number
    do client = 1 + Math.floor(Math.random() * (SERVER_CLIENT_RANGE - 1))
    while (this.bindings.has(client) || Y.getState(this.current.store, client) > 0)
    this.serverClient = client
    this.current.clientID = client
    this.bindings.set(client, SERVER_PRINCIPAL)
  }

  /**
   * Drops the document and builds it again from what storage holds plus `pending` (updates integrated
   * in this batch and not committed yet): whatever else the document took in leaves no trace.
   */
  private async rebuild (pending: readonly Uint8Array[]): Promise<void> {
    const { updates } = await this.storage.load(this.name)
    const doc = new Y.Doc({ guid: this.name, gc: true })
    doc.transact(() => {
      for (const r of updates) Y.applyUpdate(doc, r.data)
      for (const u of pending) Y.applyUpdate(doc, u)
    }, { source: 'storage' } satisfies Origin)
    doc.clientID = this.serverClient
    const old = this.current
    this.current = doc
    old.destroy()
  }

  get entity (): EntityDef { return this.ctx.entity }

  /** The record's owner as a decision needs it, or undefined while it does not exist. */
  ownership (): RecordOwnership | undefined {
    if (this.ctx.field !== undefined) return this.ctx.parentOwnership?.()
    const meta = this.current.getMap(META_MAP)
    if (!meta.has('entity')) return undefined
    return metaOwnership(this.name, k => meta.get(k)) ?? undefined
  }

  /** Whether a user may open this record: read access, or (while it does not exist) create access; a
   * secured field's document: read access to its record and read permission on the field. */
  mayOpen (ix: ModelIndex, userId: string): boolean {
    const o = this.ownership()
    const { entity, field } = this.ctx
    if (field !== undefined) return o !== undefined && mayAccess(ix, userId, 'read', entity.name, o).allowed && fieldPermission(ix, userId, entity.name, field).read
    return o === undefined
      ? mayAccess(ix, userId, 'create', entity.name).allowed
      : mayAccess(ix, userId, 'read', entity.name, o).allowed
  }

  /** The entity's attributes that are secured now (kept in their own documents, not in this one). */
  private secured (): ReadonlySet<string> {
    const version = this.ctx.security.index.version
    if (this.securedCache?.version !== version) {
      const e = this.ctx.entity.name
      this.securedCache = { version, set: new Set(this.ctx.security.model.securedFields.filter(f => f.startsWith(`${e}.`)).map(f => f.slice(e.length + 1))) }
    }
    return this.securedCache.set
  }

  private securedCache: { version: number, set: ReadonlySet<string> } | undefined

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
      entity, record: this.name, userId: peer.principal, ix: security.index, now: this.ctx.now(),
      delivered: peer.delivered === undefined ? undefined : security.at(peer.delivered),
      rules: this.ctx.field === undefined ? this.ctx.rules : undefined, flows: this.ctx.field === undefined ? this.ctx.flows : undefined,
      parent: this.ctx.field === undefined ? undefined : this.ownership() ?? null,
      secured: this.ctx.field === undefined ? this.secured() : undefined,
      blobSize: this.ctx.blobSize, ownershipOf: this.ctx.ownershipOf, isServerClient: c => this.bindings.get(c) === SERVER_PRINCIPAL,
      command: decision?.kind === 'accept' ? decision.command : undefined,
      reject: decision?.kind === 'reject' ? decision : undefined,
      conflicts: this.ctx.conflicts === undefined ? undefined : { ...this.ctx.conflicts, principalOf: c => this.bindings.get(c) }
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
    if (!check.ok) return { ok: false, reason: check.problem === 'stale-clocks' ? Reason.foreignClientId : Reason.invalidValue, message: check.message, missing: check.problem === 'missing-dependencies' }
    const violation = checkLayout(this.current, check.decoded, this.ctx.entity, this.layout())
    if (violation !== null) return { ok: false, reason: Reason.invalidValue, message: `not part of a ${this.ctx.entity.name} record: ${violation.path}: ${violation.message}`, missing: false }
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
    if (job.kind === 'update' || job.kind === 'step1') {
      // What one connection may have waiting in the record's pipeline is bounded: a peer that sends faster
      // than the record takes it is closed (the rest of its messages go nowhere).
      const w = this.waiting.get(job.peer) ?? { count: 0, bytes: 0 }
      w.count++
      w.bytes += job.kind === 'update' ? job.update.length : job.stateVector.length
      if (w.count > MAX_WAITING_PER_PEER.messages || w.bytes > MAX_WAITING_PER_PEER.bytes) { job.peer.close(CloseCode.rateLimited, 'too many messages waiting for this record'); return }
      this.waiting.set(job.peer, w)
    }
    this.inbox.push(job)
    if (!this.running) this.idle = this.run()
  }

  /** messages of each connection queued and not processed yet */
  private readonly waiting = new Map<Peer, { count: number, bytes: number }>()

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

  /**
   * One batch: every job is checked, decided and integrated (or refused without a trace) in order, one
   * job's failure costing only its sender; then everything kept is committed in one storage append, and
   * only then published.
   */
  private async process (jobs: Job[]): Promise<void> {
    const replies: { peer: Peer, stateVector: Uint8Array }[] = []
    const batch: Batch = { accepted: [], receipts: [], bindings: [], usage: new Map(), direct: [], closes: [] }
    const serverJobs: ((e?: Error) => void)[] = []
    const ownerBefore = this.ownership()
    for (const job of jobs) {
      if (job.kind === 'server') {
        const update = this.capture(() => this.current.transact(() => job.write(this.current), { source: 'projection' } satisfies Origin))
        if (update !== null) batch.accepted.push({ peer: null, update, echo: true })
        serverJobs.push(job.done)
        continue
      }
      const w = job.kind === 'command' ? undefined : this.waiting.get(job.peer)
      if (w !== undefined && job.kind !== 'command') {
        w.count--
        w.bytes -= job.kind === 'update' ? job.update.length : job.stateVector.length
        if (w.count <= 0) this.waiting.delete(job.peer)
      }
      if (!this.peers.has(job.peer)) continue
      if (job.kind === 'step1') { replies.push(job); continue }
      const decision = job.kind === 'command' ? job.decision : undefined
      if (decision?.kind === 'abort') continue
      const kept = batch.accepted.length
      try {
        await this.handleUpdate(job.peer, job.update, decision, batch)
      } catch (e) {
        // An update nothing foresaw broke its own processing: it leaves no trace and costs only its sender.
        console.error(`record ${this.name}: an update of ${job.peer.principal} failed: ${(e as Error).stack ?? (e as Error).message}`)
        batch.accepted.splice(kept)
        await this.rebuild(batch.accepted.map(a => a.update))
        batch.closes.push({ peer: job.peer, code: CloseCode.malformed, reason: 'this update could not be processed' })
      }
    }
    const { accepted, receipts, bindings } = batch
    if (accepted.some(a => a.peer === null || a.echo) && !this.serverBound) {
      bindings.push({ client: this.serverClient, principal: SERVER_PRINCIPAL })
      this.serverBound = true
    }
    let committedReceipts: Receipt[] = []
    if (accepted.length > 0 || receipts.length > 0 || bindings.length > 0) {
      const merged = accepted.length === 0 ? null : accepted.length === 1 ? accepted[0].update : Y.mergeUpdates(accepted.map(a => a.update))
      const usage: PrincipalUsage[] = [...batch.usage].map(([principal, u]) => ({ principal, ...u }))
      const effects: CommitEffects = {
        // A receipt names the device whose change it was: that device's inbox gets it (README, "Receipts").
        // One for another user (a conflict entry about their value) goes to every device of theirs.
        receipts: receipts.map(r => r.peer === null ? { ...r.receipt, device: EVERY_DEVICE } : r.peer.device === undefined ? r.receipt : { ...r.receipt, device: r.peer.device }),
        bindings,
        usage,
        row: accepted.length > 0 ? this.row() : undefined
      }
      const committed = await this.storage.append(this.name, merged, effects)
      committedReceipts = committed.receipts
      if (merged !== null) { this.lastSeq = committed.seq; this.logRows++ }
    }
    this.publish(batch, committedReceipts, ownerBefore)
    // The document now equals what storage holds, so a reply cannot leak anything uncommitted.
    for (const r of replies) {
      if (this.peers.has(r.peer)) r.peer.send(encodeSyncUpdate(SyncStep.step2, Y.encodeStateAsUpdate(this.current, r.stateVector)))
    }
    if (this.logRows > this.options.compactAfter || (this.compactRequested && this.lastSeq > 0)) {
      // One merged row from the collected document: no earlier row keeps content deleted since.
      this.compactRequested = false
      await this.storage.compact(this.name, Y.encodeStateAsUpdate(this.current), this.lastSeq)
      this.logRows = 1
    }
    for (const done of serverJobs) done()
  }

  private compactRequested = false

  /** Merges the record's log into one row now (after a value was moved out of it, say). */
  compactNow (): Promise<void> {
    this.compactRequested = true
    return this.write(() => {})
  }

  private layout (): LayoutOptions {
    return this.ctx.field !== undefined ? { field: this.ctx.field } : {}
  }

  /** The projected row this document writes: a record's own columns, or a secured field's one column. */
  private row (): NonNullable<CommitEffects['row']> {
    const { entity, field } = this.ctx
    const state = readRecord(this.current, entity, NO_NOTES)
    if (field === undefined) return { entity: entity.name, id: parseDocName(this.name)!.id, values: rowOf(entity, state, this.secured()) }
    const f = parseFieldDocName(this.name)!
    const memo = entity.attributes.find(a => a.name === field)?.type === 'memo'
    return { entity: entity.name, id: f.id, values: { [field]: sqlValue(memo ? state.texts[field] : state.fields[field]) }, partial: true }
  }

  /** After the commit: who may no longer read goes first, then updates, sender-only messages and receipts in order. */
  private publish (batch: Batch, receipts: readonly Receipt[], ownerBefore: ReturnType<Room['ownership']>): void {
    const ownerAfter = this.ownership()
    // A reassignment is the last byte of the record a user who loses read access by it could get: close first.
    if (ownerAfter?.ownerid !== ownerBefore?.ownerid || ownerAfter?.owningbusinessunit !== ownerBefore?.owningbusinessunit) {
      this.revokeUnreadable(this.ctx.security.index)
      this.ctx.onOwnerChange?.(this.name)
    }
    for (const c of batch.closes) c.peer.close(c.code, c.reason)
    let direct = 0
    const sendDirect = (upTo: number): void => {
      while (direct < batch.direct.length && batch.direct[direct].at <= upTo) {
        const d = batch.direct[direct++]
        if (this.peers.has(d.peer)) d.peer.send(typeof d.message === 'function' ? d.message() : d.message)
      }
    }
    batch.accepted.forEach((a, i) => {
      sendDirect(i)
      const message = encodeSyncUpdate(SyncStep.update, a.update)
      for (const p of this.peers) if (p !== a.peer || a.echo) p.send(message)
    })
    sendDirect(Number.POSITIVE_INFINITY)
    if (batch.accepted.length > 0) this.ctx.onCommit?.(this.name)
    receipts.forEach((r, i) => {
      const peer = batch.receipts[i].peer
      if (peer === null) {
        for (const p of this.peers) if (p.principal === r.principal && p.wantsReceipts) p.send(encodeReceipts([r]))
      } else if (peer.wantsReceipts && this.peers.has(peer)) peer.send(encodeReceipts([r]))
    })
  }

  /** Runs `f` and returns the update of the transaction it made (null when it changed nothing). */
  private capture (f: () => void): Uint8Array | null {
    let update: Uint8Array | null = null
    const doc = this.current
    const on = (u: Uint8Array): void => { update = update === null ? u : Y.mergeUpdates([update, u]) }
    doc.on('update', on)
    try { f() } finally { doc.off('update', on) }
    return update
  }

  /** A receipt for the whole of a refused update (not for a change in it). */
  private wholeReceipt (principal: string, reason: ReasonCode, message: string, field: string | null = null): Receipt {
    return { principal, record: this.name, change: 'update', field, attempted: null, kept: null, reason, message, privilegeVersion: this.ctx.security.index.version, at: this.ctx.now() }
  }

  /** Queues receipts for `peer`, within the principal's receipt quota (past it, one quota receipt and the socket closes). */
  private addReceipts (batch: Batch, peer: Peer, receipts: readonly Receipt[]): boolean {
    if (receipts.length === 0) return true
    const principal = peer.principal
    const over = this.quotas.exceeded(principal, { receipts: receipts.length })
    if (over !== null) {
      this.overQuota(batch, peer, over)
      return false
    }
    for (const r of receipts) batch.receipts.push({ peer, receipt: r })
    this.count(batch, principal, { receipts: receipts.length })
    return true
  }

  private count (batch: Batch, principal: string, kept: { receipts?: number, refusedBytes?: number }): void {
    this.quotas.add(principal, kept)
    const u = batch.usage.get(principal) ?? { receipts: 0, refusedBytes: 0 }
    u.receipts += kept.receipts ?? 0
    u.refusedBytes += kept.refusedBytes ?? 0
    batch.usage.set(principal, u)
  }

  /** The sender passed a bound: it is told once (if its receipts allow) and its socket closes. */
  private overQuota (batch: Batch, peer: Peer, why: string): void {
    if (this.quotas.mayNotify(peer.principal)) {
      batch.receipts.push({ peer, receipt: this.wholeReceipt(peer.principal, Reason.quotaExceeded, `${why}; this update was not kept`) })
      this.count(batch, peer.principal, { receipts: 1 })
    }
    batch.closes.push({ peer, code: CloseCode.quotaExceeded, reason: why.slice(0, 120) })
  }

  /**
   * One update (or command part) from `peer`: check (decodes, dependencies known, client ids its own,
   * within quota, within the layout — else it leaves no trace and its sender alone gets what it needs to
   * converge), then decide and integrate it with its refused part compensated in the same transaction.
   */
  private async handleUpdate (peer: Peer, update: Uint8Array, decision: PartDecision | undefined, batch: Batch): Promise<void> {
    const doc = this.current
    const check = checkUpdate(doc, update)
    if (!check.ok && check.problem === 'stale-clocks') {
      if (this.takeRefusal(batch, peer)) this.addReceipts(batch, peer, [this.wholeReceipt(peer.principal, Reason.foreignClientId, check.message)])
      return
    }
    if (!check.ok) {
      if (check.problem === 'malformed') batch.closes.push({ peer, code: CloseCode.malformed, reason: check.message.slice(0, 120) })
      // Ask the peer for what we lack, after what this batch sends it (a revert of its earlier refused
      // update must reach it first, so that its answer carries the revert too).
      else batch.direct.push({ peer, message: () => encodeSyncStep1(this.current), at: batch.accepted.length })
      return
    }
    const principal = peer.principal
    const foreign = this.foreignClient(check.clients, principal)
    if (foreign !== undefined) {
      if (this.takeRefusal(batch, peer)) this.addReceipts(batch, peer, [this.wholeReceipt(principal, Reason.foreignClientId, `Yjs client id ${foreign} belongs to another writer of this record; use a new Y.Doc client id`)])
      return
    }
    const fresh = check.clients.filter(c => !this.bindings.has(c))
    const tooMany = this.quotas.exceeded(principal, { clientIds: fresh.length })
    if (tooMany !== null) { this.overQuota(batch, peer, tooMany); return }
    const violation = checkLayout(doc, check.decoded, this.ctx.entity, this.layout())
    if (violation !== null) {
      const receipt = this.wholeReceipt(principal, Reason.invalidValue, `not part of a ${this.ctx.entity.name} record: ${violation.message}`, violation.path)
      await this.refuseWhole(peer, update, check.decoded, [receipt], batch)
      return
    }
    const before = batch.accepted.length
    let result: ReturnType<typeof projectUpdate> | undefined
    const integrated = this.capture(() => {
      result = projectUpdate(doc, update, this.projectionContext(peer, decision), { source: 'device', peer } satisfies Origin, this.ctx.now())
    })
    const r = result!
    if (integrated === null) return // nothing new (sent again)
    // What a user may not do, or could not show (a change of nothing by a user who may not write), is kept
    // as content-free placeholders only (the compensation in the same transaction collected the values),
    // so that every replica orders later writes alike; it counts against the user's quota and rate.
    const refused = r.receipts.length > 0 || (r.changes.length === 0 && !this.mayWrite(principal))
    if (refused) {
      const drop = async (): Promise<void> => { batch.accepted.splice(before); await this.rebuild(batch.accepted.map(a => a.update)) }
      if (!this.takeRefusal(batch, peer)) { await drop(); return }
      const over = this.quotas.exceeded(principal, { receipts: r.receipts.length, refusedBytes: integrated.length, clientIds: fresh.length })
      if (over !== null) { await drop(); this.overQuota(batch, peer, over); return }
      this.count(batch, principal, { refusedBytes: integrated.length })
      this.addReceipts(batch, peer, r.receipts)
    }
    // Conflict entries: the sender's own go to its connection, another user's to all of theirs. They are
    // not refusals (no rate), but they count as receipts the record keeps for that user: past the user's
    // quota they are not kept (the write itself is), so that nobody's conflicts, whoever causes them, put
    // a user over the quota that would close their next update.
    // An entry shows the value that won: none for a user who may no longer read the record (or the field).
    for (const c of r.conflicts) {
      if (this.quotas.exceeded(c.principal, { receipts: 1 }) !== null) continue
      if (c.principal !== principal && !this.may(c.principal, 'read')) continue
      batch.receipts.push({ peer: c.principal === principal ? peer : null, receipt: c })
      this.count(batch, c.principal, { receipts: 1 })
    }
    this.bind(batch, fresh, principal)
    // The author needs the result too when part of its update was reverted.
    batch.accepted.push({ peer, update: integrated, echo: r.compensated })
  }

  /** One refusal from the sender's rate; past it the socket closes (4429) and false. */
  private takeRefusal (batch: Batch, peer: Peer): boolean {
    if (this.quotas.takeRefusal(peer.principal)) return true
    batch.closes.push({ peer, code: CloseCode.rateLimited, reason: 'too many refused updates' })
    return false
  }

  private bind (batch: Batch, clients: readonly number[], principal: string): void {
    for (const c of clients) {
      this.bindings.set(c, principal)
      batch.bindings.push({ client: c, principal })
      this.quotas.add(principal, { clientIds: 1 })
    }
  }

  /** Whether the user may write this record (its field, for a secured field's document) now. */
  private mayWrite (userId: string): boolean {
    return this.may(userId, 'write')
  }

  private may (userId: string, p: 'read' | 'write'): boolean {
    const o = this.ownership()
    const { entity, field, security } = this.ctx
    if (o === undefined) return false
    if (!mayAccess(security.index, userId, p, entity.name, o).allowed) return false
    return field === undefined || (p === 'read' ? fieldPermission(security.index, userId, entity.name, field).read : fieldPermission(security.index, userId, entity.name, field).update)
  }

  /**
   * Refuses an update outside the layout so that it leaves no trace: the sender alone gets its receipts
   * and the update that reverts its own copy, computed on the record's document (holding nothing but what
   * is committed or kept in this batch) with the refused update integrated; the document is then built
   * again without it. (The sender's copy then holds structs the record does not: a later write of the same
   * key by another user may be ordered differently there until it sends its state again.)
   */
  private async refuseWhole (peer: Peer, update: Uint8Array, decoded: DecodedUpdate, receipts: readonly Receipt[], batch: Batch): Promise<void> {
    if (!this.takeRefusal(batch, peer)) return
    const doc = this.current
    const state = readRecord(doc, this.ctx.entity)
    Y.applyUpdate(doc, update)
    // A fresh client id: writing under the sender's own would make its Yjs pick a new one (and
    // y-websocket's presence then fails), and could collide with what it wrote meanwhile.
    const revert = revertForSender(doc, decoded.structs, state, this.ctx.entity, senderScratchClient())
    await this.rebuild(batch.accepted.map(a => a.update))
    if (this.addReceipts(batch, peer, receipts) && revert !== null) {
      batch.direct.push({ peer, message: encodeSyncUpdate(SyncStep.update, revert), at: batch.accepted.length })
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
    this.presence.awareness.doc.destroy()
    this.doc.destroy()
  }
}
