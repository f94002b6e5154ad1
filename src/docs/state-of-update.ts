// A record's plain state read straight from an update holding its whole state (what a device receives for
// a record new to it), without a Y.Doc and without Yjs's struct objects: the update's bytes (format v1) are
// walked once with lib0's decoder, keeping a few numbers per item. Only for the usual shape — entries of
// root maps, and memo texts written in order by one writer; an update with notes, texts edited elsewhere
// than at their end, or anything it cannot place answers null, and the caller reads a document.

import * as decoding from 'lib0/decoding'
import { CLOCKS, emptyState, FIELDS, MEMO_PREFIX, META, type RecordState } from './record.ts'
import type { FieldValue } from './values.ts'

/** Content refs of the update format (yjs `contentRefs`); 0 is a GC struct and 10 a skip, not items. */
const REF = { gc: 0, deleted: 1, json: 2, binary: 3, string: 4, embed: 5, format: 6, type: 7, any: 8, doc: 9, skip: 10 } as const
const ORIGIN = 0x80
const RIGHT_ORIGIN = 0x40
const PARENT_SUB = 0x20
/** yjs type refs that carry a name (XmlElement, XmlHook). */
const NAMED_TYPES = new Set([3, 5])

// (A leading BOM is kept, as lib0's decoder, and so a document, keeps it.)
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

/**
 * Names (roots and keys) met before, by a hash of their bytes: an update holds some seventy of them and a
 * sync thousands of updates with the same few dozen, and making a string costs more than finding it.
 */
const names = new Map<number, string>()
const NAMES_MAX = 4096
/**
 * The names of the last update read, in the order it held them (`nameAt`: the next one's place): records
 * of one entity hold the same names in the same order, so the name at a place is most often the one the
 * last update had there, and comparing its bytes costs less than hashing them and looking the hash up.
 */
const lastNames: string[] = []
let nameAt = 0

/** Whether `s` is the ASCII bytes `arr[start, end)` (never for other bytes: a lone byte over 0x7f is no character). */
const sameBytes = (s: string, arr: Uint8Array, start: number, end: number): boolean => {
  if (s.length !== end - start) return false
  for (let i = start; i < end; i++) {
    const c = arr[i]
    if (c > 0x7f || s.charCodeAt(i - start) !== c) return false
  }
  return true
}

/** The bytes `arr[start, end)` as a string if they are all ASCII, else null: a short one built from its bytes
 * costs less than a TextDecoder call (the server's update reader, src/server/decode-update.ts). */
export const asciiAt = (arr: Uint8Array, start: number, end: number): string | null => {
  let s = ''
  for (let i = start; i < end; i++) {
    const c = arr[i]
    if (c > 0x7f) return null
    s += String.fromCharCode(c)
  }
  return s
}

/** The bytes `arr[start, end)` as a string if they are all ASCII, else null, built four characters at a
 * time: for up to 12 bytes, where V8 makes one flat string of each join (a longer one would be a rope that
 * every later use flattens), it costs less than a TextDecoder call. */
const shortAscii = (arr: Uint8Array, start: number, end: number): string | null => {
  let s = ''
  let i = start
  for (; i + 4 <= end; i += 4) {
    const a = arr[i]; const b = arr[i + 1]; const c = arr[i + 2]; const e = arr[i + 3]
    if ((a | b | c | e) > 0x7f) return null
    s += String.fromCharCode(a, b, c, e)
  }
  for (; i < end; i++) {
    const c = arr[i]
    if (c > 0x7f) return null
    s += String.fromCharCode(c)
  }
  return s
}

/** The string of bytes `arr[start, end)`. */
const stringAt = (arr: Uint8Array, start: number, end: number): string =>
  (end - start <= 12 ? shortAscii(arr, start, end) : null) ?? utf8.decode(arr.subarray(start, end))

/** Where the next string's bytes are (its length read); the decoder moves past it. */
const nextString = (d: decoding.Decoder): number => {
  const length = decoding.readVarUint(d)
  const start = d.pos
  if (start + length > d.arr.length) throw new Error('update: a string runs past the end')
  d.pos = start + length
  return start
}

const readString = (d: decoding.Decoder): string => {
  const start = nextString(d)
  return stringAt(d.arr, start, d.pos)
}

/** A root's or key's name, interned. */
const readName = (d: decoding.Decoder): string => {
  const start = nextString(d)
  const end = d.pos
  const at = nameAt++
  const guess = lastNames[at]
  if (guess !== undefined && sameBytes(guess, d.arr, start, end)) return guess
  const s = internedName(d.arr, start, end)
  if (at < NAMES_MAX) lastNames[at] = s
  return s
}

/** The name of bytes `arr[start, end)`, one string for the same bytes. */
const internedName = (arr: Uint8Array, start: number, end: number): string => {
  let hash = end - start
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + arr[i]) | 0
  const known = names.get(hash)
  if (known !== undefined && sameBytes(known, arr, start, end)) return known
  const s = stringAt(arr, start, end)
  if (names.size >= NAMES_MAX) names.clear()
  names.set(hash, s)
  return s
}

/** A value of a ContentAny (lib0's `writeAny`): the usual kinds here, the others through lib0. */
const readValue = (d: decoding.Decoder): unknown => {
  switch (d.arr[d.pos]) {
    case 119: d.pos++; return readString(d)
    case 125: d.pos++; return decoding.readVarInt(d)
    case 120: d.pos++; return true
    case 121: d.pos++; return false
    case 126: d.pos++; return null
    default: return decoding.readAny(d)
  }
}

/** Passes over a ContentAny's value that is not read (a stamp in `clocks`). */
const skipValue = (d: decoding.Decoder): void => {
  if (d.arr[d.pos] !== 119) { decoding.readAny(d); return }
  d.pos++
  nextString(d)
}

/** One item of the update, as much as placing and reading it needs (one object an item, of one shape). */
class Item {
  /** where it belongs, once known: its root (null: none, e.g. a nested type) and its key there (null: a text's item) */
  placed = false
  placeRoot: string | null = null
  placeKey: string | null = null

  constructor (
    readonly client: number,
    readonly clock: number,
    readonly length: number,
    /** left origin (client, clock), or -1 */
    readonly oc: number,
    readonly ok: number,
    /** right origin, or -1 */
    readonly rc: number,
    readonly rk: number,
    /** the root it names itself (a string), null when it names a nested parent, undefined when it copies its neighbour's */
    readonly root: string | null | undefined,
    readonly sub: string | null,
    readonly ref: number,
    /** a ContentAny's only value, a ContentString's text */
    readonly value: unknown,
    readonly single: boolean
  ) {}
}

// What readContent read besides the length (not an object an item): a ContentAny's last value and whether
// it was the only one, a ContentString's text.
let contentValue: unknown
let contentSingle = false

/** Reads an item's content, returning its length (contentValue, contentSingle: what it holds when it matters here). */
const readContent = (d: decoding.Decoder, ref: number, skip: boolean): number => {
  contentValue = undefined
  contentSingle = false
  switch (ref) {
    case REF.deleted: return decoding.readVarUint(d)
    case REF.json: {
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) decoding.readVarString(d)
      return n
    }
    case REF.binary: decoding.readVarUint8Array(d); return 1
    case REF.string: { const s = readString(d); contentValue = s; return s.length }
    case REF.embed: decoding.readVarString(d); return 1
    case REF.format: decoding.readVarString(d); decoding.readVarString(d); return 1
    case REF.type: if (NAMED_TYPES.has(decoding.readVarUint(d))) decoding.readVarString(d); return 1
    case REF.any: {
      const n = decoding.readVarUint(d)
      if (skip) for (let i = 0; i < n; i++) skipValue(d)
      else for (let i = 0; i < n; i++) contentValue = readValue(d)
      contentSingle = n === 1
      return n
    }
    case REF.doc: decoding.readVarString(d); decoding.readAny(d); return 1
    default: throw new Error(`update: unknown content ref ${ref}`)
  }
}

/** Whether an item is deleted: true, false, or null when the delete set covers only part of it. */
const deletedPart = (deletes: ReadonlyMap<number, readonly number[]>, item: Item): boolean | null => {
  if (item.ref === REF.deleted) return true
  const ranges = deletes.get(item.client)
  if (ranges === undefined) return false
  const end = item.clock + item.length
  for (let i = 0; i < ranges.length; i += 2) {
    const from = ranges[i]
    const to = from + ranges[i + 1]
    if (to <= item.clock || from >= end) continue
    return from <= item.clock && to >= end ? true : null
  }
  return false
}

/** The item holding (client, clock). (Items of one client come in clock order: a binary search.) */
const find = (byClient: ReadonlyMap<number, readonly Item[]>, client: number, clock: number): Item | undefined => {
  const list = byClient.get(client)
  if (list === undefined) return undefined
  let lo = 0
  let hi = list.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const s = list[mid]
    if (clock < s.clock) hi = mid - 1
    else if (clock >= s.clock + s.length) lo = mid + 1
    else return s
  }
  return undefined
}

/** The items `place` walks (one array for every call). */
const chain: Item[] = []

/** Places an item: one that names its parent is where it says; one encoded with a neighbour carries no parent, its neighbour's is its own. */
const place = (byClient: ReadonlyMap<number, readonly Item[]>, count: number, item: Item): void => {
  if (item.placed) return
  if (item.root !== undefined) { item.placed = true; item.placeRoot = item.root; item.placeKey = item.sub; return }
  chain.length = 0
  let at: Item = item
  let root: string | null = null
  let key: string | null = null
  for (;;) {
    if (at.placed) { root = at.placeRoot; key = at.placeKey; break }
    chain.push(at)
    if (at.root !== undefined) { root = at.root; key = at.sub; break }
    const next = at.oc >= 0 ? find(byClient, at.oc, at.ok) : find(byClient, at.rc, at.rk)
    if (next === undefined || chain.length > count) break
    at = next
  }
  for (const c of chain) { c.placed = true; c.placeRoot = root; c.placeKey = key }
  chain.length = 0 // (holds no update's items after)
}

/**
 * The state `readRecord(doc, undefined, NO_NOTES)` would give for the document made of `update` alone, or
 * null when the update holds more than entries of `meta`, `fields` and `clocks` (or something it cannot
 * place: then a document decides). Malformed bytes throw.
 */
export const stateOfWholeUpdate = (update: Uint8Array): RecordState | null => stateOfUpdates([update])

/**
 * The same for the document made of `updates` applied in order (a record's stored updates and one more):
 * null when an update depends on something none of them holds, or two hold the same struct.
 */
export const stateOfUpdates = (updates: readonly Uint8Array[]): RecordState | null => {
  nameAt = 0
  const byClient = new Map<number, Item[]>()
  const items: Item[] = []
  // The delete set: per client, [clock, length] ranges.
  const deletes = new Map<number, number[]>()
  for (const update of updates) {
    const d = decoding.createDecoder(update)
    for (let groups = decoding.readVarUint(d); groups > 0; groups--) {
      const count = decoding.readVarUint(d)
      const client = decoding.readVarUint(d)
      let clock = decoding.readVarUint(d)
      let list = byClient.get(client)
      if (list === undefined) { list = []; byClient.set(client, list) }
      for (let i = 0; i < count; i++) {
        const info = decoding.readUint8(d)
        const ref = info & 0x1f
        if (ref === REF.gc || ref === REF.skip) { clock += decoding.readVarUint(d); continue }
        const hasOrigin = (info & ORIGIN) !== 0
        const oc = hasOrigin ? decoding.readVarUint(d) : -1
        const ok = hasOrigin ? decoding.readVarUint(d) : -1
        const hasRight = (info & RIGHT_ORIGIN) !== 0
        const rc = hasRight ? decoding.readVarUint(d) : -1
        const rk = hasRight ? decoding.readVarUint(d) : -1
        let root: string | null | undefined
        let sub: string | null = null
        if (!hasOrigin && !hasRight) {
          if (decoding.readVarUint(d) === 1) root = readName(d)
          else { decoding.readVarUint(d); decoding.readVarUint(d); root = null }
          if ((info & PARENT_SUB) !== 0) sub = readName(d)
        }
        // A stamp's value is never read (only placed): not made into a string.
        const length = readContent(d, ref, root === CLOCKS)
        const item = new Item(client, clock, length, oc, ok, rc, rk, root, sub, ref, contentValue, contentSingle)
        list.push(item)
        items.push(item)
        clock += length
      }
    }
    for (let clients = decoding.readVarUint(d); clients > 0; clients--) {
      const client = decoding.readVarUint(d)
      let ranges = deletes.get(client)
      if (ranges === undefined) { ranges = []; deletes.set(client, ranges) }
      for (let n = decoding.readVarUint(d); n > 0; n--) ranges.push(decoding.readVarUint(d), decoding.readVarUint(d))
    }
  }
  if (updates.length > 1) {
    // Each client's items in clock order (a binary search finds them), none twice.
    for (const list of byClient.values()) {
      list.sort((x, y) => x.clock - y.clock)
      for (let i = 1; i < list.length; i++) if (list[i - 1].clock + list[i - 1].length > list[i].clock) return null
    }
  }
  const state = emptyState()
  const meta = state.meta as Record<string, FieldValue>
  const texts = new Map<string, { readonly parts: string[], last: Item }>()
  for (const s of items) {
    place(byClient, items.length, s)
    const root = s.placeRoot
    if (root === null) return null
    const deleted = deletedPart(deletes, s)
    if (deleted === null) return null
    const key = s.placeKey
    if (key === null) {
      if (!root.startsWith(MEMO_PREFIX)) return null
      // A text: each item must follow the one before it (one writer appending), so that clock order is the text's order.
      const t = texts.get(root)
      const after = t?.last
      const follows = after === undefined
        ? s.oc < 0
        : s.oc === after.client && s.ok === after.clock + after.length - 1
      if (!follows || s.rc >= 0 || (after !== undefined && s.client !== after.client)) return null
      if (!deleted && s.ref !== REF.string) return null
      if (t === undefined) texts.set(root, { parts: deleted ? [] : [s.value as string], last: s })
      else {
        if (!deleted) t.parts.push(s.value as string)
        t.last = s
      }
      continue
    }
    if (root === CLOCKS) continue
    const into = root === FIELDS ? state.fields : root === META ? meta : null
    if (into === null) return null
    if (deleted) continue
    if (key === '__proto__') return null
    if (s.ref !== REF.any || !s.single) return null
    // Two live values for one entry: the document's order would decide; let it.
    if (Object.hasOwn(into, key)) return null
    into[key] = s.value as FieldValue
  }
  for (const [root, t] of texts) {
    const text = t.parts.join('')
    if (text !== '') state.texts[root.slice(MEMO_PREFIX.length)] = text
  }
  return state
}
