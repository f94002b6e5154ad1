// The business-rule values the server writes itself (README, "Business rules"): a saved update that
// leaves a field other than a rule sets it (from a client that ignores rules, or a field stuck at a
// value from before the rule) gets the rule's value written by the server, in the same transaction.
// Pure: (context, state before, verdicts) -> the changes to write.

import type { Change } from '../docs/diff.ts'
import { applyChanges, isStampChange } from '../docs/diff.ts'
import { exists, isDeleted, spliceBetween, type RecordState } from '../docs/record.ts'
import { attributeOf } from '../docs/catalog-types.ts'
import { ruleInput, ruleValues, type BusinessRule } from '../metadata/business-rules.ts'
import type { DecideContext, Verdict } from './decide-changes.ts'

/** Per rule list and entity: whether any of its rules sets a value (set-value), or a default (set-default). */
const setters = new WeakMap<readonly BusinessRule[], Map<string, { readonly values: boolean, readonly defaults: boolean }>>()

/** Whether the entity's rules can write anything (a set-value; a set-default when `creating`): most
 * entities' rules only check a save, and then no rule needs evaluating for its values on every update. */
const mayWrite = (rules: readonly BusinessRule[], entity: string, creating: boolean): boolean => {
  let byEntity = setters.get(rules)
  if (byEntity === undefined) { byEntity = new Map(); setters.set(rules, byEntity) }
  let s = byEntity.get(entity)
  if (s === undefined) {
    const actions = rules.filter(r => r.entity === entity).flatMap(r => r.actions)
    s = { values: actions.some(a => a.type === 'set-value'), defaults: actions.some(a => a.type === 'set-default') }
    byEntity.set(entity, s)
  }
  return s.values || (creating && s.defaults)
}

/** Whether an allowed change saves the record (a note, or the stamps alone, do not). */
const saves = (c: Change): boolean =>
  c.kind === 'created' || c.kind === 'field-set' || c.kind === 'field-cleared' || c.kind === 'text-edited' ||
  (c.kind === 'meta-set' && !isStampChange(c))

/**
 * The changes that give the record saved by an update's allowed changes the values its rules set
 * (set-value; set-default too when the update created it). Decided after the user's changes, so a rule's
 * value is the server's own write and never a write to a locked field; a value the update already
 * carried is not written again. Secured fields are left out (their values live in their own documents).
 */
export const ruleWrites = (ctx: DecideContext, before: RecordState, verdicts: readonly Verdict[]): Change[] => {
  // (A secured field's own document holds no other field to write: its rules only refuse.)
  if (ctx.parent !== undefined) return []
  const creating = verdicts.some(v => v.allowed && v.change.kind === 'created')
  if (ctx.rules === undefined || !mayWrite(ctx.rules, ctx.entity.name, creating)) return []
  const rules = ctx.rules.filter(r => r.entity === ctx.entity.name)
  const allowed = verdicts.filter(v => v.allowed).map(v => v.change)
  if (!allowed.some(saves)) return []
  const saved = applyChanges(before, allowed)
  if (!exists(saved) || isDeleted(saved)) return []
  const out: Change[] = []
  // (The rules see the record's values kept elsewhere too, as the decision does: a condition on a secured field.)
  const input = ruleInput(saved)
  const other = ctx.elsewhere?.()
  if (other !== undefined) for (const k in other) if (input[k] === undefined) input[k] = other[k]
  for (const [field, value] of Object.entries(ruleValues(rules, ctx.entity.name, input, creating))) {
    const attr = attributeOf(ctx.entity, field)
    if (attr === undefined || ctx.secured?.has(field) === true) continue
    if (attr.type === 'memo') {
      const old = saved.texts[field] ?? ''
      const s = spliceBetween(old, String(value))
      out.push({ kind: 'text-edited', field, ...s, removed: old.slice(s.index, s.index + s.deleteCount) })
    } else {
      out.push({ kind: 'field-set', field, old: saved.fields[field] ?? null, new: value })
    }
  }
  return out
}
