// One loaded record: its Y.Doc, the members syncing it, presence, and the ordered path of every update
// from a member: check -> decide (integrate) -> commit -> publish (src/server/pipeline/). Nothing reaches
// another member, or any state reply, before the storage commit that contains it has returned.
// The API is typed (RoomMember, submit, requestState, presence; `events` for what it publishes): /sync
// and /device are adapters.

import * as Y from 'yjs'
import { ObservableV2 } from 'lib0/observable'
import type { EntityDef } from '../docs/catalog-types.ts'
import { META as META_MAP, readRecord, rootMap } from '../docs/record.ts'
import { fieldPermission, mayAccess, type ModelIndex } from '../authz/decide.ts'
import { metaOwnership, type RecordOwnership } from '../docs/ownership.ts'
import type { DocName } from '../ids.ts'
import { projectUpdate, revertForSender, type ProjectContext } from '../projection/project.ts'
import type { CommandGrant } from '../projection/decide-changes.ts'
import { Reason, type Receipt, type ReasonCode } from '../protocol/receipts.ts'
import type { RecordStorage } from './storage/port.ts'
import { CloseCode } from '../protocol/codes.ts'
import { Presence } from './presence.ts'
import { MalformedMessage, unexpectedCase } from '../errors.ts'
import type { DecodedUpdate } from './update-check.ts'
import type { LayoutOptions } from '../docs/layout.ts'
import type { RoomMember, SubmitOutcome } from './room-member.ts'
import { newBatch, type Batch } from './pipeline/batch.ts'
import { check, type Admission } from './pipeline/check.ts'
import { capture, decide } from './pipeline/decide.ts'
import { commitOf } from './pipeline/commit.ts'
import { BatchUpdate } from './pipeline/batch-update.ts'
import { publish } from './pipeline/publish.ts'
import { DEFAULT_LIMITS, RecordQuotas, type QuotaLimits } from './quotas.ts'
import { addReceipts, count, keepConflicts, overQuota, takeRefusal, type RefusalScope } from './pipeline/refusals.ts'
import { QuietCompaction } from './room-compaction.ts'
import { RecordValues } from './room-values.ts'
import { COMPACT_BUSY_FACTOR, COMPACT_QUIET_MS, MAX_WAITING_PER_PEER, ROOM_BASE_BYTES, SERVER_CLIENT_RANGE, SERVER_PRINCIPAL, STRUCT_BYTES, type CommandGate, type CommandPartSubmission, type Job, type Origin, type PartDecision, type PartTrial, type RoomContext, type RoomOptions } from './room-types.ts'

import type { Published, RoomEvents } from './room-events.ts'
import { afterBatch, applyPublished, lockedProcess, newPeerState, type PeerRoom } from './room-catch-up.ts'
import { UpdateContext } from './update-context.ts'
import { pace, TURN_BUDGET_MS } from './pacing.ts'

export type { RoomMember, SubmitOutcome, UpdateReason } from './room-member.ts'
export { COMPACT_BUSY_FACTOR, COMPACT_QUIET_MS, MAX_WAITING_PER_PEER, SERVER_CLIENT_RANGE, SERVER_PRINCIPAL } from './room-types.ts'
export type { CommandGate, CommandPartSubmission, Origin, PartDecision, PartTrial, RoomContext, RoomOptions } from './room-types.ts'
export type { RoomEvents, CommittedEvent, CompactedEvent, EvictedEvent, PresenceEvent } from './room-events.ts'

/** Conflict entries of other instances' commits a copy keeps until it takes in those commits. */
const MAX_HELD_RECEIPTS = 256

/** A fresh client id outside the server's range, for what the server writes for a sender alone (it
 * comes back, if ever, as part of that sender's state, and is then bound to it). */
const senderScratchClient = (): number => SERVER_CLIENT_RANGE + Math.floor(Math.random() * (0xffffffff - SERVER_CLIENT_RANGE))

/** The presence update limit of the configured limits. */
const presenceLimitOf = (limits: Partial<QuotaLimits> | undefined): { burst: number, perSecond: number } =>
  ({ burst: limits?.presenceBurst ?? DEFAULT_LIMITS.presenceBurst, perSecond: limits?.presencePerSecond ?? DEFAULT_LIMITS.presencePerSecond })

export class Room {
  readonly name: DocName
  readonly members = new Set<RoomMember>()
  /** what the record publishes: commits, evictions, presence */
  readonly events = new ObservableV2<RoomEvents>()
  /** the record's presence, made when a member first takes part in it: most rooms (devices' edits, HTTP
   * writes) never do, and each Presence keeps a document and a 3 s timer */
  private presenceOf: Presence<RoomMember> | undefined
  private get awareness (): Presence<RoomMember> {
    return this.presenceOf ??= new Presence(new Y.Doc({ guid: `${this.name}#presence` }), () => this.members, { identity: id => this.ctx.security.index.user(id), boundTo: c => this.bindings.get(c), published: update => this.events.emit('presence', [{ record: this.name, update }]), updates: presenceLimitOf(this.options.limits) })
  }
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
  private readonly quiet: QuietCompaction
  private readonly recordValues: RecordValues
  private lastSeq = 0
  private broken = false
  private loaded = false
  /** the room as catching up with other server instances reaches it (room-catch-up.ts); made on first
   * use, so that a room of a single process (SQLite) costs nothing more */
  private peerRoom: PeerRoom | undefined
  private get peer (): PeerRoom {
    return this.peerRoom ??= this.makePeer()
  }

  private makePeer (): PeerRoom {
    return {
      state: newPeerState(this.lastSeq),
      record: () => this.name,
      doc: () => this.current,
      lastSeq: () => this.lastSeq,
      took: (seq, entries) => { this.lastSeq = seq; this.logRows += entries },
      // (A client id bound elsewhere counts toward its principal's quota here too.)
      bind: (client, principal) => { if (!this.bindings.has(client)) { this.bindings.set(client, principal); this.quotas.add(principal, { clientIds: 1 }) } },
      usage: u => this.quotas.setUsage(u),
      members: () => this.members,
      ownership: () => this.ownership(),
      revokeUnreadable: () => this.revokeUnreadable(this.ctx.security.index),
      committed: e => { this.events.emit('committed', [e]); this.sendPeerReceipts() },
      refreshSecurity: saved => this.ctx.security.refresh(saved),
      busy: () => this.busy,
      catchUpLater: () => { this.write(() => {}).catch(() => {}) }
    }
  }

  constructor (name: DocName, storage: RecordStorage, options: RoomOptions, ctx: RoomContext) {
    this.name = name
    this.storage = storage
    this.options = options
    this.ctx = ctx
    this.recordValues = new RecordValues(name, ctx)
    this.quiet = new QuietCompaction({
      quietMs: options.compactQuietMs ?? COMPACT_QUIET_MS,
      due: () => !this.broken && this.logRows > this.options.compactAfter,
      busy: () => this.busy,
      compact: () => this.compactNow()
    })
    this.current = this.recordValues.watch(new Y.Doc({ guid: name, gc: true }))
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
    // (A log left past the bound, by a server that stopped before it was quiet, is merged once this one is.)
    if (this.logRows > this.options.compactAfter) this.quiet.committed()
    this.lastSeq = updates.length > 0 ? updates[updates.length - 1].seq : 0
    for (const b of bindings) this.bindings.set(b.client, b.principal)
    this.quotas = new RecordQuotas({ ...DEFAULT_LIMITS, ...this.options.limits }, usage, bindings.map(b => b.principal))
    this.refusals = this.refusalScope()
    // A fresh client id for this server's writes, never one that has written to this record before.
    let client = this.options.serverClient ?? 0
    if (client === 0) {
      do client = 1 + Math.floor(Math.random() * (SERVER_CLIENT_RANGE - 1))
      while (this.bindings.has(client) || Y.getState(this.current.store, client) > 0)
    }
    this.serverClient = client
    this.current.clientID = client
    this.bindings.set(client, SERVER_PRINCIPAL)
    this.loaded = true
  }

  /**
   * Drops the document and builds it again from what storage holds plus `pending` (updates integrated
   * in this batch and not committed yet): whatever else the document took in leaves no trace. Returns
   * the bytes of updates it applied.
   */
  private async rebuild (pending: readonly Uint8Array[]): Promise<number> {
    const { updates } = await this.storage.load(this.name)
    let bytes = 0
    for (const r of updates) bytes += r.data.length
    for (const u of pending) bytes += u.length
    const doc = this.recordValues.watch(new Y.Doc({ guid: this.name, gc: true }))
    doc.transact(() => {
      for (const r of updates) Y.applyUpdate(doc, r.data)
      for (const u of pending) Y.applyUpdate(doc, u)
    }, { source: 'storage' } satisfies Origin)
    doc.clientID = this.serverClient
    const old = this.current
    this.current = doc
    old.destroy()
    return bytes
  }

  get entity (): EntityDef { return this.ctx.entity }

  /** The heap the record's document takes, estimated from its structs (ROOM_BASE_BYTES, STRUCT_BYTES). */
  weight (): number {
    let structs = 0
    for (const list of this.current.store.clients.values()) structs += list.length
    return ROOM_BASE_BYTES + structs * STRUCT_BYTES
  }

  /** The record's owner as a decision needs it, or undefined while it does not exist. */
  ownership (): RecordOwnership | undefined {
    if (this.ctx.field !== undefined) return this.ctx.parentOwnership?.()
    const meta = rootMap(this.current, META_MAP)
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

  /** What business rules read in this document (a record's values, or a secured field's), or undefined until it is loaded. */
  values (): Readonly<Record<string, unknown>> | undefined {
    return this.loaded ? this.recordValues.values(this.current) : undefined
  }

  /** Closes the members that may no longer read the record. */
  revokeUnreadable (ix: ModelIndex): void {
    for (const m of [...this.members]) {
      if (!this.mayOpen(ix, m.principal)) {
        m.close(CloseCode.readRevoked, 'read access revoked')
        this.events.emit('evicted', [{ record: this.name, member: m }])
      }
    }
  }

  /** An update another server instance committed to this record (`prevSeq`: the record's position before
   * it), with the client ids it bound and its receipts for users other than its writers. */
  applyPeer (prevSeq: number, seq: number, updates: readonly Uint8Array[], published: Published = {}): void {
    this.ready.then(() => {
      if (this.broken) return
      applyPublished(this.peer, prevSeq, seq, updates, published.bindings)
      // Conflict entries reach their users' members here as on the instance that decided them, after the
      // update they are about: held until the copy has taken it in (from Redis or catching up).
      if ((published.receipts ?? []).length > 0) this.peerReceipts.push({ seq, receipts: published.receipts! })
      this.sendPeerReceipts()
    }, () => {})
  }

  /** Conflict entries other instances published, waiting for this copy to take in their commits. */
  private peerReceipts: { readonly seq: number, readonly receipts: readonly Receipt[] }[] = []

  private sendPeerReceipts (): void {
    if (this.peerReceipts.length === 0) return
    // (Past a bound, the oldest go out now: a copy that stays behind must not keep them without end.)
    const due = this.peerReceipts.filter((p, i) => p.seq <= this.lastSeq || i < this.peerReceipts.length - MAX_HELD_RECEIPTS)
    if (due.length === 0) return
    this.peerReceipts = this.peerReceipts.filter(p => !due.includes(p))
    for (const p of due) for (const r of p.receipts) for (const m of this.members) if (m.principal === r.principal) m.receipts([r])
  }

  /** Takes in whatever other server instances committed that this copy lacks (after fan-out was cut). */
  catchUp (): void {
    if (this.storage.locks !== undefined && !this.broken) this.peer.catchUpLater()
  }

  /** Catches up if the record's log reached `seq` and this copy is behind it (a published message was lost). */
  catchUpTo (seq: number): void {
    if (seq > this.lastSeq) this.catchUp()
  }

  /** Runs a server-side write (an assignment, say) through the same commit path as device updates. */
  write (f: (doc: Y.Doc) => void): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'server', write: f, done: e => e === undefined ? resolve() : reject(e) }))
  }

  /** The record's state vector (what a member compares its copy with). */
  stateVector (): Uint8Array {
    return Y.encodeStateVector(this.current)
  }

  /** Adds a member; it gets the record's current presence (if any). */
  join (member: RoomMember): void {
    this.members.add(member)
    this.presenceOf?.sendAll(member)
  }

  leave (member: RoomMember): void {
    this.members.delete(member)
    this.presenceOf?.leave(member)
  }

  /**
   * `members` leave, and what they have waiting in the pipeline (updates, not command parts; state
   * requests) goes without being processed: their updates settle `dropped`. For a sender that went away
   * (a closed device session): what it handed over and the record has not taken yet is not kept for it.
   */
  withdraw (members: ReadonlySet<RoomMember>): void {
    for (const m of members) { this.leave(m); this.waiting.delete(m) }
    const gone: Extract<Job, { kind: 'update' }>[] = []
    this.inbox = this.inbox.filter(j => {
      if (j.kind === 'server' || !members.has(j.member) || (j.kind === 'update' && j.gate !== undefined)) return true
      if (j.kind === 'update') gone.push(j)
      return false
    })
    for (const j of gone) j.settle({ kind: 'dropped' })
  }

  /**
   * Queues an update of `member`'s, or a part of a command, through the pipeline. Resolves once it is
   * decided and committed (or could not be); what the record publishes goes to the members meanwhile.
   * A command part waits in the pipeline until its gate has decided it with the other parts (not
   * decided: `dropped`). Never rejects.
   */
  submit (member: RoomMember, submission: Uint8Array | CommandPartSubmission): Promise<SubmitOutcome> {
    return new Promise(settle => this.enqueue(submission instanceof Uint8Array
      ? { kind: 'update', member, update: submission, settle }
      : { kind: 'update', member, update: submission.update, settle, gate: submission.gate }))
  }

  /** A member's step 1: it gets (`update(…, 'reply')`) what the record has beyond `stateVector`, once
   * nothing uncommitted is held. Throws MalformedMessage on a state vector that does not decode. */
  requestState (member: RoomMember, stateVector: Uint8Array): void {
    try {
      Y.decodeStateVector(stateVector)
    } catch (e) {
      throw new MalformedMessage(`state vector does not decode: ${(e as Error).message}`, { cause: e })
    }
    this.enqueue({ kind: 'state', member, stateVector })
  }

  /** A member's awareness update (y-protocols). Throws on malformed bytes; past a bound it closes the member. */
  presence (member: RoomMember, awarenessUpdate: Uint8Array): void {
    this.awareness.receive(member, awarenessUpdate)
  }

  /** An awareness update another server instance relayed to its members of this record: relayed to ours. */
  relayPresence (awarenessUpdate: Uint8Array): void {
    const update = this.awareness.relayed(awarenessUpdate)
    if (update !== null) for (const m of this.members) m.presence(update)
  }

  /** A member asks for every presence state; past the rate limit it is closed with 4429. */
  queryPresence (member: RoomMember): void {
    this.awareness.query(member)
  }

  private projectionContext (member: RoomMember, decision?: PartDecision): ProjectContext {
    const { entity, security } = this.ctx
    return new UpdateContext({
      entity, record: this.name, userId: member.principal, ix: security.index, now: this.ctx.now(),
      security, deliveredVersion: member.delivered,
      rules: this.ctx.rules, flows: this.ctx.field === undefined ? this.ctx.flows : undefined,
      parent: this.ctx.field === undefined ? undefined : this.ownership() ?? null,
      secured: this.ctx.field === undefined ? this.recordValues.secured() : undefined, elsewhere: this.recordValues.elsewhere(),
      blobSize: this.ctx.blobSize, ownershipOf: this.ctx.ownershipOf, isServerClient: this.isServerClient,
      command: decision?.kind === 'accept' ? decision.command : undefined,
      reject: decision?.kind === 'reject' ? decision : undefined,
      conflicts: this.conflicts
    })
  }

  // (Made once: every update's context takes them.)
  private readonly isServerClient = (c: number): boolean => this.bindings.get(c) === SERVER_PRINCIPAL
  private readonly principalOf = (c: number): string | undefined => this.bindings.get(c)
  private get conflicts (): ProjectContext['conflicts'] {
    const c = this.ctx.conflicts
    if (c === undefined) return undefined
    this.conflictsCtx ??= { ...c, principalOf: this.principalOf }
    return this.conflictsCtx
  }

  private conflictsCtx: ProjectContext['conflicts']

  /**
   * What integrating `update` from `member` as a part of an accepted command would do, found on a copy of
   * the document (nothing here changes). Call it once the room called `CommandGate.decide`, while it waits.
   */
  trial (member: RoomMember, update: Uint8Array, command: CommandGrant): PartTrial {
    // The same check step, in the same order, as the part gets when it is integrated.
    const admission = this.admit(member, update)
    if (!admission.ok) return { ok: false, ...this.trialRefusal(admission), missing: admission.problem === 'missing-dependencies' }
    const copy = new Y.Doc({ guid: this.name })
    try {
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(this.doc))
      const r = projectUpdate(copy, update, this.projectionContext(member, { kind: 'accept', command }), null, this.ctx.now())
      const first = r.receipts[0]
      return { ok: true, before: r.before, after: r.after, changes: r.changes, denied: first === undefined ? null : { reason: first.reason, message: first.message } }
    } finally {
      copy.destroy()
    }
  }

  /** Step 1 (pipeline/check.ts) for an update of `member`'s to the document as it is now. */
  private admit (member: RoomMember, update: Uint8Array): Admission {
    return check(this.current, update, { principal: member.principal, bindings: this.bindings, quotas: this.quotas, entity: this.ctx.entity, layout: this.layout() })
  }

  /** Why a trial refuses a command part its check refused. */
  private trialRefusal (a: Extract<Admission, { ok: false }>): { reason: ReasonCode, message: string } {
    switch (a.problem) {
      case 'stale-clocks': return { reason: Reason.foreignClientId, message: a.message }
      case 'malformed': case 'missing-dependencies': return { reason: Reason.invalidValue, message: a.message }
      case 'foreign-client': return { reason: Reason.foreignClientId, message: `Yjs client id ${a.client} belongs to another writer of ${this.name}` }
      case 'too-many-clients': return { reason: Reason.quotaExceeded, message: a.message }
      case 'outside-layout': return { reason: Reason.invalidValue, message: `not part of a ${this.ctx.entity.name} record: ${a.path}: ${a.message}` }
      default: return unexpectedCase(a)
    }
  }

  private enqueue (job: Job): void {
    if (job.kind === 'update' && this.broken) {
      job.gate?.fail(new Error(`record ${this.name} is unavailable`))
      job.settle({ kind: 'failed' })
      return
    }
    // A command part is not counted: its coordinator holds at most one per record.
    if ((job.kind === 'update' && job.gate === undefined) || job.kind === 'state') {
      // What one member may have waiting in the record's pipeline is bounded: one that sends faster
      // than the record takes it is closed (the rest of its messages go nowhere).
      const w = this.waiting.get(job.member) ?? { count: 0, bytes: 0 }
      w.count++
      w.bytes += job.kind === 'update' ? job.update.length : job.stateVector.length
      if (w.count > MAX_WAITING_PER_PEER.messages || w.bytes > MAX_WAITING_PER_PEER.bytes) {
        job.member.close(CloseCode.rateLimited, 'too many messages waiting for this record')
        if (job.kind === 'update') job.settle({ kind: 'dropped' })
        return
      }
      this.waiting.set(job.member, w)
    }
    this.inbox.push(job)
    if (!this.running) this.idle = this.run()
  }

  /** messages of each member queued and not processed yet */
  private readonly waiting = new Map<RoomMember, { count: number, bytes: number }>()

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
        // Each batch takes its share of a turn of the event loop (pacing.ts): once a group commit returns,
        // every record with work queued would otherwise decide its next batch in that one turn, and sockets,
        // timers and the next commit wait for all of them (the live load held the loop for 200-600 ms).
        await pace(TURN_BUDGET_MS)
        if (this.inbox.length === 0 || this.broken) break
        // A command part is processed alone, once the coordinator has decided the whole command.
        const at = this.inbox.findIndex(isPart)
        const first = this.inbox[0]
        const part = at === 0 && isPart(first) ? first : undefined
        if (part !== undefined) {
          this.inbox.shift()
          jobs = [part]
          await part.gate.arrive()
        } else {
          jobs = at < 0 ? this.inbox : this.inbox.slice(0, at)
          this.inbox = at < 0 ? [] : this.inbox.slice(at)
        }
        const batch = jobs
        // A part is decided on the copy as every instance committed it (caught up under the lock), never
        // on what this copy held when the command came.
        const processBatch = async (): Promise<void> => {
          if (part !== undefined) part.decision = await part.gate.decide()
          await this.process(batch)
        }
        if (this.storage.locks === undefined) {
          await processBatch()
        } else {
          // (Nothing may be awaited between the part's arrival and asking for the lock: the parts of a
          // command ask in one turn, so that one transaction takes their locks in one order.)
          await lockedProcess(this.storage.locks, this.peer, processBatch, e => { if (part !== undefined && part.decision === undefined) part.gate.fail(e) })
          afterBatch(this.peer)
        }
      }
    } catch (e) {
      for (const j of [...jobs, ...this.inbox]) {
        if (j.kind === 'server') j.done(e as Error)
        if (j.kind === 'update') {
          if (j.gate !== undefined && j.decision === undefined) j.gate.fail(e as Error)
          j.settle({ kind: 'failed' })
        }
      }
      this.fail(e as Error)
    } finally {
      this.running = false
    }
  }

  /**
   * One batch: every job is checked and decided (integrated, or refused without a trace) in order, one
   * job's failure costing only its sender; then everything kept is committed in one storage append, and
   * only then published.
   */
  private async process (jobs: Job[]): Promise<void> {
    const replies: { member: RoomMember, stateVector: Uint8Array }[] = []
    const batch = newBatch()
    const serverJobs: ((e?: Error) => void)[] = []
    /** each update job's place in the batch, to tell its member what became of it once committed */
    const submitted: { job: Extract<Job, { kind: 'update' }>, receiptsFrom: number, receiptsTo: number, closesFrom: number, directFrom: number }[] = []
    const dropped: Extract<Job, { kind: 'update' }>[] = []
    const ownerBefore = this.ownership()
    const taken = new BatchUpdate(this.current)
    try {
      for (const job of jobs) {
        if (job.kind === 'server') {
          const update = capture(this.current, () => this.current.transact(() => job.write(this.current), { source: 'projection' } satisfies Origin))
          if (update !== null) batch.accepted.push({ member: null, update, echo: true })
          serverJobs.push(job.done)
          continue
        }
        const w = isPart(job) ? undefined : this.waiting.get(job.member)
        if (w !== undefined) {
          w.count--
          w.bytes -= job.kind === 'update' ? job.update.length : job.stateVector.length
          if (w.count <= 0) this.waiting.delete(job.member)
        }
        if (!this.members.has(job.member)) { if (job.kind === 'update') dropped.push(job); continue }
        if (job.kind === 'state') { replies.push(job); continue }
        const decision = job.decision
        if (decision?.kind === 'abort') { dropped.push(job); continue }
        const kept = batch.accepted.length
        const receiptsFrom = batch.receipts.length
        const closesFrom = batch.closes.length
        const directFrom = batch.direct.length
        try {
          // (Awaited only when it has something to wait for: most updates are decided synchronously.)
          const waiting = this.handleUpdate(job.member, job.update, decision, batch)
          if (waiting !== undefined) await waiting
        } catch (e) {
          // An update nothing foresaw broke its own processing: it leaves no trace and costs only its sender.
          console.error(`record ${this.name}: an update of ${job.member.principal} failed: ${(e as Error).stack ?? (e as Error).message}`)
          batch.accepted.splice(kept)
          await this.rebuild(batch.accepted.map(a => a.update))
          batch.closes.push({ member: job.member, code: CloseCode.malformed, reason: 'this update could not be processed' })
        }
        submitted.push({ job, receiptsFrom, receiptsTo: batch.receipts.length, closesFrom, directFrom })
      }
      if (batch.accepted.some(a => a.member === null || a.echo) && !this.serverBound) {
        batch.bindings.push({ client: this.serverClient, principal: SERVER_PRINCIPAL })
        this.serverBound = true
      }
    } catch (e) {
      taken.stop()
      throw e
    }
    // The batch's kept updates as one, from its transactions (a document rebuilt during the batch holds
    // them, but not as its transactions).
    let merged: Uint8Array | null = null
    if (batch.accepted.length > 1 && this.current === taken.doc) merged = taken.finish()
    else taken.stop()
    let committedReceipts: Receipt[] = []
    let prevSeq = 0
    const commit = commitOf(batch, () => this.recordValues.row(this.current), merged)
    if (commit !== null) {
      // Past the log's bound, this commit stores the record's whole state in place of its log, in the same
      // fsync: one merged entry from the collected document, so no earlier entry keeps content deleted since.
      // (The log's bound counts updates kept, as documented (COMPACT_AFTER), one row holding a batch's.)
      const kept = batch.accepted.length
      const compact = commit.updates.length > 0 && (this.compactRequested || this.logRows + kept > this.options.compactAfter * COMPACT_BUSY_FACTOR)
      const effects = compact ? { ...commit.effects, compacted: Y.encodeStateAsUpdate(this.current) } : commit.effects
      prevSeq = this.lastSeq
      const committed = await this.storage.append(this.name, commit.updates, effects)
      committedReceipts = committed.receipts
      if (commit.updates.length > 0) this.lastSeq = committed.seq
      if (compact) { this.logRows = 1; this.compactRequested = false; this.events.emit('compacted', [{ record: this.name }]) } else this.logRows += kept
      if (this.logRows > this.options.compactAfter) this.quiet.committed()
    }
    // Who may no longer read goes first: a reassignment is the last byte of the record a user who loses
    // read access by it could get.
    const ownerAfter = this.ownership()
    const ownerChanged = ownerAfter?.ownerid !== ownerBefore?.ownerid || ownerAfter?.owningbusinessunit !== ownerBefore?.owningbusinessunit
    if (ownerChanged) this.revokeUnreadable(this.ctx.security.index)
    publish(batch, committedReceipts, this.members, () => Y.encodeStateVector(this.current), commit?.updates.length === 1 ? commit.updates[0] : undefined)
    if (commit !== null && commit.updates.length > 0) {
      const forOthers = committedReceipts.filter((_, i) => batch.receipts[i].member === null)
      this.events.emit('committed', [{ record: this.name, updates: commit.updates, ownerChanged, seq: this.lastSeq, prevSeq, bindings: batch.bindings, receipts: forOthers }])
    }
    // The document now equals what storage holds, so a reply cannot leak anything uncommitted.
    for (const r of replies) this.reply(r.member, r.stateVector)
    for (const j of dropped) j.settle({ kind: 'dropped' })
    for (const { job, receiptsFrom, receiptsTo, closesFrom, directFrom } of submitted) {
      // (Searched in place: every update of the batch is settled here.)
      const member = job.member
      if (anyFrom(batch.closes, closesFrom, c => c.member === member)) job.settle({ kind: 'dropped' })
      else if (anyFrom(batch.direct, directFrom, d => d.member === member && d.message.kind === 'need-state')) job.settle({ kind: 'needs-state' })
      else job.settle({ kind: 'committed', receipts: receiptsTo === receiptsFrom ? NO_RECEIPTS : committedReceipts.slice(receiptsFrom, receiptsTo).filter((_, i) => batch.receipts[receiptsFrom + i].member === member) })
    }
    if (this.compactRequested && this.lastSeq > 0) {
      // Asked for with nothing to append: one merged entry on its own.
      this.compactRequested = false
      await this.storage.compact(this.name, Y.encodeStateAsUpdate(this.current), this.lastSeq)
      this.logRows = 1
      this.events.emit('compacted', [{ record: this.name }])
    }
    for (const done of serverJobs) done()
  }

  private compactRequested = false

  /** Answers a member's state request, within its principal's budget (STATE_REPLIES; past it the member is closed). */
  private reply (member: RoomMember, stateVector: Uint8Array): void {
    if (!this.members.has(member)) return
    const budget = this.ctx.stateReplies
    if (budget?.allows(member.principal) === false) { member.close(CloseCode.rateLimited, 'too many state requests'); return }
    const update = Y.encodeStateAsUpdate(this.current, stateVector)
    budget?.charge(member.principal, update.length)
    member.update(update, 'reply')
  }

  /** Merges the record's log into one row now (after a value was moved out of it, say). */
  compactNow (): Promise<void> {
    this.compactRequested = true
    return this.write(() => {})
  }

  private layout (): LayoutOptions {
    return this.ctx.field !== undefined ? { field: this.ctx.field } : {}
  }

  /** A receipt for the whole of a refused update (not for a change in it). */
  private wholeReceipt (principal: string, reason: ReasonCode, message: string, field: string | null = null): Receipt {
    return { principal, record: this.name, change: 'update', field, attempted: null, kept: null, reason, message, privilegeVersion: this.ctx.security.index.version, at: this.ctx.now() }
  }

  /** The record's quotas and receipts for refusals (pipeline/refusals.ts), once loaded. */
  private refusals!: RefusalScope

  /** (Made here, not in load(): a closure made there would keep load's scope, the whole log it read, for
   * as long as the record stays loaded: test/server/room-memory.test.ts.) */
  private refusalScope (): RefusalScope {
    return { quotas: this.quotas, whole: (p, r, m, f) => this.wholeReceipt(p, r, m, f ?? null) }
  }

  /**
   * One update (or command part) from `member`: check (pipeline/check.ts: else it leaves no trace and its
   * sender alone gets what it needs to converge), then decide and integrate it with its refused part
   * compensated in the same transaction (pipeline/decide.ts), adding what the batch keeps of it.
   */
  private handleUpdate (member: RoomMember, update: Uint8Array, decision: PartDecision | undefined, batch: Batch): Promise<void> | undefined {
    const doc = this.current
    const principal = member.principal
    const admission = this.admit(member, update)
    if (!admission.ok) {
      switch (admission.problem) {
        case 'stale-clocks':
          if (takeRefusal(this.quotas, batch, member)) addReceipts(this.refusals, batch, member, [this.wholeReceipt(principal, Reason.foreignClientId, admission.message)])
          return
        case 'malformed':
          batch.closes.push({ member, code: CloseCode.malformed, reason: admission.message.slice(0, 120) })
          return
        case 'missing-dependencies':
          // Ask the member for what we lack, after what this batch sends it (a revert of its earlier refused
          // update must reach it first, so that its answer carries the revert too).
          batch.direct.push({ member, message: { kind: 'need-state' }, at: batch.accepted.length })
          return
        case 'foreign-client':
          if (takeRefusal(this.quotas, batch, member)) addReceipts(this.refusals, batch, member, [this.wholeReceipt(principal, Reason.foreignClientId, `Yjs client id ${admission.client} belongs to another writer of this record; use a new Y.Doc client id`)])
          return
        case 'too-many-clients':
          overQuota(this.refusals, batch, member, admission.message)
          return
        case 'outside-layout': {
          const receipt = this.wholeReceipt(principal, Reason.invalidValue, `not part of a ${this.ctx.entity.name} record: ${admission.message}`, admission.path)
          return this.refuseWhole(member, update, admission.decoded, [receipt], batch)
        }
        default: unexpectedCase(admission)
      }
    }
    const { fresh } = admission
    const before = batch.accepted.length
    const ctx = this.projectionContext(member, decision)
    const { integrated, result: r, refused } = decide(doc, update, ctx, { source: 'device', member } satisfies Origin, ctx.now ?? this.ctx.now(), () => this.mayWrite(principal), admission.decoded)
    if (integrated === null) return // nothing new (sent again)
    if (refused) {
      const drop = async (): Promise<void> => { batch.accepted.splice(before); await this.rebuild(batch.accepted.map(a => a.update)) }
      if (!takeRefusal(this.quotas, batch, member)) return drop()
      const over = this.quotas.exceeded(principal, { receipts: r.receipts.length, refusedBytes: integrated.length, clientIds: fresh.length })
      if (over !== null) return drop().then(() => { overQuota(this.refusals, batch, member, over) })
      count(this.quotas, batch, principal, { refusedBytes: integrated.length })
      addReceipts(this.refusals, batch, member, r.receipts)
    }
    keepConflicts(this.quotas, batch, member, r.conflicts, p => this.may(p, 'read'))
    this.bind(batch, fresh, principal)
    // The author needs the result too when part of its update was reverted.
    batch.accepted.push({ member, update: integrated, echo: r.compensated })
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
  private async refuseWhole (member: RoomMember, update: Uint8Array, decoded: DecodedUpdate, receipts: readonly Receipt[], batch: Batch): Promise<void> {
    if (!takeRefusal(this.quotas, batch, member)) return
    if (this.ctx.wholeRefusals?.allows(member.principal) === false) {
      batch.closes.push({ member, code: CloseCode.rateLimited, reason: 'too many updates refused whole' })
      return
    }
    const doc = this.current
    const state = readRecord(doc, this.ctx.entity)
    // A fresh client id: writing under the sender's own would make its Yjs pick a new one (and
    // y-websocket's presence then fails), and could collide with what it wrote meanwhile.
    const revert = revertForSender(doc, update, decoded.structs, state, this.ctx.entity, senderScratchClient())
    this.ctx.wholeRefusals?.charge(member.principal, await this.rebuild(batch.accepted.map(a => a.update)))
    if (addReceipts(this.refusals, batch, member, receipts) && revert !== null) {
      batch.direct.push({ member, message: { kind: 'revert', update: revert }, at: batch.accepted.length })
    }
  }

  /** Storage failed or the document could not take an update: drop the in-memory state, close every member. */
  private fail (e: Error): void {
    this.broken = true
    this.inbox = []
    console.error(`record ${this.name}: ${e.message}; closing its members`)
    for (const m of [...this.members]) m.close(CloseCode.internalError, 'record unavailable, reconnect')
  }

  get isBroken (): boolean {
    return this.broken
  }

  destroy (): void {
    this.quiet.stop()
    this.events.destroy()
    this.presenceOf?.destroy()
    this.presenceOf?.awareness.doc.destroy()
    this.doc.destroy()
  }
}

/** Whether an element of `list` from index `from` on is one `f` selects. */
const anyFrom = <T>(list: readonly T[], from: number, f: (x: T) => boolean): boolean => {
  for (let i = from; i < list.length; i++) if (f(list[i])) return true
  return false
}

/** What an update that got no receipts is told it got (frozen: shared by every such outcome). */
const NO_RECEIPTS: readonly Receipt[] = Object.freeze([])

const isPart = (j: Job | undefined): j is Extract<Job, { kind: 'update' }> & { gate: CommandGate } =>
  j?.kind === 'update' && j.gate !== undefined
