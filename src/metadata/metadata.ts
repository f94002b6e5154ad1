// Offline metadata declared alongside the catalog (views today), loaded from JSON and validated at
// start; a device receives only what its profile's entities need.

import { readFileSync } from 'node:fs'
import type { Catalog } from '../docs/catalog-types.ts'
import { validateViews, ViewError, type ViewDef } from './views.ts'
import { RuleError, validateRules, type BusinessRule } from './business-rules.ts'
import { FlowError, validateFlows, type ProcessFlow } from './process-flows.ts'
import { FormError, validateForms, type FormDef } from './forms.ts'
import { DEFAULT_QUALIFICATION, type LeadQualification } from '../docs/commands.ts'
import { ConflictPolicyError, DEFAULT_POLICIES, parseConflictPolicies, type ConflictPolicies } from './conflict-policies.ts'

export interface Metadata {
  readonly views: readonly ViewDef[]
  readonly businessRules: readonly BusinessRule[]
  readonly processFlows: readonly ProcessFlow[]
  /** forms' field lists */
  readonly forms: readonly FormDef[]
  /** which records lead qualification creates */
  readonly leadQualification: LeadQualification
  /** which conflict strategy each field's concurrent writes follow */
  readonly conflicts: ConflictPolicies
}

export const NO_METADATA: Metadata = { views: [], businessRules: [], processFlows: [], forms: [], leadQualification: DEFAULT_QUALIFICATION, conflicts: DEFAULT_POLICIES }

const QUALIFIES_TO = ['account', 'contact', 'opportunity']

const parseQualification = (source: string, q: unknown): LeadQualification => {
  if (q === undefined) return DEFAULT_QUALIFICATION
  const create = (q as { create?: unknown } | null)?.create
  if (!Array.isArray(create)) throw new MetadataError(`${source}: leadQualification.create must be an array of ${QUALIFIES_TO.join(', ')}`)
  create.forEach((e, i) => {
    if (!QUALIFIES_TO.includes(e as string)) throw new MetadataError(`${source}: leadQualification.create[${i}]: "${String(e)}" is not one of ${QUALIFIES_TO.join(', ')}`)
    if (create.indexOf(e) !== i) throw new MetadataError(`${source}: leadQualification.create[${i}]: "${String(e)}" is listed twice`)
  })
  return { create: create as LeadQualification['create'] }
}

export class MetadataError extends Error {
  override name = 'MetadataError'
}

export const parseMetadata = (source: string, text: string, catalog: Catalog): Metadata => {
  let root: unknown
  try { root = JSON.parse(text) } catch (e) { throw new MetadataError(`${source}: not valid JSON (${(e as Error).message})`) }
  if (typeof root !== 'object' || root === null || !Array.isArray((root as { views?: unknown }).views)) throw new MetadataError(`${source}: expected { "views": [...] }`)
  const views = (root as { views: ViewDef[] }).views
  const businessRules = (root as { businessRules?: BusinessRule[] }).businessRules ?? []
  const processFlows = (root as { processFlows?: ProcessFlow[] }).processFlows ?? []
  const forms = (root as { forms?: FormDef[] }).forms ?? []
  if (!Array.isArray(forms)) throw new MetadataError(`${source}: forms must be an array`)
  if (!Array.isArray(businessRules)) throw new MetadataError(`${source}: businessRules must be an array`)
  if (!Array.isArray(processFlows)) throw new MetadataError(`${source}: processFlows must be an array`)
  try {
    validateViews(catalog, views)
    validateRules(catalog, businessRules)
    validateFlows(catalog, processFlows)
    validateForms(catalog, forms)
  } catch (e) {
    if (e instanceof ViewError || e instanceof RuleError || e instanceof FlowError || e instanceof FormError) throw new MetadataError(`${source}: ${e.message}`)
    throw e
  }
  let conflicts: ConflictPolicies
  try { conflicts = parseConflictPolicies((root as { conflicts?: unknown }).conflicts, catalog) } catch (e) {
    if (e instanceof ConflictPolicyError) throw new MetadataError(`${source}: ${e.message}`)
    throw e
  }
  return { views, businessRules, processFlows, forms, leadQualification: parseQualification(source, (root as { leadQualification?: unknown }).leadQualification), conflicts }
}

export const loadMetadata = (file: string | undefined, catalog: Catalog): Metadata => {
  if (file === undefined) return NO_METADATA
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (e) { throw new MetadataError(`${file}: cannot read (${(e as Error).message})`) }
  return parseMetadata(file, text, catalog)
}
