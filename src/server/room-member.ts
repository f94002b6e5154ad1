// The record pipeline's typed API towards one connection: what a room tells a member. The /sync and
// /device adapters implement it, each in its own wire format; the room speaks neither.

import type { CloseCodeValue } from '../protocol/codes.ts'
import type { Receipt } from '../protocol/receipts.ts'

/** Why a member gets an update: `published` (committed, sent to every member), `reply` (what a state
 * request lacked), `revert` (for this member alone: undoes its own copy of a refused update). */
export type UpdateReason = 'published' | 'reply' | 'revert'

/** A connection taking part in one record, as the room sees it. */
export interface RoomMember {
  /** the user id the connection authenticated as */
  readonly principal: string
  /** the privilege version the device last received (for `privilege-revoked`) */
  readonly delivered: number | undefined
  /** the device (its id from /device hello) the member's changes come from; absent for a plain /sync socket */
  readonly device?: string
  update (update: Uint8Array, why: UpdateReason): void
  /** The record lacks what the member's update depends on: the member sends what it has beyond `stateVector`. */
  needState (stateVector: Uint8Array): void
  /** receipts about this member's changes, or (conflict entries) about its user's values */
  receipts (list: readonly Receipt[]): void
  /** an awareness update (y-protocols) of the record's presence */
  presence (awarenessUpdate: Uint8Array): void
  close (code: CloseCodeValue, reason: string): void
}

/** What became of one submitted update, once it is committed (or could not be). */
export type SubmitOutcome =
  /** decided and committed: kept whole, kept in part (`receipts` for the rest) or refused without a trace */
  | { readonly kind: 'committed', readonly receipts: readonly Receipt[] }
  /** nothing kept: the record lacks what the update depends on (`needState` was called) */
  | { readonly kind: 'needs-state' }
  /** not decided: the member was closed (`close` was called) or had left */
  | { readonly kind: 'dropped' }
  /** the record failed (storage, or a document that could not take an update): reconnect and send again */
  | { readonly kind: 'failed' }
