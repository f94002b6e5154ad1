// What a user is shown of their stored receipts now. A receipt keeps the value that stood in the record
// (`kept`; in a same-field conflict, who wrote it and a message naming it): once the user may no longer
// read the record, or that field, those are withheld. Losing read access stops every byte of the record
// to that user (DESIGN, "The trust boundary"): the inbox a new device is offered and GET /receipts too.
// The user's own attempted value (of a note edit: what it changed), the reason and the time stay: the
// intent is not lost.

import { fieldPermission, mayAccess, type ModelIndex } from '../authz/decide.ts'
import type { RecordOwnership } from '../docs/ownership.ts'
import { parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import { withheldReceipt, type Receipt } from '../protocol/receipts.ts'

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
    return readable ? r : withheldReceipt(r)
  })
}
