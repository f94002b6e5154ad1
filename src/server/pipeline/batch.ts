// What one batch of the record pipeline produces between its steps: decided (and integrated) in order,
// committed together, then published in order. Plain data, so that each step is tested on its own.

import type { Receipt } from '../../protocol/receipts.ts'
import type { CloseCodeValue } from '../../protocol/codes.ts'
import type { ClientBinding } from '../storage/port.ts'
import type { RoomMember } from '../room-member.ts'

/** What one member alone gets (what a refused update's sender needs to converge). */
export type Direct =
  /** the update that undoes the member's copy of its refused update */
  | { readonly kind: 'revert', readonly update: Uint8Array }
  /** the record lacks what the member's update depends on: ask for its state (the record's state vector, read when published) */
  | { readonly kind: 'need-state' }

export interface Batch {
  /** updates to keep, in order; `member` is the author (null: the server), `echo` sends it to the author too */
  readonly accepted: { member: RoomMember | null, update: Uint8Array, echo: boolean }[]
  /** `member` null: a receipt for a user other than the sender, for every member of theirs and every device */
  readonly receipts: { member: RoomMember | null, receipt: Receipt }[]
  readonly bindings: ClientBinding[]
  readonly usage: Map<string, { receipts: number, refusedBytes: number }>
  /** what one member alone gets, after `accepted[at - 1]` */
  readonly direct: { member: RoomMember, message: Direct, at: number }[]
  /** members to close once the batch is committed */
  readonly closes: { member: RoomMember, code: CloseCodeValue, reason: string }[]
}

export const newBatch = (): Batch => ({ accepted: [], receipts: [], bindings: [], usage: new Map(), direct: [], closes: [] })
