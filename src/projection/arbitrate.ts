// Same-field conflicts, decided by the server inside the transaction that integrates an update: for every
// scalar field the update writes, was its writer looking at the record's current value (sequential: it
// stands) or not (concurrent: the field's strategy picks, whatever Yjs's client-id order chose)? The
// winner's value and stamp are written back as the server's own write; the loser's author is told.

import * as Y from 'yjs'
import { CLOCKS, FIELDS, rootMap } from '../docs/record.ts'
import type { FieldValue } from '../docs/values.ts'
import { compareHlc, decodeStamp, encodeStamp, hlcTime, tick, ZERO, type FieldStamp, type Hlc } from '../docs/hlc.ts'
import type { ConflictStrategy, FieldWrite } from '../metadata/conflict-strategies.ts'

/** A field as the record held it before the update. */
interface Before {
  readonly item: Y.Item | undefined
  readonly value: FieldValue | null
  /** the `clocks` entry as it was (restored verbatim when the current write stands) */
  readonly raw: string | undefined
  readonly stamp: FieldStamp | null
}

/**
 * What the record held before the update, taken cheaply (the entries' items, not their values): a field
 * is read only if the update touches it, so an update costs what it writes, not the record's size.
 */
export interface FieldsBefore {
  /** the field as it was */
  readonly field: (key: string) => Before
  /** every field the record had an entry or a stamp for */
  readonly keys: () => Iterable<string>
  /** whether a struct id is one this update added */
  readonly isNew: (id: Y.ID) => boolean
}

/**
 * Call before integrating an update whose structs are `structs`. `only`: the `fields` and `clocks` keys the
 * update touches, when that is all the decision asks about (`keys` then throws: a delete needs them all).
 */
export const fieldsBefore = (doc: Y.Doc, structs: readonly { readonly id: Y.ID }[], only?: Iterable<string>): FieldsBefore => {
  const entries = (m: Map<string, Y.Item>): Map<string, Y.Item> => {
    if (only === undefined) return new Map(m)
    const out = new Map<string, Y.Item>()
    for (const k of asked!) { const item = m.get(k); if (item !== undefined) out.set(k, item) }
    return out
  }
  const asked = only === undefined ? undefined : only instanceof Set ? only as ReadonlySet<string> : new Set(only)
  const items = entries(rootMap<FieldValue>(doc, FIELDS)._map)
  const stamps = entries(rootMap<string>(doc, CLOCKS)._map)
  // (An item's deleted flag may change when the update is integrated; its content stays readable until
  // the transaction ends.)
  const gone = new Set<string>()
  for (const [k, item] of items) if (item.deleted) gone.add(k)
  for (const [k, item] of stamps) if (item.deleted) stamps.delete(k)
  const state = new Map<number, number>()
  for (const s of structs) if (!state.has(s.id.client)) state.set(s.id.client, Y.getState(doc.store, s.id.client))
  const cache = new Map<string, Before>()
  return {
    field: key => {
      if (asked !== undefined && !asked.has(key)) throw new Error(`fieldsBefore: ${key} is not among the keys the update touches`)
      let b = cache.get(key)
      if (b === undefined) {
        const item = items.get(key)
        const raw = stamps.get(key)?.content
        const rawValue = raw instanceof Y.ContentAny && typeof raw.arr[0] === 'string' ? raw.arr[0] as string : undefined
        const value = item === undefined || gone.has(key) || !(item.content instanceof Y.ContentAny) ? null : item.content.arr[item.content.arr.length - 1] as FieldValue
        b = { item, value, raw: rawValue, stamp: decodeStamp(rawValue) }
        cache.set(key, b)
      }
      return b
    },
    keys: () => {
      if (only !== undefined) throw new Error('fieldsBefore: the keys of a partial snapshot were asked for')
      return new Set([...items.keys(), ...stamps.keys()])
    },
    isNew: id => id.clock >= (state.get(id.client) ?? Number.POSITIVE_INFINITY)
  }
}

interface Touched {
  /** keys of `fields` and `clocks` entries the update's structs and deletions touch */
  readonly keys: Set<string>
  /** per key, the items the update added to `fields` and to `clocks` */
  readonly fields: Map<string, Y.Item[]>
  readonly clocks: Map<string, Y.Item[]>
}

/**
 * What the update touches in `fields` and `clocks`: its own items, from its structs, and the keys whose
 * items it deletes (found before it was integrated, with the record's other parts: src/docs/layout.ts).
 */
const touchedKeys = (doc: Y.Doc, structs: readonly (Y.Item | Y.GC | Y.Skip)[], deletedKeys: Iterable<string>): Touched => {
  const fields = rootMap(doc, FIELDS)
  const clocks = rootMap(doc, CLOCKS)
  const touched: Touched = { keys: new Set(deletedKeys), fields: new Map(), clocks: new Map() }
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    for (let clock = s.id.clock; clock < s.id.clock + s.length;) {
      const item = Y.getItem(doc.store, Y.createID(s.id.client, clock))
      if (item instanceof Y.Item && item.parentSub !== null && (item.parent === fields || item.parent === clocks)) {
        touched.keys.add(item.parentSub)
        const own = item.parent === fields ? touched.fields : touched.clocks
        const list = own.get(item.parentSub) ?? []
        list.push(item)
        own.set(item.parentSub, list)
      }
      clock = item.id.clock + item.length
    }
  }
  return touched
}

export interface ArbitrationContext {
  readonly strategyOf: (field: string) => ConflictStrategy
  /** the principal a Yjs client id is bound to in this record */
  readonly principalOf: (client: number) => string | undefined
  readonly sender: string
  readonly nowMs: number
  /** how far ahead of the server's clock a write's time may be; later ones count as written now */
  readonly maxSkewMs: number
}

/** A value that lost to a concurrent write: whose, which field, and what won. */
export interface Superseded {
  readonly principal: string
  readonly field: string
  readonly attempted: FieldValue | null
  readonly kept: FieldValue | null
  /** who wrote the value that stands (null: unknown), and when each was written */
  readonly by: string | null
  readonly at: string
  readonly editedAt: string
  /** the sender's own write lost (else the record's value did, once the sender's write is allowed) */
  readonly incomingLost: boolean
}

export interface Arbitration {
  /** fields whose stamp the update touched, with what the record held before */
  readonly touched: ReadonlyMap<string, Before>
  readonly superseded: readonly Superseded[]
  /** whether the server wrote anything (a value or a stamp): the sender must receive the result */
  readonly wrote: boolean
  /** fields the update wrote with the value they already had (a write that stands changes nothing but its stamp) */
  readonly unchanged: ReadonlyMap<string, FieldValue | null>
}

/** Of the items an update added to one entry, the one furthest right (what the writer's copy shows). */
const newestOwn = (items: readonly Y.Item[] | undefined): Y.Item | null => {
  if (items === undefined || items.length === 0) return null
  if (items.length === 1) return items[0]
  const mine = new Set(items)
  // The newest is the one no other of them stands right of.
  return items.find(i => { for (let r = i.right; r !== null; r = r.right) if (mine.has(r)) return false; return true }) ?? items[items.length - 1]
}

const contentOf = (item: Y.Item): unknown => item.content instanceof Y.ContentAny ? item.content.arr[0] : undefined

const sameId = (a: Y.ID | null, b: Y.ID | null): boolean => a === null ? b === null : b !== null && a.client === b.client && a.clock === b.clock
const lastId = (item: Y.Item): Y.ID => Y.createID(item.id.client, item.id.clock + item.length - 1)

export type DeleteSet = ReturnType<typeof Y.decodeUpdate>['ds']

/**
 * Call inside the transaction, after the update is integrated: settles every field the update wrote.
 * `ds` is the update's delete set.
 */
export const arbitrate = (doc: Y.Doc, structs: readonly (Y.Item | Y.GC | Y.Skip)[], deletedKeys: Iterable<string>, ds: DeleteSet, before: FieldsBefore, ctx: ArbitrationContext): Arbitration => {
  const fields = rootMap<FieldValue>(doc, FIELDS)
  const clocks = rootMap<string>(doc, CLOCKS)
  const isNew = before.isNew
  const touched = new Map<string, Before>()
  const superseded: Superseded[] = []
  let wrote = false
  const unchanged = new Map<string, FieldValue | null>()
  const touchedNow = touchedKeys(doc, structs, deletedKeys)
  for (const key of touchedNow.keys) {
    const pre = before.field(key)
    const own = newestOwn(touchedNow.fields.get(key))
    const ownClock = newestOwn(touchedNow.clocks.get(key))
    // The update wrote the field's stamp, or deleted it: either goes back unless it belongs to a write that stands.
    const stampWritten = ownClock !== null || clocks.get(key) !== pre.raw
    // What the writer did to the field: set it (its newest item), or clear it (a deletion of the value the
    // record showed, or, from a writer that stamps, a stamp with no item).
    let base: Y.ID | null = null
    let value: FieldValue | null = null
    let writer: number
    if (own !== null) {
      let first = own
      while (first.left !== null && isNew(first.left.id)) first = first.left
      base = first.origin
      // (Read the content whatever Yjs decided: a concurrent item it placed first is deleted already.)
      value = Y.isDeleted(ds, own.id) || !(own.content instanceof Y.ContentAny) ? null : own.content.arr[0] as FieldValue
      writer = own.id.client
    } else if (pre.item !== undefined && pre.value !== null && pre.item.deleted) {
      base = lastId(pre.item)
      writer = ownClock?.id.client ?? 0
    } else if (ownClock !== null && !Y.isDeleted(ds, ownClock.id) && decodeStamp(contentOf(ownClock))?.clock.writer === ownClock.id.client && pre.value !== null) {
      // (Only a stamp of its writer's own says "cleared": any other stamp alone is no write at all.)
      writer = ownClock.id.client
    } else {
      if (stampWritten) touched.set(key, pre) // a stamp alone changes nothing: it goes back
      continue
    }
    let stamp = ownClock !== null && !Y.isDeleted(ds, ownClock.id) ? decodeStamp(contentOf(ownClock)) : null
    if (stamp !== null && stamp.clock.writer !== writer) stamp = null
    const strategy = ctx.strategyOf(key)
    if (!strategy.arbitrates) {
      // Yjs's merge decides the value; a stamp stays only as its writer's own, with a write that stands.
      if (stampWritten) touched.set(key, pre)
      if (stampWritten && stamp === null && clocks.get(key) !== pre.raw) { restoreStamp(clocks, key, pre.raw); wrote = true }
      continue
    }
    touched.set(key, pre)
    // A write with a stamp says what it saw: the current value's very stamp (a writer cannot have seen a
    // later one than the record holds, so a stamp claiming that is taken as not having seen it); one
    // without (any Yjs client) saw the current value if it was made right on top of its item.
    const sequential = pre.stamp === null || (stamp !== null
      ? stamp.clock.writer === pre.stamp.clock.writer || (stamp.seen !== null && compareHlc(stamp.seen, pre.stamp.clock) === 0)
      : pre.item === undefined ? base === null : sameId(base, lastId(pre.item)))
    let clock: Hlc = stamp?.clock ?? { wall: ctx.nowMs, counter: 0, writer }
    if (clock.wall > ctx.nowMs + ctx.maxSkewMs) clock = { wall: ctx.nowMs, counter: 0, writer }
    if (sequential && pre.stamp !== null && compareHlc(clock, pre.stamp.clock) <= 0) clock = tick(pre.stamp.clock, ctx.nowMs, writer)
    // (A stamp keeps what its writer said it saw: writing what the server knows instead would be a write of
    // the server's on every save of a field its writer wrote last, and nobody reads it. A write without a
    // stamp is stamped with what it was made on top of.)
    const incoming: FieldStamp = { clock, seen: stamp !== null ? stamp.seen : sequential ? pre.stamp?.clock ?? null : null }
    const verdict = sequential ? 'incoming' : strategy.winner({ value: pre.value, stamp: pre.stamp }, { value, stamp: incoming } satisfies FieldWrite)
    if (verdict === 'incoming' && value === pre.value) unchanged.set(key, value)
    // (A field nobody ever stamped, written by a client that does not stamp, stays unstamped: no extra write.)
    const win = verdict === 'incoming'
      ? { value, raw: stamp === null && pre.stamp === null ? pre.raw : encodeStamp(incoming) }
      : { value: pre.value, raw: pre.raw }
    if (win.value === null) { if (fields.has(key)) { fields.delete(key); wrote = true } } else if (fields.get(key) !== win.value || !fields.has(key)) { fields.set(key, win.value); wrote = true }
    if (win.raw === undefined) { if (clocks.has(key)) { clocks.delete(key); wrote = true } } else if (clocks.get(key) !== win.raw) { clocks.set(key, win.raw); wrote = true }
    if (sequential || !strategy.reports || value === pre.value) continue
    const senderAt = hlcTime(incoming.clock)
    const currentAt = pre.stamp === null ? null : hlcTime(pre.stamp.clock)
    const currentBy = pre.stamp === null ? null : ctx.principalOf(pre.stamp.clock.writer) ?? null
    if (verdict === 'current') {
      superseded.push({ principal: ctx.sender, field: key, attempted: value, kept: pre.value, by: currentBy, at: currentAt ?? senderAt, editedAt: senderAt, incomingLost: true })
    } else if (currentBy !== null) {
      superseded.push({ principal: currentBy, field: key, attempted: pre.value, kept: value, by: ctx.sender, at: senderAt, editedAt: currentAt ?? senderAt, incomingLost: false })
    }
  }
  return { touched, superseded, wrote, unchanged }
}

/**
 * After the decision: a field whose write was dropped, or whose stamp came without a write, keeps the
 * stamp it had, so the `clocks` entry always belongs to the value the record shows.
 */
export const settleStamps = (doc: Y.Doc, arbitration: Arbitration, kept: (field: string) => boolean): boolean => {
  const clocks = rootMap<string>(doc, CLOCKS)
  let wrote = false
  for (const [key, pre] of arbitration.touched) {
    if (kept(key) || clocks.get(key) === pre.raw) continue
    restoreStamp(clocks, key, pre.raw)
    wrote = true
  }
  return wrote
}

const restoreStamp = (clocks: Y.Map<string>, key: string, raw: string | undefined): void => {
  if (raw === undefined) clocks.delete(key)
  else clocks.set(key, raw)
}

/** For an update that is not arbitrated: every field whose stamp it wrote or deleted, so that the stamp goes back unless its write is kept. */
export const stampsOnly = (doc: Y.Doc, structs: readonly (Y.Item | Y.GC | Y.Skip)[], deletedKeys: Iterable<string>, before: FieldsBefore): Arbitration => {
  const t = touchedKeys(doc, structs, deletedKeys)
  const touched = new Map<string, Before>()
  for (const key of t.keys) touched.set(key, before.field(key))
  return { touched, superseded: [], wrote: false, unchanged: new Map() }
}

export const NO_ARBITRATION: Arbitration = { touched: new Map(), superseded: [], wrote: false, unchanged: new Map() }

/** Stamps fields the server itself wrote in this transaction (a business rule's value) with its own clock. */
export const stampServerWrites = (doc: Y.Doc, fields: readonly string[], nowMs: number): void => {
  const clocks = rootMap<string>(doc, CLOCKS)
  for (const f of fields) {
    const pre = decodeStamp(clocks.get(f))
    clocks.set(f, encodeStamp({ clock: tick(pre?.clock ?? ZERO, nowMs, doc.clientID), seen: pre?.clock ?? null }))
  }
}

/**
 * The stamped field values a delete's writer had not seen, by their authors: `seen` is the tombstone's
 * `deletedseen` (the writer's stamps, as JSON); a delete without one (a client that does not stamp) names nobody.
 */
export const unseenEdits = (before: FieldsBefore, seen: unknown, principalOf: (client: number) => string | undefined): Map<string, Record<string, FieldValue | null>> => {
  const out = new Map<string, Record<string, FieldValue | null>>()
  if (typeof seen !== 'string') return out
  let stamps: unknown
  try { stamps = JSON.parse(seen) } catch { return out }
  if (typeof stamps !== 'object' || stamps === null) return out
  for (const field of before.keys()) {
    const pre = before.field(field)
    if (pre.stamp === null) continue
    const saw = decodeStamp((stamps as Record<string, unknown>)[field])
    if (saw !== null && compareHlc(pre.stamp.clock, saw.clock) <= 0) continue
    const who = principalOf(pre.stamp.clock.writer)
    if (who === undefined) continue
    const edited = out.get(who) ?? {}
    edited[field] = pre.value
    out.set(who, edited)
  }
  return out
}
