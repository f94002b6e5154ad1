// Receipts: one for every change the server dropped, with a stable reason code (README, "Receipts").

import type { Change } from '../docs/diff.ts'

/** Why a change was dropped. Stable strings: devices and integrations match on them. */
export const Reason = {
  entityReadOnly: 'entity-read-only',
  commandNotOffline: 'command-not-offline',
  fieldReadOnly: 'field-read-only',
  fieldSecured: 'field-secured',
  noCreatePrivilege: 'no-create-privilege',
  noWritePrivilege: 'no-write-privilege',
  noDeletePrivilege: 'no-delete-privilege',
  noAssignPrivilege: 'no-assign-privilege',
  privilegeRevoked: 'privilege-revoked',
  invalidValue: 'invalid-value',
  foreignClientId: 'foreign-client-id',
  businessRule: 'business-rule',
  relationshipReadOnly: 'relationship-read-only',
  /** a part of a command that was rejected as a whole because another part was not allowed */
  commandRejected: 'command-rejected',
  /** a limit on what the server keeps in this record: the user's refusals there (receipts, refused bytes,
   * client ids), or the record's notes (README, "Security") */
  quotaExceeded: 'quota-exceeded',
  /** a conflict entry: the user's value of a field lost to a concurrent write (README, "Conflicts") */
  superseded: 'superseded'
} as const
export type ReasonCode = typeof Reason[keyof typeof Reason]

/** `device` of a receipt for the user rather than one device (a conflict entry about a value of theirs): every device of theirs gets it. */
export const EVERY_DEVICE = '*'

export interface Receipt {
  /** position in the server's receipt log (assigned when stored) */
  readonly seq?: number
  /** the user whose change was dropped */
  readonly principal: string
  /** the device whose change it was (set by the server for changes from a /device session; absent for a
   * plain /sync socket or HTTP): its inbox gets the receipt */
  readonly device?: string
  /** `<entity>/<id>` */
  readonly record: string
  /** the kind of change (`field-set`, `text-edited`, `created`, …; `update` for a refused update) */
  readonly change: Change['kind'] | 'update' | 'command'
  readonly field: string | null
  readonly attempted: unknown
  readonly kept: unknown
  readonly reason: ReasonCode
  readonly message: string
  readonly privilegeVersion: number
  readonly at: string
  /** for `superseded`: who wrote the value that stands and when, and when the user's own value was written */
  readonly conflict?: { readonly by: string | null, readonly at: string, readonly editedAt: string }
  /** set when the receipt was too large to keep whole: its strings (`attempted`, `kept`, `field`,
   * `message`) keep their start only (the server's MAX_RECEIPT_BYTES) */
  readonly truncated?: true
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** What the user tried, of their own: a note edit's attempted value is the whole note as the edit left it,
 * and what the edit did not change (the text, attachment and author of someone else's note) is the record's. */
const ownAttempt = (r: Receipt): unknown => {
  if (r.change !== 'note-edited' || !isObject(r.attempted)) return r.attempted
  const old = isObject(r.kept) ? r.kept : {}
  return Object.fromEntries(Object.entries(r.attempted).filter(([k, v]) => !Object.hasOwn(old, k) || old[k] !== v))
}

/**
 * A receipt without what stood in its record: `kept`, a conflict's author, and a `superseded` entry's
 * message (which names the value that stands). The user's own `attempted` value (of a note edit: the keys
 * it changed), the reason and the times stay. The server serves a receipt so once its user may no longer
 * read the record or the field; a device keeps its inbox entries so once the record leaves it.
 */
export const withheldReceipt = (r: Receipt): Receipt => ({
  ...r,
  attempted: ownAttempt(r),
  kept: null,
  ...(r.reason === Reason.superseded ? { message: `your change to ${r.field ?? 'this record'} did not stand; what stands in ${r.record} is not shown here (you no longer hold it)` } : {}),
  ...(r.conflict === undefined ? {} : { conflict: { ...r.conflict, by: null } })
})

