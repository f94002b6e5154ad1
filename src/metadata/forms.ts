// Forms: per entity, the ordered field lists a device shows when editing a record (the main form, and
// quick create / quick view forms), declared in configuration and validated at start.

import type { Catalog } from '../docs/catalog-types.ts'

export type FormKind = 'main' | 'quick-create' | 'quick-view'
export const FORM_KINDS: readonly FormKind[] = ['main', 'quick-create', 'quick-view']

export interface FormDef {
  readonly entity: string
  readonly name: string
  readonly kind: FormKind
  /** the fields in display order */
  readonly fields: readonly string[]
}

export class FormError extends Error {
  override name = 'FormError'
}

export const validateForms = (catalog: Catalog, forms: readonly FormDef[]): void => {
  const names = new Set<string>()
  for (const [i, f] of forms.entries()) {
    const at = `forms[${i}] (${String(f?.entity)}.${String(f?.name)})`
    const e = catalog.entities.get(f?.entity)
    if (e === undefined) throw new FormError(`${at}: unknown entity`)
    if (typeof f.name !== 'string' || f.name === '') throw new FormError(`${at}: needs a name`)
    if (names.has(`${f.entity}.${f.name}`)) throw new FormError(`${at}: ${f.entity} has two forms named ${f.name}`)
    names.add(`${f.entity}.${f.name}`)
    if (!FORM_KINDS.includes(f.kind)) throw new FormError(`${at}: kind must be one of ${FORM_KINDS.join(', ')}`)
    if (!Array.isArray(f.fields) || f.fields.length === 0) throw new FormError(`${at}: needs fields`)
    const seen = new Set<string>()
    for (const field of f.fields) {
      if (!e.attributes.some(a => a.name === field)) throw new FormError(`${at}: ${f.entity} has no field "${String(field)}"`)
      if (seen.has(field)) throw new FormError(`${at}: "${field}" is listed twice`)
      seen.add(field)
    }
  }
}
