// Builds the entity catalog: the built-in entities plus custom entities declared in JSON, validated.

import { readFileSync } from 'node:fs'
import { ATTRIBUTE_TYPES, type AttributeDef, type AttributeType, type Catalog, type EntityDef, type RelationshipDef } from './catalog-types.ts'
import { BUILT_IN_ENTITIES, BUILT_IN_MANY_TO_MANY, CUSTOM_ENTITY_COMMANDS } from './entities.ts'

export class CatalogError extends Error {
  override name = 'CatalogError'
}

const NAME = /^[a-z][a-z0-9_]{0,63}$/

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Parses and validates the custom entities JSON (`{ "entities": [...], "manyToMany": [...] }`). */
export const parseCustomEntities = (source: string, text: string, known: ReadonlySet<string>): {
  entities: EntityDef[], manyToMany: { name: string, from: string, to: string }[]
} => {
  let root: unknown
  try {
    root = JSON.parse(text)
  } catch (e) {
    throw new CatalogError(`${source}: not valid JSON (${(e as Error).message})`)
  }
  const fail = (where: string, what: string): never => { throw new CatalogError(`${source}: ${where}: ${what}`) }
  if (!isObject(root)) fail('top level', 'expected an object with "entities"')
  const doc = root as Record<string, Json>
  const list = doc.entities ?? []
  if (!Array.isArray(list)) fail('entities', 'expected an array')
  const names = new Set(known)
  const entities: EntityDef[] = []
  const pendingLookups: { where: string, target: string }[] = []
  ;(list as Json[]).forEach((raw, i) => {
    const at = `entities[${i}]`
    if (!isObject(raw)) fail(at, 'expected an object')
    const e = raw as Record<string, Json>
    const name = e.name
    if (typeof name !== 'string' || !NAME.test(name)) fail(`${at}.name`, `expected a lowercase name matching ${NAME}, got ${JSON.stringify(name)}`)
    const ename = name as string
    if (names.has(ename)) fail(`${at}.name`, `duplicate entity name "${ename}"`)
    names.add(ename)
    const label = typeof e.label === 'string' ? e.label : ename
    if (!Array.isArray(e.attributes) || e.attributes.length === 0) fail(`${at}.attributes`, 'expected a non-empty array')
    const attrNames = new Set<string>()
    const attributes = (e.attributes as Json[]).map((rawA, j): AttributeDef => {
      const aat = `${at}.attributes[${j}]`
      if (!isObject(rawA)) fail(aat, 'expected an object')
      const a = rawA as Record<string, Json>
      if (typeof a.name !== 'string' || !NAME.test(a.name)) fail(`${aat}.name`, `expected a lowercase name, got ${JSON.stringify(a.name)}`)
      const aname = a.name as string
      const here = `${aat} (${ename}.${aname})`
      if (attrNames.has(aname)) fail(here, `duplicate attribute name "${aname}"`)
      attrNames.add(aname)
      if (typeof a.type !== 'string' || !ATTRIBUTE_TYPES.includes(a.type as AttributeType)) {
        fail(here, `unknown type ${JSON.stringify(a.type)} (known: ${ATTRIBUTE_TYPES.join(', ')})`)
      }
      const type = a.type as AttributeType
      const def: { -readonly [K in keyof AttributeDef]: AttributeDef[K] } = { name: aname, type, label: typeof a.label === 'string' ? a.label : aname }
      for (const k of ['maxLength', 'min', 'max', 'precision'] as const) {
        if (a[k] === undefined) continue
        if (typeof a[k] !== 'number' || !Number.isFinite(a[k])) fail(here, `${k} must be a number`)
        def[k] = a[k] as number
      }
      if (def.maxLength !== undefined && (!Number.isInteger(def.maxLength) || def.maxLength < 1)) fail(here, 'maxLength must be a positive integer')
      if (type === 'text' && def.maxLength === undefined) def.maxLength = 200
      if (type === 'memo' && def.maxLength === undefined) def.maxLength = 100_000
      if (type === 'optionset') {
        if (!Array.isArray(a.options) || a.options.length === 0) fail(here, 'an optionset needs a non-empty "options" array')
        const seen = new Set<number>()
        def.options = (a.options as Json[]).map((o, k) => {
          if (!isObject(o) || !Number.isInteger(o.value) || typeof o.label !== 'string') fail(`${here}.options[${k}]`, 'expected { "value": integer, "label": string }')
          const v = (o as { value: number }).value
          if (seen.has(v)) fail(`${here}.options[${k}]`, `duplicate option value ${v}`)
          seen.add(v)
          return { value: v, label: (o as { label: string }).label }
        })
      }
      if (type === 'lookup') {
        if (!Array.isArray(a.targets) || a.targets.length === 0 || !a.targets.every(t => typeof t === 'string')) {
          fail(here, 'a lookup needs a non-empty "targets" array of entity names')
        }
        def.targets = a.targets as string[]
        for (const t of def.targets) pendingLookups.push({ where: here, target: t })
      }
      return def
    })
    if (attributes[0].type !== 'text') fail(`${at}.attributes[0]`, 'the first attribute is the primary name and must be of type "text"')
    entities.push({ name: ename, label, primaryName: attributes[0].name, attributes, commands: CUSTOM_ENTITY_COMMANDS, custom: true })
  })
  for (const { where, target } of pendingLookups) {
    if (!names.has(target)) fail(where, `lookup to unknown entity "${target}"`)
  }
  const nn = doc.manyToMany ?? []
  if (!Array.isArray(nn)) fail('manyToMany', 'expected an array')
  const manyToMany = (nn as Json[]).map((r, i) => {
    const at = `manyToMany[${i}]`
    if (!isObject(r) || typeof r.name !== 'string' || typeof r.from !== 'string' || typeof r.to !== 'string') {
      fail(at, 'expected { "name", "from", "to" } strings')
    }
    const rel = r as { name: string, from: string, to: string }
    for (const end of [rel.from, rel.to]) if (!names.has(end)) fail(at, `unknown entity "${end}"`)
    return rel
  })
  return { entities, manyToMany }
}

/** Relationships derived from lookups (N:1 and its inverse 1:N) plus the declared N:N ones. */
const relationshipsOf = (entities: readonly EntityDef[], manyToMany: readonly { name: string, from: string, to: string }[]): RelationshipDef[] => {
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

export const buildCatalog = (custom: { entities: EntityDef[], manyToMany: { name: string, from: string, to: string }[] } = { entities: [], manyToMany: [] }): Catalog => {
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
