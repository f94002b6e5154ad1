// The activity pointer on the device (src/docs/activity-pointer.ts): its listing is the held activities
// of the device's activity entities, each as `activitypointer/<id>` with its `activitytypecode`; a
// delete through it deletes the activity, refused up front as a delete of that activity would be.

import { activityEntities, pointerRecord, pointerValues } from '../docs/activity-pointer.ts'
import type { EntityDef } from '../docs/catalog-types.ts'
import { parseDocName } from '../ids.ts'
import { Reason } from '../protocol/receipts.ts'
import { checkCommand, OfflineRefusal, type DeviceMetadata } from './offline-rules.ts'
import type { IndexedRecord } from './store.ts'

type IndexOf = (entity: string) => Promise<readonly IndexedRecord[]>

/** The pointer's index: every held activity of the device's activity entities (only what it may read reaches it). */
export const pointerIndex = async (meta: DeviceMetadata, pointer: EntityDef, indexOf: IndexOf): Promise<IndexedRecord[]> => {
  const out: IndexedRecord[] = []
  for (const a of activityEntities(meta.entities)) {
    for (const r of await indexOf(a.name)) out.push({ record: pointerRecord(r.record), entity: pointer.name, values: { ...pointerValues(pointer, a.name, r.values), activityid: r.record } })
  }
  return out
}

/**
 * The activity a delete through the pointer deletes (`activitypointer/<id>` → `<entity>/<id>`), checked
 * as a delete of that activity: its entity must allow delete offline (email is read-only offline, so an
 * email is not deleted through the pointer either) and the user must hold its delete privilege.
 */
export const activityToDelete = async (meta: DeviceMetadata, record: string, indexOf: IndexOf): Promise<{ record: string, def: EntityDef }> => {
  const id = parseDocName(record)?.id
  for (const a of activityEntities(meta.entities)) {
    const found = (await indexOf(a.name)).find(r => parseDocName(r.record)?.id === id)
    if (found !== undefined) return { record: found.record, def: checkCommand(meta, a.name, 'delete') }
  }
  throw new OfflineRefusal(Reason.invalidValue, `${record} is no activity on this device`)
}
