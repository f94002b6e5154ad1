// Business process flows: single-entity flows of ordered stages, each with required fields. Next stage,
// previous stage and set active stage work offline; moving forward needs the required fields of every
// stage it leaves. The device and the server projection run the same check.

import type { Catalog } from '../docs/catalog-types.ts'

export interface Stage { readonly name: string, readonly required: readonly string[] }
export interface ProcessFlow { readonly entity: string, readonly name: string, readonly stages: readonly Stage[] }

export class FlowError extends Error {
  override name = 'FlowError'
}

export const validateFlows = (catalog: Catalog, flows: readonly ProcessFlow[]): void => {
  const seen = new Set<string>()
  for (const f of flows) {
    const at = `processFlows.${f.entity}.${f.name}`
    const e = catalog.entities.get(f.entity)
    if (e === undefined) throw new FlowError(`${at}: unknown entity`)
    if (seen.has(f.entity)) throw new FlowError(`${at}: one flow per entity (flows are single-entity)`)
    seen.add(f.entity)
    if (!Array.isArray(f.stages) || f.stages.length < 2) throw new FlowError(`${at}: needs at least two stages`)
    const names = new Set<string>()
    f.stages.forEach((s, i) => {
      if (typeof s.name !== 'string' || s.name === '' || names.has(s.name)) throw new FlowError(`${at}.stages[${i}]: needs a unique name`)
      names.add(s.name)
      for (const r of s.required ?? []) if (!e.attributes.some(a => a.name === r)) throw new FlowError(`${at}.stages[${i}] (${s.name}): ${f.entity} has no field "${r}"`)
    })
  }
}

const empty = (v: unknown): boolean => v === undefined || v === null || v === ''

/** The stage a record is at: its active stage, or the first. */
export const currentStage = (flow: ProcessFlow, active: unknown): number => {
  const i = flow.stages.findIndex(s => s.name === active)
  return i < 0 ? 0 : i
}

/**
 * Why moving a record with `values` from stage `from` to stage `to` is not allowed, or null. Moving back
 * is always allowed; moving forward needs the required fields of every stage it leaves.
 */
export const stageMoveProblem = (flow: ProcessFlow, from: unknown, to: unknown, values: Readonly<Record<string, unknown>>): string | null => {
  const target = flow.stages.findIndex(s => s.name === to)
  if (target < 0) return `"${String(to)}" is not a stage of ${flow.name}`
  for (let i = currentStage(flow, from); i < target; i++) {
    const missing = flow.stages[i].required.filter(r => empty(values[r]))
    if (missing.length > 0) return `stage ${flow.stages[i].name} needs ${missing.join(', ')} before moving on`
  }
  return null
}
