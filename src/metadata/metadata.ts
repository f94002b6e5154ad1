// Offline metadata declared alongside the catalog (views, business rules, process flows, forms, lead
// qualification), parsed from JSON with valibot schemas whose inferred types are the types the code uses,
// then checked against the catalog; a device receives only what its profile's entities need.

import { readFileSync } from 'node:fs'
import * as v from 'valibot'
import type { Catalog } from '../docs/catalog-types.ts'
import { viewProblems, ViewSchema } from './views.ts'
import { BusinessRuleSchema, ruleProblems } from './business-rules.ts'
import { flowProblems, ProcessFlowSchema } from './process-flows.ts'
import { formProblems, FormSchema } from './forms.ts'
import { DEFAULT_QUALIFICATION, LeadQualificationSchema } from '../docs/commands.ts'
import { ConflictPoliciesSchema, conflictProblems, DEFAULT_POLICIES } from './conflict-policies.ts'
import { describeProblems, expected, fileRoot, list, parseJson, parseWith, type PathKey, type Problem } from '../schema.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'

const WHAT = 'an object with "views", "businessRules", "processFlows", "forms", "leadQualification" or "conflicts"'

export const MetadataSchema = fileRoot(v.pipe(v.strictObject({
  views: v.optional(list(ViewSchema, 'an array of views'), []),
  businessRules: v.optional(list(BusinessRuleSchema, 'an array of business rules'), []),
  processFlows: v.optional(list(ProcessFlowSchema, 'an array of process flows'), []),
  /** forms' field lists */
  forms: v.optional(list(FormSchema, 'an array of forms'), []),
  /** which records lead qualification creates */
  leadQualification: v.optional(LeadQualificationSchema, DEFAULT_QUALIFICATION),
  /** which conflict strategy each field's concurrent writes follow */
  conflicts: v.optional(ConflictPoliciesSchema, DEFAULT_POLICIES)
}, expected(WHAT)), v.readonly()), WHAT)
export type Metadata = v.InferOutput<typeof MetadataSchema>

export const NO_METADATA: Metadata = { views: [], businessRules: [], processFlows: [], forms: [], leadQualification: DEFAULT_QUALIFICATION, conflicts: DEFAULT_POLICIES }

export class MetadataError extends FieldsyncError {
  override name = 'MetadataError'
  constructor (message: string, options?: ErrorOptions) {
    super(ErrorCode.invalidMetadata, message, options)
  }
}

const under = (key: PathKey, problems: readonly Problem[]): Problem[] => problems.map(p => ({ path: [key, ...p.path], message: p.message }))

/** Parses and checks metadata JSON against `catalog`. Throws MetadataError listing every problem with the file and the path. */
export const parseMetadata = (source: string, text: string, catalog: Catalog): Metadata => {
  const fail = (message: string): MetadataError => new MetadataError(message)
  const root = parseJson(source, text, fail)
  const metadata = parseWith(MetadataSchema, source, root, fail)
  const problems = [
    ...under('views', viewProblems(catalog, metadata.views)),
    ...under('businessRules', ruleProblems(catalog, metadata.businessRules)),
    ...under('processFlows', flowProblems(catalog, metadata.processFlows)),
    ...under('forms', formProblems(catalog, metadata.forms)),
    ...under('conflicts', conflictProblems(catalog, metadata.conflicts))
  ]
  if (problems.length > 0) throw fail(describeProblems(source, root, problems))
  return metadata
}

export const loadMetadata = (file: string | undefined, catalog: Catalog): Metadata => {
  if (file === undefined) return NO_METADATA
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (e) { throw new MetadataError(`${file}: cannot read (${(e as Error).message})`) }
  return parseMetadata(file, text, catalog)
}
