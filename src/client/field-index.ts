// The device's field index: each record's entry (the values a listing, a view or a search reads, those of
// its secured fields included) and the per-entity cache of entries read from the local store.

import * as Y from 'yjs'
import { readRecord, type RecordState } from '../docs/record.ts'
import { LISTED_SYSTEM_FIELDS } from '../docs/system-fields.ts'
import { fieldDocName, parseDocName } from '../ids.ts'
import type { DeviceMetadata } from './offline-rules.ts'
import type { IndexedRecord, LocalStore } from './store.ts'

/** What the index reads of the replica (Replica, where each is described). */
export interface IndexState {
  readonly store: LocalStore
  readonly docs: ReadonlyMap<string, Y.Doc>
  readonly known: ReadonlySet<string>
  readonly metadata: DeviceMetadata | null
  readonly indexCache: IndexCache
}

/** The local index per entity, read once and dropped when a write touches the entity: views and
 * search then do not parse the whole index on every query. */
export interface IndexCache {
  readonly entries: Map<string, IndexedRecord[]>
  /** bumped by every write that touches the entity */
  readonly generations: Map<string, number>
}

export const newIndexCache = (): IndexCache => ({ entries: new Map(), generations: new Map() })

/** Read no notes: an index entry has none. */
const NO_NOTES: ReadonlySet<string> = new Set()

/** The state of the document made of `updates` (notes not read: a listing shows none). */
export const readUpdates = (record: string, updates: readonly Uint8Array[]): RecordState => {
  const tmp = new Y.Doc({ guid: record }) // a given guid spares a random uuid per record
  tmp.transact(() => { for (const u of updates) Y.applyUpdate(tmp, u) })
  const state = readRecord(tmp, undefined, NO_NOTES)
  tmp.destroy()
  return state
}

/** The values a listing shows: metadata and scalar fields. */
export const indexEntry = (record: string, s: RecordState): IndexedRecord | null => {
  if (s.meta.entity === undefined || s.meta.deletedon !== undefined) return null
  // attributeValues(s) and the listed system fields, built key by key: adding keys to a spread copy
  // measured 7 us an entry (every received change and local edit makes one), this 0.4 us.
  const values: Record<string, unknown> = {}
  for (const k of Object.keys(s.fields)) values[k] = s.fields[k]
  for (const k of Object.keys(s.texts)) values[k] = s.texts[k]
  for (const k of LISTED_SYSTEM_FIELDS) values[k] = s.meta[k]
  return { record, entity: String(s.meta.entity), values }
}

/** The secured attributes of `entity` this user may read (their values live in their own documents). */
export const securedAttributes = (r: IndexState, entity: string): string[] => {
  const perms = r.metadata?.fieldPermissions ?? {}
  return Object.keys(perms).filter(k => k.startsWith(`${entity}.`) && perms[k].read).map(k => k.slice(entity.length + 1))
}

/** A record's state with the values of its secured fields' documents the device holds. */
export const stateWithSecured = async (r: IndexState, record: string, s: RecordState): Promise<RecordState> => {
  const entity = parseDocName(record)?.entity
  if (entity === undefined) return s
  const attrs = securedAttributes(r, entity)
  if (attrs.length === 0) return s
  const out: RecordState = { ...s, fields: { ...s.fields }, texts: { ...s.texts } }
  for (const a of attrs) {
    const name = fieldDocName(record, a)
    let doc = r.docs.get(name)
    const temporary = doc === undefined
    if (doc === undefined) {
      if (!r.known.has(name)) continue
      doc = new Y.Doc({ guid: name })
      for (const u of await r.store.load(name)) Y.applyUpdate(doc, u)
    }
    const f = readRecord(doc)
    if (f.fields[a] !== undefined) out.fields[a] = f.fields[a]
    if (f.texts[a] !== undefined) out.texts[a] = f.texts[a]
    if (temporary) doc.destroy()
  }
  return out
}

/** The index entry of a record, secured values it may read included. */
export const entryOf = async (r: IndexState, record: string, s: RecordState): Promise<IndexedRecord | null> => {
  return indexEntry(record, await stateWithSecured(r, record, s))
}

/** Indexes a record again (one of its secured fields' documents changed). */
export const reindex = async (r: IndexState, record: string): Promise<void> => {
  if (!r.known.has(record)) return
  const open = r.docs.get(record)
  let state: RecordState
  if (open !== undefined) state = readRecord(open)
  else {
    const tmp = new Y.Doc({ guid: record })
    for (const u of await r.store.load(record)) Y.applyUpdate(tmp, u)
    state = readRecord(tmp)
    tmp.destroy()
  }
  await indexWrite(r, record, r.store.setIndex(record, await entryOf(r, record, state)))
}

/** The entity's index entries, from the cache or read once from the store. */
export const indexOf = async (r: IndexState, entity: string): Promise<IndexedRecord[]> => {
  const { entries, generations } = r.indexCache
  const cached = entries.get(entity)
  if (cached !== undefined) return cached
  const generation = generations.get(entity) ?? 0
  const rows = await r.store.index(entity)
  // A write that touched the entity while it was read may or may not be in `rows`: do not keep them.
  if ((generations.get(entity) ?? 0) === generation) entries.set(entity, rows)
  return rows
}

/** A store write that changes the index of `record`'s entity: the cached index goes. */
export const indexWrite = <T>(r: IndexState, record: string, write: Promise<T>, entity = parseDocName(record)?.entity ?? ''): Promise<T> => {
  const { entries, generations } = r.indexCache
  entries.delete(entity)
  generations.set(entity, (generations.get(entity) ?? 0) + 1)
  return write
}
