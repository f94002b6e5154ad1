// The record layout as a check on an update's structs, before anything is integrated: every item an
// update adds must sit where the layout (README, "Record document layout") allows, and hold a kind of
// content that place allows. Pure: (document, decoded update, entity) -> the first violation or null.

import * as Y from 'yjs'
import type { EntityDef } from './catalog-types.ts'
import { CLOCKS, FIELDS, META, MEMO_PREFIX, NOTES, NOTE_KEYS } from './record.ts'
import { META_KEYS } from './system-fields.ts'
import { isValidId } from '../ids.ts'
import { structAt } from './update-structs.ts'

export interface LayoutViolation {
  /** where: a root name, `fields.<key>`, `notes.<id>.<key>`, … */
  readonly path: string
  readonly message: string
}

/** Which layout: a record's document, or the document of one secured field. (A secured field written in
 * the record's document fits the layout; the decision drops it: its value lives in its own document.) */
export interface LayoutOptions {
  /** this is the document of this secured attribute alone */
  readonly field?: string
}

type Decoded = ReturnType<typeof Y.decodeUpdate>
type Struct = Decoded['structs'][number]

/** Where an item lands: in a root type (by name), in a nested type (the item that holds it), or nowhere (Yjs collects it). */
type Placement =
  | { readonly kind: 'root', readonly name: string, readonly sub: string | null }
  | { readonly kind: 'nested', readonly holder: Y.Item, readonly sub: string | null }
  | { readonly kind: 'collected' }

const META_SET: ReadonlySet<string> = new Set(META_KEYS)
const NOTE_SET: ReadonlySet<string> = new Set(NOTE_KEYS)

/** A root type's name. Yjs finds it by walking the document's roots, making an entry for each; the layout
 * asks for the root of every existing item an update refers to or deletes. (A root keeps its name.) */
const rootNames = new WeakMap<Y.AbstractType<unknown>, string>()
const rootName = (type: Y.AbstractType<unknown>): string => {
  let name = rootNames.get(type)
  if (name === undefined) { name = Y.findRootTypeKey(type); rootNames.set(type, name) }
  return name
}

const isScalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))

/** A map entry holds one scalar (or nothing, once deleted and collected). */
const scalarEntry = (item: Y.Item, path: string, strings = false): LayoutViolation | null => {
  const c = item.content
  if (c instanceof Y.ContentDeleted) return null
  if (!(c instanceof Y.ContentAny) || c.arr.length !== 1 || !isScalar(c.arr[0]) || (strings && typeof c.arr[0] !== 'string')) {
    return { path, message: `${path} must hold one ${strings ? 'string' : 'string, number or boolean'}, not ${describe(c)}` }
  }
  return null
}

const describe = (c: Y.AbstractStruct | unknown): string => {
  if (c instanceof Y.ContentType) return `a nested ${c.type.constructor.name}`
  if (c instanceof Y.ContentAny) return c.arr.length === 1 ? `a ${c.arr[0] === null ? 'null' : typeof c.arr[0]} value` : `${c.arr.length} values`
  if (c instanceof Y.ContentEmbed) return 'an embed'
  if (c instanceof Y.ContentFormat) return 'a formatting mark'
  if (c instanceof Y.ContentBinary) return 'binary content'
  if (c instanceof Y.ContentDoc) return 'a subdocument'
  if (c instanceof Y.ContentString) return 'text'
  return 'foreign content'
}

/**
 * The first item of `update` that lies outside the layout of an `entity` record, or null. Call after
 * checkUpdate (every id the update refers to is known to `doc` or inside the update).
 */
/** The roots and keys of a layout, built once per entity (and field). */
const keysOf = (() => {
  const cache = new WeakMap<EntityDef, Map<string, { memos: Set<string>, scalars: Set<string> }>>()
  return (entity: EntityDef, field: string | undefined): { memos: Set<string>, scalars: Set<string> } => {
    let perEntity = cache.get(entity)
    if (perEntity === undefined) { perEntity = new Map(); cache.set(entity, perEntity) }
    let keys = perEntity.get(field ?? '')
    if (keys === undefined) {
      const own = field !== undefined ? entity.attributes.filter(a => a.name === field) : entity.attributes
      keys = { memos: new Set(own.filter(a => a.type === 'memo').map(a => MEMO_PREFIX + a.name)), scalars: new Set(own.filter(a => a.type !== 'memo').map(a => a.name)) }
      perEntity.set(field ?? '', keys)
    }
    return keys
  }
})()

interface Placer { readonly doc: Y.Doc, readonly placementOf: (s: Struct) => Placement, readonly placementOfHolder: (holder: Y.Item) => Placement }

/** The placer of the update the check made last, found again by the decision (for the same document, which
 * nothing changes between the two: the pipeline checks and decides one update at a time, the decision right
 * after the check). One entry, not a WeakMap: an entry per update made every update cost a weak entry. */
let lastPlacer: { readonly update: Decoded, readonly placer: Placer } | undefined

const placerOf = (doc: Y.Doc, update: Decoded): Placer => {
  if (lastPlacer?.update === update && lastPlacer.placer.doc === doc) return lastPlacer.placer
  const p = placer(doc, update)
  lastPlacer = { update, placer: p }
  return p
}

/** Where each item of `update` lands in `doc` (before it is integrated), following origins as Yjs does. */
const placer = (doc: Y.Doc, update: Decoded): Placer => {
  const inUpdate = new Map<number, Struct[]>()
  for (const s of update.structs) {
    let list = inUpdate.get(s.id.client)
    if (list === undefined) { list = []; inUpdate.set(s.id.client, list) }
    list.push(s)
  }
  const findInUpdate = (id: Y.ID): Struct | undefined => structAt(inUpdate.get(id.client), id.clock)
  const memo = new Map<Struct, Placement>()

  /** Follows origins to the item that carries the placement (an encoded item with a neighbour carries none). */
  const placementOf = (s: Struct, depth = 0): Placement => {
    const known = memo.get(s)
    if (known !== undefined) return known
    if (depth > 10_000 || !(s instanceof Y.Item)) return { kind: 'collected' }
    let p: Placement
    // Yjs skips the part of an item whose clocks the document already has, and places the rest right
    // after the document's item with the clock before it: judge where that rest lands, not the origin.
    const have = Y.getState(doc.store, s.id.client)
    if (s.id.clock < have) {
      p = s.id.clock + s.length <= have ? { kind: 'collected' } : placementOfId(Y.createID(s.id.client, have - 1), depth + 1)
      memo.set(s, p)
      return p
    }
    const parent: unknown = s.parent
    if (typeof parent === 'string') p = { kind: 'root', name: parent, sub: s.parentSub }
    else if (parent instanceof Y.ID) {
      const holder = parent.clock < Y.getState(doc.store, parent.client) ? Y.getItem(doc.store, parent) : findInUpdate(parent)
      p = holder instanceof Y.Item && holder.content instanceof Y.ContentType ? { kind: 'nested', holder, sub: s.parentSub } : { kind: 'collected' }
    } else {
      const neighbour = s.origin ?? s.rightOrigin
      p = neighbour === null ? { kind: 'collected' } : placementOfId(neighbour, depth + 1)
    }
    memo.set(s, p)
    return p
  }
  const placementOfId = (id: Y.ID, depth: number): Placement => {
    // An id the document has is the document's item (the update's copy of it is skipped by Yjs).
    if (id.clock >= Y.getState(doc.store, id.client)) {
      const own = findInUpdate(id)
      return own !== undefined ? placementOf(own, depth) : { kind: 'collected' }
    }
    const item = Y.getItem(doc.store, id)
    if (!(item instanceof Y.Item)) return { kind: 'collected' }
    const type = item.parent
    if (!(type instanceof Y.AbstractType)) return { kind: 'collected' }
    if (type._item === null) return { kind: 'root', name: rootName(type), sub: item.parentSub }
    return { kind: 'nested', holder: type._item, sub: item.parentSub }
  }

  function placementOfHolder (holder: Y.Item): Placement {
    if (holder.id.clock >= Y.getState(doc.store, holder.id.client)) return placementOf(holder)
    const type = holder.parent
    if (!(type instanceof Y.AbstractType)) return { kind: 'collected' }
    if (type._item === null) return { kind: 'root', name: rootName(type), sub: holder.parentSub }
    return { kind: 'nested', holder: type._item, sub: holder.parentSub }
  }
  return { doc, placementOf, placementOfHolder }
}

export const checkLayout = (doc: Y.Doc, update: Decoded, entity: EntityDef, options: LayoutOptions = {}): LayoutViolation | null => {
  const { memos, scalars } = keysOf(entity, options.field)
  const { placementOf, placementOfHolder } = placerOf(doc, update)
  for (const s of update.structs) {
    if (!(s instanceof Y.Item)) continue
    const p = placementOf(s)
    const v = violation(s, p)
    if (v !== null) return v
  }
  return null

  function violation (s: Y.Item, p: Placement): LayoutViolation | null {
    if (p.kind === 'collected') return null
    if (p.kind === 'root') {
      if (options.field !== undefined && p.name !== FIELDS && p.name !== CLOCKS && !memos.has(p.name)) {
        return { path: p.name, message: `the document of ${entity.name}.${options.field} holds that field only` }
      }
      if (p.name === CLOCKS) {
        if (p.sub === null) return { path: p.name, message: `${p.name} is a map: it holds keyed entries, not list items` }
        // A stamp that does not parse is ignored by the decision (the server stamps the write itself).
        return scalars.has(p.sub) ? scalarEntry(s, `${p.name}.${p.sub}`, true) : { path: `${p.name}.${p.sub}`, message: `${entity.name} has no scalar attribute ${p.sub}${options.field !== undefined ? ' in this document' : ''}` }
      }
      if (p.name === META || p.name === FIELDS || p.name === NOTES) {
        if (p.sub === null) return { path: p.name, message: `${p.name} is a map: it holds keyed entries, not list items` }
        const path = `${p.name}.${p.sub}`
        if (p.name === META) return META_SET.has(p.sub) ? scalarEntry(s, path) : { path, message: `${p.sub} is not a key of meta` }
        if (p.name === FIELDS) return scalars.has(p.sub) ? scalarEntry(s, path) : { path, message: `${entity.name} has no scalar attribute ${p.sub}${options.field !== undefined ? ' in this document' : ''}` }
        if (!isValidId(p.sub)) return { path, message: 'a note id is 1-64 of [A-Za-z0-9_-], starting alphanumeric' }
        const c = s.content
        if (c instanceof Y.ContentDeleted || (c instanceof Y.ContentType && c.type instanceof Y.Map)) return null
        return { path, message: `a note is a map, not ${describe(c)}` }
      }
      if (memos.has(p.name)) {
        if (p.sub !== null) return { path: `${p.name}.${p.sub}`, message: `${p.name} is a text: it has no keys` }
        const c = s.content
        return c instanceof Y.ContentString || c instanceof Y.ContentDeleted ? null : { path: p.name, message: `${p.name} holds plain text only, not ${describe(c)}` }
      }
      return { path: p.name, message: `${p.name} is not part of a ${entity.name} record` }
    }
    // Nested: only a note (a map in `notes`) may hold entries.
    const hp = placementOfHolder(p.holder)
    if (hp.kind === 'collected') return null
    if (hp.kind !== 'root' || hp.name !== NOTES || hp.sub === null || !(p.holder.content instanceof Y.ContentType) || !(p.holder.content.type instanceof Y.Map)) {
      return { path: 'nested', message: 'only notes hold nested content' }
    }
    if (p.sub === null) return { path: `notes.${hp.sub}`, message: 'a note holds keyed entries, not list items' }
    const path = `notes.${hp.sub}.${p.sub}`
    return NOTE_SET.has(p.sub) ? scalarEntry(s, path, true) : { path, message: `${p.sub} is not a key of a note` }
  }

}

/** No notes or texts touched (shared: a PartsTouched is only read). */
const NOTHING: ReadonlySet<string> = new Set()

/** Past this many structs an update deletes, it counts as touching every note. */
const MAX_DELETIONS_TRACED = 2048

/** What an update touches, found before it is integrated: the notes it adds, changes or removes, and the
 * entries of root maps whose items it deletes (deletions the record does not have yet). */
export interface PartsTouched {
  /** note ids (undefined: too many deletions to trace cheaply — read them all) */
  readonly notes: ReadonlySet<string> | undefined
  /** root map name -> keys of entries whose items the update deletes */
  readonly deletedEntries: ReadonlyMap<string, ReadonlySet<string>>
  /** root map name -> keys of entries the update writes (its items' keys) */
  readonly writtenEntries: ReadonlyMap<string, ReadonlySet<string>>
  /** memo attributes whose texts the update inserts into or deletes from */
  readonly memos: ReadonlySet<string>
}

/** Call after checkUpdate. One pass over the update's structs and one over its deletions. */
export const partsTouched = (doc: Y.Doc, update: Decoded): PartsTouched => {
  const { placementOf, placementOfHolder } = placerOf(doc, update)
  // (Made on the first note or text touched: most updates touch neither.)
  let ids: Set<string> | undefined
  let memos: Set<string> | undefined
  const deletedEntries = new Map<string, Set<string>>()
  const writtenEntries = new Map<string, Set<string>>()
  const note = (p: Placement): void => {
    if (p.kind === 'root' && p.name === NOTES && p.sub !== null) (ids ??= new Set()).add(p.sub)
    else if (p.kind === 'root' && p.name.startsWith(MEMO_PREFIX)) (memos ??= new Set()).add(p.name.slice(MEMO_PREFIX.length))
    else if (p.kind === 'nested') note(placementOfHolder(p.holder))
  }
  for (const s of update.structs) {
    if (!(s instanceof Y.Item)) continue
    const p = placementOf(s)
    if (p.kind === 'root' && p.sub !== null) {
      const keys = writtenEntries.get(p.name) ?? new Set<string>()
      keys.add(p.sub)
      writtenEntries.set(p.name, keys)
    }
    note(p)
  }
  let traced = 0
  let all = false
  for (const [client, ranges] of update.ds.clients) {
    const have = Y.getState(doc.store, client)
    for (const r of ranges) {
      for (let clock = r.clock; clock < Math.min(r.clock + r.len, have);) {
        const item = Y.getItem(doc.store, Y.createID(client, clock))
        // (A sync step 2 carries every deletion its sender knows: those the record has already cost nothing.)
        if (item instanceof Y.Item && !item.deleted) {
          const type = item.parent
          if (type instanceof Y.AbstractType) {
            if (type._item === null) {
              const name = rootName(type)
              if (item.parentSub !== null) {
                const keys = deletedEntries.get(name) ?? new Set<string>()
                keys.add(item.parentSub)
                deletedEntries.set(name, keys)
              }
              if (!all || name.startsWith(MEMO_PREFIX)) note({ kind: 'root', name, sub: item.parentSub })
            } else if (!all) note({ kind: 'nested', holder: type._item, sub: item.parentSub })
          }
          if (++traced > MAX_DELETIONS_TRACED) all = true
        }
        clock = item.id.clock + item.length
      }
    }
  }
  return { notes: all ? undefined : ids ?? NOTHING, deletedEntries, writtenEntries, memos: memos ?? NOTHING }
}
