// Forms: per entity, the ordered field lists a device shows when editing a record (the main form, and
// quick create / quick view forms), declared in configuration and validated at start.

import * as v from 'valibot'
import type { Catalog } from '../docs/catalog-types.ts'
import { expected, list, oneOf, text, type Problem } from '../schema.ts'

export const FORM_KINDS = ['main', 'quick-create', 'quick-view'] as const
export type FormKind = typeof FORM_KINDS[number]

export const FormSchema = v.pipe(v.strictObject({
  entity: text('an entity name'),
  name: text('a form name'),
  kind: v.picklist(FORM_KINDS, oneOf(FORM_KINDS)),
  /** the fields in display order */
  fields: v.pipe(list(text('a field name'), 'an array of field names'), v.minLength(1, 'a form needs fields'))
}, expected('a form object')), v.readonly())
export type FormDef = v.InferOutput<typeof FormSchema>

/** What the form schema cannot see: known entity and fields, each listed once, one form per name. Paths start at the list. */
export const formProblems = (catalog: Catalog, forms: readonly FormDef[]): Problem[] => {
  const problems: Problem[] = []
  const names = new Set<string>()
  forms.forEach((f, i) => {
    const e = catalog.entities.get(f.entity)
    if (e === undefined) { problems.push({ path: [i, 'entity'], message: `unknown entity "${f.entity}"` }); return }
    if (names.has(`${f.entity}.${f.name}`)) problems.push({ path: [i, 'name'], message: `${f.entity} has two forms named ${f.name}` })
    names.add(`${f.entity}.${f.name}`)
    const seen = new Set<string>()
    f.fields.forEach((field, j) => {
      if (!e.attributes.some(a => a.name === field)) problems.push({ path: [i, 'fields', j], message: `${f.entity} has no field "${field}"` })
      else if (seen.has(field)) problems.push({ path: [i, 'fields', j], message: `"${field}" is listed twice` })
      seen.add(field)
    })
  })
  return problems
}
