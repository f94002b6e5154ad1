// Step 4 of the record pipeline, after the commit: the batch's closes, then its updates and what single
// members need to converge, in order, then its receipts. (Who may no longer read the record is closed
// before this runs: see Room.)

import type { Receipt } from '../../protocol/receipts.ts'
import type { RoomMember } from '../room-member.ts'
import type { Batch } from './batch.ts'

/**
 * `receipts`: the batch's receipts as committed (index for index); `stateVector`: the record's now;
 * `merged`: the batch's kept updates as one (commit.ts), sent in their place when nothing for a single
 * member goes between them.
 */
export const publish = (batch: Batch, receipts: readonly Receipt[], members: ReadonlySet<RoomMember>, stateVector: () => Uint8Array, merged?: Uint8Array): void => {
  for (const c of batch.closes) c.member.close(c.code, c.reason)
  if (merged !== undefined && batch.accepted.length > 1 && batch.direct.length === 0) {
    // One frame per member for the batch. Its authors get it too (Yjs takes in nothing twice), unless the
    // batch has one author only and nothing of its own to see (no compensation, no other writer's update).
    const sole = soleAuthor(batch)
    for (const m of members) if (m !== sole) m.update(merged, 'published')
    sendReceipts(batch, receipts, members)
    return
  }
  let direct = 0
  const sendDirect = (upTo: number): void => {
    while (direct < batch.direct.length && batch.direct[direct].at <= upTo) {
      const { member, message } = batch.direct[direct++]
      if (!members.has(member)) continue
      if (message.kind === 'revert') member.update(message.update, 'revert')
      else member.needState(stateVector())
    }
  }
  batch.accepted.forEach((a, i) => {
    sendDirect(i)
    for (const m of members) if (m !== a.member || a.echo) m.update(a.update, 'published')
  })
  sendDirect(Number.POSITIVE_INFINITY)
  sendReceipts(batch, receipts, members)
}

/** The one member who wrote every kept update of the batch, none of them echoed; else undefined. */
const soleAuthor = (batch: Batch): RoomMember | undefined => {
  const first = batch.accepted[0].member
  if (first === null) return undefined
  for (const a of batch.accepted) if (a.member !== first || a.echo) return undefined
  return first
}

const sendReceipts = (batch: Batch, receipts: readonly Receipt[], members: ReadonlySet<RoomMember>): void => {
  receipts.forEach((r, i) => {
    const member = batch.receipts[i].member
    if (member === null) {
      for (const m of members) if (m.principal === r.principal) m.receipts([r])
    } else if (members.has(member)) member.receipts([r])
  })
}
