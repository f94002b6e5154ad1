// Decides a command that touches several records (lead qualify, appointment convert to case, …) as a
// whole. Pure: the parts' states before and after (as the projection would integrate them), the verdicts
// of their changes, and the command's definition -> accept, or reject with the reason of the first part
// at fault. The room then integrates every part, or integrates and reverts every part.

import { ACTIVE, STATE_AFTER, isStateCommand, linkOf, mayCreate, type LeadQualification, type StateCommand } from '../docs/commands.ts'
import type { Change } from '../docs/diff.ts'
import { isStamp } from '../docs/system-fields.ts'
import { exists, isDeleted, type RecordState } from '../docs/record.ts'
import { Reason, type ReasonCode } from '../protocol/receipts.ts'
import { parseDocName } from '../ids.ts'

export interface TrialPart {
  readonly record: string
  readonly entity: string
  readonly before: RecordState
  readonly after: RecordState
  readonly changes: readonly Change[]
  /** the first change the projection would drop, or null */
  readonly denied: { readonly reason: ReasonCode, readonly message: string } | null
}

export type CommandVerdict =
  | { readonly accepted: true }
  | { readonly accepted: false, readonly record: string, readonly reason: ReasonCode, readonly message: string }

/** Whether `c` is one of the target's changes a command may make. */
const targetChangeAllowed = (command: StateCommand, c: Change, created: ReadonlySet<string>): boolean => {
  if (c.kind === 'meta-set') return isStamp(c.key) || (c.key === 'statecode' && c.old === ACTIVE && c.new === STATE_AFTER[command])
  const field = linkOf(command)?.targetField
  return c.kind === 'field-set' && field !== undefined && c.field === field && typeof c.new === 'string' && created.has(c.new)
}

export const decideCommand = (
  command: string, commandsOfTarget: readonly string[], target: string, parts: readonly TrialPart[], q: LeadQualification
): CommandVerdict => {
  const reject = (record: string, reason: ReasonCode, message: string): CommandVerdict => ({ accepted: false, record, reason, message })
  const targetEntity = parseDocName(target)?.entity ?? ''
  if (!isStateCommand(command) || !commandsOfTarget.includes(command)) return reject(target, Reason.commandNotOffline, `${command} is not an offline command of ${targetEntity}`)
  const cmd = command
  // Sent again (its acknowledgement was lost): already integrated, it changes nothing.
  if (parts.length > 0 && parts.every(p => p.changes.length === 0 && p.denied === null)) return { accepted: true }
  const t = parts.find(p => p.record === target)
  if (t === undefined) return reject(target, Reason.invalidValue, `the command has no part for its target ${target}`)
  if (!exists(t.before) || isDeleted(t.before)) return reject(target, Reason.invalidValue, `${target} does not exist or is deleted`)
  if (t.before.meta.statecode !== ACTIVE) {
    return reject(target, Reason.invalidValue, `${target} is no longer active (statecode ${String(t.before.meta.statecode)}): only an active ${targetEntity} can ${command}`)
  }
  const created = parts.filter(p => p !== t)
  const createdNames = new Set(created.map(p => p.record))
  const allowed = mayCreate(cmd, q)
  const seen = new Set<string>()
  for (const p of created) {
    if (!p.changes.some(c => c.kind === 'created')) return reject(p.record, Reason.invalidValue, `${command} may only create records, and ${p.record} exists`)
    if (!allowed.includes(p.entity)) return reject(p.record, Reason.invalidValue, `${command} does not create a ${p.entity}${allowed.length > 0 ? ` (it creates ${allowed.join(', ')})` : ''}`)
    if (seen.has(p.entity)) return reject(p.record, Reason.invalidValue, `${command} creates one ${p.entity} at most`)
    seen.add(p.entity)
    const field = linkOf(cmd)?.createdField
    if (field !== undefined && p.after.fields[field] !== target) return reject(p.record, Reason.invalidValue, `${p.record}.${field} must be ${target}`)
  }
  if (allowed.length > 0 && command !== 'qualify' && created.length !== 1) return reject(target, Reason.invalidValue, `${command} creates one ${allowed[0]}`)
  const stray = t.changes.find(c => !targetChangeAllowed(cmd, c, createdNames))
  if (stray !== undefined) return reject(target, Reason.invalidValue, `${command} changes only the state of ${target}, not ${stray.kind === 'meta-set' ? stray.key : stray.kind}`)
  if (!t.changes.some(c => c.kind === 'meta-set' && c.key === 'statecode')) return reject(target, Reason.invalidValue, `${command} must set the statecode of ${target} to ${STATE_AFTER[cmd]}`)
  const targetField = linkOf(cmd)?.targetField
  if (targetField !== undefined && created.length > 0 && !createdNames.has(String(t.after.fields[targetField]))) {
    return reject(target, Reason.invalidValue, `${target}.${targetField} must point at the record ${command} created`)
  }
  // Every part's own changes must be allowed (privileges, field security, business rules).
  for (const p of [t, ...created]) if (p.denied !== null) return reject(p.record, p.denied.reason, p.denied.message)
  return { accepted: true }
}
