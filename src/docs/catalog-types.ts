// The shape of the entity catalog: entities, their attributes and types, relationships and offline commands.
// Entities and attributes are valibot schemas whose inferred types are the types the code uses; the custom
// entities file is parsed with them (src/docs/catalog.ts).

import * as v from 'valibot'
import { expected, list, oneOf, text } from '../schema.ts'

export const ATTRIBUTE_TYPES = [
  'text', // single line string
  'memo', // multi-line text, a Y.Text so concurrent edits merge character by character
  'whole', // integer
  'decimal',
  'money',
  'boolean',
  'date', // YYYY-MM-DD
  'datetime', // ISO 8601 UTC, e.g. 2026-11-27T09:00:00.000Z
  'optionset', // integer option value
  'lookup' // reference to a record: `<entity>/<id>`
] as const
export type AttributeType = typeof ATTRIBUTE_TYPES[number]

/** What a user may do with an entity while offline (DESIGN.md, "Rules the system must follow"). */
export const OFFLINE_COMMANDS = [
  'create', 'read', 'update', 'delete',
  'qualify', 'disqualify', 'convert-to-case',
  'edit', 'mark-complete', 'refresh', 'convert-to-opportunity'
] as const
export type OfflineCommand = typeof OFFLINE_COMMANDS[number]

/** Entity and attribute names: lowercase, as they become table and column names. */
export const NAME = /^[a-z][a-z0-9_]{0,63}$/

export const NameSchema = v.pipe(
  v.string(expected('a lowercase name')),
  v.regex(NAME, issue => `expected a lowercase name matching ${String(NAME)}, got ${issue.received}`)
)

const finite = (what: string) => v.pipe(v.number(expected(what)), v.finite(`${what} must be finite`))

export const OptionDefSchema = v.pipe(v.strictObject({
  value: v.pipe(v.number(expected('an integer')), v.integer(issue => `expected an integer, got ${issue.received}`)),
  label: v.string(expected('a label'))
}, expected('{ "value": integer, "label": string }')), v.readonly())
export type OptionDef = v.InferOutput<typeof OptionDefSchema>

/** An attribute's keys; the custom entities file uses them with `label` optional. */
export const attributeEntries = {
  name: NameSchema,
  type: v.picklist(ATTRIBUTE_TYPES, oneOf(ATTRIBUTE_TYPES)),
  label: v.string(expected('a label')),
  /** text and memo: most characters (default 200 for text, 100,000 for memo) */
  maxLength: v.optional(v.pipe(v.number(expected('a positive integer')), v.integer('maxLength must be a positive integer'), v.minValue(1, 'maxLength must be a positive integer'))),
  /** whole, decimal, money */
  min: v.optional(finite('a number')),
  max: v.optional(finite('a number')),
  /** decimal and money: digits after the point (default 2 for money, 4 for decimal) */
  precision: v.optional(v.pipe(v.number(expected('a whole number of digits')), v.integer('precision must be a whole number of digits'), v.minValue(0, 'precision must not be negative'))),
  /** optionset */
  options: v.optional(v.pipe(list(OptionDefSchema, 'an array of options'), v.minLength(1, 'an optionset needs a non-empty "options" array'))),
  /** lookup: the entities it may point at */
  targets: v.optional(v.pipe(list(NameSchema, 'an array of entity names'), v.minLength(1, 'a lookup needs a non-empty "targets" array of entity names')))
}

export const AttributeDefSchema = v.pipe(v.strictObject(attributeEntries, expected('an attribute object')), v.readonly())
export type AttributeDef = v.InferOutput<typeof AttributeDefSchema>

export const EntityDefSchema = v.pipe(v.strictObject({
  name: NameSchema,
  label: text('a label'),
  /** the attribute shown as the record's name */
  primaryName: NameSchema,
  attributes: v.pipe(list(AttributeDefSchema, 'an array of attributes'), v.minLength(1, 'an entity needs attributes')),
  commands: list(v.picklist(OFFLINE_COMMANDS, oneOf(OFFLINE_COMMANDS)), 'an array of offline commands'),
  custom: v.boolean(expected('true or false')),
  /** activities share the activity pointer */
  activity: v.optional(v.boolean(expected('true or false'))),
  /** the activity pointer: a read/delete view over the activity entities, with no records of its own
   * (src/docs/activity-pointer.ts) */
  pointer: v.optional(v.boolean(expected('true or false')))
}, expected('an entity object')), v.readonly())
export type EntityDef = v.InferOutput<typeof EntityDefSchema>

/** N:N relationships are not expressed by lookups, so they are declared (built in, or in the custom entities file). */
export const ManyToManySchema = v.pipe(v.strictObject({
  name: text('a relationship name'),
  from: NameSchema,
  to: NameSchema
}, expected('{ "name", "from", "to" }')), v.readonly())
export type ManyToManyDef = v.InferOutput<typeof ManyToManySchema>

export type RelationshipKind = 'N:1' | '1:N' | 'N:N'

/** Derived from lookups and N:N declarations, never parsed, so a plain interface. */
export interface RelationshipDef {
  readonly name: string
  readonly kind: RelationshipKind
  /** the entity the relationship is seen from */
  readonly from: string
  readonly to: string
  /** N:1 and 1:N: the lookup attribute (on `from` for N:1, on `to` for 1:N) */
  readonly attribute?: string
}

export interface Catalog {
  readonly entities: ReadonlyMap<string, EntityDef>
  readonly relationships: readonly RelationshipDef[]
}

export const attributeOf = (entity: EntityDef, name: string): AttributeDef | undefined =>
  entity.attributes.find(a => a.name === name)

export const allows = (entity: EntityDef, command: OfflineCommand): boolean => entity.commands.includes(command)
