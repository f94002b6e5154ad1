// The rules for notes on a record's timeline (README, "Security and the authorization projection"):
// who may add, edit and remove a note, and what its stamps must say. Pure; the server's decisions
// (decide-changes.ts) and the device SDK's up-front refusals (client/offline-rules.ts) share them.
//
// A note is owned by the user who created it (`createdby`), in that user's business unit, the way a
// Dynamics annotation is owned by its creator. Adding a note, and editing or removing your own, needs
// `appendTo` on the record. Editing another user's note needs the record entity's `write` privilege,
// removing it `delete`, each at a depth (or through hierarchy security) that reaches both the record
// and a record owned by the note's creator. A share of the record does not reach other users' notes.

import type { NoteState } from '../docs/record.ts'
import type { ModelIndex } from '../authz/decide.ts'
import { userOwned, type RecordOwnership } from '../docs/ownership.ts'
import { Reason, type ReasonCode } from '../protocol/receipts.ts'
import { parseDateTime } from '../docs/date-time.ts'

/** How far ahead of the server's clock a device's note time may be (clocks of phones drift). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/** How far behind the server's clock a device's note time may be: devices edit offline for up to this long. */
export const MAX_OFFLINE_AGE_MS = 30 * 24 * 60 * 60_000

/**
 * The most notes one record's timeline holds: every note is kept in the record's document, which every
 * reader loads and syncs whole, and any user who may append to the record may add them.
 */
export const MAX_NOTES_PER_RECORD = 2_000

export type NoteAction = 'add' | 'edit' | 'remove'

export interface NoteDenial { readonly reason: ReasonCode, readonly message: string }

/** Why `value` (of note key `key`) is not a time the server accepts at `nowMs`, or null. */
export const noteTimeProblem = (key: string, value: string | undefined, nowMs: number): string | null => {
  const t = parseDateTime(value)
  if (Number.isNaN(t)) return `a note's ${key} must be a UTC date-time (YYYY-MM-DDTHH:MM:SS.sssZ)${value === undefined ? '' : `, not ${JSON.stringify(value)}`}`
  if (t > nowMs + MAX_CLOCK_SKEW_MS) {
    return `a note's ${key} ${value} is later than the server's clock (${new Date(nowMs).toISOString()}) plus ${MAX_CLOCK_SKEW_MS / 60_000} minutes`
  }
  if (t < nowMs - MAX_OFFLINE_AGE_MS) {
    return `a note's ${key} ${value} is more than ${MAX_OFFLINE_AGE_MS / 86_400_000} days before the server's clock (${new Date(nowMs).toISOString()})`
  }
  return null
}

/** What a user needs on the record's entity to do `action` to `note`: own notes (and new ones) need appendTo only. */
export const notePrivilegeNeeded = (userId: string, action: NoteAction, note?: NoteState): { privilege: 'appendTo' | 'write' | 'delete', own: boolean, reason: ReasonCode } => {
  const own = action === 'add' || note?.createdby === userId
  if (own) return { privilege: 'appendTo', own, reason: Reason.noWritePrivilege }
  return action === 'edit'
    ? { privilege: 'write', own, reason: Reason.noWritePrivilege }
    : { privilege: 'delete', own, reason: Reason.noDeletePrivilege }
}

/**
 * The ownership a note has: its creator, in the creator's business unit (none when the creator is
 * unknown, which only organization depth reaches). Named apart from the record so that shares of the
 * record do not count for it.
 */
export const noteOwnership = (ix: ModelIndex, record: string, noteId: string, note: NoteState): RecordOwnership => {
  const creator = note.createdby ?? ''
  return { name: `${record}#notes/${noteId}`, ...userOwned(creator, ix.user(creator)?.businessUnitId ?? '') }
}

/** Why a note may not be added to a timeline that holds `count` notes, or null. */
export const timelineFull = (count: number): NoteDenial | null => count < MAX_NOTES_PER_RECORD ? null : {
  reason: Reason.quotaExceeded,
  message: `a record's timeline holds at most ${MAX_NOTES_PER_RECORD} notes, and this one holds ${count}: remove some before adding more`
}

const readOnly = (message: string): NoteDenial => ({ reason: Reason.fieldReadOnly, message })
const invalid = (message: string): NoteDenial => ({ reason: Reason.invalidValue, message })

/** A new note: created by its author, now (within the bounds); stamped, if at all, by its author and not before its creation. */
export const newNoteProblem = (userId: string, note: NoteState, nowMs: number): NoteDenial | null => {
  if (note.createdby !== userId) return invalid(`a new note must be created by its author (createdby ${userId})`)
  const created = noteTimeProblem('createdon', note.createdon, nowMs)
  if (created !== null) return invalid(created)
  if (note.modifiedby === undefined && note.modifiedon === undefined) return null
  return stampProblem(userId, note, nowMs)
}

/** An edit of a note leaves createdby and createdon as they are. */
export const noteEditProblem = (old: NoteState, next: NoteState): NoteDenial | null => {
  for (const k of ['createdby', 'createdon'] as const) {
    if (old[k] !== next[k]) return readOnly(`a note's ${k} never changes after it is added`)
  }
  return null
}

/** The stamps of an edited note (checked after its content): new, by the author, within the bounds, not before its creation. */
export const noteStampProblem = (userId: string, old: NoteState, next: NoteState, nowMs: number): NoteDenial | null => {
  if (old.modifiedby === next.modifiedby && old.modifiedon === next.modifiedon) {
    return invalid(`an edit of a note must stamp it: modifiedby (${userId}) and modifiedon (now)`)
  }
  return stampProblem(userId, next, nowMs)
}

const stampProblem = (userId: string, note: NoteState, nowMs: number): NoteDenial | null => {
  if (note.modifiedby !== userId) return readOnly(`a note's modifiedby must be its editor (${userId})${note.modifiedby === undefined ? '' : `, not ${note.modifiedby}`}`)
  const t = noteTimeProblem('modifiedon', note.modifiedon, nowMs)
  if (t !== null) return invalid(t)
  if (parseDateTime(note.modifiedon) < parseDateTime(note.createdon)) return invalid(`a note's modifiedon ${note.modifiedon} is before its createdon ${note.createdon}`)
  return null
}

/** The time a device stamps an edit of `note` with: now, but never before its creation, and after its last stamp by the same user. */
export const noteStampTime = (userId: string, note: NoteState, nowMs: number): string => {
  let t = nowMs
  const created = parseDateTime(note.createdon)
  if (t < created) t = created
  const last = parseDateTime(note.modifiedon)
  if (note.modifiedby === userId && t <= last) t = last + 1
  return new Date(t).toISOString()
}
