// The authorization projection of one device update: integrate it and revert every disallowed change
// inside ONE transaction, so the transaction's update (what is persisted and broadcast) never carries a
// dropped value. Also scrubs content outside the record layout.

import * as Y from 'yjs'
import type { EntityDef } from '../docs/catalog-types.ts'
import { applyChangesToDoc, diff, invertAll, type Change } from '../docs/diff.ts'
import { FIELDS, META, META_KEYS, MEMO_PREFIX, NOTES, NOTE_KEYS, readRecord, type RecordState } from '../docs/record.ts'
import { decideChanges, fieldOf, type DecideContext, type Verdict } from './decide-changes.ts'
import { Reason, type Receipt, type ReasonCode } from './receipts.ts'

export interface ProjectResult {
  readonly receipts: Receipt[]
  /** whether anything was reverted (the author must receive the result too) */
  readonly compensated: boolean
  /** the record before the update, and with the whole update integrated (before any revert) */
  readonly before: RecordState
  readonly after: RecordState
  readonly changes: readonly Change[]
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

/** The top-level names a record of `entity` may have. */
const layoutNames = (entity: EntityDef): Set<string> =>
  new Set([META, FIELDS, NOTES, ...entity.attributes.filter(a => a.type === 'memo').map(a => MEMO_PREFIX + a.name)])

/**
 * Removes what lies outside the record layout: unknown top-level types, unknown meta keys, notes that
 * are not maps and unknown note keys. Returns the paths removed.
 */
const scrub = (doc: Y.Doc, entity: EntityDef): string[] => {
  const removed: string[] = []
  const allowed = layoutNames(entity)
  for (const [name, type] of doc.share) {
    if (allowed.has(name)) continue
    // An unknown root is left as an empty placeholder (Yjs has no way to drop a root type).
    const len = type._length + (type._map.size)
    if (len === 0) continue
    removed.push(name)
    if (type._map.size > 0) for (const k of [...type._map.keys()]) doc.getMap(name).delete(k)
    if (type._length > 0) {
      if (type instanceof Y.Text || type.constructor === Y.AbstractType) doc.getText(name).delete(0, type._length)
      else if (type instanceof Y.Array) type.delete(0, type.length)
      else if (type instanceof Y.XmlFragment) type.delete(0, type.length)
    }
  }
  const meta = doc.getMap(META)
  for (const k of [...meta.keys()]) if (!(META_KEYS as readonly string[]).includes(k)) { meta.delete(k); removed.push(`meta.${k}`) }
  const notes = doc.getMap(NOTES)
  for (const [id, n] of [...notes.entries()]) {
    if (!(n instanceof Y.Map)) { notes.delete(id); removed.push(`notes.${id}`); continue }
    for (const [k, v] of [...n.entries()]) if (!(NOTE_KEYS as readonly string[]).includes(k) || typeof v !== 'string') { n.delete(k); removed.push(`notes.${id}.${k}`) }
  }
  return removed
}

/**
 * Integrates `update` into `doc` as `ctx.userId`, reverting whatever the user may not do, in one
 * transaction with `origin`. Call only after the update passed the dependency check.
 */
/**
 * A user's field write that lands behind a change the server dropped (the dropped item, or the
 * compensation that reverted it) would be hidden by Yjs's tie-break although it is allowed and later:
 * write its value again so that it is visible, and decided like any other change of this user.
 */
const restoreShadowedWrites = (doc: Y.Doc, update: Uint8Array, isServerClient: (client: number) => boolean): void => {
  const fields = doc.getMap(FIELDS)
  for (const s of Y.decodeUpdate(update).structs) {
    if (!(s instanceof Y.Item)) continue
    // The integrated item knows its parent and key (an encoded item that has a left neighbour does not).
    const item = Y.getItem(doc.store, s.id)
    if (!(item instanceof Y.Item) || item.parent !== fields || item.parentSub === null || item.right === null) continue
    let last: Y.Item = item.right
    let ownLater = last.id.client === s.id.client
    while (last.right !== null) { last = last.right; ownLater ||= last.id.client === s.id.client }
    // Overwritten by the same writer, or by another writer's visible value: ordinary last-writer-wins.
    if (ownLater || (!last.deleted && !isServerClient(last.id.client))) continue
    const value = item.content.getContent()[0] as unknown
    if (fields.get(item.parentSub) !== value) fields.set(item.parentSub, value as never)
  }
}

const isStamp = (c: Change): boolean => c.kind === 'meta-set' && (c.key === 'modifiedby' || c.key === 'modifiedon')

/** The dropped changes that get a receipt: a stamp (modifiedby/on) dropped with what it stamped gets none of its own. */
export const receiptWorthy = (verdicts: readonly Verdict[]): Extract<Verdict, { allowed: false }>[] => {
  const drops = verdicts.filter((v): v is Extract<Verdict, { allowed: false }> => !v.allowed)
  const substantive = drops.some(v => !isStamp(v.change))
  return substantive ? drops.filter(v => !isStamp(v.change)) : drops
}

export interface ProjectContext extends DecideContext {
  /** whether a Yjs client id is one of the server's own (compensations, server writes) */
  readonly isServerClient: (client: number) => boolean
  /** set for a part of a rejected command: every change is reverted, with one receipt for the part */
  readonly reject?: { readonly command: string, readonly reason: ReasonCode, readonly message: string }
}

/** What a rejected command part tried: its record's field values (so the user's intent is not lost). */
const attemptedPart = (command: string, changes: readonly Change[]): unknown => ({
  command,
  changes: changes.flatMap(c => c.kind === 'field-set' ? [[c.field, c.new]] : c.kind === 'meta-set' && c.key === 'statecode' ? [['statecode', c.new]] : c.kind === 'text-edited' ? [[c.field, c.insert]] : [])
    .reduce<Record<string, unknown>>((o, [k, v]) => { o[k as string] = v; return o }, {})
})

export const projectUpdate = (doc: Y.Doc, update: Uint8Array, ctx: ProjectContext, origin: unknown, now: string): ProjectResult => {
  const receipts: Receipt[] = []
  let compensated = false
  let before!: RecordState
  let after!: RecordState
  let changes!: Change[]
  const receipt = (r: Omit<Receipt, 'principal' | 'record' | 'privilegeVersion' | 'at'>): void => {
    receipts.push({ principal: ctx.userId, record: ctx.record, privilegeVersion: ctx.ix.version, at: now, ...r })
  }
  doc.transact(() => {
    before = readRecord(doc, ctx.entity)
    Y.applyUpdate(doc, update)
    restoreShadowedWrites(doc, update, ctx.isServerClient)
    after = readRecord(doc, ctx.entity)
    changes = diff(before, after)
    const dropped: Change[] = []
    if (ctx.reject !== undefined) {
      dropped.push(...changes)
      receipt({ change: 'command', field: null, attempted: attemptedPart(ctx.reject.command, changes), kept: null, reason: ctx.reject.reason, message: ctx.reject.message })
    } else {
      const verdicts = decideChanges(ctx, before, after, changes)
      for (const v of verdicts) if (!v.allowed) dropped.push(v.change)
      for (const v of receiptWorthy(verdicts)) {
        receipt({ change: v.change.kind, field: fieldOf(v.change), attempted: attempted(v.change), kept: kept(v.change), reason: v.reason, message: v.message })
      }
    }
    if (dropped.length > 0) { applyChangesToDoc(doc, invertAll(dropped)); compensated = true }
    for (const path of scrub(doc, ctx.entity)) {
      compensated = true
      receipt({ change: 'foreign-content', field: path, attempted: null, kept: null, reason: Reason.invalidValue, message: `${path} is not part of a ${ctx.entity.name} record` })
    }
  }, origin)
  return { receipts, compensated, before, after, changes }
}
