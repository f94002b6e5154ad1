// Keeps every secured field's value in the field's own document (`<entity>/<id>/<attribute>`), synced
// only to those who may read it, and nowhere in the record's document: values found in a record's
// document are moved out with their stamps (and its log merged, so no earlier row keeps them), and a
// field no longer secured is moved back. Runs when the server starts and whenever the secured fields change.

import * as Y from 'yjs'
import type { Catalog, EntityDef } from '../docs/catalog-types.ts'
import { CLOCKS, FIELDS, memoText, replaceText } from '../docs/record.ts'
import { fieldDocName, parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import type { RecordStorage } from './storage/port.ts'
import type { Rooms } from './rooms.ts'
import type { Security } from './security.ts'

const SETTING = 'secured-fields-placed'

type Value = string | number | boolean

const valueIn = (doc: Y.Doc, entity: EntityDef, attribute: string): Value | undefined => {
  if (entity.attributes.find(a => a.name === attribute)?.type === 'memo') {
    const t = doc.share.has(`memo:${attribute}`) ? memoText(doc, attribute).toString() : ''
    return t === '' ? undefined : t
  }
  return doc.share.has(FIELDS) ? doc.getMap<Value>(FIELDS).get(attribute) : undefined
}

/** The value's stamp (README, "Conflicts"): it says who wrote the value and when, so it moves with it. */
const stampIn = (doc: Y.Doc, attribute: string): string | undefined => doc.share.has(CLOCKS) ? doc.getMap<string>(CLOCKS).get(attribute) : undefined

const writeValue = (doc: Y.Doc, entity: EntityDef, attribute: string, value: Value | undefined, stamp: string | undefined): void => {
  if (entity.attributes.find(a => a.name === attribute)?.type === 'memo') replaceText(memoText(doc, attribute), typeof value === 'string' ? value : '')
  else if (value === undefined) doc.getMap(FIELDS).delete(attribute)
  else doc.getMap(FIELDS).set(attribute, value)
  if (stamp === undefined) { if (stampIn(doc, attribute) !== undefined) doc.getMap(CLOCKS).delete(attribute) } else doc.getMap<string>(CLOCKS).set(attribute, stamp)
}

/** Moves one value from the document `from` to `to` (server writes), then merges `from`'s log. */
const move = async (rooms: Rooms, entity: EntityDef, attribute: string, from: DocName, to: DocName): Promise<boolean> => {
  const source = rooms.get(from)
  const target = rooms.get(to)
  try {
    await Promise.all([source.ready, target.ready])
    const value = valueIn(source.doc, entity, attribute)
    const stamp = stampIn(source.doc, attribute)
    if (value === undefined && stamp === undefined) return false
    if (value !== undefined && valueIn(target.doc, entity, attribute) === undefined) await target.write(doc => writeValue(doc, entity, attribute, value, stamp))
    await source.write(doc => writeValue(doc, entity, attribute, undefined, undefined))
    await source.compactNow()
    return true
  } finally {
    rooms.released(from)
    rooms.released(to)
  }
}

const placedKey = (security: Security): string => JSON.stringify([...security.model.securedFields].sort())

/**
 * Records that every value is where the current secured fields want it, without looking: for storage
 * written with no secured field's value in any record's document (a benchmark's seeding), so that the
 * server's start does not load every record to find nothing to move.
 */
export const markSecuredValuesPlaced = (security: Security): void => { security.setSetting(SETTING, placedKey(security)) }

/**
 * Puts every secured field's value in its own document and every other value in its record's document.
 * Skipped when the secured fields are those it last placed. Returns how many values moved.
 */
export const placeSecuredValues = async (rooms: Rooms, storage: RecordStorage, catalog: Catalog, security: Security): Promise<number> => {
  const secured = [...security.model.securedFields].sort()
  const key = placedKey(security)
  if (security.setting(SETTING) === key) return 0
  const isSecured = new Set(secured)
  let moved = 0
  for (const entity of catalog.entities.values()) {
    const mine = entity.attributes.filter(a => isSecured.has(`${entity.name}.${a.name}`)).map(a => a.name)
    for (const name of await storage.list(entity.name)) {
      const field = parseFieldDocName(name)
      if (field !== null) {
        if (!isSecured.has(`${entity.name}.${field.attribute}`) && await move(rooms, entity, field.attribute, name, field.record)) moved++
        continue
      }
      if (parseDocName(name) === null) continue
      for (const attribute of mine) if (await move(rooms, entity, attribute, name, fieldDocName(name, attribute))) moved++
    }
  }
  security.setSetting(SETTING, key)
  return moved
}
