// Business process flows: single-entity flows of ordered stages, each with required fields. Next stage,
// previous stage and set active stage work offline; moving forward needs the required fields of every
// stage it leaves. The device and the server projection run the same check.

import * as v from 'valibot'
import type { Catalog } from '../docs/catalog-types.ts'
import { expected, list, text, type Problem } from '../schema.ts'
import { Reason } from '../protocol/receipts.ts'

/**
 * A stage that declares no `required` list requires nothing, as an author who leaves a key out means: the
 * default is applied here, at the parse, so every stage the code sees has its list.
 */
export const StageSchema = v.pipe(v.strictObject({
  name: text('a stage name'),
  required: v.optional(list(text('a field name'), 'an array of field names'), [])
}, expected('a stage object')), v.readonly())
export type Stage = v.InferOutput<typeof StageSchema>

export const ProcessFlowSchema = v.pipe(v.strictObject({
  entity: text('an entity name'),
  name: text('a flow name'),
  stages: v.pipe(list(StageSchema, 'an array of stages'), v.minLength(2, 'a flow needs at least two stages'))
}, expected('a process flow object')), v.readonly())
export type ProcessFlow = v.InferOutput<typeof ProcessFlowSchema>

/** What the flow schema cannot see: one flow per known entity, unique stage names, known fields. Paths start at the list. */
export const flowProblems = (catalog: Catalog, flows: readonly ProcessFlow[]): Problem[] => {
  const problems: Problem[] = []
  const seen = new Set<string>()
  flows.forEach((f, i) => {
    const e = catalog.entities.get(f.entity)
    if (e === undefined) { problems.push({ path: [i, 'entity'], message: `unknown entity "${f.entity}"` }); return }
    if (seen.has(f.entity)) problems.push({ path: [i, 'entity'], message: `${f.entity} already has a flow: one flow per entity (flows are single-entity)` })
    seen.add(f.entity)
    const names = new Set<string>()
    f.stages.forEach((s, j) => {
      if (names.has(s.name)) problems.push({ path: [i, 'stages', j, 'name'], message: `stage names must be unique ("${s.name}" is used twice)` })
      names.add(s.name)
      s.required.forEach((r, k) => {
        if (!e.attributes.some(a => a.name === r)) problems.push({ path: [i, 'stages', j, 'required', k], message: `${f.entity} has no field "${r}"` })
      })
    })
  })
  return problems
}

const empty = (v: unknown): boolean => v === undefined || v === null || v === ''

/** The stage a record is at: its active stage, or the first. */
export const currentStage = (flow: ProcessFlow, active: unknown): number => {
  const i = flow.stages.findIndex(s => s.name === active)
  return i < 0 ? 0 : i
}

/**
 * Why a stage move is refused, with the reason code its receipt (or the device's refusal) carries: no
 * flow or no such stage is an invalid value; a required field left empty is the flow's business rule.
 */
export interface StageMoveDenial { readonly reason: typeof Reason.invalidValue | typeof Reason.businessRule, readonly message: string }

/**
 * Why moving a record of `entity` with `values` from stage `from` to stage `to` of `flow` (the entity's
 * flow, if it has one) is not allowed, or null. Moving back is always allowed; moving forward needs the
 * required fields of every stage it leaves.
 */
export const stageMoveDenial = (entity: string, flow: ProcessFlow | undefined, from: unknown, to: unknown, values: Readonly<Record<string, unknown>>): StageMoveDenial | null => {
  if (flow === undefined) return { reason: Reason.invalidValue, message: `${entity} has no process flow` }
  const target = flow.stages.findIndex(s => s.name === to)
  if (target < 0) return { reason: Reason.invalidValue, message: `"${String(to)}" is not a stage of ${flow.name}` }
  for (let i = currentStage(flow, from); i < target; i++) {
    const missing = flow.stages[i].required.filter(r => empty(values[r]))
    if (missing.length > 0) return { reason: Reason.businessRule, message: `stage ${flow.stages[i].name} needs ${missing.join(', ')} before moving on` }
  }
  return null
}

/** The message of `stageMoveDenial` for a flow, or null. */
export const stageMoveProblem = (flow: ProcessFlow, from: unknown, to: unknown, values: Readonly<Record<string, unknown>>): string | null =>
  stageMoveDenial(flow.entity, flow, from, to, values)?.message ?? null
