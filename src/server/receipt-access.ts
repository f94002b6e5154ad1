// What a user is shown of their stored receipts now. A receipt keeps the value that stood in the record
// (`kept`; in a same-field conflict, who wrote it and a message naming it): once the user may no longer
// read the record, or that field, those are withheld. Losing read access stops every byte of the record
// to that user (DESIGN, "The trust boundary"): the inbox a new device is offered and GET /receipts too.
// The user's own attempted value (of a note edit: what it changed), the reason and the time stay: the
// intent is not lost.

import { fieldPermission, mayAccess, type ModelIndex } from '../authz/decide.ts'
import type { RecordOwnership } from '../docs/ownership.ts'
import { parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import { Reason, type Receipt } from '../protocol/receipts.ts'

/** `ownershipOf`: a record's owner now (undefined: no such record any more, which nobody reads). */
export const readableReceipts = (receipts: readonly Receipt[], userId: string, ix: ModelIndex, ownershipOf: (record: DocName) => RecordOwnership | undefined): Receipt[] => {
  // (A cycle's receipts are mostly of a few records: each record's access is decided once.)
  const records = new Map<string, boolean>()
  const mayRead = (record: string): boolean => {
    let ok = records.get(record)
    if (ok === undefined) {
      const parsed = parseDocName(record)
      const owner = parsed === null ? undefined : ownershipOf(record as DocName)
      ok = parsed !== null && owner !== undefined && mayAccess(ix, userId, 'read', parsed.entity, owner).allowed
      records.set(record, ok)
    }
    return ok
  }
  return receipts.map(r => {
    // A secured field's own document names its record and field.
    const fieldDoc = parseFieldDocName(r.record)
    const record = fieldDoc?.record ?? r.record
    const field = fieldDoc?.attribute ?? r.field
    const entity = fieldDoc?.entity ?? parseDocName(r.record)?.entity
    const readable = mayRead(record) && (field === null || entity === undefined || fieldPermission(ix, userId, entity, field).read)
    return readable ? r : withheld(r)
  })
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** What the user tried, of their own: a note edit's attempted value is the whole note as the edit left it,
 * and what the edit did not change (the text, attachment and author of someone else's note) is the record's. */
const ownAttempt = (r: Receipt): unknown => {
  if (r.change !== 'note-edited' || !isObject(r.attempted)) return r.attempted
  const old = isObject(r.kept) ? r.kept : {}
  return Object.fromEntries(Object.entries(r.attempted).filter(([k, v]) => !Object.hasOwn(old, k) || old[k] !== v))
}

const withheld = (r: Receipt): Receipt => ({
  ...r,
  attempted: ownAttempt(r),
  kept: null,
  // A conflict's message names the value that stands and its author; others name the user's own values.
  ...(r.reason === Reason.superseded ? { message: `your change to ${r.field ?? 'this record'} did not stand; you may no longer read ${r.record}, so what stands there is not shown` } : {}),
  ...(r.conflict === undefined ? {} : { conflict: { ...r.conflict, by: null } })
})
