// A record's plain state read straight from an update holding its whole state (what a device receives for
// a record new to it), without a Y.Doc: decoding is half the cost of taking such an update in, integrating
// it and reading the document back the other half. Only for the usual shape — entries of root maps, and
// memo texts written in order by one writer; an update with notes, texts edited elsewhere than at their
// end, or anything it cannot place answers null, and the caller reads a document.

import * as Y from 'yjs'
import { CLOCKS, emptyState, FIELDS, MEMO_PREFIX, META, type RecordState } from './record.ts'
import type { MetaKey } from './system-fields.ts'
import type { FieldValue } from './values.ts'

type Struct = Y.Item | Y.GC | Y.Skip

/** The roots a state read from an update may hold: meta and fields are read, clocks only placed. */
const MAPS = new Set([META, FIELDS, CLOCKS])

/**
 * The state `readRecord(doc, undefined, NO_NOTES)` would give for the document made of `update` alone, or
 * null when the update holds more than entries of `meta`, `fields` and `clocks` (or something it cannot
 * place: then a document decides).
 */
export const stateOfWholeUpdate = (update: Uint8Array): RecordState | null => {
  const { structs, ds } = Y.decodeUpdate(update)
  const byClient = new Map<number, Struct[]>()
  for (const s of structs) {
    let list = byClient.get(s.id.client)
    if (list === undefined) { list = []; byClient.set(s.id.client, list) }
    list.push(s)
  }
  const find = (id: Y.ID): Struct | undefined => {
    const list = byClient.get(id.client)
    if (list === undefined) return undefined
    // (Structs of one client come in clock order: a binary search.)
    let lo = 0
    let hi = list.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const s = list[mid]
      if (id.clock < s.id.clock) hi = mid - 1
      else if (id.clock >= s.id.clock + s.length) lo = mid + 1
      else return s
    }
    return undefined
  }
  // Where each item belongs: an item encoded with a neighbour carries no parent; its neighbour's is its own.
  type Place = { readonly root: string, readonly key: string | null } | null
  const placed = new Map<Y.Item, Place>()
  const placeOf = (item: Y.Item): Place => {
    const known = placed.get(item)
    if (known !== undefined) return known
    const chain: Y.Item[] = []
    let at: Y.Item = item
    let where: Place = null
    for (;;) {
      const seen = placed.get(at)
      if (seen !== undefined) { where = seen; break }
      chain.push(at)
      const parent: unknown = at.parent
      if (typeof parent === 'string') { where = { root: parent, key: at.parentSub }; break }
      if (parent !== null) break // nested in a type: not a root's own
      const neighbour = at.origin ?? at.rightOrigin
      const next = neighbour === null ? undefined : find(neighbour)
      if (!(next instanceof Y.Item) || chain.length > structs.length) break
      at = next
    }
    for (const c of chain) placed.set(c, where)
    return where
  }
  const live = new Map<string, FieldValue>()
  const texts = new Map<string, { readonly parts: string[], last: Y.Item }>()
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    const where = placeOf(s)
    if (where === null) return null
    const deleted = s.content instanceof Y.ContentDeleted || Y.isDeleted(ds, s.id)
    if (where.root.startsWith(MEMO_PREFIX) && where.key === null) {
      // A text: each item must follow the one before it (one writer appending), so that clock order is the text's order.
      const t = texts.get(where.root)
      const after = t?.last
      const follows = after === undefined
        ? s.origin === null
        : s.origin !== null && s.origin.client === after.id.client && s.origin.clock === after.id.clock + after.length - 1
      if (!follows || s.rightOrigin !== null || (after !== undefined && s.id.client !== after.id.client)) return null
      if (!deleted && !(s.content instanceof Y.ContentString)) return null
      const parts = t?.parts ?? []
      if (!deleted) parts.push((s.content as Y.ContentString).str)
      texts.set(where.root, { parts, last: s })
      continue
    }
    if (where.key === null || !MAPS.has(where.root)) return null
    if (where.root === CLOCKS || deleted) continue
    if (!(s.content instanceof Y.ContentAny) || s.length !== 1) return null
    const slot = `${where.root}\u0000${where.key}`
    // Two live values for one entry: the document's order would decide; let it.
    if (live.has(slot)) return null
    live.set(slot, s.content.arr[0] as FieldValue)
  }
  const state = emptyState()
  for (const [slot, value] of live) {
    const cut = slot.indexOf('\u0000')
    const root = slot.slice(0, cut)
    const key = slot.slice(cut + 1)
    if (root === META) state.meta[key as MetaKey] = value
    else state.fields[key] = value
  }
  for (const [root, t] of texts) {
    const text = t.parts.join('')
    if (text !== '') state.texts[root.slice(MEMO_PREFIX.length)] = text
  }
  return state
}
