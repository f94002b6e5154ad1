// Step 4 of the record pipeline, after the commit: the batch's closes, then its updates and what single
// members need to converge, in order, then its receipts. (Who may no longer read the record is closed
// before this runs: see Room.)

import type { Receipt } from '../../protocol/receipts.ts'
import type { RoomMember } from '../room-member.ts'
import type { Batch } from './batch.ts'

/** `receipts`: the batch's receipts as committed (index for index); `stateVector`: the record's now. */
export const publish = (batch: Batch, receipts: readonly Receipt[], members: ReadonlySet<RoomMember>, stateVector: () => Uint8Array): void => {
  for (const c of batch.closes) c.member.close(c.code, c.reason)
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
  receipts.forEach((r, i) => {
    const member = batch.receipts[i].member
    if (member === null) {
      for (const m of members) if (m.principal === r.principal) m.receipts([r])
    } else if (members.has(member)) member.receipts([r])
  })
}
