// Builds the entity catalog: the built-in entities plus custom entities declared in JSON, parsed with the
// catalog's schemas and then cross-checked (unique names, lookups and N:N ends that name known entities).

import { readFileSync } from 'node:fs'
import * as v from 'valibot'
import { attributeEntries, ManyToManySchema, NameSchema, type AttributeDef, type AttributeType, type Catalog, type EntityDef, type ManyToManyDef, type RelationshipDef } from './catalog-types.ts'
import { BUILT_IN_ENTITIES, BUILT_IN_MANY_TO_MANY, CUSTOM_ENTITY_COMMANDS } from './entities.ts'
import { describeProblems, expected, fileRoot, list, parseJson, parseWith, type Problem } from '../schema.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'

export class CatalogError extends FieldsyncError {
  override name = 'CatalogError'
  constructor (message: string, options?: ErrorOptions) {
    super(ErrorCode.invalidCatalog, message, options)
  }
}

const DEFAULT_MAX_LENGTH: Partial<Record<AttributeType, number>> = { text: 200, memo: 100_000 }

/** An attribute as a file declares it: the label defaults to the name, text lengths to their defaults. */
const CustomAttributeSchema = v.pipe(
  v.strictObject({ ...attributeEntries, label: v.optional(v.string(expected('a label'))) }, expected('an attribute object')),
  v.forward(v.check(a => a.type !== 'optionset' || a.options !== undefined, 'an optionset needs a non-empty "options" array'), ['options']),
  v.forward(v.check(a => a.type !== 'lookup' || a.targets !== undefined, 'a lookup needs a non-empty "targets" array of entity names'), ['targets']),
  v.transform(({ label, maxLength, ...a }): AttributeDef => {
    const length = maxLength ?? DEFAULT_MAX_LENGTH[a.type]
    return { ...a, label: label ?? a.name, ...(length === undefined ? {} : { maxLength: length }) }
  })
)

/** A custom entity as a file declares it; its first attribute is its primary name. */
const CustomEntitySchema = v.pipe(
  v.strictObject({
    name: NameSchema,
    label: v.optional(v.string(expected('a label'))),
    attributes: v.pipe(list(CustomAttributeSchema, 'an array of attributes'), v.minLength(1, 'expected a non-empty array of attributes'))
  }, expected('an entity object')),
  v.transform((e): EntityDef => ({
    name: e.name, label: e.label ?? e.name, primaryName: e.attributes[0].name, attributes: e.attributes, commands: CUSTOM_ENTITY_COMMANDS, custom: true
  }))
)

const CustomEntitiesFileSchema = fileRoot(v.strictObject({
  entities: v.optional(list(CustomEntitySchema, 'an array of entities'), []),
  manyToMany: v.optional(list(ManyToManySchema, 'an array of { "name", "from", "to" }'), [])
}, expected('an object with "entities"')), 'an object with "entities"')

export type CustomEntities = v.InferOutput<typeof CustomEntitiesFileSchema>

/** What the schema cannot see: names unique across the catalog, and references to entities that exist. */
const crossCheck = (file: CustomEntities, known: ReadonlySet<string>): Problem[] => {
  const problems: Problem[] = []
  const names = new Set(known)
  file.entities.forEach((e, i) => {
    if (names.has(e.name)) problems.push({ path: ['entities', i, 'name'], message: `duplicate entity name "${e.name}"` })
    names.add(e.name)
  })
  file.entities.forEach((e, i) => {
    if (e.attributes[0].type !== 'text') problems.push({ path: ['entities', i, 'attributes', 0], message: 'the first attribute is the primary name and must be of type "text"' })
    const attributes = new Set<string>()
    e.attributes.forEach((a, j) => {
      const at = ['entities', i, 'attributes', j]
      if (attributes.has(a.name)) problems.push({ path: [...at, 'name'], message: `duplicate attribute name "${a.name}"` })
      attributes.add(a.name)
      const values = new Set<number>()
      a.options?.forEach((o, k) => {
        if (values.has(o.value)) problems.push({ path: [...at, 'options', k, 'value'], message: `duplicate option value ${o.value}` })
        values.add(o.value)
      })
      a.targets?.forEach((t, k) => {
        if (!names.has(t)) problems.push({ path: [...at, 'targets', k], message: `lookup to unknown entity "${t}"` })
      })
    })
  })
  file.manyToMany.forEach((r, i) => {
    for (const end of ['from', 'to'] as const) {
      if (!names.has(r[end])) problems.push({ path: ['manyToMany', i, end], message: `unknown entity "${r[end]}"` })
    }
  })
  return problems
}

/**
 * Parses and checks the custom entities JSON (`{ "entities": [...], "manyToMany": [...] }`); `known` are
 * the entity names already taken. Throws CatalogError listing every problem with the file and the path.
 */
export const parseCustomEntities = (source: string, text: string, known: ReadonlySet<string>): CustomEntities => {
  const fail = (message: string): CatalogError => new CatalogError(message)
  const root = parseJson(source, text, fail)
  const file = parseWith(CustomEntitiesFileSchema, source, root, fail)
  const problems = crossCheck(file, known)
  if (problems.length > 0) throw fail(describeProblems(source, root, problems))
  return file
}

/** Relationships derived from lookups (N:1 and its inverse 1:N) plus the declared N:N ones. */
const relationshipsOf = (entities: readonly EntityDef[], manyToMany: readonly ManyToManyDef[]): RelationshipDef[] => {
  const out: RelationshipDef[] = []
  for (const e of entities) {
    for (const a of e.attributes) {
      if (a.type !== 'lookup') continue
      for (const t of a.targets ?? []) {
        const name = `${e.name}_${a.name}_${t}`
        out.push({ name, kind: 'N:1', from: e.name, to: t, attribute: a.name })
        out.push({ name, kind: '1:N', from: t, to: e.name, attribute: a.name })
      }
    }
  }
  for (const r of manyToMany) {
    out.push({ name: r.name, kind: 'N:N', from: r.from, to: r.to })
    if (r.from !== r.to) out.push({ name: r.name, kind: 'N:N', from: r.to, to: r.from })
  }
  return out
}

export const buildCatalog = (custom: CustomEntities = { entities: [], manyToMany: [] }): Catalog => {
  const all = [...BUILT_IN_ENTITIES, ...custom.entities]
  return {
    entities: new Map(all.map(e => [e.name, e])),
    relationships: relationshipsOf(all, [...BUILT_IN_MANY_TO_MANY, ...custom.manyToMany])
  }
}

/** The catalog with the custom entities of `file` (if given). Throws CatalogError naming the file and field. */
export const loadCatalog = (file?: string): Catalog => {
  if (file === undefined) return buildCatalog()
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new CatalogError(`${file}: cannot read (${(e as Error).message})`)
  }
  return buildCatalog(parseCustomEntities(file, text, new Set(BUILT_IN_ENTITIES.map(e => e.name))))
}
