// The activity pointer (DESIGN.md: "activity pointer: read, delete"): not an entity with records of its
// own but the view over every activity entity's records (phone call, task, appointment, email). Record
// `activitypointer/<id>` is the activity with the same id; `activitytypecode` names its entity. Reading
// through it needs read on that entity, deleting through it deletes that activity and needs what a
// delete of that activity needs (its offline commands, its delete privilege); create and update are not
// offline commands of the pointer. Pure.

import type { Catalog, EntityDef } from './catalog-types.ts'
import { LISTED_SYSTEM_FIELDS } from './system-fields.ts'

export const ACTIVITY_POINTER = 'activitypointer'

export const isPointer = (e: EntityDef | undefined): boolean => e?.pointer === true

/** The activity entities among `entities` (what a pointer shows), in catalog order. */
export const activityEntities = (entities: Iterable<EntityDef>): EntityDef[] => [...entities].filter(e => e.activity === true)

/** The pointer entities of a catalog that cover at least one of `entities` (the pointer comes with its activities). */
export const pointersFor = (catalog: Catalog, entities: readonly EntityDef[]): EntityDef[] =>
  activityEntities(entities).length === 0 ? [] : [...catalog.entities.values()].filter(isPointer).filter(p => !entities.includes(p))

/** The pointer's values of an activity of `entity`: the attributes the pointer has, and its type. */
export const pointerValues = (pointer: EntityDef, entity: string, values: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const k of LISTED_SYSTEM_FIELDS) if (values[k] !== undefined) out[k] = values[k]
  for (const a of pointer.attributes) if (values[a.name] !== undefined) out[a.name] = values[a.name]
  out.activitytypecode = entity
  return out
}

/** `activitypointer/<id>` for the activity `<entity>/<id>`. */
export const pointerRecord = (activity: string): string => `${ACTIVITY_POINTER}/${activity.slice(activity.indexOf('/') + 1)}`
