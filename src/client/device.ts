// The device SDK: records kept offline in a local store, edited through the typed record API, synced
// over one /device socket (sync cycles on demand and periodically), a field index for listing without
// opening documents, up-front refusal of what the last metadata forbids, and the rejected-changes inbox.

import type * as Y from 'yjs'
import { ObservableV2 } from 'lib0/observable'
import { attributeOf, type EntityDef, type OfflineCommand } from '../docs/catalog-types.ts'
import { userOwned } from '../docs/ownership.ts'
import { addNote, attributeValues, clearField, countNotes, createRecord, deleteRecord, editNote, META, readRecord, removeNote, replaceText, setField, stampRecord, type AttachmentRef, type NoteState } from '../docs/record.ts'
import type { FieldValue } from '../docs/values.ts'
import { fieldDocName, newId, parseDocName, type RecordId } from '../ids.ts'
import type { Receipt } from '../protocol/receipts.ts'
import { checkCommand, checkField, checkLookups, checkNoteChange, OfflineRefusal, refuseAssociation, type DeviceMetadata } from './offline-rules.ts'
import { noteStampTime, timelineFull } from '../projection/decide-notes.ts'
import { fillNew, prepareCommand } from './offline-commands.ts'
import { downloadAttachment, sha256Hex } from './attachments.ts'
import type { StateCommand } from '../docs/commands.ts'
import type { IndexedRecord, InboxItem, LocalStore } from './store.ts'
import { checkOffline, runView, ViewError, type ViewDef, type ViewPage } from '../metadata/views.ts'
import { search, SearchError, type SearchHit } from '../metadata/search.ts'
import { evaluateRules, ruleInput, ruleValues, saveViolation, type FormState } from '../metadata/business-rules.ts'
import { currentStage, stageMoveDenial, type ProcessFlow } from '../metadata/process-flows.ts'
import { FORM_KINDS, type FormDef } from '../metadata/forms.ts'
import { Reason } from '../protocol/receipts.ts'
import { CommandCapture, Replica } from './replica.ts'
import { isPointer } from '../docs/activity-pointer.ts'
import { activityToDelete, pointerIndex } from './pointer-records.ts'
import { SyncEngine, type ConnectionOptions } from './sync-engine.ts'
import type { DeviceEvents, DeviceStatus } from './events.ts'

export type { DeviceEvents, DeviceStatus, UploadFailure } from './events.ts'
export type { SocketLike } from './sync-engine.ts'
export type { TokenSource } from './token.ts'

export interface DeviceOptions extends ConnectionOptions {
  readonly store: LocalStore
  /** record documents the SDK keeps loaded after its own work on them, the ones used last (CACHED_DOCUMENTS);
   * those the app opened (`open`) stay loaded whatever this says */
  readonly cachedDocuments?: number
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

/** Events: `device.on('status', s => …)`, each listener typed by DeviceEvents. */
export class FieldsyncDevice extends ObservableV2<DeviceEvents> {
  readonly store: LocalStore
  private readonly replica: Replica
  private readonly engine: SyncEngine

  private constructor (replica: Replica, opts: DeviceOptions) {
    super()
    this.store = opts.store
    this.replica = replica
    this.engine = new SyncEngine(opts, replica, (name, args) => { this.emit(name, args) })
  }

  static async open (opts: DeviceOptions): Promise<FieldsyncDevice> {
    let device: FieldsyncDevice | undefined
    const replica = await Replica.load(opts.store, (name, args) => { device?.emit(name, args) }, opts.cachedDocuments)
    device = new FieldsyncDevice(replica, opts)
    return device
  }

  get deviceId (): string { return this.replica.meta.deviceId }
  get status (): DeviceStatus { return this.engine.status }
  get cursor (): number { return this.replica.meta.cursor }
  get lastMetadata (): DeviceMetadata | null { return this.replica.metadata }
  get connected (): boolean { return this.engine.connected }
  /** record documents loaded in memory now (the app's, and up to `cachedDocuments` of the SDK's once its work is done) */
  get loadedDocuments (): number { return this.replica.docs.size }

  // --- records -------------------------------------------------------------------------------

  /** The record's document, loaded from the local store; local edits are kept and sent at sync. */
  open (record: string): Promise<Y.Doc> { return this.replica.open(record, true) }

  /** A document for the SDK's own work, inside `replica.use` (kept loaded among the few used last: CACHED_DOCUMENTS). */
  private doc (record: string): Promise<Y.Doc> { return this.replica.open(record) }

  private requireMetadata (): DeviceMetadata { return this.replica.requireMetadata() }

  /** Creates a record offline, refusing up front what the last metadata forbids. */
  async create (entity: string, values: Record<string, FieldValue>): Promise<string> {
    return this.replica.use(async () => {
      const meta = this.requireMetadata()
      const def = checkCommand(meta, entity, 'create')
      for (const f of Object.keys(values)) checkField(meta, entity, f, true)
      checkLookups(meta, def, values)
      values = fillNew(meta, def, values)
      const id = newId()
      const record = `${entity}/${id}`
      const doc = await this.doc(record)
      const user = meta.userId
      const { own, secured } = this.splitSecured(meta, entity, values)
      createRecord(doc, def, { id: id as RecordId, ...userOwned(user, meta.businessUnitId), values: own }, { by: user, at: new Date().toISOString() })
      await this.writeSecured(record, def, secured)
      await this.replica.settled() // stored before we answer
      return record
    })
  }

  /** Values of secured fields go to their own documents (README, "Record document layout"). */
  private splitSecured<V extends FieldValue | null> (meta: DeviceMetadata, entity: string, values: Record<string, V>): { own: Record<string, V>, secured: Record<string, V> } {
    const own: Record<string, V> = {}
    const secured: Record<string, V> = {}
    for (const [k, v] of Object.entries(values)) (meta.fieldPermissions[`${entity}.${k}`] !== undefined ? secured : own)[k] = v
    return { own, secured }
  }

  private async writeSecured (record: string, def: EntityDef, values: Record<string, FieldValue | null>): Promise<void> {
    for (const [k, v] of Object.entries(values)) {
      const doc = await this.doc(fieldDocName(record, k))
      if (attributeOf(def, k)?.type === 'memo') replaceText(doc.getText(`memo:${k}`), v === null ? '' : String(v))
      else if (v === null) doc.getMap('fields').delete(k)
      else doc.getMap('fields').set(k, v)
    }
  }

  /** The form state of a record with `pending` values typed in: values after rules, required, locked, errors. */
  async formState (record: string, pending: Record<string, FieldValue | null> = {}): Promise<FormState> {
    return this.replica.use(async () => {
      const meta = this.requireMetadata()
      const s = await this.replica.stateWithSecured(record, readRecord(await this.doc(record)))
      return evaluateRules(meta.businessRules ?? [], parseDocName(record)?.entity ?? '', { ...ruleInput(s), ...pending })
    })
  }

  /** Refuses a save that breaks a business rule (the server would drop it with the same message). */
  private checkRules (meta: DeviceMetadata, entity: string, before: Record<string, unknown>, values: Record<string, FieldValue | null>): void {
    const violation = saveViolation(meta.businessRules ?? [], entity, before, { ...before, ...values }, Object.keys(values))
    if (violation !== null) throw new OfflineRefusal(Reason.businessRule, violation)
  }

  /**
   * Sets fields of a record (`null` clears one), refusing up front what the last metadata forbids. The
   * values business rules set (set-value) are written with them, so the record shows them at once, offline.
   */
  async update (record: string, values: Record<string, FieldValue | null>): Promise<void> {
    return this.replica.use(async () => {
      const meta = this.requireMetadata()
      const entity = parseDocName(record)?.entity ?? ''
      const def = checkCommand(meta, entity, 'update')
      for (const f of Object.keys(values)) checkField(meta, entity, f, false)
      checkLookups(meta, def, values)
      const doc = await this.doc(record)
      const before = ruleInput(await this.replica.stateWithSecured(record, readRecord(doc)))
      // The user's values first (a locked field keeps its lock), then with what the rules write.
      this.checkRules(meta, entity, before, values)
      const saved = { ...values, ...this.ruleWrites(meta, entity, { ...before, ...values }) }
      this.checkRules(meta, entity, before, saved)
      const { own, secured } = this.splitSecured(meta, entity, saved)
      const actor = { by: meta.userId, at: new Date().toISOString() }
      if (Object.keys(own).length > 0) {
        doc.transact(() => {
          for (const [k, v] of Object.entries(own)) {
            if (v === null) clearField(doc, def, k, actor)
            else setField(doc, def, k, v, actor)
          }
        })
      }
      await this.writeSecured(record, def, secured)
      await this.replica.settled()
    })
  }

  /**
   * The values the record's rules write on a save of `values`. Secured fields are left out: the server,
   * which writes the same values for clients that ignore rules, holds them in documents of their own.
   */
  private ruleWrites (meta: DeviceMetadata, entity: string, values: Record<string, unknown>): Record<string, FieldValue> {
    const out = ruleValues(meta.businessRules ?? [], entity, values, false)
    for (const f of Object.keys(out)) if (meta.fieldPermissions[`${entity}.${f}`] !== undefined) delete out[f]
    return out
  }

  /** Deletes a record; through the activity pointer (`activitypointer/<id>`), the activity it shows. */
  async remove (record: string): Promise<void> {
    return this.replica.use(async () => {
      const meta = this.requireMetadata()
      let def = checkCommand(meta, parseDocName(record)?.entity ?? '', 'delete')
      if (isPointer(def)) ({ record, def } = await activityToDelete(meta, record, e => this.replica.indexOf(e)))
      deleteRecord(await this.doc(record), def, { by: meta.userId, at: new Date().toISOString() })
      await this.replica.settled()
    })
  }

  /**
   * Runs a command over a record offline: lead `qualify` (creates the configured account, contact and
   * opportunity, linked to the lead, and closes it as qualified) and `disqualify`, appointment
   * `convert-to-case`, custom entity `mark-complete` and `convert-to-opportunity`. Its edits are sent
   * at sync as one command, accepted or rejected as a whole. Returns the records it created.
   */
  async runCommand (command: StateCommand, record: string): Promise<string[]> {
    return this.replica.use(async () => {
      const meta = this.requireMetadata()
      const doc = await this.doc(record)
      const { def, plan } = prepareCommand(meta, command, record, readRecord(doc), newId)
      // Open every document first: the edits below then happen without a gap.
      const docs = await Promise.all(plan.creates.map(c => this.doc(c.record)))
      const actor = { by: meta.userId, at: new Date().toISOString() }
      const capture = new CommandCapture()
      plan.creates.forEach((c, i) => {
        const cdef = meta.entities.find(e => e.name === c.entity)!
        createRecord(docs[i], cdef, { id: parseDocName(c.record)!.id, ...userOwned(meta.userId, meta.businessUnitId), values: c.values }, actor, capture)
      })
      doc.transact(() => {
        doc.getMap(META).set('statecode', plan.statecode)
        for (const [k, v] of Object.entries(plan.targetValues)) setField(doc, def, k, v, actor)
        stampRecord(doc, actor)
      }, capture)
      await this.replica.storeCommand(command, record, capture)
      return plan.creates.map(c => c.record)
    })
  }

  qualify (lead: string): Promise<string[]> { return this.runCommand('qualify', lead) }
  disqualify (lead: string): Promise<string[]> { return this.runCommand('disqualify', lead) }
  convertToCase (appointment: string): Promise<string[]> { return this.runCommand('convert-to-case', appointment) }
  markComplete (record: string): Promise<string[]> { return this.runCommand('mark-complete', record) }
  convertToOpportunity (record: string): Promise<string[]> { return this.runCommand('convert-to-opportunity', record) }

  /** The record's process flow and the stage it is at, or null when its entity has none. */
  async stage (record: string): Promise<{ flow: ProcessFlow, index: number, name: string } | null> {
    return this.replica.use(async () => {
      const entity = parseDocName(record)?.entity ?? ''
      const flow = (this.requireMetadata().processFlows ?? []).find(f => f.entity === entity)
      if (flow === undefined) return null
      const index = currentStage(flow, readRecord(await this.doc(record)).meta.activestage)
      return { flow, index, name: flow.stages[index].name }
    })
  }

  /** Moves the record's flow to `stage`; forward needs the required fields of the stages it leaves. */
  async setActiveStage (record: string, stage: string): Promise<void> {
    return this.replica.use(async () => {
      const meta = this.requireMetadata()
      const entity = parseDocName(record)?.entity ?? ''
      checkCommand(meta, entity, 'update')
      const at = await this.stage(record)
      if (at === null) throw new OfflineRefusal(Reason.invalidValue, `${entity} has no process flow`)
      const doc = await this.doc(record)
      const s = readRecord(doc)
      // The stage it is on already: nothing to save (a save of the stamps alone would be no change at all).
      if (stage === at.name && (s.meta.activestage === stage || s.meta.activestage === undefined)) return
      const denied = stageMoveDenial(entity, at.flow, at.name, stage, attributeValues(s))
      if (denied !== null) throw new OfflineRefusal(denied.reason, denied.message)
      doc.transact(() => {
        doc.getMap(META).set('activestage', stage)
        stampRecord(doc, { by: meta.userId, at: new Date().toISOString() })
      })
      await this.replica.settled()
    })
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
    return this.replica.use(async () => {
      const s = readRecord(await this.doc(record))
      return Object.entries(s.notes).map(([id, n]) => ({
        id, subject: n.subject ?? '', text: n.text ?? '', createdby: n.createdby ?? '', createdon: n.createdon ?? '',
        attachment: n.contenthash === undefined ? null : { filename: n.filename ?? '', mimetype: n.mimetype ?? '', size: Number(n.filesize), hash: n.contenthash }
      })).sort((a, b) => a.createdon < b.createdon ? -1 : a.createdon > b.createdon ? 1 : 0)
    })
  }

  /** Keeps attachment content locally (named by its hash) until it is uploaded at sync. */
  private async keep (file: NewAttachment): Promise<AttachmentRef> {
    const max = this.requireMetadata().maxAttachmentBytes
    if (max !== undefined && file.data.length > max) throw new OfflineRefusal(Reason.invalidValue, `${file.filename} has ${file.data.length} bytes; attachments may have at most ${max}`)
    if (file.data.length === 0) throw new OfflineRefusal(Reason.invalidValue, `${file.filename} is empty`)
    const hash = await sha256Hex(file.data)
    this.engine.hold(hash) // the edit pointing at it goes out after the content
    await this.store.putBlob(hash, file.data, true)
    return { filename: file.filename, mimetype: file.mimetype, filesize: String(file.data.length), contenthash: hash }
  }

  /**
   * The record's entity and (for an edit or removal) the note, refusing up front what the server would
   * drop: the privilege (README, "Security and the authorization projection": notes), a missing note, a
   * note past the most a timeline holds (as this device holds it: notes added elsewhere are counted at sync).
   */
  private async checkNotes (record: string, action: 'add' | 'edit' | 'remove', noteId?: string): Promise<{ def: EntityDef, doc: Y.Doc, note?: NoteState }> {
    const meta = this.requireMetadata()
    const entity = parseDocName(record)?.entity ?? ''
    checkNoteChange(meta, entity, action) // before opening the record: the entity and the privilege for any note
    const doc = await this.doc(record)
    const full = action === 'add' ? timelineFull(countNotes(doc)) : null
    if (full !== null) throw new OfflineRefusal(full.reason, full.message)
    const note = noteId === undefined ? undefined : readRecord(doc).notes[noteId]
    if (noteId !== undefined && note === undefined) throw new OfflineRefusal(Reason.invalidValue, `${record} has no note ${noteId}`)
    return { def: checkNoteChange(meta, entity, action, note), doc, note }
  }

  /** The stamp of an edit of `note` by this user: now, never before the note's creation or its last stamp by this user. */
  private noteActor (note: NoteState): { by: string, at: string } {
    const by = this.requireMetadata().userId
    return { by, at: noteStampTime(by, note, Date.now()) }
  }

  private afterNoteEdit (): Promise<unknown> {
    // Online: send it now (with its content) rather than at the next periodic sync.
    this.engine.nudge()
    return this.replica.settled()
  }

  /** Adds a note (with a picture or file, if given) to a record's timeline; returns the note id. */
  async addNote (record: string, note: { subject: string, text: string, attachment?: NewAttachment }): Promise<string> {
    return this.replica.use(async () => {
      const { def, doc } = await this.checkNotes(record, 'add')
      const attachment = note.attachment === undefined ? undefined : await this.keep(note.attachment)
      const id = newId()
      addNote(doc, def, id, { subject: note.subject, text: note.text, attachment }, this.actor())
      await this.afterNoteEdit()
      return id
    })
  }

  /** Edits a note's subject or text, replaces its attachment, or (`attachment: null`) removes it. */
  async editNote (record: string, noteId: string, patch: { subject?: string, text?: string, attachment?: NewAttachment | null }): Promise<void> {
    return this.replica.use(async () => {
      const { def, doc, note } = await this.checkNotes(record, 'edit', noteId)
      const attachment = patch.attachment === undefined || patch.attachment === null ? patch.attachment : await this.keep(patch.attachment)
      editNote(doc, def, noteId, { subject: patch.subject, text: patch.text, attachment }, this.noteActor(note!))
      await this.afterNoteEdit()
    })
  }

  async removeNote (record: string, noteId: string): Promise<void> {
    return this.replica.use(async () => {
      const { def, doc } = await this.checkNotes(record, 'remove', noteId)
      removeNote(doc, def, noteId, this.actor())
      await this.afterNoteEdit()
    })
  }

  /** The content of a note's attachment: from the device, or (online) downloaded and kept. */
  async attachment (record: string, noteId: string): Promise<Uint8Array> {
    const note = (await this.notes(record)).find(n => n.id === noteId)
    if (note?.attachment == null) throw new OfflineRefusal(Reason.invalidValue, `${record} has no note ${noteId} with an attachment`)
    const local = await this.store.blob(note.attachment.hash)
    if (local !== undefined) return local
    if (!this.connected) throw new Error(`the attachment ${note.attachment.filename} is not on this device yet; connect to download it`)
    const data = await downloadAttachment(this.engine.http, record, noteId, note.attachment.hash)
    await this.store.putBlob(note.attachment.hash, data, false)
    return data
  }

  private actor (): { by: string, at: string } {
    return { by: this.requireMetadata().userId, at: new Date().toISOString() }
  }

  /** Refresh (a command of custom entities; any held record works): fetches the record's server state now. */
  refresh (record: string): Promise<void> { return this.engine.refresh(record) }

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
    return (this.replica.metadata?.views ?? []).filter(v => v.entity === entity)
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

  /** The indexed records of an entity, without opening their documents; the activity pointer lists the
   * activities (`activitypointer/<id>`, with `activitytypecode` and `activityid`). */
  list (entity: string): Promise<IndexedRecord[]> {
    return this.indexOf(entity).then(rows => rows.slice())
  }

  private indexOf (entity: string): Promise<readonly IndexedRecord[]> {
    const meta = this.replica.metadata
    const pointer = meta?.entities.find(e => e.name === entity && isPointer(e))
    if (meta === null || pointer === undefined) return this.replica.indexOf(entity)
    return pointerIndex(meta, pointer, e => this.replica.indexOf(e))
  }

  async unsyncedCount (): Promise<number> {
    return await this.store.pendingCount()
  }

  // --- inbox ---------------------------------------------------------------------------------

  inbox (): Promise<InboxItem[]> { return this.store.inbox() }

  /** Removes an item from the inbox, on this device, and dismisses it for the user: the user's new
   * devices are not offered it (the server is told now, or at the next sync). */
  async discard (id: number): Promise<void> {
    await this.replica.dismiss(id)
    this.engine.sendDismissals()
  }

  /** Applies a rejected value again as a new edit (it is checked again at the next sync). */
  async retry (id: number): Promise<void> {
    const item = (await this.store.inbox()).find(i => i.id === id)
    if (item === undefined) return
    const r = item.receipt
    const change = (r as Receipt).change
    if (r.field !== null && change === 'field-set') await this.update(r.record, { [r.field]: r.attempted as FieldValue })
    if (r.field !== null && change === 'field-cleared') await this.update(r.record, { [r.field]: null })
    await this.discard(id)
  }

  /** Copies a rejected value into a new record of the same entity. */
  async copyToNew (id: number): Promise<string | null> {
    const item = (await this.store.inbox()).find(i => i.id === id)
    if (item === undefined || item.receipt.field === null) return null
    const entity = parseDocName(item.receipt.record)?.entity ?? ''
    const created = await this.create(entity, { [item.receipt.field]: item.receipt.attempted as FieldValue })
    await this.discard(id)
    return created
  }

  // --- sync ----------------------------------------------------------------------------------

  /** Runs a sync cycle now: pushes local edits, receives what changed; resolves when it is done. */
  sync (): Promise<void> { return this.engine.sync() }
  /** Syncs every `ms` milliseconds (and now). */
  startPeriodic (ms?: number): void { this.engine.startPeriodic(ms) }
  stopPeriodic (): void { this.engine.stopPeriodic() }
  /** Closes the socket (the device keeps working offline). */
  disconnect (): void { this.engine.disconnect() }

  async close (): Promise<void> {
    this.engine.close()
    await this.replica.close()
  }
}
