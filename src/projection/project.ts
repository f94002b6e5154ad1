// The authorization projection of one device update: integrate it and revert every disallowed change
// inside ONE transaction, so the transaction's update (what is persisted and broadcast) never carries a
// dropped value. Content outside the record layout never gets here (src/docs/layout.ts refuses it).

import * as Y from 'yjs'
import type { EntityDef } from '../docs/catalog-types.ts'
import { applyChanges, applyChangesToDoc, diff, invertAll, isStampChange, type Change } from '../docs/diff.ts'
import { partsTouched, type PartsTouched } from '../docs/layout.ts'
import { ruleFields, type BusinessRule } from '../metadata/business-rules.ts'
import type { ProcessFlow } from '../metadata/process-flows.ts'
import type { FieldValue } from '../docs/values.ts'
import { CLOCKS, countNotes, exists, FIELDS, isDeleted, META, memoText, NOTES, readRecord, replaceText, rereadTouched, rootMap, type RecordState } from '../docs/record.ts'
import { decideChanges, fieldOf, type DecideContext, type Verdict } from './decide-changes.ts'
import { Reason, type Receipt, type ReasonCode } from '../protocol/receipts.ts'
import { arbitrate, fieldsBefore, NO_ARBITRATION, settleStamps, stampServerWrites, stampsOnly, unseenEdits, type Arbitration, type DeleteSet } from './arbitrate.ts'
import { laterEditWins, type ConflictStrategy } from '../metadata/conflict-strategies.ts'
import { ruleWrites } from './rule-writes.ts'
import { STAMP } from '../docs/system-fields.ts'
import { isDateTimeText, timeOf } from '../docs/date-time.ts'
import { integrateDecoded, mayIntegrateDecoded } from './integrate-decoded.ts'

export interface ProjectResult {
  readonly receipts: Receipt[]
  /** whether the server wrote anything of its own (a revert, a business rule's value): the author must receive the result too */
  readonly compensated: boolean
  /** the record before the update, and with the whole update integrated (before any revert) */
  readonly before: RecordState
  readonly after: RecordState
  readonly changes: readonly Change[]
  /** conflict entries (`superseded`): for the sender, or for the author of a value the sender's write replaced */
  readonly conflicts: Receipt[]
  /** what the document took in: the update with the server's own writes (null: nothing new, it was sent again) */
  readonly integrated: Uint8Array | null
}

const attempted = (c: Change): unknown => {
  switch (c.kind) {
    case 'created': return { entity: c.entity, id: c.id }
    case 'meta-set': return c.new
    case 'field-set': return c.new
    case 'field-cleared': return null
    case 'text-edited': return { index: c.index, deleteCount: c.deleteCount, insert: c.insert }
    case 'note-added': return c.note
    case 'note-edited': return c.new
    case 'note-removed': return null
    case 'deleted': return true
    case 'undeleted': return false
  }
}

const kept = (c: Change): unknown => {
  switch (c.kind) {
    case 'created': return null
    case 'meta-set': case 'field-set': case 'field-cleared': return c.old
    case 'text-edited': return c.removed
    case 'note-added': return null
    case 'note-edited': case 'note-removed': return c.old
    case 'deleted': return false
    case 'undeleted': return true
  }
}

/**
 * A user's field write that lands behind a change the server dropped (the dropped item, or the
 * compensation that reverted it) would be hidden by Yjs's tie-break although it is allowed and later:
 * write its value again so that it is visible, and decided like any other change of this user.
 */
const restoreShadowedWrites = (doc: Y.Doc, structs: readonly (Y.Item | Y.GC | Y.Skip)[], isServerClient: (client: number) => boolean, merged: (field: string) => boolean): void => {
  const fields = rootMap(doc, FIELDS)
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    // The integrated item knows its parent and key (an encoded item that has a left neighbour does not).
    const item = Y.getItem(doc.store, s.id)
    if (!(item instanceof Y.Item) || item.parent !== fields || item.parentSub === null || item.right === null || !merged(item.parentSub)) continue
    let last: Y.Item = item.right
    let ownLater = last.id.client === s.id.client
    while (last.right !== null) { last = last.right; ownLater ||= last.id.client === s.id.client }
    // Overwritten by the same writer, or by another writer's visible value: ordinary last-writer-wins.
    if (ownLater || (!last.deleted && !isServerClient(last.id.client))) continue
    if (!(item.content instanceof Y.ContentAny) || item.content.arr.length !== 1) continue
    const value = item.content.arr[0] as unknown
    if (fields.get(item.parentSub) !== value) fields.set(item.parentSub, value as never)
  }
}

/** The dropped changes that get a receipt: a stamp (modifiedby/on) dropped with what it stamped gets none of its own. */
export const receiptWorthy = (verdicts: readonly Verdict[]): Extract<Verdict, { allowed: false }>[] => {
  const drops = verdicts.filter((v): v is Extract<Verdict, { allowed: false }> => !v.allowed)
  const substantive = drops.some(v => !isStampChange(v.change))
  return substantive ? drops.filter(v => !isStampChange(v.change)) : drops
}

export interface ProjectContext extends DecideContext {
  /** whether a Yjs client id is one of the server's own (compensations, server writes) */
  readonly isServerClient: (client: number) => boolean
  /** set for a part of a rejected command: every change is reverted, with one receipt for the part */
  readonly reject?: { readonly command: string, readonly reason: ReasonCode, readonly message: string }
  /** same-field conflicts: the strategy of each field (default later-edit-wins), who a client id is, the clock skew allowed */
  readonly conflicts?: {
    readonly strategyOf: (field: string) => ConflictStrategy
    readonly principalOf: (client: number) => string | undefined
    readonly maxSkewMs: number
  }
}

const DEFAULT_SKEW_MS = 120_000

const supersededMessage = (field: string, kept: unknown, by: string | null, at: string, editedAt: string): string =>
  `${by ?? 'another writer'} set ${field} to ${kept === null ? 'nothing' : JSON.stringify(kept)} at ${at}, concurrently with your edit at ${editedAt}; that value stands`

/** What a rejected command part tried: its record's field values (so the user's intent is not lost). */
const attemptedPart = (command: string, changes: readonly Change[]): unknown => ({
  command,
  changes: changes.flatMap(c => c.kind === 'field-set' ? [[c.field, c.new]] : c.kind === 'meta-set' && c.key === 'statecode' ? [['statecode', c.new]] : c.kind === 'text-edited' ? [[c.field, c.insert]] : [])
    .reduce<Record<string, unknown>>((o, [k, v]) => { o[k as string] = v; return o }, {})
})

/**
 * The sender's writes that lost a conflict (so the record shows no change of theirs) but that the sender
 * could not have made anyway: refused as they would be without the conflict, never a `superseded` entry.
 */
const lostWritesRefused = (ctx: ProjectContext, before: RecordState, arbitration: Arbitration): Verdict[] =>
  arbitration.superseded.flatMap(s => {
    if (!s.incomingLost) return []
    const change: Change = s.attempted === null
      ? { kind: 'field-cleared', field: s.field, old: s.kept as FieldValue }
      : { kind: 'field-set', field: s.field, old: s.kept, new: s.attempted }
    return decideChanges(ctx, before, applyChanges(before, [change]), [change]).filter(v => !v.allowed && v.change === change)
  })

/** The fields an entity's business rules and flows read: rule conditions and actions, stages' required fields. */
const fieldsNamed = (entity: string, rules: readonly BusinessRule[], flows: readonly ProcessFlow[]): Set<string> => new Set([
  ...ruleFields(rules, entity),
  ...flows.filter(f => f.entity === entity).flatMap(f => f.stages.flatMap(s => s.required))
])

/** The keys of root map `name` an update writes or deletes. */
const entriesOf = (t: PartsTouched, name: string): Iterable<string> => {
  const written = t.writtenEntries.get(name)
  const deleted = t.deletedEntries.get(name)
  return written === undefined ? deleted ?? NONE : deleted === undefined ? written : [...written, ...deleted]
}

const NONE: readonly never[] = []

/** The `meta` keys whose change is a delete or its undoing (a decision then asks about every field). */
const TOMBSTONE_KEYS: ReadonlySet<string> = new Set(['deletedon', 'deletedseen'])

/** Whether an update writes or deletes any of `keys` in root map `name`. */
const touchesAny = (t: PartsTouched, name: string, keys: ReadonlySet<string>): boolean => {
  for (const k of t.writtenEntries.get(name) ?? NONE) if (keys.has(k)) return true
  for (const k of t.deletedEntries.get(name) ?? NONE) if (keys.has(k)) return true
  return false
}
/** Per rules list, flows list and entity: the memo attributes they name (metadata is fixed while a server runs). */
const namedMemos = new WeakMap<object, WeakMap<object, Map<string, ReadonlySet<string>>>>()

/**
 * The memo texts a decision reads: those the update touches, and those the entity's business rules or
 * flows name (their conditions and required fields read them whatever the update changed).
 */
const memosRead = (ctx: ProjectContext, touched: ReadonlySet<string>): ReadonlySet<string> => {
  const rules = ctx.rules ?? NONE
  const flows = ctx.flows ?? NONE
  let byFlows = namedMemos.get(rules)
  if (byFlows === undefined) { byFlows = new WeakMap(); namedMemos.set(rules, byFlows) }
  let byEntity = byFlows.get(flows)
  if (byEntity === undefined) { byEntity = new Map(); byFlows.set(flows, byEntity) }
  let named = byEntity.get(ctx.entity.name)
  if (named === undefined) {
    const mentioned = fieldsNamed(ctx.entity.name, rules, flows)
    named = new Set(ctx.entity.attributes.filter(a => a.type === 'memo' && mentioned.has(a.name)).map(a => a.name))
    byEntity.set(ctx.entity.name, named)
  }
  return named.size === 0 ? touched : new Set([...touched, ...named])
}

/**
 * Integrates `update` into `doc` as `ctx.userId`, reverting whatever the user may not do, in one
 * transaction with `origin`. Call only after the update passed the dependency and layout checks.
 */
export const projectUpdate = (doc: Y.Doc, update: Uint8Array, ctx: ProjectContext, origin: unknown, now: string, decodedUpdate?: ReturnType<typeof Y.decodeUpdate>): ProjectResult => {
  const receipts: Receipt[] = []
  let compensated = false
  let before!: RecordState
  let after!: RecordState
  let changes!: Change[]
  const receipt = (r: Omit<Receipt, 'principal' | 'record' | 'privilegeVersion' | 'at'>): void => {
    receipts.push({ principal: ctx.userId, record: ctx.record, privilegeVersion: ctx.ix.version, at: now, ...r })
  }
  // The update's own structs: those the document did not have (what it has already, Yjs skips; its items
  // with those ids are other, older ones, never to be touched on this update's behalf).
  // (The check step decoded it already; decoding again would double the cost of reading it.)
  const decoded = decodedUpdate ?? Y.decodeUpdate(update)
  const structs = decoded.structs.filter(s => s.id.clock >= Y.getState(doc.store, s.id.client))
  const strategyOf = ctx.conflicts?.strategyOf ?? (() => laterEditWins)
  let arbitration: Arbitration = NO_ARBITRATION
  const conflicts: Receipt[] = []
  // Only the notes the update touches are read and diffed: a long timeline costs nothing per edit.
  const touched = partsTouched(doc, decoded)
  const notes = touched.notes
  const memos = memosRead(ctx, touched.memos)
  const deletes = touchesAny(touched, META, TOMBSTONE_KEYS)
  /** the fields the update writes, clears or stamps */
  const fieldKeys = new Set<string>()
  for (const name of [FIELDS, CLOCKS]) {
    for (const k of touched.writtenEntries.get(name) ?? NONE) fieldKeys.add(k)
    for (const k of touched.deletedEntries.get(name) ?? NONE) fieldKeys.add(k)
  }
  let integrated: Uint8Array | null = null
  const take = (u: Uint8Array): void => { integrated = integrated === null ? u : Y.mergeUpdates([integrated, u]) }
  let encode = false
  doc.transact(tr => {
    const serverClock = Y.getState(doc.store, doc.clientID)
    before = readRecord(doc, ctx.entity, notes, memos)
    // (Counted only for an update that writes a note's entry in the timeline: one that may add a note.)
    const notesBefore = (touched.writtenEntries.get(NOTES)?.size ?? 0) > 0 ? countNotes(doc) : undefined
    // (A delete's decision asks about every field its writer may not have seen; any other, the keys it touches.)
    const fields = fieldsBefore(doc, structs, deletes ? undefined : fieldKeys)
    // (The check step's decoding is integrated as it is: decoding the bytes again would double the cost of reading them.)
    if (decodedUpdate !== undefined && mayIntegrateDecoded(doc)) integrateDecoded(tr, decoded)
    else Y.applyUpdate(doc, update)
    // (Deletions so far are the update's own and those Yjs made integrating it, which every replica makes too.)
    const integrationDeletes = deleteCount(tr.deleteSet)
    // Yjs marks a transaction that applied a remote update as remote, and after a remote transaction
    // that advanced the document's own client id it picks a new random one: the compensation below is
    // the server's own write, so the transaction stays local and the server keeps its bound id.
    tr.local = true
    // (A local transaction keeps the texts' position caches, which the integrated items did not update.)
    forgetPositions(doc)
    // Fields left to Yjs's merge: an allowed write hidden behind a dropped one is written again.
    restoreShadowedWrites(doc, structs, ctx.isServerClient, f => !strategyOf(f).arbitrates)
    // (A secured field's own document has no meta: it is arbitrated while its record exists.)
    const live = ctx.parent !== undefined ? ctx.parent !== null : exists(before) && !isDeleted(before)
    const deletedKeys = deletedKeysOf(touched)
    // (No arbitration for a create, a deleted record or a rejected part: the stamps the update wrote still
    // stand only with a field write that is kept, settled below.)
    if (ctx.reject !== undefined || !live) arbitration = stampsOnly(doc, structs, deletedKeys, fields)
    else {
      arbitration = arbitrate(doc, structs, deletedKeys, decoded.ds, fields, {
        strategyOf,
        principalOf: ctx.conflicts?.principalOf ?? (() => undefined),
        sender: ctx.userId,
        nowMs: timeOf(now),
        maxSkewMs: ctx.conflicts?.maxSkewMs ?? DEFAULT_SKEW_MS
      })
      if (arbitration.wrote) compensated = true
    }
    // Only what the update touched can differ from `before`: the server's writes above touch its keys alone
    // (arbitration writes the field of a stamp the update wrote).
    after = notes === undefined
      ? readRecord(doc, ctx.entity, notes, memos)
      : rereadTouched(doc, before, { meta: entriesOf(touched, META), fields: fieldKeys, memos: touched.memos, notes })
    changes = diff(before, after)
    const dropped: Change[] = []
    let verdicts: Verdict[] = []
    let refusedLosers: Verdict[] = []
    if (ctx.reject !== undefined) {
      dropped.push(...changes)
      receipt({ change: 'command', field: null, attempted: attemptedPart(ctx.reject.command, changes), kept: null, reason: ctx.reject.reason, message: ctx.reject.message })
    } else {
      verdicts = decideChanges(ctx, before, after, changes, notesBefore)
      for (const v of verdicts) if (!v.allowed) dropped.push(v.change)
      refusedLosers = lostWritesRefused(ctx, before, arbitration)
      for (const v of receiptWorthy(refusedLosers.length === 0 ? verdicts : [...verdicts, ...refusedLosers])) {
        // An edit of a record deleted meanwhile: the entry says who deleted it and when.
        const conflict = v.reason === Reason.superseded ? { by: String(before.meta.deletedby ?? '') || null, at: String(before.meta.deletedon), editedAt: now } : undefined
        receipt({ change: v.change.kind, field: fieldOf(v.change), attempted: attempted(v.change), kept: kept(v.change), reason: v.reason, message: v.message, ...(conflict === undefined ? {} : { conflict }) })
      }
    }
    if (dropped.length > 0) { compensate(doc, tr, structs, dropped, before); compensated = true }
    // After the revert: the values business rules set are the server's own writes, never refused.
    const ruled = ruleWrites(ctx, before, verdicts)
    if (ruled.length > 0) { applyChangesToDoc(doc, ruled); compensated = true }
    // (Loops, not filter and flatMap: this runs for every update.)
    const keptFields = new Set<string>()
    for (const c of changes) if ((c.kind === 'field-set' || c.kind === 'field-cleared') && !dropped.includes(c)) keptFields.add(c.field)
    // A write of the value a field already had changes nothing but its stamp: the stamp stands if the
    // user may make that write (decided like any other).
    const same: Change[] = []
    if (ctx.reject === undefined) {
      for (const [field, value] of arbitration.unchanged) if (!keptFields.has(field) && value !== null) same.push({ kind: 'field-set', field, old: value, new: value })
    }
    if (same.length > 0) for (const v of decideChanges(ctx, before, after, same)) if (v.allowed && v.change.kind === 'field-set') keptFields.add(v.change.field)
    if (settleStamps(doc, arbitration, f => keptFields.has(f))) compensated = true
    for (const s of arbitration.superseded) {
      // The record's value lost only if the sender's write stands; a write the sender may not make has its refusal instead.
      if (!s.incomingLost && !keptFields.has(s.field)) continue
      if (refusedLosers.some(v => fieldOf(v.change) === s.field)) continue
      conflicts.push({
        principal: s.principal, record: ctx.record, change: s.attempted === null ? 'field-cleared' : 'field-set', field: s.field,
        attempted: s.attempted, kept: s.kept, reason: Reason.superseded, message: supersededMessage(s.field, s.kept, s.by, s.at, s.editedAt),
        privilegeVersion: ctx.ix.version, at: now, conflict: { by: s.by, at: s.at, editedAt: s.editedAt }
      })
    }
    // A delete whose writer had not seen some fields' latest edits: each of their authors is told.
    const deletion = changes.find(c => c.kind === 'deleted')
    if (deletion !== undefined && !dropped.includes(deletion) && ctx.conflicts !== undefined) {
      // (Its own writer too: an edit it had not seen was made on another of that user's devices.)
      for (const [editor, edited] of unseenEdits(fields, after.meta.deletedseen, ctx.conflicts.principalOf)) {
        const who = editor === ctx.userId ? 'you' : ctx.userId
        conflicts.push({
          principal: editor, record: ctx.record, change: 'deleted', field: null, attempted: edited, kept: { deletedby: after.meta.deletedby ?? null, deletedon: after.meta.deletedon ?? null },
          reason: Reason.superseded, message: `${who} deleted this record at ${String(after.meta.deletedon)} without having seen ${editor === ctx.userId ? 'your changes on another device' : 'your changes'} to ${Object.keys(edited).join(', ')}; a delete wins over edits`,
          privilegeVersion: ctx.ix.version, at: now, conflict: { by: ctx.userId, at: String(after.meta.deletedon), editedAt: now }
        })
      }
    }
    // A rule's value is the server's write, stamped with the server's clock.
    if (ruled.length > 0) stampServerWrites(doc, ruled.flatMap(c => c.kind === 'field-set' || c.kind === 'field-cleared' ? [c.field] : []), timeOf(now))
    // What the document took in is the update itself when all of it was new, none of it was deleted (Yjs
    // collects deleted content before it encodes a transaction: a refused or losing value must not be kept
    // in the bytes) and the server wrote nothing of its own (no struct under its id, no deletion after the
    // update's integration), and Yjs collected none of it: the usual case costs no encoding. One loss is
    // allowed in the bytes: the save's stamp (modifiedby, modifiedon) losing Yjs's tie to a concurrent
    // save's, which every replica's integration deletes alike, when the author's own values are valid and
    // its save kept a change (two people saving one record at once). Otherwise Yjs encodes the transaction's
    // update when it ends (it asks for listeners then).
    encode = structs.length === 0 || structs.length !== decoded.structs.length || Y.getState(doc.store, doc.clientID) !== serverClock ||
      deleteCount(tr.deleteSet) !== integrationDeletes || collectedAny(doc, structs) ||
      (deletesAnyOf(tr.deleteSet, structs) && !(keptOwnChange(changes, dropped) && onlyOwnStampsLost(doc, structs, ctx.userId)))
    if (encode) doc.on("update", take)
  }, origin)
  if (encode) doc.off('update', take)
  else integrated = update
  return { receipts, compensated, before, after, changes, conflicts, integrated }
}

const NO_KEYS: readonly string[] = []

/** The `fields` and `clocks` keys whose items the update deletes. */
const deletedKeysOf = (touched: PartsTouched): readonly string[] => {
  const f = touched.deletedEntries.get(FIELDS)
  const c = touched.deletedEntries.get(CLOCKS)
  if (f === undefined && c === undefined) return NO_KEYS
  return [...f ?? NO_KEYS, ...c ?? NO_KEYS]
}

/** How many deletions a transaction has made so far (Yjs appends each to its delete set until the transaction ends). */
const deleteCount = (ds: DeleteSet): number => {
  let n = 0
  for (const ranges of ds.clients.values()) n += ranges.length
  return n
}

/**
 * Whether Yjs collected any of the update's items as it integrated them (a parent or a neighbour of theirs
 * was collected already: a removed note's entries, a struct sent as collected). Nothing of them is in the
 * document and no deletion says so, and the layout was not checked for them, but their content is in the
 * update's bytes: a replica that still has what they point at places them (one that keeps deleted content,
 * or a device given the log merged into one update, whose deletions come after its structs).
 */
const collectedAny = (doc: Y.Doc, structs: readonly (Y.Item | Y.GC | Y.Skip)[]): boolean => {
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    // (An item Yjs did not integrate at all, which the check step rules out, is not kept as sent either.)
    if (Y.getState(doc.store, s.id.client) <= s.id.clock || !(Y.getItem(doc.store, s.id) instanceof Y.Item)) return true
  }
  return false
}

/** Whether the update kept a change other than a stamp (a save that the decision allowed). */
const keptOwnChange = (changes: readonly Change[], dropped: readonly Change[]): boolean =>
  dropped.length === 0 && changes.some(c => !isStampChange(c))

/**
 * Whether every one of the update's own items that is deleted (its integration lost a Yjs tie: nothing
 * else deleted anything) is its author's save stamp with a value the author may write: `modifiedby` the
 * author, `modifiedon` a date-time (what decide-changes requires of a stamp).
 */
const onlyOwnStampsLost = (doc: Y.Doc, structs: readonly (Y.Item | Y.GC | Y.Skip)[], userId: string): boolean => {
  const meta = rootMap(doc, META)
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    for (let clock = s.id.clock; clock < s.id.clock + s.length;) {
      const item = Y.getItem(doc.store, Y.createID(s.id.client, clock))
      clock = item.id.clock + item.length
      if (!item.deleted) continue
      if (item.parent !== meta || !(item.content instanceof Y.ContentAny)) return false
      const value = item.content.arr[0]
      if (item.parentSub === STAMP.by ? value !== userId : item.parentSub !== STAMP.at || !isDateTimeText(value)) return false
    }
  }
  return true
}

/** One client's deletions sorted by clock, with the furthest end reached up to each (ranges may overlap). */
interface SortedRanges { readonly starts: readonly number[], readonly reach: readonly number[] }

const sortRanges = (ranges: readonly { readonly clock: number, readonly len: number }[]): SortedRanges => {
  const sorted = [...ranges].sort((a, b) => a.clock - b.clock)
  const reach: number[] = []
  let far = -1
  for (const r of sorted) { far = Math.max(far, r.clock + r.len); reach.push(far) }
  return { starts: sorted.map(r => r.clock), reach }
}

/**
 * Whether a transaction's deletions reach any of `structs` (the update's own, new structs). Each client's
 * deletions are sorted once and searched: scanned for every struct, an update of many deletions and many
 * new structs of one client cost their product (test/security/struct-lookups.test.ts).
 */
const deletesAnyOf = (ds: DeleteSet, structs: readonly { readonly id: Y.ID, readonly length: number }[]): boolean => {
  const sorted = new Map<number, SortedRanges | null>()
  for (const s of structs) {
    let r = sorted.get(s.id.client)
    if (r === undefined) {
      const ranges = ds.clients.get(s.id.client)
      r = ranges === undefined || ranges.length === 0 ? null : sortRanges(ranges)
      sorted.set(s.id.client, r)
    }
    if (r === null) continue
    // The last deletion starting before the struct ends: one up to it that reaches past the struct's start overlaps it.
    const end = s.id.clock + s.length
    let lo = 0
    let hi = r.starts.length - 1
    let last = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (r.starts[mid] < end) { last = mid; lo = mid + 1 } else hi = mid - 1
    }
    if (last >= 0 && r.reach[last] > s.id.clock) return true
  }
  return false
}

/**
 * Reverts dropped changes inside the transaction that integrated `update`. A refused text edit is
 * undone by deleting the very items the update inserted into that text (not by position: the string
 * diff cannot tell which of equal neighbours is new) and re-inserting what it removed; the rest by the
 * inverse changes.
 */
const compensate = (doc: Y.Doc, tr: Y.Transaction, structs: readonly (Y.Item | Y.GC | Y.Skip)[], dropped: readonly Change[], before: RecordState): void => {
  const texts = new Set(dropped.flatMap(c => c.kind === 'text-edited' ? [c.field] : []))
  if (texts.size > 0) {
    const types = new Set([...texts].map(f => memoText(doc, f) as Y.AbstractType<unknown>))
    deleteItemsOf(doc, tr, structs, item => types.has(item.parent as Y.AbstractType<unknown>))
    forgetPositions(doc)
    for (const f of texts) replaceText(memoText(doc, f), before.texts[f] ?? '')
  }
  applyChangesToDoc(doc, invertAll(dropped.filter(c => c.kind !== 'text-edited')))
}

/**
 * Drops the position caches (search markers) of the document's root lists and texts. Yjs keeps them up
 * to date only for index-based edits, and drops them at the end of a remote transaction; items integrated
 * in a transaction kept local, or deleted directly, leave them stale, and an index-based edit after that
 * lands at the wrong position.
 */
const forgetPositions = (doc: Y.Doc): void => {
  for (const t of doc.share.values()) if (t._searchMarker !== null) t._searchMarker.length = 0
}

/** Deletes the live parts of the document's items that `structs` added (those `which` selects). */
const deleteItemsOf = (doc: Y.Doc, tr: Y.Transaction, structs: readonly (Y.Item | Y.GC | Y.Skip)[], which: (item: Y.Item) => boolean = () => true): void => {
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    const end = s.id.clock + s.length
    let clock = s.id.clock
    while (clock < end) {
      const at = Y.getItemCleanStart(tr, Y.createID(s.id.client, clock))
      if (at.id.clock + at.length > end) Y.getItemCleanEnd(tr, doc.store, Y.createID(s.id.client, end - 1))
      if (at instanceof Y.Item && !at.deleted && which(at)) at.delete(tr)
      clock = at.id.clock + at.length
    }
  }
}

/**
 * The update that brings the sender of a refused update back to `before`, for the sender alone: it
 * integrates the refused update into `doc`, then deletes every item the update added and restores what
 * the update removed or shadowed. New items are written under `client`, a fresh client id; nothing of
 * this is kept by the server.
 * Leaves `doc` changed: call it on a document that is dropped afterwards.
 */
export const revertForSender = (doc: Y.Doc, update: Uint8Array, structs: readonly (Y.Item | Y.GC | Y.Skip)[], before: RecordState, entity: EntityDef, client: number): Uint8Array | null => {
  const out: Uint8Array[] = []
  // Integrating text formats makes Yjs delete redundant ones in a local transaction of its own, after the
  // update's: those deletions are part of what the sender must take in (its items already deleted here
  // are not deleted again below), or its copy keeps a format the record never shows.
  const capture = (u: Uint8Array, _origin: unknown, _doc: Y.Doc, tr: Y.Transaction): void => { if (tr.local) out.push(u) }
  doc.clientID = client
  doc.on('update', capture)
  try {
    Y.applyUpdate(doc, update)
    Y.transact(doc, tr => {
      deleteItemsOf(doc, tr, structs)
      forgetPositions(doc)
      applyChangesToDoc(doc, diff(readRecord(doc, entity), before))
    }, null, true)
  } finally {
    doc.off('update', capture)
  }
  return out.length === 0 ? null : out.length === 1 ? out[0] : Y.mergeUpdates(out)
}
