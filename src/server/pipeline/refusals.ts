// What a batch of the record pipeline keeps for refusals and conflict entries, within each principal's
// quota and refusal rate (src/server/quotas.ts): past either, the sender is told once and closed.

import { CloseCode } from '../../protocol/codes.ts'
import { Reason, type Receipt, type ReasonCode } from '../../protocol/receipts.ts'
import { boundReceipt, type RecordQuotas } from '../quotas.ts'
import type { RoomMember } from '../room-member.ts'
import type { Batch } from './batch.ts'

/** The record's quotas, and how it words a receipt for the whole of a refused update. */
export interface RefusalScope {
  readonly quotas: RecordQuotas
  whole (principal: string, reason: ReasonCode, message: string, field?: string | null): Receipt
}

/** Counts what `principal` makes the record keep, in the quotas and in the usage the batch commits. */
export const count = (quotas: RecordQuotas, batch: Batch, principal: string, kept: { receipts?: number, refusedBytes?: number }): void => {
  quotas.add(principal, kept)
  const u = batch.usage.get(principal) ?? { receipts: 0, refusedBytes: 0 }
  u.receipts += kept.receipts ?? 0
  u.refusedBytes += kept.refusedBytes ?? 0
  batch.usage.set(principal, u)
}

/** The sender passed a bound: it is told once (if its receipts allow) and it is closed. */
export const overQuota = (s: RefusalScope, batch: Batch, member: RoomMember, why: string): void => {
  if (s.quotas.mayNotify(member.principal)) {
    batch.receipts.push({ member, receipt: boundReceipt(s.whole(member.principal, Reason.quotaExceeded, `${why}; this update was not kept`)) })
    count(s.quotas, batch, member.principal, { receipts: 1 })
  }
  batch.closes.push({ member, code: CloseCode.quotaExceeded, reason: why.slice(0, 120) })
}

/** Queues receipts for `member` within its principal's receipt quota (past it: one quota receipt, the
 * member is closed, and false). */
export const addReceipts = (s: RefusalScope, batch: Batch, member: RoomMember, receipts: readonly Receipt[]): boolean => {
  if (receipts.length === 0) return true
  const principal = member.principal
  const over = s.quotas.exceeded(principal, { receipts: receipts.length })
  if (over !== null) {
    overQuota(s, batch, member, over)
    return false
  }
  for (const r of receipts) batch.receipts.push({ member, receipt: boundReceipt(r) })
  count(s.quotas, batch, principal, { receipts: receipts.length })
  return true
}

/** One refusal from the sender's rate; past it the member is closed (4429) and false. */
export const takeRefusal = (quotas: RecordQuotas, batch: Batch, member: RoomMember): boolean => {
  if (quotas.takeRefusal(member.principal)) return true
  batch.closes.push({ member, code: CloseCode.rateLimited, reason: 'too many refused updates' })
  return false
}

/**
 * Conflict entries of an update of `sender`'s: the sender's own go to its member, another user's to all of
 * theirs. They are not refusals (no rate), but they count as receipts the record keeps for that user: past
 * the user's quota they are not kept (the write itself is), so that nobody's conflicts, whoever causes
 * them, put a user over the quota that would close their next update. An entry shows the value that won:
 * none for a user who may no longer read the record (`mayRead`).
 */
export const keepConflicts = (quotas: RecordQuotas, batch: Batch, sender: RoomMember, conflicts: readonly Receipt[], mayRead: (principal: string) => boolean): void => {
  for (const c of conflicts) {
    if (quotas.exceeded(c.principal, { receipts: 1 }) !== null) continue
    if (c.principal !== sender.principal && !mayRead(c.principal)) continue
    batch.receipts.push({ member: c.principal === sender.principal ? sender : null, receipt: boundReceipt(c) })
    count(quotas, batch, c.principal, { receipts: 1 })
  }
}
