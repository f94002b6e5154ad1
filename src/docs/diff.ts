// The pure diff of a record: (state before, state after) -> the list of changes, and its inverse and apply.

import * as Y from 'yjs'
import { FIELDS, META, NOTES, NOTE_KEYS, memoText, spliceBetween, type NoteState, type RecordState } from './record.ts'
import { isStamp, META_KEYS, type MetaKey } from './system-fields.ts'
import type { FieldValue } from './values.ts'

export type Change =
  | { kind: 'created', entity: string, id: string }
  | { kind: 'meta-set', key: MetaKey, old: FieldValue | null, new: FieldValue | null }
  | { kind: 'field-set', field: string, old: FieldValue | null, new: FieldValue }
  | { kind: 'field-cleared', field: string, old: FieldValue }
  | { kind: 'text-edited', field: string, index: number, deleteCount: number, insert: string, removed: string }
  | { kind: 'note-added', noteId: string, note: NoteState }
  | { kind: 'note-edited', noteId: string, old: NoteState, new: NoteState }
  | { kind: 'note-removed', noteId: string, old: NoteState }
  | { kind: 'deleted', by: string, on: string, seen?: string }
  | { kind: 'undeleted', by: string, on: string, seen?: string }

/** Whether `c` sets a stamp (modifiedby / modifiedon), which says who saved and not what was saved. */
export const isStampChange = (c: Change): boolean => c.kind === 'meta-set' && isStamp(c.key)

const TOMBSTONE_KEYS: readonly MetaKey[] = ['deletedby', 'deletedon', 'deletedseen']

const sameNote = (a: NoteState, b: NoteState): boolean =>
  NOTE_KEYS.every(k => a[k] === b[k])

export const diff = (before: RecordState, after: RecordState): Change[] => {
  const out: Change[] = []
  const bm = before.meta
  const am = after.meta
  const created = bm.entity === undefined && am.entity !== undefined
  if (created) out.push({ kind: 'created', entity: String(am.entity), id: String(am.id) })
  const wasDeleted = bm.deletedon !== undefined
  const isDeleted = am.deletedon !== undefined
  // A tombstone appearing or going is one change; a tombstone rewritten is plain metadata.
  const tombstoneFlips = wasDeleted !== isDeleted
  for (const key of META_KEYS) {
    if (created && (key === 'entity' || key === 'id')) continue
    if (tombstoneFlips && TOMBSTONE_KEYS.includes(key)) continue
    const o = bm[key] ?? null
    const n = am[key] ?? null
    if (o !== n) out.push({ kind: 'meta-set', key, old: o, new: n })
  }
  // (Each part's keys in the order of a Set of before's then after's: before's keys, then after's new ones.
  // Walked without building that Set: every update diffs the whole record.)
  const fieldChange = (field: string): void => {
    const o = before.fields[field]
    const n = after.fields[field]
    if (o === n) return
    if (n === undefined) out.push({ kind: 'field-cleared', field, old: o })
    else out.push({ kind: 'field-set', field, old: o ?? null, new: n })
  }
  for (const field in before.fields) if (Object.hasOwn(before.fields, field)) fieldChange(field)
  for (const field in after.fields) if (Object.hasOwn(after.fields, field) && !Object.hasOwn(before.fields, field)) fieldChange(field)
  const textChange = (field: string): void => {
    const o = before.texts[field] ?? ''
    const n = after.texts[field] ?? ''
    if (o === n) return
    const s = spliceBetween(o, n)
    out.push({ kind: 'text-edited', field, ...s, removed: o.slice(s.index, s.index + s.deleteCount) })
  }
  for (const field in before.texts) if (Object.hasOwn(before.texts, field)) textChange(field)
  for (const field in after.texts) if (Object.hasOwn(after.texts, field) && !Object.hasOwn(before.texts, field)) textChange(field)
  const noteChange = (noteId: string): void => {
    const o = before.notes[noteId]
    const n = after.notes[noteId]
    if (o === undefined) out.push({ kind: 'note-added', noteId, note: n })
    else if (n === undefined) out.push({ kind: 'note-removed', noteId, old: o })
    else if (!sameNote(o, n)) out.push({ kind: 'note-edited', noteId, old: o, new: n })
  }
  for (const noteId in before.notes) if (Object.hasOwn(before.notes, noteId)) noteChange(noteId)
  for (const noteId in after.notes) if (Object.hasOwn(after.notes, noteId) && !Object.hasOwn(before.notes, noteId)) noteChange(noteId)
  if (isDeleted && !wasDeleted) {
    out.push({ kind: 'deleted', by: String(am.deletedby ?? ''), on: String(am.deletedon), ...(am.deletedseen === undefined ? {} : { seen: String(am.deletedseen) }) })
  } else if (wasDeleted && !isDeleted) {
    out.push({ kind: 'undeleted', by: String(bm.deletedby ?? ''), on: String(bm.deletedon), ...(bm.deletedseen === undefined ? {} : { seen: String(bm.deletedseen) }) })
  }
  return out
}

const setOrDelete = <T>(o: Record<string, T>, k: string, v: T | null | undefined): void => {
  if (v === null || v === undefined) delete o[k]
  else o[k] = v
}

/** Applies changes to a plain state (pure). */
export const applyChanges = (state: RecordState, changes: readonly Change[]): RecordState => {
  const s: RecordState = {
    meta: { ...state.meta }, fields: { ...state.fields }, texts: { ...state.texts },
    notes: Object.fromEntries(Object.entries(state.notes).map(([k, v]) => [k, { ...v }]))
  }
  for (const c of changes) {
    switch (c.kind) {
      case 'created': s.meta.entity = c.entity; s.meta.id = c.id; break
      case 'meta-set': setOrDelete(s.meta, c.key, c.new); break
      case 'field-set': s.fields[c.field] = c.new; break
      case 'field-cleared': delete s.fields[c.field]; break
      case 'text-edited': {
        const o = s.texts[c.field] ?? ''
        setOrDelete(s.texts, c.field, (o.slice(0, c.index) + c.insert + o.slice(c.index + c.deleteCount)) || null)
        break
      }
      case 'note-added': s.notes[c.noteId] = { ...c.note }; break
      case 'note-edited': s.notes[c.noteId] = { ...c.new }; break
      case 'note-removed': delete s.notes[c.noteId]; break
      case 'deleted': setOrDelete<FieldValue>(s.meta, 'deletedby', c.by || null); s.meta.deletedon = c.on; setOrDelete<FieldValue>(s.meta, 'deletedseen', c.seen); break
      case 'undeleted': delete s.meta.deletedby; delete s.meta.deletedon; delete s.meta.deletedseen; break
    }
  }
  return s
}

/** The changes that undo `changes` (in reverse order). */
export const invertAll = (changes: readonly Change[]): Change[] => changes.flatMap(invert).reverse()

/** The changes that undo `c`. */
export const invert = (c: Change): Change[] => {
  if (c.kind === 'created') {
    return [{ kind: 'meta-set', key: 'id', old: c.id, new: null }, { kind: 'meta-set', key: 'entity', old: c.entity, new: null }]
  }
  return [invertOne(c)]
}

const invertOne = (c: Exclude<Change, { kind: 'created' }>): Change => {
  switch (c.kind) {
    case 'meta-set': return { kind: 'meta-set', key: c.key, old: c.new, new: c.old }
    case 'field-set': return c.old === null ? { kind: 'field-cleared', field: c.field, old: c.new } : { kind: 'field-set', field: c.field, old: c.new, new: c.old }
    case 'field-cleared': return { kind: 'field-set', field: c.field, old: null, new: c.old }
    case 'text-edited': return { kind: 'text-edited', field: c.field, index: c.index, deleteCount: c.insert.length, insert: c.removed, removed: c.insert }
    case 'note-added': return { kind: 'note-removed', noteId: c.noteId, old: c.note }
    case 'note-edited': return { kind: 'note-edited', noteId: c.noteId, old: c.new, new: c.old }
    case 'note-removed': return { kind: 'note-added', noteId: c.noteId, note: c.old }
    case 'deleted': return { ...c, kind: 'undeleted' }
    case 'undeleted': return { ...c, kind: 'deleted' }
  }
}

const writeNote = (m: Y.Map<string>, note: NoteState): void => {
  for (const k of NOTE_KEYS) {
    const v = note[k]
    if (v === undefined) { if (m.has(k)) m.delete(k) } else if (m.get(k) !== v) m.set(k, v)
  }
}

/**
 * Applies changes to a record document, inside the caller's transaction if there is one. Used to
 * write a compensation: the inverse of the changes an update may not make.
 */
export const applyChangesToDoc = (doc: Y.Doc, changes: readonly Change[], origin: unknown = null): void => {
  doc.transact(() => {
    const meta = doc.getMap<FieldValue>(META)
    const fields = doc.getMap<FieldValue>(FIELDS)
    const notes = doc.getMap<Y.Map<string>>(NOTES)
    const metaSet = (k: string, v: FieldValue | null): void => { if (v === null) meta.delete(k); else meta.set(k, v) }
    for (const c of changes) {
      switch (c.kind) {
        case 'created': meta.set('entity', c.entity); meta.set('id', c.id); break
        case 'meta-set': metaSet(c.key, c.new); break
        case 'field-set': fields.set(c.field, c.new); break
        case 'field-cleared': fields.delete(c.field); break
        case 'text-edited': {
          const t = memoText(doc, c.field)
          // Yjs's index cache can be stale after a remote update in the same transaction (see project.ts).
          if (t._searchMarker !== null) t._searchMarker.length = 0
          if (c.deleteCount > 0) t.delete(c.index, c.deleteCount)
          if (c.insert !== '') t.insert(c.index, c.insert)
          break
        }
        case 'note-added': case 'note-edited': {
          const note = c.kind === 'note-added' ? c.note : c.new
          let m = notes.get(c.noteId)
          if (!(m instanceof Y.Map)) { m = new Y.Map<string>(); notes.set(c.noteId, m) }
          writeNote(m, note)
          break
        }
        case 'note-removed': notes.delete(c.noteId); break
        case 'deleted': metaSet('deletedby', c.by || null); meta.set('deletedon', c.on); metaSet('deletedseen', c.seen ?? null); break
        case 'undeleted': meta.delete('deletedby'); meta.delete('deletedon'); meta.delete('deletedseen'); break
      }
    }
  }, origin)
}
