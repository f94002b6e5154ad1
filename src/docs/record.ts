// The typed API over a record Y.Doc: create, read, write fields and text, notes, delete (tombstone).
// Layout (README, "Record document layout"): map `meta`, map `fields`, one Y.Text `memo:<attr>` per
// multi-line text attribute, map `notes` of note maps.

import * as Y from 'yjs'
import type { EntityDef } from './catalog-types.ts'
import { attributeOf } from './catalog-types.ts'
import { checkValue, type FieldValue } from './values.ts'
import { decodeStamp, encodeStamp, maxHlc, tick, ZERO, type Hlc } from './hlc.ts'
import type { RecordId } from '../ids.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'
import { STAMP, type MetaKey } from './system-fields.ts'

export const META = 'meta'
export const FIELDS = 'fields'
export const NOTES = 'notes'
export const MEMO_PREFIX = 'memo:'
/** Map of scalar field name -> the stamp (hybrid logical clock) of the write its value came from. */
export const CLOCKS = 'clocks'

/** The attachment of a note: its content is a blob named by `contenthash` (sha-256, hex); `filesize` in bytes, as decimal digits. */
export const ATTACHMENT_KEYS = ['filename', 'mimetype', 'filesize', 'contenthash'] as const
/** A `contenthash`: the sha-256 of the content, 64 lowercase hex digits (what a blob is named by). */
export const CONTENT_HASH = /^[0-9a-f]{64}$/
export type AttachmentRef = Record<typeof ATTACHMENT_KEYS[number], string>

export const NOTE_KEYS = ['subject', 'text', 'createdby', 'createdon', 'modifiedby', 'modifiedon', ...ATTACHMENT_KEYS] as const
export type NoteKey = typeof NOTE_KEYS[number]
export type NoteState = Partial<Record<NoteKey, string>>

/** A plain snapshot of a record document. */
export interface RecordState {
  meta: Partial<Record<MetaKey, FieldValue>>
  fields: Record<string, FieldValue>
  texts: Record<string, string>
  notes: Record<string, NoteState>
}

/** Who writes and when: stamped into modifiedby / modifiedon. */
export interface Actor { readonly by: string, readonly at: string }

export class RecordError extends FieldsyncError {
  override name = 'RecordError'
  constructor (message: string, options?: ErrorOptions) {
    super(ErrorCode.invalidRecord, message, options)
  }
}

export const emptyState = (): RecordState => ({ meta: {}, fields: {}, texts: {}, notes: {} })

export const memoText = (doc: Y.Doc, attr: string): Y.Text => doc.getText(MEMO_PREFIX + attr)

/**
 * The document's root map `name`: `doc.getMap(name)` without its cost once the map is defined (Yjs makes a
 * closure on every call, and an update's decision asks for the record's maps a score of times).
 */
export const rootMap = <T>(doc: Y.Doc, name: string): Y.Map<T> => {
  const type = doc.share.get(name)
  return type instanceof Y.Map ? type as Y.Map<T> : doc.getMap<T>(name)
}

const noteOf = (note: Y.Map<string>): NoteState => {
  const n: NoteState = {}
  note.forEach((v, k) => { if ((NOTE_KEYS as readonly string[]).includes(k) && typeof v === 'string') n[k as NoteKey] = v })
  return n
}

/** Copies a map's entries into `into`: what Y.Map.forEach gives, read from its items directly (every
 * update's decision reads the record's meta and fields). */
const readEntries = (map: Y.Map<FieldValue>, into: Record<string, FieldValue>): void => {
  // (Map.forEach with `into` as its this: no closure, and no [key, item] pair per entry as for...of makes.)
  map._map.forEach(copyEntry, into)
}

function copyEntry (this: Record<string, FieldValue>, item: Y.Item, key: string): void {
  if (!item.deleted) this[key] = item.content.getContent()[item.length - 1] as FieldValue
}

/**
 * Reads a record document into a plain state. Memo texts are read only for the entity's memo attributes
 * (only those in `memos` when given); notes only those in `notes` when given (an update's decision reads
 * the texts and notes it touches, not a timeline of a thousand or a text of a hundred thousand characters).
 */
export const readRecord = (doc: Y.Doc, entity?: EntityDef, notes?: ReadonlySet<string>, memos?: ReadonlySet<string>): RecordState => {
  const state = emptyState()
  readEntries(rootMap<FieldValue>(doc, META), state.meta)
  readEntries(rootMap<FieldValue>(doc, FIELDS), state.fields)
  const memoNames = memos !== undefined
    ? memos
    : entity !== undefined
      ? entity.attributes.filter(a => a.type === 'memo').map(a => a.name)
      : [...doc.share.keys()].filter(k => k.startsWith(MEMO_PREFIX)).map(k => k.slice(MEMO_PREFIX.length))
  for (const name of memoNames) {
    const s = memoText(doc, name).toString()
    if (s !== '') state.texts[name] = s
  }
  const timeline = rootMap<Y.Map<string>>(doc, NOTES)
  const readNote = (note: unknown, id: string): void => {
    if (note instanceof Y.Map) state.notes[id] = noteOf(note)
  }
  if (notes === undefined) timeline.forEach(readNote)
  else for (const id of notes) readNote(timeline.get(id), id)
  return state
}

/** How many notes a record's timeline holds (read from its entries: no snapshot of the notes is made). */
export const countNotes = (doc: Y.Doc): number => {
  let n = 0
  for (const item of rootMap(doc, NOTES)._map.values()) if (!item.deleted) n++
  return n
}

/** The parts of a record an update touched: meta and field keys, memo texts, notes. */
export interface TouchedParts {
  readonly meta: Iterable<string>
  readonly fields: Iterable<string>
  readonly memos: Iterable<string>
  readonly notes: Iterable<string>
}

/**
 * `before` (read from `doc` earlier) with the touched parts read again: what readRecord would read now,
 * when nothing else changed since — an update's decision reads the record once, not twice.
 */
export const rereadTouched = (doc: Y.Doc, before: RecordState, touched: TouchedParts): RecordState => {
  const state: RecordState = { meta: { ...before.meta }, fields: { ...before.fields }, texts: { ...before.texts }, notes: { ...before.notes } }
  const meta = rootMap<FieldValue>(doc, META)
  for (const k of touched.meta) { if (meta.has(k)) state.meta[k as MetaKey] = meta.get(k)!; else delete state.meta[k as MetaKey] }
  const fields = rootMap<FieldValue>(doc, FIELDS)
  for (const k of touched.fields) { if (fields.has(k)) state.fields[k] = fields.get(k)!; else delete state.fields[k] }
  for (const name of touched.memos) {
    const s = memoText(doc, name).toString()
    if (s !== '') state.texts[name] = s
    else delete state.texts[name]
  }
  const timeline = rootMap<Y.Map<string>>(doc, NOTES)
  for (const id of touched.notes) {
    const note = timeline.get(id)
    if (note instanceof Y.Map) state.notes[id] = noteOf(note)
    else delete state.notes[id]
  }
  return state
}

/** A record's attribute values: its scalar fields and its multi-line texts. */
export const attributeValues = (s: RecordState): Record<string, FieldValue> => {
  const values = { ...s.fields }
  for (const k in s.texts) if (Object.hasOwn(s.texts, k)) values[k] = s.texts[k]
  return values
}

export const exists = (s: RecordState): boolean => s.meta.entity !== undefined
export const isDeleted = (s: RecordState): boolean => s.meta.deletedon !== undefined

/** Stamps a save of the record: who (`actor.by`) and when (`actor.at`). Every write here stamps; call it for other writes to `meta`. */
export const stampRecord = (doc: Y.Doc, actor: Actor): void => {
  const meta = doc.getMap<FieldValue>(META)
  meta.set(STAMP.by, actor.by)
  meta.set(STAMP.at, actor.at)
}

const requireLive = (doc: Y.Doc, entity: EntityDef): void => {
  const meta = doc.getMap<FieldValue>(META)
  if (meta.get('entity') !== entity.name) throw new RecordError(`record is not a created ${entity.name}`)
  if (meta.has('deletedon')) throw new RecordError('record is deleted')
}

export interface CreateInput {
  readonly id: RecordId
  readonly ownerid: string
  readonly owningbusinessunit: string
  readonly values?: Readonly<Record<string, FieldValue>>
}

export const createRecord = (doc: Y.Doc, entity: EntityDef, input: CreateInput, actor: Actor, origin: unknown = null): void => {
  for (const [k, v] of Object.entries(input.values ?? {})) checkField(entity, k, v)
  doc.transact(() => {
    const meta = doc.getMap<FieldValue>(META)
    if (meta.has('entity')) throw new RecordError('record already exists')
    meta.set('entity', entity.name)
    meta.set('id', input.id)
    meta.set('ownerid', input.ownerid)
    meta.set('owningbusinessunit', input.owningbusinessunit)
    meta.set('createdby', actor.by)
    meta.set('createdon', actor.at)
    meta.set('statecode', 0)
    stampRecord(doc, actor)
    for (const [k, v] of Object.entries(input.values ?? {})) writeField(doc, entity, k, v, actor)
  }, origin)
}

const checkField = (entity: EntityDef, name: string, value: FieldValue): void => {
  const attr = attributeOf(entity, name)
  if (attr === undefined) throw new RecordError(`${entity.name} has no attribute ${name}`)
  const problem = checkValue(attr, value)
  if (problem !== null) throw new RecordError(problem)
}

const writeField = (doc: Y.Doc, entity: EntityDef, name: string, value: FieldValue, actor: Actor): void => {
  if (attributeOf(entity, name)?.type === 'memo') { replaceText(memoText(doc, name), value as string); return }
  doc.getMap<FieldValue>(FIELDS).set(name, value)
  stampField(doc, name, actor)
}

/** The newest clock each document has issued (a device's clock never runs backwards, whatever Date says). */
const issued = new WeakMap<Y.Doc, Hlc>()

/**
 * Stamps a write of `name` with the writer's next clock (after the value's current one and its own last)
 * and the clock it was made on top of: the current value's, or, over its own write not yet confirmed by
 * someone else's, what that write was made on top of.
 */
export const stampField = (doc: Y.Doc, name: string, actor: Actor): void => {
  const clocks = doc.getMap<string>(CLOCKS)
  const current = decodeStamp(clocks.get(name))
  const wall = Date.parse(actor.at)
  const clock = tick(maxHlc(issued.get(doc) ?? ZERO, current?.clock ?? ZERO), Number.isFinite(wall) ? wall : Date.now(), doc.clientID)
  issued.set(doc, clock)
  const seen = current === null ? null : current.clock.writer === doc.clientID ? current.seen : current.clock
  clocks.set(name, encodeStamp({ clock, seen }))
}

/** Sets a field (a memo field is replaced through its Y.Text with a minimal splice). */
export const setField = (doc: Y.Doc, entity: EntityDef, name: string, value: FieldValue, actor: Actor, origin: unknown = null): void => {
  checkField(entity, name, value)
  doc.transact(() => {
    requireLive(doc, entity)
    writeField(doc, entity, name, value, actor)
    stampRecord(doc, actor)
  }, origin)
}

export const clearField = (doc: Y.Doc, entity: EntityDef, name: string, actor: Actor, origin: unknown = null): void => {
  const attr = attributeOf(entity, name)
  if (attr === undefined) throw new RecordError(`${entity.name} has no attribute ${name}`)
  doc.transact(() => {
    requireLive(doc, entity)
    if (attr.type === 'memo') replaceText(memoText(doc, name), '')
    else { doc.getMap(FIELDS).delete(name); stampField(doc, name, actor) }
    stampRecord(doc, actor)
  }, origin)
}

/** Splices a memo field: delete `deleteCount` characters at `index`, insert `insert` there. */
export const editText = (
  doc: Y.Doc, entity: EntityDef, name: string, index: number, deleteCount: number, insert: string, actor: Actor, origin: unknown = null
): void => {
  const attr = attributeOf(entity, name)
  if (attr?.type !== 'memo') throw new RecordError(`${entity.name}.${name} is not a multi-line text attribute`)
  const t = memoText(doc, name)
  if (index < 0 || deleteCount < 0 || index + deleteCount > t.length) throw new RecordError(`edit out of range for ${name}`)
  if (t.length - deleteCount + insert.length > (attr.maxLength ?? 100_000)) throw new RecordError(`${name} is longer than ${attr.maxLength} characters`)
  doc.transact(() => {
    requireLive(doc, entity)
    if (deleteCount > 0) t.delete(index, deleteCount)
    if (insert !== '') t.insert(index, insert)
    stampRecord(doc, actor)
  }, origin)
}

const writeAttachment = (m: Y.Map<string>, a: AttachmentRef | null): void => {
  for (const k of ATTACHMENT_KEYS) {
    if (a === null) { if (m.has(k)) m.delete(k) } else m.set(k, a[k])
  }
}

export const addNote = (
  doc: Y.Doc, entity: EntityDef, noteId: string, note: { subject: string, text: string, attachment?: AttachmentRef }, actor: Actor, origin: unknown = null
): void => {
  doc.transact(() => {
    requireLive(doc, entity)
    const notes = doc.getMap<Y.Map<string>>(NOTES)
    if (notes.has(noteId)) throw new RecordError(`note ${noteId} exists`)
    const m = new Y.Map<string>()
    notes.set(noteId, m)
    m.set('subject', note.subject)
    m.set('text', note.text)
    if (note.attachment !== undefined) writeAttachment(m, note.attachment)
    m.set('createdby', actor.by)
    m.set('createdon', actor.at)
    stampRecord(doc, actor)
  }, origin)
}

/** Edits a note; `attachment: null` removes its attachment, an attachment replaces it. */
export const editNote = (
  doc: Y.Doc, entity: EntityDef, noteId: string, patch: { subject?: string, text?: string, attachment?: AttachmentRef | null }, actor: Actor, origin: unknown = null
): void => {
  doc.transact(() => {
    requireLive(doc, entity)
    const m = doc.getMap<Y.Map<string>>(NOTES).get(noteId)
    if (!(m instanceof Y.Map)) throw new RecordError(`no note ${noteId}`)
    if (patch.subject !== undefined) m.set('subject', patch.subject)
    if (patch.text !== undefined) m.set('text', patch.text)
    if (patch.attachment !== undefined) writeAttachment(m, patch.attachment)
    m.set(STAMP.by, actor.by)
    m.set(STAMP.at, actor.at)
    stampRecord(doc, actor)
  }, origin)
}

export const removeNote = (doc: Y.Doc, entity: EntityDef, noteId: string, actor: Actor, origin: unknown = null): void => {
  doc.transact(() => {
    requireLive(doc, entity)
    const notes = doc.getMap(NOTES)
    if (!notes.has(noteId)) throw new RecordError(`no note ${noteId}`)
    notes.delete(noteId)
    stampRecord(doc, actor)
  }, origin)
}

/**
 * Deletes a record by writing a tombstone. Concurrent edits still merge into the document, but any
 * tombstone makes the record deleted, so a delete wins over concurrent edits on every replica.
 */
export const deleteRecord = (doc: Y.Doc, entity: EntityDef, actor: Actor, origin: unknown = null): void => {
  doc.transact(() => {
    requireLive(doc, entity)
    const meta = doc.getMap<FieldValue>(META)
    meta.set('deletedby', actor.by)
    meta.set('deletedon', actor.at)
    // What the deleting writer had seen of each field (its stamps): the server tells the authors of
    // edits it had not seen that the delete overrode them.
    const seen = doc.getMap<string>(CLOCKS).toJSON()
    if (Object.keys(seen).length > 0) meta.set('deletedseen', JSON.stringify(seen))
  }, origin)
}

/** The single splice that turns `a` into `b`, never splitting a surrogate pair. */
export const spliceBetween = (a: string, b: string): { index: number, deleteCount: number, insert: string } => {
  let start = 0
  const max = Math.min(a.length, b.length)
  while (start < max && a.charCodeAt(start) === b.charCodeAt(start)) start++
  if (start > 0 && isHighSurrogate(a.charCodeAt(start - 1))) start--
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) { endA--; endB-- }
  if (endA < a.length && isLowSurrogate(a.charCodeAt(endA))) { endA++; endB++ }
  return { index: start, deleteCount: endA - start, insert: b.slice(start, endB) }
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

export const replaceText = (t: Y.Text, value: string): void => {
  const s = spliceBetween(t.toString(), value)
  if (s.deleteCount > 0) t.delete(s.index, s.deleteCount)
  if (s.insert !== '') t.insert(s.index, s.insert)
}
