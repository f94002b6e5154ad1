// The device SDK: records kept offline in a local store, edited through the typed record API, synced
// over one /device socket (sync cycles on demand and periodically), a field index for listing without
// opening documents, up-front refusal of what the last metadata forbids, and the rejected-changes inbox.

import * as Y from 'yjs'
import { Observable } from 'lib0/observable'
import * as decoding from 'lib0/decoding'
import type { EntityDef, OfflineCommand } from '../docs/catalog-types.ts'
import { addNote, createRecord, deleteRecord, editNote, META, readRecord, removeNote, setField, type AttachmentRef, type RecordState } from '../docs/record.ts'
import type { FieldValue } from '../docs/values.ts'
import { newId, parseDocName, type RecordId } from '../ids.ts'
import type { Receipt } from '../projection/receipts.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, holdingsDigest, readDeviceFrame, type DeviceFrame } from '../server/device-protocol.ts'
import { SyncStep } from '../server/protocol.ts'
import { checkCommand, checkField, checkLookups, OfflineRefusal, refuseAssociation, type DeviceMetadata } from './offline-rules.ts'
import { fillNew, prepareCommand } from './offline-commands.ts'
import { downloadAttachment, sha256Hex, uploadBlob, UploadRefused, type Http } from './attachments.ts'
import type { StateCommand } from '../docs/commands.ts'
import type { IndexedRecord, InboxItem, LocalMeta, LocalStore } from './store.ts'
import { checkOffline, runView, ViewError, type ViewDef, type ViewPage } from '../metadata/views.ts'
import { search, SearchError, type SearchHit } from '../metadata/search.ts'
import { evaluateRules, saveViolation, type FormState } from '../metadata/business-rules.ts'
import { currentStage, stageMoveProblem, type ProcessFlow } from '../metadata/process-flows.ts'
import { FORM_KINDS, type FormDef } from '../metadata/forms.ts'
import { Reason } from '../projection/receipts.ts'

export type DeviceStatus = 'offline' | 'syncing' | 'synced' | 'error'

export interface DeviceEvents {
  status: (s: DeviceStatus) => void
  progress: (p: { done: number, total: number, bytes: number }) => void
  /** the number of local edits the server has not acknowledged yet */
  unsynced: (n: number) => void
  receipts: (r: Receipt[]) => void
  evicted: (record: string) => void
  /** an attachment's content was uploaded, resuming at `from` bytes */
  uploaded: (u: { hash: string, from: number, size: number }) => void
}

/** The smallest WebSocket a device needs (the browser's, or the `ws` package on Node). */
export interface SocketLike {
  binaryType: string
  readyState: number
  onopen: ((e: unknown) => void) | null
  onmessage: ((e: { data: unknown }) => void) | null
  onclose: ((e: { code: number, reason: string }) => void) | null
  onerror: ((e: unknown) => void) | null
  send (data: Uint8Array): void
  close (code?: number, reason?: string): void
}

export interface DeviceOptions {
  /** `ws://host:port` of the server */
  readonly url: string
  readonly token: string
  readonly store: LocalStore
  readonly WebSocket: new (url: string) => SocketLike
  /** periodic sync interval (ms); 0 for on demand only */
  readonly syncIntervalMs?: number
}

/** A picture or file to attach to a note. */
export interface NewAttachment { readonly filename: string, readonly mimetype: string, readonly data: Uint8Array }

export interface NoteView {
  readonly id: string
  readonly subject: string
  readonly text: string
  readonly createdby: string
  readonly createdon: string
  readonly attachment: { readonly filename: string, readonly mimetype: string, readonly size: number, readonly hash: string } | null
}

const REMOTE = Symbol('remote')

/** The origin of a command's transactions: their updates are kept together as one pending command. */
class CommandCapture {
  readonly parts: { record: string, update: Uint8Array }[] = []
}

/** The values business rules see: fields, texts and state. */
const formValues = (s: RecordState): Record<string, unknown> => ({ ...s.fields, ...s.texts, statecode: s.meta.statecode, ownerid: s.meta.ownerid })

/** The values a listing shows: metadata and scalar fields. */
const indexEntry = (record: string, s: RecordState): IndexedRecord | null => {
  if (s.meta.entity === undefined || s.meta.deletedon !== undefined) return null
  return {
    record, entity: String(s.meta.entity),
    values: { ...s.fields, ...s.texts, ownerid: s.meta.ownerid, owningbusinessunit: s.meta.owningbusinessunit, statecode: s.meta.statecode, createdon: s.meta.createdon, modifiedon: s.meta.modifiedon }
  }
}

export class FieldsyncDevice extends Observable<keyof DeviceEvents> {
  readonly store: LocalStore
  private readonly opts: DeviceOptions
  private meta!: LocalMeta
  private metadata: DeviceMetadata | null = null
  private readonly docs = new Map<string, Y.Doc>()
  /** records in the store (loaded at open), so a record's first state can be indexed from its payload alone */
  private known = new Set<string>()
  /** store writes of this cycle, awaited before the cursor is stored */
  private writes: Promise<unknown>[] = []
  private socket: SocketLike | null = null
  private statusValue: DeviceStatus = 'offline'
  private waiters: { request: number, resolve: () => void, reject: (e: Error) => void }[] = []
  private requests = 0
  private timer: ReturnType<typeof setInterval> | null = null
  /** local work runs in order on this chain (store writes, then sends) */
  private chain: Promise<unknown> = Promise.resolve()
  /** local edits wait for the next cycle instead of going out live (set while attachment content is
   * not uploaded yet, and from connecting until the pending edits went out) */
  private deferred = true
  private uploading: Promise<void> | null = null
  /** the local index per entity, read once and dropped when a write touches the entity: views and
   * search then do not parse the whole index on every query */
  private readonly indexCache = new Map<string, IndexedRecord[]>()
  private readonly indexGeneration = new Map<string, number>()
  /** refresh() calls waiting for a record's server state */
  private refreshes = new Map<string, { resolve: () => void, reject: (e: Error) => void }[]>()

  private constructor (opts: DeviceOptions) {
    super()
    this.opts = opts
    this.store = opts.store
  }

  static async open (opts: DeviceOptions): Promise<FieldsyncDevice> {
    const d = new FieldsyncDevice(opts)
    const stored = await opts.store.meta()
    d.meta = stored === undefined
      ? { deviceId: newId(), cursor: 0, privilegeVersion: 0, metadata: null, receiptSeq: 0 }
      : { ...stored, receiptSeq: stored.receiptSeq ?? 0 }
    await opts.store.setMeta(d.meta)
    d.metadata = d.meta.metadata === null ? null : JSON.parse(d.meta.metadata) as DeviceMetadata
    d.known = new Set(await opts.store.records())
    return d
  }

  get deviceId (): string { return this.meta.deviceId }
  get status (): DeviceStatus { return this.statusValue }
  get cursor (): number { return this.meta.cursor }
  get lastMetadata (): DeviceMetadata | null { return this.metadata }

  private setStatus (s: DeviceStatus): void {
    if (this.statusValue === s) return
    this.statusValue = s
    this.emit('status', [s])
  }

  private queue<T> (f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f)
    this.chain = p.catch(() => {})
    return p
  }

  // --- records -------------------------------------------------------------------------------

  /** The record's document, loaded from the local store; local edits are kept and sent at sync. */
  async open (record: string): Promise<Y.Doc> {
    const open = this.docs.get(record)
    if (open !== undefined) return open
    const doc = new Y.Doc({ guid: record })
    const updates = await this.store.load(record)
    this.known.add(record)
    doc.transact(() => { for (const u of updates) Y.applyUpdate(doc, u) }, REMOTE)
    const raced = this.docs.get(record)
    if (raced !== undefined) return raced
    doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin instanceof CommandCapture) origin.parts.push({ record, update: u })
      else if (origin !== REMOTE) void this.localEdit(record, doc, u)
    })
    this.docs.set(record, doc)
    return doc
  }

  private localEdit (record: string, doc: Y.Doc, update: Uint8Array): Promise<void> {
    const entry = indexEntry(record, readRecord(doc))
    return this.queue(async () => {
      const id = await this.store.addPending(record, update)
      await this.indexWrite(record, this.store.setIndex(record, entry))
      this.emitUnsynced()
      if (this.socket?.readyState === 1 && !this.deferred) this.send({ type: DeviceMessage.push, record, id, update })
    })
  }

  private emitUnsynced (): void {
    void this.store.pending().then(p => this.emit('unsynced', [p.length]))
  }

  private requireMetadata (): DeviceMetadata {
    if (this.metadata === null) throw new OfflineRefusal('command-not-offline', 'this device has not synced yet: no metadata')
    return this.metadata
  }

  /** Creates a record offline, refusing up front what the last metadata forbids. */
  async create (entity: string, values: Record<string, FieldValue>): Promise<string> {
    const meta = this.requireMetadata()
    const def = checkCommand(meta, entity, 'create')
    for (const f of Object.keys(values)) checkField(meta, entity, f, true)
    checkLookups(meta, def, values)
    values = fillNew(meta, def, values)
    const id = newId()
    const record = `${entity}/${id}`
    const doc = await this.open(record)
    const user = meta.userId
    createRecord(doc, def, { id: id as RecordId, ownerid: `systemuser/${user}`, owningbusinessunit: meta.businessUnitId, values }, { by: user, at: new Date().toISOString() })
    await this.chain // stored before we answer
    return record
  }

  /** The form state of a record with `pending` values typed in: values after rules, required, locked, errors. */
  async formState (record: string, pending: Record<string, FieldValue> = {}): Promise<FormState> {
    const meta = this.requireMetadata()
    const s = readRecord(await this.open(record))
    return evaluateRules(meta.businessRules ?? [], parseDocName(record)?.entity ?? '', { ...formValues(s), ...pending })
  }

  /** Refuses a save that breaks a business rule (the server would drop it with the same message). */
  private checkRules (meta: DeviceMetadata, entity: string, before: Record<string, unknown>, values: Record<string, FieldValue>): void {
    const violation = saveViolation(meta.businessRules ?? [], entity, before, { ...before, ...values }, Object.keys(values))
    if (violation !== null) throw new OfflineRefusal(Reason.businessRule, violation)
  }

  /** Sets fields of a record, refusing up front what the last metadata forbids. */
  async update (record: string, values: Record<string, FieldValue>): Promise<void> {
    const meta = this.requireMetadata()
    const entity = parseDocName(record)?.entity ?? ''
    const def = checkCommand(meta, entity, 'update')
    for (const f of Object.keys(values)) checkField(meta, entity, f, false)
    checkLookups(meta, def, values)
    const doc = await this.open(record)
    this.checkRules(meta, entity, formValues(readRecord(doc)), values)
    doc.transact(() => { for (const [k, v] of Object.entries(values)) setField(doc, def, k, v, { by: meta.userId, at: new Date().toISOString() }) })
    await this.chain
  }

  async remove (record: string): Promise<void> {
    const meta = this.requireMetadata()
    const def = checkCommand(meta, parseDocName(record)?.entity ?? '', 'delete')
    deleteRecord(await this.open(record), def, { by: meta.userId, at: new Date().toISOString() })
    await this.chain
  }

  /**
   * Runs a command over a record offline: lead `qualify` (creates the configured account, contact and
   * opportunity, linked to the lead, and closes it as qualified) and `disqualify`, appointment
   * `convert-to-case`, custom entity `mark-complete` and `convert-to-opportunity`. Its edits are sent
   * at sync as one command, accepted or rejected as a whole. Returns the records it created.
   */
  async runCommand (command: StateCommand, record: string): Promise<string[]> {
    const meta = this.requireMetadata()
    const doc = await this.open(record)
    const { def, plan } = prepareCommand(meta, command, record, readRecord(doc), newId)
    // Open every document first: the edits below then happen without a gap.
    const docs = await Promise.all(plan.creates.map(c => this.open(c.record)))
    const actor = { by: meta.userId, at: new Date().toISOString() }
    const capture = new CommandCapture()
    plan.creates.forEach((c, i) => {
      const cdef = meta.entities.find(e => e.name === c.entity)!
      createRecord(docs[i], cdef, { id: parseDocName(c.record)!.id, ownerid: `systemuser/${meta.userId}`, owningbusinessunit: meta.businessUnitId, values: c.values }, actor, capture)
    })
    doc.transact(() => {
      doc.getMap(META).set('statecode', plan.statecode)
      for (const [k, v] of Object.entries(plan.targetValues)) setField(doc, def, k, v, actor)
      doc.getMap(META).set('modifiedby', actor.by)
      doc.getMap(META).set('modifiedon', actor.at)
    }, capture)
    await this.queue(async () => {
      const group = newId()
      const parts = []
      for (const p of capture.parts) {
        const id = await this.store.addPending(p.record, p.update, { group, name: command, target: record })
        parts.push({ record: p.record, id, update: p.update })
        const d = this.docs.get(p.record)
        await this.indexWrite(p.record, this.store.setIndex(p.record, d === undefined ? null : indexEntry(p.record, readRecord(d))))
      }
      this.emitUnsynced()
      if (!this.deferred) this.send({ type: DeviceMessage.command, command, target: record, parts })
    })
    return plan.creates.map(c => c.record)
  }

  qualify (lead: string): Promise<string[]> { return this.runCommand('qualify', lead) }
  disqualify (lead: string): Promise<string[]> { return this.runCommand('disqualify', lead) }
  convertToCase (appointment: string): Promise<string[]> { return this.runCommand('convert-to-case', appointment) }
  markComplete (record: string): Promise<string[]> { return this.runCommand('mark-complete', record) }
  convertToOpportunity (record: string): Promise<string[]> { return this.runCommand('convert-to-opportunity', record) }

  /** The record's process flow and the stage it is at, or null when its entity has none. */
  async stage (record: string): Promise<{ flow: ProcessFlow, index: number, name: string } | null> {
    const entity = parseDocName(record)?.entity ?? ''
    const flow = (this.requireMetadata().processFlows ?? []).find(f => f.entity === entity)
    if (flow === undefined) return null
    const index = currentStage(flow, readRecord(await this.open(record)).meta.activestage)
    return { flow, index, name: flow.stages[index].name }
  }

  /** Moves the record's flow to `stage`; forward needs the required fields of the stages it leaves. */
  async setActiveStage (record: string, stage: string): Promise<void> {
    const meta = this.requireMetadata()
    const entity = parseDocName(record)?.entity ?? ''
    checkCommand(meta, entity, 'update')
    const at = await this.stage(record)
    if (at === null) throw new OfflineRefusal(Reason.invalidValue, `${entity} has no process flow`)
    const doc = await this.open(record)
    const s = readRecord(doc)
    const problem = stageMoveProblem(at.flow, at.name, stage, { ...s.fields, ...s.texts })
    if (problem !== null) throw new OfflineRefusal(/not a stage/.test(problem) ? Reason.invalidValue : Reason.businessRule, problem)
    doc.transact(() => {
      const m = doc.getMap(META)
      m.set('activestage', stage)
      m.set('modifiedby', meta.userId)
      m.set('modifiedon', new Date().toISOString())
    })
    await this.chain
  }

  async nextStage (record: string): Promise<void> {
    const at = await this.stage(record)
    if (at === null || at.index + 1 >= at.flow.stages.length) throw new OfflineRefusal(Reason.invalidValue, 'no next stage')
    await this.setActiveStage(record, at.flow.stages[at.index + 1].name)
  }

  async previousStage (record: string): Promise<void> {
    const at = await this.stage(record)
    if (at === null || at.index === 0) throw new OfflineRefusal(Reason.invalidValue, 'no previous stage')
    await this.setActiveStage(record, at.flow.stages[at.index - 1].name)
  }

  // --- notes and attachments ---------------------------------------------------------------------

  /** The notes on a record's timeline, oldest first, with their attachments' names and sizes. */
  async notes (record: string): Promise<NoteView[]> {
    const s = readRecord(await this.open(record))
    return Object.entries(s.notes).map(([id, n]) => ({
      id, subject: n.subject ?? '', text: n.text ?? '', createdby: n.createdby ?? '', createdon: n.createdon ?? '',
      attachment: n.contenthash === undefined ? null : { filename: n.filename ?? '', mimetype: n.mimetype ?? '', size: Number(n.filesize), hash: n.contenthash }
    })).sort((a, b) => a.createdon < b.createdon ? -1 : a.createdon > b.createdon ? 1 : 0)
  }

  /** Keeps attachment content locally (named by its hash) until it is uploaded at sync. */
  private async keep (file: NewAttachment): Promise<AttachmentRef> {
    const max = this.requireMetadata().maxAttachmentBytes
    if (max !== undefined && file.data.length > max) throw new OfflineRefusal(Reason.invalidValue, `${file.filename} has ${file.data.length} bytes; attachments may have at most ${max}`)
    if (file.data.length === 0) throw new OfflineRefusal(Reason.invalidValue, `${file.filename} is empty`)
    const hash = await sha256Hex(file.data)
    this.deferred = true // the edit pointing at it goes out after the content
    await this.store.putBlob(hash, file.data, true)
    return { filename: file.filename, mimetype: file.mimetype, filesize: String(file.data.length), contenthash: hash }
  }

  private checkNotes (record: string, privilege: 'appendTo' | 'write'): EntityDef {
    const meta = this.requireMetadata()
    const entity = parseDocName(record)?.entity ?? ''
    const def = checkCommand(meta, entity, 'update')
    if (meta.privileges[entity]?.[privilege] !== true) throw new OfflineRefusal(Reason.noWritePrivilege, `no ${privilege} privilege on ${entity}`)
    return def
  }

  private afterNoteEdit (): Promise<unknown> {
    // Online: send it now (with its content) rather than at the next periodic sync.
    if (this.connected && this.deferred) void this.sync().catch(() => {})
    return this.chain
  }

  /** Adds a note (with a picture or file, if given) to a record's timeline; returns the note id. */
  async addNote (record: string, note: { subject: string, text: string, attachment?: NewAttachment }): Promise<string> {
    const def = this.checkNotes(record, 'appendTo')
    const doc = await this.open(record)
    const attachment = note.attachment === undefined ? undefined : await this.keep(note.attachment)
    const id = newId()
    addNote(doc, def, id, { subject: note.subject, text: note.text, attachment }, this.actor())
    await this.afterNoteEdit()
    return id
  }

  /** Edits a note's subject or text, replaces its attachment, or (`attachment: null`) removes it. */
  async editNote (record: string, noteId: string, patch: { subject?: string, text?: string, attachment?: NewAttachment | null }): Promise<void> {
    const def = this.checkNotes(record, 'write')
    const doc = await this.open(record)
    const attachment = patch.attachment === undefined || patch.attachment === null ? patch.attachment : await this.keep(patch.attachment)
    editNote(doc, def, noteId, { subject: patch.subject, text: patch.text, attachment }, this.actor())
    await this.afterNoteEdit()
  }

  async removeNote (record: string, noteId: string): Promise<void> {
    const def = this.checkNotes(record, 'write')
    removeNote(await this.open(record), def, noteId, this.actor())
    await this.afterNoteEdit()
  }

  /** The content of a note's attachment: from the device, or (online) downloaded and kept. */
  async attachment (record: string, noteId: string): Promise<Uint8Array> {
    const note = (await this.notes(record)).find(n => n.id === noteId)
    if (note?.attachment == null) throw new OfflineRefusal(Reason.invalidValue, `${record} has no note ${noteId} with an attachment`)
    const local = await this.store.blob(note.attachment.hash)
    if (local !== undefined) return local
    if (!this.connected) throw new Error(`the attachment ${note.attachment.filename} is not on this device yet; connect to download it`)
    const data = await downloadAttachment(this.http, record, noteId, note.attachment.hash)
    await this.store.putBlob(note.attachment.hash, data, false)
    return data
  }

  private actor (): { by: string, at: string } {
    return { by: this.requireMetadata().userId, at: new Date().toISOString() }
  }

  /** Refresh (a command of custom entities; any held record works): fetches the record's server state now. */
  async refresh (record: string): Promise<void> {
    if (!this.connected) throw new Error(`refreshing ${record} needs a connection`)
    const doc = await this.open(record)
    await new Promise<void>((resolve, reject) => {
      const waiting = this.refreshes.get(record) ?? []
      waiting.push({ resolve, reject })
      this.refreshes.set(record, waiting)
      this.send({ type: DeviceMessage.sync, record, step: SyncStep.step1, payload: Y.encodeStateVector(doc) })
    })
  }

  private refreshed (record: string): void {
    for (const w of this.refreshes.get(record) ?? []) w.resolve()
    this.refreshes.delete(record)
  }

  /** Add Existing through an N:N relationship: refused offline (N:N relationships are read-only). */
  async associate (_record: string, relationship: string, _other: string): Promise<never> {
    return refuseAssociation(relationship)
  }

  async disassociate (_record: string, relationship: string, _other: string): Promise<never> {
    return refuseAssociation(relationship)
  }

  /** Whether the last metadata allows `command` (no exception). */
  may (entity: string, command: OfflineCommand): boolean {
    try { checkCommand(this.requireMetadata(), entity, command); return true } catch { return false }
  }

  /** The forms of an offline entity (field lists in display order), main form first. */
  forms (entity: string): FormDef[] {
    const meta = this.requireMetadata()
    if (!meta.entities.some(e => e.name === entity)) throw new OfflineRefusal(Reason.commandNotOffline, `${entity} is not in this device's offline profile`)
    return (meta.forms ?? []).filter(f => f.entity === entity).sort((a, b) => FORM_KINDS.indexOf(a.kind) - FORM_KINDS.indexOf(b.kind))
  }

  /** The views of an entity this device may run (from the last metadata). */
  views (entity: string): ViewDef[] {
    return (this.metadata?.views ?? []).filter(v => v.entity === entity)
  }

  /** Runs a system or quick view on the local index; refuses (ViewError) what cannot run offline. */
  async view (entity: string, name: string, page = 1, pageSize = 50): Promise<ViewPage> {
    const meta = this.requireMetadata()
    const v = this.views(entity).find(x => x.name === name)
    if (v === undefined) throw new ViewError('unknown-view', `${entity} has no view "${name}" on this device`)
    checkOffline(v, new Set(meta.entities.map(e => e.name)))
    return runView(v, await this.indexOf(entity), page, pageSize)
  }

  /** Categorized search: one offline entity, its text fields, case-insensitive, ranked by field order. */
  async search (entity: string, text: string, limit = 50): Promise<SearchHit[]> {
    const meta = this.requireMetadata()
    const offline = new Set(meta.entities.map(e => e.name))
    const def = meta.entities.find(e => e.name === entity)
    if (def === undefined) throw new SearchError(`${entity} is not offline on this device: search one offline entity at a time`)
    return search(def, offline, await this.indexOf(entity), text, limit)
  }

  /** The entity's index entries, from the cache or read once from the store. */
  private async indexOf (entity: string): Promise<IndexedRecord[]> {
    const cached = this.indexCache.get(entity)
    if (cached !== undefined) return cached
    const generation = this.indexGeneration.get(entity) ?? 0
    const rows = await this.store.index(entity)
    // A write that touched the entity while it was read may or may not be in `rows`: do not keep them.
    if ((this.indexGeneration.get(entity) ?? 0) === generation) this.indexCache.set(entity, rows)
    return rows
  }

  /** A store write that changes the index of `record`'s entity: the cached index goes. */
  private indexWrite<T> (record: string, write: Promise<T>): Promise<T> {
    const entity = record.split('/', 1)[0]
    this.indexCache.delete(entity)
    this.indexGeneration.set(entity, (this.indexGeneration.get(entity) ?? 0) + 1)
    return write
  }

  /** The indexed records of an entity, without opening their documents. */
  list (entity: string): Promise<IndexedRecord[]> {
    return this.indexOf(entity).then(rows => rows.slice())
  }

  async unsyncedCount (): Promise<number> {
    return (await this.store.pending()).length
  }

  // --- inbox ---------------------------------------------------------------------------------

  inbox (): Promise<InboxItem[]> { return this.store.inbox() }
  discard (id: number): Promise<void> { return this.store.removeInbox(id) }

  /** Applies a rejected value again as a new edit (it is checked again at the next sync). */
  async retry (id: number): Promise<void> {
    const item = (await this.store.inbox()).find(i => i.id === id)
    if (item === undefined) return
    const r = item.receipt
    if (r.field !== null && (r as Receipt).change === 'field-set') await this.update(r.record, { [r.field]: r.attempted as FieldValue })
    await this.store.removeInbox(id)
  }

  /** Copies a rejected value into a new record of the same entity. */
  async copyToNew (id: number): Promise<string | null> {
    const item = (await this.store.inbox()).find(i => i.id === id)
    if (item === undefined || item.receipt.field === null) return null
    const entity = parseDocName(item.receipt.record)?.entity ?? ''
    const created = await this.create(entity, { [item.receipt.field]: item.receipt.attempted as FieldValue })
    await this.store.removeInbox(id)
    return created
  }

  // --- sync ----------------------------------------------------------------------------------

  /** Runs a sync cycle now: pushes local edits, receives what changed; resolves when it is done. */
  sync (): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = ++this.requests
      this.waiters.push({ request, resolve, reject })
      // A socket still opening sends the newest request once it is open.
      if (this.socket === null) this.connect()
      else if (this.socket.readyState === 1) void this.flushOutgoing(request)
    })
  }

  /** Syncs every `ms` milliseconds (and now). */
  startPeriodic (ms = this.opts.syncIntervalMs ?? 60_000): void {
    this.stopPeriodic()
    this.timer = setInterval(() => { this.sync().catch(() => {}) }, ms)
    this.sync().catch(() => {})
  }

  stopPeriodic (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  private connect (): void {
    const ws = new this.opts.WebSocket(`${this.opts.url}/device?token=${encodeURIComponent(this.opts.token)}`)
    ws.binaryType = 'arraybuffer'
    this.socket = ws
    this.setStatus('syncing')
    ws.onopen = () => {
      this.send({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: this.meta.deviceId, cursor: this.meta.cursor, privilegeVersion: this.meta.privilegeVersion, metadataDigest: this.metadata?.digest ?? 0 })
      // Local edits go first, in order; the server answers them before the cycle's 'done'.
      this.deferred = true
      void this.flushOutgoing(this.requests)
    }
    ws.onmessage = e => {
      if (this.socket !== ws) return // a socket we already let go of
      const data = e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : e.data as Uint8Array
      // A server message carries one or more frames.
      const frames: DeviceFrame[] = []
      try {
        const d = decoding.createDecoder(data)
        while (decoding.hasContent(d)) frames.push(readDeviceFrame(d))
      } catch { ws.close(4400, 'malformed server message'); return }
      void this.queue(async () => { for (const f of frames) await this.handle(f) })
    }
    ws.onclose = () => {
      if (this.socket !== ws) return // disconnect() already settled it
      this.socket = null
      this.dropConnection()
    }
    ws.onerror = () => { this.setStatus('error') }
  }

  /** Closes the socket (the device keeps working offline). */
  disconnect (): void {
    const ws = this.socket
    this.socket = null
    ws?.close(1000, 'device disconnects')
    this.dropConnection()
  }

  private dropConnection (): void {
    this.setStatus('offline')
    for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed before the sync finished'))
    for (const ws of this.refreshes.values()) for (const w of ws) w.reject(new Error('connection closed before the refresh finished'))
    this.refreshes.clear()
  }

  get connected (): boolean { return this.socket?.readyState === 1 }

  private get http (): Http {
    return { base: this.opts.url.replace(/^ws/, 'http'), token: this.opts.token }
  }

  /** Uploads attachment content not on the server yet (one run at a time). */
  private uploadBlobs (): Promise<void> {
    this.uploading ??= (async () => {
      try {
        for (const hash of await this.store.pendingBlobs()) {
          const data = await this.store.blob(hash)
          if (data === undefined) continue
          try {
            const { from } = await uploadBlob(this.http, hash, data)
            this.emit('uploaded', [{ hash, from, size: data.length }])
          } catch (e) {
            if (!(e instanceof UploadRefused)) throw e
            // Refused for good: the notes that point at it are dropped at sync, with receipts.
            console.warn(e.message)
          }
          await this.store.blobUploaded(hash)
        }
      } finally {
        this.uploading = null
      }
    })()
    return this.uploading
  }

  /** Uploads attachments, then sends the held local edits in order, then asks for a cycle. */
  private async flushOutgoing (request: number): Promise<void> {
    try {
      await this.uploadBlobs()
    } catch (e) {
      // Edits pointing at content the server lacks would be dropped: they wait for the next sync.
      this.setStatus('error')
      for (const w of this.waiters.filter(x => x.request <= request)) w.reject(new Error(`attachment upload failed: ${(e as Error).message}`))
      this.waiters = this.waiters.filter(x => x.request > request)
      return
    }
    await this.queue(async () => {
      if (this.deferred && (await this.store.pendingBlobs()).length === 0) {
        await this.sendPending()
        this.deferred = false
      }
      await this.sendSyncNow(request)
    })
  }

  private async sendPending (): Promise<void> {
    const pending = await this.store.pending()
    const sent = new Set<string>()
    for (const p of pending) {
      if (p.command === undefined) { this.send({ type: DeviceMessage.push, record: p.record, id: p.id, update: p.update }); continue }
      // A command's parts go together, once.
      const { group, name, target } = p.command
      if (sent.has(group)) continue
      sent.add(group)
      const parts = pending.filter(q => q.command?.group === group).map(q => ({ record: q.record, id: q.id, update: q.update }))
      this.send({ type: DeviceMessage.command, command: name, target, parts })
    }
  }

  /** Asks for a cycle, with a summary of what this device holds (after every frame received so far). */
  private async sendSyncNow (request: number): Promise<void> {
    const held = await this.store.records()
    this.send({ type: DeviceMessage.syncNow, request, count: held.length, digest: holdingsDigest(held), receiptSeq: this.meta.receiptSeq })
  }

  private send (f: DeviceFrame): void {
    if (this.socket?.readyState === 1) this.socket.send(encodeDeviceFrame(f))
  }

  private async handle (f: DeviceFrame): Promise<void> {
    switch (f.type) {
      case DeviceMessage.metadata: {
        const m = JSON.parse(f.json) as DeviceMetadata
        this.metadata = m
        this.meta = { ...this.meta, metadata: f.json, privilegeVersion: m.version }
        await this.store.setMeta(this.meta)
        return
      }
      case DeviceMessage.sync: {
        if (f.step === SyncStep.step1) {
          const doc = await this.open(f.record)
          this.send({ type: DeviceMessage.sync, record: f.record, step: SyncStep.step2, payload: Y.encodeStateAsUpdate(doc, f.payload) })
          return
        }
        // Writes are not awaited one by one: the store commits those made close together at once, and
        // the cycle's 'done' waits for all of them before the cursor moves.
        const known = this.known.has(f.record)
        this.known.add(f.record)
        const open = this.docs.get(f.record)
        if (!known && open === undefined) {
          // A record new to this device: its payload is its whole state; one write stores both.
          const tmp = new Y.Doc({ guid: f.record }) // a given guid spares a random uuid per record
          Y.applyUpdate(tmp, f.payload)
          this.writes.push(this.indexWrite(f.record, this.store.receive(f.record, f.payload, indexEntry(f.record, readRecord(tmp)))))
          tmp.destroy()
          return
        }
        const stored = this.store.put(f.record, f.payload)
        this.writes.push(stored)
        let state: RecordState
        if (open !== undefined) {
          Y.applyUpdate(open, f.payload, REMOTE)
          state = readRecord(open)
        } else {
          const tmp = new Y.Doc({ guid: f.record })
          await stored
          const updates = await this.store.load(f.record)
          tmp.transact(() => { for (const u of updates) Y.applyUpdate(tmp, u) })
          state = readRecord(tmp)
          tmp.destroy()
        }
        this.writes.push(this.indexWrite(f.record, this.store.setIndex(f.record, indexEntry(f.record, state))))
        this.refreshed(f.record)
        return
      }
      case DeviceMessage.ack: await this.store.acknowledge(f.id); this.emitUnsynced(); return
      case DeviceMessage.receipts: {
        const receipts = JSON.parse(f.json) as Receipt[]
        // A cycle resends receipts a cut socket may have lost: keep each once.
        const seen = new Set((await this.store.inbox()).map(i => (i.receipt as Receipt).seq).filter(x => x !== undefined))
        const fresh = receipts.filter(r => r.seq === undefined || !seen.has(r.seq))
        for (const r of fresh) await this.store.addInbox({ receipt: r, serverValue: r.kept, at: new Date().toISOString() })
        if (fresh.length > 0) this.emit('receipts', [fresh])
        return
      }
      case DeviceMessage.evict: await this.evict(f.record); return
      case DeviceMessage.scope: {
        const keep = new Set(JSON.parse(f.json) as string[])
        for (const r of await this.store.records()) if (!keep.has(r)) await this.evict(r)
        return
      }
      case DeviceMessage.progress: this.emit('progress', [{ done: f.done, total: f.total, bytes: f.bytes }]); return
      case DeviceMessage.done: {
        await Promise.all(this.writes.splice(0))
        this.meta = { ...this.meta, cursor: f.cursor, receiptSeq: Math.max(this.meta.receiptSeq, f.receiptSeq) }
        await this.store.setMeta(this.meta)
        this.setStatus('synced')
        const answered = this.waiters.filter(w => w.request <= f.request)
        this.waiters = this.waiters.filter(w => w.request > f.request)
        for (const w of answered) w.resolve()
        return
      }
      default:
    }
  }

  /** A record left the scope: unsynced edits go to the inbox, never silently away. */
  private async evict (record: string): Promise<void> {
    const pending = (await this.store.pending()).filter(p => p.record === record)
    if (pending.length > 0) {
      const doc = await this.open(record)
      await this.store.addInbox({
        receipt: { record, reason: 'evicted', message: `${record} left this device's scope with ${pending.length} unsynced edit(s)`, field: null, attempted: readRecord(doc), kept: null },
        serverValue: null, at: new Date().toISOString()
      })
    }
    this.docs.get(record)?.destroy()
    this.docs.delete(record)
    this.known.delete(record)
    await this.indexWrite(record, this.store.remove(record))
    this.emit('evicted', [record])
    this.refreshed(record)
  }

  async close (): Promise<void> {
    this.stopPeriodic()
    this.disconnect()
    await this.chain
    for (const d of this.docs.values()) d.destroy()
    await this.store.close()
  }
}
