// A room member that records what the room tells it, for tests and benchmarks that drive the record
// pipeline through its typed API (no socket).

import type { CloseCodeValue } from '../src/protocol/codes.ts'
import type { Receipt } from '../src/protocol/receipts.ts'
import type { RoomMember, UpdateReason } from '../src/server/room-member.ts'

/** One call the room made, in order. */
export type MemberEvent =
  | { readonly kind: 'update', readonly update: Uint8Array, readonly why: UpdateReason }
  | { readonly kind: 'need-state', readonly stateVector: Uint8Array }
  | { readonly kind: 'receipts', readonly list: readonly Receipt[] }
  | { readonly kind: 'presence', readonly update: Uint8Array }
  | { readonly kind: 'close', readonly code: CloseCodeValue, readonly reason: string }

export interface RecordingMember extends RoomMember {
  readonly events: MemberEvent[]
}

/** `events`: where the calls go (several members may share one list); `keep: false` records nothing. */
export const recordingMember = (principal: string, opts: { device?: string, delivered?: number, events?: MemberEvent[], keep?: boolean } = {}): RecordingMember => {
  const events = opts.events ?? []
  const keep = opts.keep ?? true
  const add = (e: MemberEvent): void => { if (keep) events.push(e) }
  return {
    principal,
    delivered: opts.delivered,
    ...(opts.device === undefined ? {} : { device: opts.device }),
    events,
    update: (update, why) => add({ kind: 'update', update, why }),
    needState: stateVector => add({ kind: 'need-state', stateVector }),
    receipts: list => add({ kind: 'receipts', list }),
    presence: update => add({ kind: 'presence', update }),
    close: (code, reason) => add({ kind: 'close', code, reason })
  }
}
