// Who owns a record: a user or a team (`ownerid`), and the business unit the record is in, which is the
// owner's (`owningbusinessunit`). That is all a privilege decision needs to know about a record; it is
// read here from a projected row or from a record's metadata.

import { principalRef } from '../ids.ts'
import type { Row } from './row.ts'

export interface RecordOwnership {
  /** `<entity>/<id>` */
  readonly name: string
  /** `systemuser/<id>` or `team/<id>` */
  readonly ownerid: string
  readonly owningbusinessunit: string
}

export type Owner = Omit<RecordOwnership, 'name'>

/** The owner of what a user creates: the user, in the user's business unit. */
export const userOwned = (userId: string, businessUnitId: string): Owner =>
  ({ ownerid: principalRef('systemuser', userId), owningbusinessunit: businessUnitId })

/** The ownership a record's projected row holds. */
export const rowOwnership = (name: string, row: Row): RecordOwnership =>
  ({ name, ownerid: String(row.ownerid), owningbusinessunit: String(row.owningbusinessunit) })

/** The ownership a record's metadata holds (`meta` reads a key of it), or null while it has none. */
export const metaOwnership = (name: string, meta: (key: 'ownerid' | 'owningbusinessunit') => unknown): RecordOwnership | null => {
  const ownerid = meta('ownerid')
  const owningbusinessunit = meta('owningbusinessunit')
  return typeof ownerid === 'string' && typeof owningbusinessunit === 'string' ? { name, ownerid, owningbusinessunit } : null
}
