// Checks an incoming Yjs update before it touches a document: it decodes fully, and every id it refers
// to is known to the document or contained in the update. Yjs would otherwise park the unknown part as
// pending and apply it later inside someone else's transaction.

import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { decodeUpdate, type DecodedUpdate } from './decode-update.ts'
import { structAt } from '../docs/update-structs.ts'

export type { DecodedUpdate }

export type UpdateCheck =
  | { ok: true, clients: number[], decoded: DecodedUpdate }
  | { ok: false, problem: 'malformed', message: string }
  | { ok: false, problem: 'missing-dependencies', message: string }
  /** it reuses clocks the document already has for other structs (a copy forked under the same client id) */
  | { ok: false, problem: 'stale-clocks', message: string }

interface Range { start: number, end: number }

const malformed = (message: string): UpdateCheck => ({ ok: false, problem: 'malformed', message })
const missing = (message: string): UpdateCheck => ({ ok: false, problem: 'missing-dependencies', message })

const isId = (x: unknown): x is Y.ID => x instanceof Y.ID

export const checkUpdate = (doc: Y.Doc, update: Uint8Array): UpdateCheck => {
  let decoded: DecodedUpdate
  try {
    decoded = decodeUpdate(update)
  } catch (e) {
    return malformed(`update does not decode: ${(e as Error).message}`)
  }
  const ranges = new Map<number, Range>()
  for (const s of decoded.structs) {
    const { client, clock } = s.id
    if (!Number.isSafeInteger(client) || client < 0 || client > 0xffffffff) return malformed(`client id ${client} out of range`)
    // An empty struct (a corrupted length, e.g. a value list of no values) never comes from an encoder, and
    // Yjs's integration assumes none: it throws in the transaction's cleanup, after the document changed.
    if (!Number.isSafeInteger(s.length) || s.length < 1 || !Number.isSafeInteger(clock + s.length)) return malformed('struct length out of range')
    if (s instanceof Y.Skip) return missing(`update skips clocks of client ${client}`)
    const r = ranges.get(client)
    if (r === undefined) {
      ranges.set(client, { start: clock, end: clock + s.length })
    } else {
      if (clock > r.end) return missing(`update skips clocks of client ${client}`)
      r.end = Math.max(r.end, clock + s.length)
    }
  }
  // Yjs integrates one section of structs per client (a later section of a client replaces an earlier one,
  // empty or not), while decoding lists the structs of every section: what the layout and the decision
  // read would not be what the document takes in, and a replica that merges the bytes with others takes
  // in the sections Yjs skipped here. An encoder writes each client once, with at least one struct.
  if (decoding.readVarUint(decoding.createDecoder(update)) !== ranges.size) return malformed('update has a client\'s structs in more than one section, or an empty section')
  for (const [client, r] of ranges) {
    const known = Y.getState(doc.store, client)
    if (r.start > known) return missing(`client ${client} starts at clock ${r.start}, document has ${known}`)
    // Honest clients send what the document lacks, sliced at its state, or what it has whole (sent again);
    // a range across the document's state comes from a copy that went on under a client id the document
    // already continued: Yjs would put its rest after the document's structs, not where the copy had it.
    if (r.start < known && r.end > known) return { ok: false, problem: 'stale-clocks', message: `clocks ${r.start}-${r.end - 1} of client ${client} overlap the record's (it has up to ${known - 1}): this copy is stale; use a new Y.Doc client id` }
  }
  const knownEnd = (client: number): number => Math.max(Y.getState(doc.store, client), ranges.get(client)?.end ?? 0)
  const isKnown = (id: Y.ID): boolean => id.clock < knownEnd(id.client)
  /** the update's structs by client, for a parent that is an id (made on the first such parent) */
  let structsOf: Map<number, Array<Y.Item | Y.GC>> | undefined
  const refProblem = (s: Y.Item, ref: Y.ID | null): UpdateCheck | null => {
    if (ref === null) return null
    if (later(s, ref)) return malformed(`item ${s.id.client}:${s.id.clock} refers to its own or a later clock`)
    if (!isKnown(ref)) return missing(`refers to unknown id ${ref.client}:${ref.clock}`)
    return null
  }
  for (const s of decoded.structs) {
    if (!(s instanceof Y.Item)) continue
    const bad = refProblem(s, s.origin) ?? refProblem(s, s.rightOrigin)
    if (bad !== null) return bad
    const parent: unknown = s.parent
    if (isId(parent)) {
      if (later(s, parent)) return malformed(`item ${s.id.client}:${s.id.clock} has its own or a later clock as parent`)
      if (!isKnown(parent)) return missing(`parent ${parent.client}:${parent.clock} unknown`)
      structsOf ??= byClient(decoded.structs)
      if (!parentIsType(doc, parent, structsOf)) return malformed(`parent ${parent.client}:${parent.clock} is not a shared type`)
    } else if (parent !== null && typeof parent !== 'string') {
      return malformed('item parent is neither a name nor an id')
    }
  }
  for (const [client, dels] of decoded.ds.clients) {
    let end = 0
    for (const d of dels) {
      if (!Number.isSafeInteger(d.clock + d.len)) return malformed('delete range out of range')
      // Yjs writes a client's deletions sorted and merged; applying ranges that overlap costs each one the
      // structs it spans again (a few kilobytes of them held the event loop for seconds).
      if (d.clock < end) return malformed(`deletions of client ${client} overlap or are out of order`)
      end = d.clock + d.len
      if (end > knownEnd(client)) return missing(`deletes unknown range of client ${client}`)
    }
  }
  return { ok: true, clients: [...ranges.keys()], decoded }
}

/** Yjs trusts a reference to the item's own client to point at an earlier clock (its integration order);
 * one at or after the item itself can never come from an honest writer and makes Yjs throw. */
const later = (s: Y.Item, ref: Y.ID): boolean => ref.client === s.id.client && ref.clock >= s.id.clock

/** The structs of each client (a checked update's: no skips). */
const byClient = (structs: readonly (Y.Item | Y.GC | Y.Skip)[]): Map<number, Array<Y.Item | Y.GC>> => {
  const out = new Map<number, Array<Y.Item | Y.GC>>()
  for (const s of structs) {
    if (s instanceof Y.Skip) continue
    let list = out.get(s.id.client)
    if (list === undefined) { list = []; out.set(s.id.client, list) }
    list.push(s)
  }
  return out
}

/**
 * Whether the struct holding id `parent` (in the document or in the update) can be a parent: a shared
 * type, or one already deleted and collected (Yjs then collects the children too).
 */
const parentIsType = (doc: Y.Doc, parent: Y.ID, inUpdate: Map<number, Array<Y.Item | Y.GC>>): boolean => {
  const holder = parent.clock < Y.getState(doc.store, parent.client)
    ? Y.getItem(doc.store, parent)
    : structAt(inUpdate.get(parent.client), parent.clock)
  if (holder === undefined) return false
  return holder instanceof Y.GC || (holder instanceof Y.Item && (holder.content instanceof Y.ContentType || holder.content instanceof Y.ContentDeleted))
}
