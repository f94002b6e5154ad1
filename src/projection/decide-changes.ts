// Decides every change of an update against the catalog and the user's current privileges. Pure:
// (changes, before, after, principal, model) -> a verdict per change, with a reason for each drop.

import type { AttributeDef, EntityDef } from '../docs/catalog-types.ts'
import { allows, attributeOf } from '../docs/catalog-types.ts'
import type { Change } from '../docs/diff.ts'
import { ATTACHMENT_KEYS, attributeValues, CONTENT_HASH, exists, type NoteState, type RecordState } from '../docs/record.ts'
import { checkValue } from '../docs/values.ts'
import { isDateTimeText, timeOf } from '../docs/date-time.ts'
import { fieldPermission, mayAccess, ownerUnit, type ModelIndex } from '../authz/decide.ts'
import { metaOwnership, type RecordOwnership } from '../docs/ownership.ts'
import type { Privilege } from '../authz/model.ts'
import { Reason, type ReasonCode } from '../protocol/receipts.ts'
import { applyChanges, isStampChange } from '../docs/diff.ts'
import { STAMP } from '../docs/system-fields.ts'
import { ruleFields, ruleInputOf, rulesOf, saveViolation, type BusinessRule } from '../metadata/business-rules.ts'
import { ACTIVE } from '../docs/commands.ts'
import { stageMoveDenial, type ProcessFlow } from '../metadata/process-flows.ts'
import { MAX_CLOCK_SKEW_MS, newNoteProblem, noteEditProblem, noteOwnership, notePrivilegeNeeded, noteStampProblem, timelineFull } from './decide-notes.ts'
import { parseDocName } from '../ids.ts'
import { unexpectedCase } from '../errors.ts'

const NO_NOTES: RecordState['notes'] = Object.freeze({})
const NO_RULES: readonly BusinessRule[] = []


/** What an accepted command lets its parts do: move the target's statecode to `statecode`; point lookups
 * at `records` (the command's parts) before they exist. */
export interface CommandGrant { readonly target: string, readonly statecode: number, readonly records: readonly string[] }

export interface DecideContext {
  readonly entity: EntityDef
  /** `<entity>/<id>` of the record the update is for */
  readonly record: string
  readonly userId: string
  /** the privileges now */
  readonly ix: ModelIndex
  /** the privileges the device last received, to tell `privilege-revoked` from never allowed */
  readonly delivered?: ModelIndex
  /** business rules (of every entity; those of this one apply) */
  readonly rules?: readonly BusinessRule[]
  /** business process flows (one per entity at most) */
  readonly flows?: readonly ProcessFlow[]
  /** the size of attachment content if `userId` uploaded it completely: a note may only point at
   * content its author uploaded (undefined otherwise, whoever else did) */
  readonly blobSize?: (userId: string, hash: string) => number | undefined
  /** set while integrating a part of an accepted command: the target's statecode may move to `statecode`;
   * `records` are the command's parts (a lookup may point at one that does not exist yet: the command creates it) */
  readonly command?: CommandGrant
  /** the server's clock (UTC date-time) when deciding; note times are checked against it (default: the system clock) */
  readonly now?: string
  /**
   * The owner of another record (`<entity>/<id>`), undefined when it does not exist: a lookup needs
   * read and appendTo on its target. Without this callback no lookup to a record can be checked, and
   * every lookup value is dropped.
   */
  readonly ownershipOf?: (record: string) => RecordOwnership | undefined
  /**
   * Set when deciding an update of a secured field's own document: the owner of its record (null when
   * the record does not exist). Its changes need write on the record and the field's update permission.
   */
  readonly parent?: RecordOwnership | null
  /** for a record's document: its entity's secured attributes, whose values live in their own documents */
  readonly secured?: ReadonlySet<string>
  /**
   * The record's values kept in other documents that its business rules (or its flow's stage gates) read:
   * for a record's document, its secured fields' values; for a secured field's own document, the rest of
   * its record (statecode and owner too). Absent: they read nothing kept elsewhere (a field's document is
   * then not ruled at all).
   */
  readonly elsewhere?: () => Readonly<Record<string, unknown>>
}

export type Verdict =
  | { readonly change: Change, readonly allowed: true }
  | { readonly change: Change, readonly allowed: false, readonly reason: ReasonCode, readonly message: string }

type Denial = { reason: ReasonCode, message: string }

const NOTE_LIMIT = { subject: 500, text: 100_000 }

/** A device's time (a date-time) later than the server's clock by more than a device's clock may run ahead. */
const aheadOf = (ctx: DecideContext, at: string): boolean => timeOf(at) > nowOf(ctx) + MAX_CLOCK_SKEW_MS

/** The server's clock in ms: `ctx.now` when it is a date-time, else the system clock. */
const nowOf = (ctx: DecideContext): number => {
  const t = ctx.now === undefined ? NaN : timeOf(ctx.now)
  return Number.isNaN(t) ? Date.now() : t
}

const ownershipOf = (s: RecordState, record: string): RecordOwnership | null => metaOwnership(record, k => s.meta[k])

/** The privilege check, with `privilege-revoked` when the device's last privileges allowed it. */
const privilege = (ctx: DecideContext, p: Privilege, r: RecordOwnership | undefined, missing: ReasonCode, entity = ctx.entity.name): Denial | null => {
  const d = mayAccess(ctx.ix, ctx.userId, p, entity, r)
  if (d.allowed) return null
  if (ctx.delivered !== undefined && ctx.delivered.version !== ctx.ix.version && mayAccess(ctx.delivered, ctx.userId, p, entity, r).allowed) {
    return { reason: Reason.privilegeRevoked, message: `${d.why} (changed since the device last synced, privilege version ${ctx.delivered.version} -> ${ctx.ix.version})` }
  }
  return { reason: missing, message: d.why }
}

/** The owner of a new or reassigned record must exist, and its business unit must be the owner's. */
const checkOwner = (ctx: DecideContext, o: RecordOwnership | null): Denial | null => {
  if (o === null) return { reason: Reason.invalidValue, message: 'ownerid and owningbusinessunit are required' }
  const bu = ownerUnit(ctx.ix, o.ownerid)
  if ('problem' in bu) {
    return { reason: Reason.invalidValue, message: bu.problem === 'not-a-principal' ? `ownerid must be "systemuser/<id>" or "team/<id>", not ${JSON.stringify(o.ownerid).slice(0, 80)}` : `owner ${o.ownerid} does not exist` }
  }
  if (bu.unit !== o.owningbusinessunit) return { reason: Reason.invalidValue, message: `owningbusinessunit must be the owner's business unit ${bu.unit}` }
  return null
}

/** Checks that depend only on the change and the catalog: attribute known, value fits, field security. */
const checkContent = (ctx: DecideContext, c: Change, after: RecordState, creating: boolean): Denial | null => {
  if ((c.kind === 'field-set' || c.kind === 'field-cleared' || c.kind === 'text-edited') && ctx.secured?.has(c.field) === true) {
    return { reason: Reason.fieldSecured, message: `${ctx.entity.name}.${c.field} is secured: its value is kept in its own document ${ctx.record}/${c.field}` }
  }
  const secured = (attr: string): Denial | null => {
    const p = fieldPermission(ctx.ix, ctx.userId, ctx.entity.name, attr)
    return (creating ? p.create : p.update) ? null : { reason: Reason.fieldSecured, message: `${ctx.entity.name}.${attr} is secured and you may not ${creating ? 'set it on create' : 'update it'}` }
  }
  switch (c.kind) {
    case 'field-set': {
      const attr = attributeOf(ctx.entity, c.field)
      if (attr === undefined) return { reason: Reason.invalidValue, message: `${ctx.entity.name} has no attribute ${c.field}` }
      if (attr.type === 'memo') return { reason: Reason.invalidValue, message: `${c.field} is multi-line text: write it in memo:${c.field}` }
      const problem = checkValue(attr, c.new)
      if (problem !== null) return { reason: Reason.invalidValue, message: problem }
      return secured(c.field) ?? lookupProblem(ctx, attr, c.new)
    }
    case 'field-cleared': {
      const attr = attributeOf(ctx.entity, c.field)
      return attr === undefined || attr.type === 'memo' ? null : secured(c.field)
    }
    case 'text-edited': {
      const attr = attributeOf(ctx.entity, c.field)
      if (attr?.type !== 'memo') return { reason: Reason.invalidValue, message: `${c.field} is not multi-line text` }
      if ((after.texts[c.field] ?? '').length > (attr.maxLength ?? 100_000)) return { reason: Reason.invalidValue, message: `${c.field} is longer than ${attr.maxLength} characters` }
      return secured(c.field)
    }
    case 'note-added': case 'note-edited': {
      // README, "Security and the authorization projection": notes (rules in decide-notes.ts).
      const n = c.kind === 'note-added' ? c.note : c.new
      const immutable = c.kind === 'note-edited' ? noteEditProblem(c.old, n) : null
      if (immutable !== null) return immutable
      if ((n.subject ?? '').length > NOTE_LIMIT.subject || (n.text ?? '').length > NOTE_LIMIT.text) return { reason: Reason.invalidValue, message: 'note subject or text too long' }
      if (c.kind === 'note-added') return newNoteProblem(ctx.userId, n, nowOf(ctx)) ?? attachmentProblem(ctx, n)
      return (ATTACHMENT_KEYS.every(k => c.old[k] === n[k]) ? null : attachmentProblem(ctx, n)) ?? noteStampProblem(ctx.userId, c.old, n, nowOf(ctx))
    }
    // No content of their own to check (their privileges are decided by the caller).
    case 'created': case 'meta-set': case 'note-removed': case 'deleted': case 'undeleted': return null
    default: return unexpectedCase(c)
  }
}

/**
 * A lookup points only at a record the user may read and append to (appendTo on the target, as in
 * Dynamics). A target that does not exist or cannot be read gets the same answer (`invalid-value`, no
 * existence oracle); a readable target without appendTo is a missing privilege (`no-write-privilege`,
 * or `privilege-revoked`). Inside an accepted command a target that does not exist yet is one the
 * command creates (parts are decided together, before any is stored).
 */
const lookupProblem = (ctx: DecideContext, attr: AttributeDef, value: unknown): Denial | null => {
  if (attr.type !== 'lookup' || typeof value !== 'string') return null
  const target = parseDocName(value)
  if (target === null) return { reason: Reason.invalidValue, message: `${attr.name} expects a reference "<entity>/<id>"` }
  const owner = ctx.ownershipOf?.(value)
  const unreadable: Denial = { reason: Reason.invalidValue, message: `${attr.name}: ${value} does not exist or you may not read it` }
  if (owner === undefined) return ctx.command?.records.includes(value) === true && ctx.ownershipOf !== undefined ? null : unreadable
  if (!mayAccess(ctx.ix, ctx.userId, 'read', target.entity, owner).allowed) return unreadable
  const d = privilege(ctx, 'appendTo', owner, Reason.noWritePrivilege, target.entity)
  return d === null ? null : { reason: d.reason, message: `${attr.name}: no appendTo on ${value}: ${d.message}` }
}

/** A note's attachment: all of its keys or none, and content its author uploaded completely, of that size. */
const attachmentProblem = (ctx: DecideContext, n: NoteState): Denial | null => {
  const present = ATTACHMENT_KEYS.filter(k => n[k] !== undefined)
  if (present.length === 0) return null
  const bad = (message: string): Denial => ({ reason: Reason.invalidValue, message })
  if (present.length < ATTACHMENT_KEYS.length) return bad(`an attachment needs ${ATTACHMENT_KEYS.join(', ')}`)
  const { filename, mimetype, filesize, contenthash } = n as Required<NoteState>
  if (filename === '' || filename.length > 255 || mimetype.length > 256) return bad('attachment filename (1-255 characters) or mimetype (at most 256) out of bounds')
  if (!CONTENT_HASH.test(contenthash)) return bad('contenthash must be a sha-256 hash (64 lowercase hex digits)')
  if (!/^[1-9]\d{0,15}$/.test(filesize)) return bad('filesize must be a positive whole number of bytes')
  // Only the author's own complete upload counts, so a hash cannot fetch someone else's content.
  const stored = ctx.blobSize?.(ctx.userId, contenthash)
  if (stored === undefined) return bad(`the content of attachment ${filename} (${contenthash}) has not been uploaded (by you, completely)`)
  if (stored !== Number(filesize)) return bad(`attachment ${filename} says ${filesize} bytes; its content has ${stored}`)
  return null
}

const fieldOf = (c: Change): string | null => {
  switch (c.kind) {
    case 'field-set': case 'field-cleared': case 'text-edited': return c.field
    case 'meta-set': return c.key
    case 'note-added': case 'note-edited': case 'note-removed': return `notes.${c.noteId}`
    case 'created': case 'deleted': case 'undeleted': return null
    default: return unexpectedCase(c)
  }
}
export { fieldOf }

/**
 * `notesBefore`: how many notes the record held before the update (`before.notes` may hold only those the
 * update touches); absent, those in `before.notes`.
 */
export const decideChanges = (ctx: DecideContext, before: RecordState, after: RecordState, changes: readonly Change[], notesBefore?: number): Verdict[] =>
  gateStages(ctx, before, applyRules(ctx, before, decidePrivileges(ctx, before, after, changes, notesBefore)))

/**
 * A timeline holds at most MAX_NOTES_PER_RECORD notes: an allowed new note past it is refused
 * (`quota-exceeded`), like any other refused change (the notes removed in the same update make room first).
 */
const boundNotes = (verdicts: Verdict[], before: RecordState, notesBefore: number | undefined): Verdict[] => {
  if (!verdicts.some(v => v.allowed && v.change.kind === 'note-added')) return verdicts
  let held = notesBefore ?? Object.keys(before.notes).length
  for (const v of verdicts) if (v.allowed && v.change.kind === 'note-removed') held--
  return verdicts.map((v): Verdict => {
    if (!v.allowed || v.change.kind !== 'note-added') return v
    const full = timelineFull(held)
    if (full !== null) return { change: v.change, allowed: false, ...full }
    held++
    return v
  })
}

/** A record's values with those kept in other documents (a required secured field is kept in its own: a
 * stage gate reads it there, `ctx.elsewhere`); the document's own values win. */
const withElsewhere = (ctx: DecideContext, values: Record<string, unknown>): Record<string, unknown> => {
  const other = ctx.elsewhere?.()
  if (other !== undefined) for (const k in other) if (values[k] === undefined) values[k] = other[k]
  return values
}

/**
 * A stage move stands only if the record as kept (the update's allowed changes, not everything it tried)
 * has the required fields of every stage it leaves: a required value dropped in the same update (a lookup
 * the user may not set, a save a business rule refuses) must not carry the move with it.
 */
const gateStages = (ctx: DecideContext, before: RecordState, verdicts: Verdict[]): Verdict[] => {
  const isMove = (v: Verdict): boolean => v.allowed && v.change.kind === 'meta-set' && v.change.key === 'activestage'
  if (!verdicts.some(isMove)) return verdicts
  const allowed = verdicts.filter(v => v.allowed).map(v => v.change)
  const kept = withElsewhere(ctx, attributeValues(applyChanges(before, allowed)))
  const creating = allowed.some(c => c.kind === 'created')
  const flow = (ctx.flows ?? []).find(f => f.entity === ctx.entity.name)
  return verdicts.map((v): Verdict => {
    if (!isMove(v) || v.change.kind !== 'meta-set') return v
    const denied = stageMoveDenial(ctx.entity.name, flow, creating ? undefined : v.change.old, v.change.new, kept)
    return denied === null ? v : { change: v.change, allowed: false, reason: creating ? Reason.businessRule : denied.reason, message: denied.message }
  })
}

/**
 * A save that would break a business rule is dropped (its field changes) with the rule's message. The
 * rules see the whole record, values kept in other documents included (`ctx.elsewhere`); when they read a
 * field the user may not read, the message is a general one, so that a refusal never tells its value.
 */
const applyRules = (ctx: DecideContext, before: RecordState, verdicts: Verdict[]): Verdict[] => {
  const rules = rulesOf(ctx.rules ?? NO_RULES, ctx.entity.name)
  if (rules.length === 0 || verdicts.length === 0) return verdicts
  // (A secured field's own document has no meta: its record exists, or every change was refused already.)
  const fieldDocument = ctx.parent !== undefined
  if (fieldDocument && ctx.elsewhere === undefined) return verdicts
  const allowed = verdicts.filter(v => v.allowed).map(v => v.change)
  // (The rules read no note: the saved state is made without them.)
  const result = applyChanges(before.notes === NO_NOTES ? before : { ...before, notes: NO_NOTES }, allowed)
  if (!fieldDocument && (result.meta.entity === undefined || result.meta.deletedon !== undefined)) return verdicts
  const changedFields = allowed.flatMap(c => c.kind === 'field-set' || c.kind === 'field-cleared' || c.kind === 'text-edited' ? [c.field] : [])
  if (changedFields.length === 0) return verdicts
  const other = ctx.elsewhere?.()
  const input = (s: RecordState): Record<string, unknown> => {
    // (Only what the rules read: ruleInputOf.)
    const own = ruleInputOf(rules, ctx.entity.name, s, !fieldDocument)
    // (The document's own values win: a record's document holds no secured value, a field's only its own.)
    if (other !== undefined) for (const k in other) if (own[k] === undefined) own[k] = other[k]
    return own
  }
  let wasInput: Record<string, unknown> | undefined
  const was = (): Record<string, unknown> => (wasInput ??= input(before))
  const is = input(result)
  const violation = saveViolation(rules, ctx.entity.name, was, is, changedFields)
  if (violation === null) return verdicts
  // The rule's message unless the fields the user may not read make a difference to it (the refusal
  // would tell their value): the same save decided without them must break the rules the same way.
  const hidden = [...ruleFields(rules, ctx.entity.name)].filter(f => !fieldPermission(ctx.ix, ctx.userId, ctx.entity.name, f).read)
  const without = (values: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...values }
    for (const f of hidden) delete out[f]
    return out
  }
  const message = hidden.length === 0 || saveViolation(rules, ctx.entity.name, without(was()), without(is), changedFields.filter(f => !hidden.includes(f))) === violation
    ? violation
    : `this save breaks a business rule of ${ctx.entity.name} that reads fields you may not read`
  const creating = allowed.some(c => c.kind === 'created')
  const saved = (c: Change): boolean => creating || c.kind === 'field-set' || c.kind === 'field-cleared' || c.kind === 'text-edited' ||
    isStampChange(c)
  return verdicts.map(v => v.allowed && saved(v.change) ? { change: v.change, allowed: false, reason: Reason.businessRule, message } : v)
}

/** The changes of a secured field's own document: write on its record, and the field's permission. */
const decideFieldDocument = (ctx: DecideContext, parent: RecordOwnership | null, before: RecordState, after: RecordState, changes: readonly Change[]): Verdict[] => {
  const deny = (d: Denial) => (c: Change): Verdict => ({ change: c, allowed: false, ...d })
  if (parent === null) return changes.map(deny({ reason: Reason.invalidValue, message: `${ctx.record} is the field of a record that does not exist` }))
  if (!allows(ctx.entity, 'update')) return changes.map(deny({ reason: Reason.commandNotOffline, message: `update is not an offline command of ${ctx.entity.name}` }))
  const w = privilege(ctx, 'write', parent, Reason.noWritePrivilege)
  // A field that has never had a value may be set with the create permission too.
  const empty = Object.keys(before.fields).length === 0 && Object.keys(before.texts).length === 0
  return changes.map((c): Verdict => {
    let d = w ?? checkContent(ctx, c, after, false)
    if (d?.reason === Reason.fieldSecured && empty && c.kind !== 'field-cleared') d = checkContent(ctx, c, after, true)
    return d === null ? { change: c, allowed: true } : deny(d)(c)
  })
}

const decidePrivileges = (ctx: DecideContext, before: RecordState, after: RecordState, changes: readonly Change[], notesBefore: number | undefined): Verdict[] => {
  if (changes.length === 0) return []
  if (ctx.parent !== undefined) return decideFieldDocument(ctx, ctx.parent, before, after, changes)
  const e = ctx.entity
  const deny = (d: Denial) => (c: Change): Verdict => ({ change: c, allowed: false, ...d })
  const allowAll = (c: Change): Verdict => ({ change: c, allowed: true })
  if (!allows(e, 'create') && !allows(e, 'update') && !allows(e, 'delete')) {
    return changes.map(deny({ reason: Reason.entityReadOnly, message: `${e.name} is read-only offline` }))
  }
  const creating = changes.some(c => c.kind === 'created')
  if (creating) return boundNotes(decideCreate(ctx, after, changes), before, notesBefore)
  const owner = ownershipOf(before, ctx.record)
  if (!exists(before) || owner === null) {
    return changes.map(deny({ reason: Reason.invalidValue, message: `${ctx.record} does not exist` }))
  }
  // A delete wins over edits: one made without seeing it is superseded by it (a conflict entry, not a refusal of rights).
  if (before.meta.deletedon !== undefined) {
    const restore = changes.some(c => c.kind === 'undeleted')
    return changes.map(c => c.kind === 'undeleted' || restore
      ? deny({ reason: Reason.fieldReadOnly, message: 'a deleted record cannot be restored from a device' })(c)
      : deny({ reason: Reason.superseded, message: `${String(before.meta.deletedby ?? 'another user')} deleted this record at ${String(before.meta.deletedon)}; this change was made without seeing that and is not kept` })(c))
  }
  const writeDenials = new Map<Privilege, Denial | null>()
  const write = (p: Privilege, missing: ReasonCode = Reason.noWritePrivilege): Denial | null => {
    if (!allows(e, 'update')) return { reason: Reason.commandNotOffline, message: `update is not an offline command of ${e.name}` }
    if (!writeDenials.has(p)) writeDenials.set(p, privilege(ctx, p, owner, missing))
    return writeDenials.get(p)!
  }
  /** Editing or removing a note: your own needs appendTo; another user's, write or delete reaching the record and the note's creator. */
  const noteAccess = (c: Extract<Change, { kind: 'note-edited' | 'note-removed' }>): Denial | null => {
    const need = notePrivilegeNeeded(ctx.userId, c.kind === 'note-edited' ? 'edit' : 'remove', c.old)
    const onRecord = write(need.privilege, need.reason)
    if (onRecord !== null || need.own) return onRecord
    const onNote = privilege(ctx, need.privilege, noteOwnership(ctx.ix, ctx.record, c.noteId, c.old), need.reason)
    return onNote === null ? null : {
      reason: onNote.reason,
      message: `${c.kind === 'note-edited' ? 'editing' : 'removing'} another user's note needs ${need.privilege} privilege on ${e.name} that reaches its creator ${c.old.createdby ?? '(unknown)'}: ${onNote.message}`
    }
  }
  let assignDenial: Denial | null | undefined
  const verdicts = changes.map((c): Verdict => {
    let d: Denial | null = null
    switch (c.kind) {
      case 'meta-set':
        if (isStampChange(c)) return allowAll(c) // settled below, with the rest of the update
        if (c.key === 'ownerid' || c.key === 'owningbusinessunit') {
          if (assignDenial === undefined) {
            assignDenial = checkOwner(ctx, ownershipOf(after, ctx.record)) ?? privilege(ctx, 'assign', owner, Reason.noAssignPrivilege)
          }
          d = assignDenial
        } else if (c.key === 'activestage') {
          // A stage move: a write, to a stage of the entity's flow, forward only with the stages' required fields.
          const flow = (ctx.flows ?? []).find(f => f.entity === e.name)
          d = write('write') ?? stageMoveDenial(e.name, flow, c.old, c.new, withElsewhere(ctx, attributeValues(after)))
        } else if (c.key === 'statecode' && ctx.command?.target === ctx.record && c.old === ACTIVE && c.new === ctx.command.statecode) {
          d = write('write')
        } else d = { reason: Reason.fieldReadOnly, message: c.key === 'statecode' ? 'statecode changes only through a command (qualify, disqualify, mark complete, convert)' : `${c.key} is a system field` }
        break
      case 'deleted':
        // (The tombstone names its deleter and time to every later editor, like createdby and modifiedby.)
        d = !allows(e, 'delete')
          ? { reason: Reason.commandNotOffline, message: `delete is not an offline command of ${e.name}` }
          : privilege(ctx, 'delete', owner, Reason.noDeletePrivilege) ??
            (c.by !== ctx.userId ? { reason: Reason.invalidValue, message: 'deletedby must be the author' } : null) ??
            (!isDateTimeText(c.on) || aheadOf(ctx, c.on) ? { reason: Reason.invalidValue, message: `deletedon must be a UTC date-time no later than the server's clock plus ${MAX_CLOCK_SKEW_MS / 60_000} minutes` } : null)
        break
      case 'undeleted':
        d = { reason: Reason.fieldReadOnly, message: 'a deleted record cannot be restored from a device' }
        break
      case 'note-added':
        d = write('appendTo') ?? checkContent(ctx, c, after, false)
        break
      case 'note-edited': case 'note-removed':
        d = noteAccess(c) ?? checkContent(ctx, c, after, false)
        break
      case 'field-set': case 'field-cleared': case 'text-edited': case 'created':
        d = write('write') ?? checkContent(ctx, c, after, false)
        break
      default: unexpectedCase(c)
    }
    return d === null ? allowAll(c) : deny(d)(c)
  })
  // (Before the stamps are settled: a refused new note stamps nothing.)
  return settleStamps(ctx, boundNotes(verdicts, before, notesBefore), () => write('write'))
}

/**
 * modifiedby / modifiedon stand only with an allowed change, and modifiedby must be the author. A save
 * that changed nothing else (a value written again, the flow's current stage set again) is a touch:
 * allowed to whoever may write the record, so that saving the same value is never a rejection.
 */
const settleStamps = (ctx: DecideContext, verdicts: Verdict[], touch: () => Denial | null): Verdict[] => {
  const isStamp = (v: Verdict): boolean => isStampChange(v.change)
  const firstDenied = verdicts.find((v): v is Extract<Verdict, { allowed: false }> => !isStamp(v) && !v.allowed)
  const anyAllowed = verdicts.some(v => !isStamp(v) && v.allowed)
  // Dropped with what they stamp; with nothing else, dropped only if the user may not write the record.
  const denied: Denial | null = anyAllowed ? null : firstDenied ?? touch()
  return verdicts.map((v): Verdict => {
    if (!isStamp(v) || v.change.kind !== 'meta-set') return v
    const c = v.change
    if (denied !== null) return { change: c, allowed: false, reason: denied.reason, message: denied.message }
    if (c.key === STAMP.by && c.new !== ctx.userId) return { change: c, allowed: false, reason: Reason.fieldReadOnly, message: 'modifiedby must be the author' }
    if (c.key === STAMP.at && !isDateTimeText(c.new)) return { change: c, allowed: false, reason: Reason.invalidValue, message: 'modifiedon must be a UTC date-time' }
    if (c.key === STAMP.at && aheadOf(ctx, c.new as string)) return { change: c, allowed: false, reason: Reason.invalidValue, message: `modifiedon ${String(c.new)} is later than the server's clock plus ${MAX_CLOCK_SKEW_MS / 60_000} minutes` }
    return v
  })
}

/** A create is accepted or dropped as a whole; field contents are then checked one by one. */
const decideCreate = (ctx: DecideContext, after: RecordState, changes: readonly Change[]): Verdict[] => {
  const e = ctx.entity
  const whole = (d: Denial): Verdict[] => changes.map(c => ({ change: c, allowed: false, ...d }))
  if (!allows(e, 'create')) return whole({ reason: Reason.commandNotOffline, message: `create is not an offline command of ${e.name}` })
  const id = parseDocName(ctx.record)?.id
  if (id === undefined || after.meta.entity !== e.name || after.meta.id !== id) return whole({ reason: Reason.invalidValue, message: `a ${ctx.record} document must say entity ${e.name} and id ${id}` })
  if (after.meta.createdby !== ctx.userId) return whole({ reason: Reason.invalidValue, message: 'createdby must be the author' })
  if (after.meta.statecode !== undefined && after.meta.statecode !== 0) return whole({ reason: Reason.invalidValue, message: 'a new record starts active (statecode 0)' })
  if (after.meta.deletedon !== undefined) return whole({ reason: Reason.invalidValue, message: 'a new record cannot be deleted in the same update' })
  for (const k of ['createdon', 'modifiedon'] as const) {
    const v = after.meta[k]
    if (v !== undefined && !isDateTimeText(v)) return whole({ reason: Reason.invalidValue, message: `${k} must be a UTC date-time` })
    // Bounded like a save's modifiedon; refused with the create, not alone: nothing may set createdon later.
    if (v !== undefined && aheadOf(ctx, v)) return whole({ reason: Reason.invalidValue, message: `${k} ${v} is later than the server's clock plus ${MAX_CLOCK_SKEW_MS / 60_000} minutes` })
  }
  if (after.meta.modifiedby !== undefined && after.meta.modifiedby !== ctx.userId) return whole({ reason: Reason.invalidValue, message: 'modifiedby must be the author' })
  const owner = ownershipOf(after, ctx.record)
  const bad = checkOwner(ctx, owner)
  if (bad !== null) return whole(bad)
  const denied = privilege(ctx, 'create', owner!, Reason.noCreatePrivilege)
  if (denied !== null) return whole(denied)
  if (!ctx.ix.principalsOf(ctx.userId).has(owner!.ownerid)) {
    const d = privilege(ctx, 'assign', owner!, Reason.noAssignPrivilege)
    if (d !== null) return whole(d)
  }
  return changes.map((c): Verdict => {
    if (c.kind === 'meta-set' && c.key === 'activestage') {
      const flow = (ctx.flows ?? []).find(f => f.entity === e.name)
      const denied = stageMoveDenial(e.name, flow, undefined, c.new, attributeValues(after))
      // On create every refused stage is the flow's rule (the stage a new record may start at).
      return denied === null ? { change: c, allowed: true } : { change: c, allowed: false, reason: Reason.businessRule, message: denied.message }
    }
    if (c.kind === 'created' || c.kind === 'meta-set') return { change: c, allowed: true }
    const d = c.kind === 'note-added' || c.kind.startsWith('field') || c.kind === 'text-edited' ? checkContent(ctx, c, after, true) : null
    return d === null ? { change: c, allowed: true } : { change: c, allowed: false, ...d }
  })
}
