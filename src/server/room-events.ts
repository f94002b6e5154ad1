// What a record's pipeline publishes, as typed events (lib0 ObservableV2): the server's wiring (device
// sessions, a record's secured-field documents) and tests listen here rather than through callbacks
// handed to each room.

import type { DocName } from '../ids.ts'
import type { Receipt } from '../protocol/receipts.ts'
import type { ClientBinding } from './storage/port.ts'
import type { RoomMember } from './room-member.ts'

/** A commit that changed the record, after its members were sent it. */
export interface CommittedEvent {
  readonly record: DocName
  /** what the commit appended: every update the batch kept, in order */
  readonly updates: readonly Uint8Array[]
  /** the record's owner or owning business unit changed: its fields' documents check their readers too */
  readonly ownerChanged: boolean
  /** the log position of the commit, and the record's position before it (several instances: a copy
   * applies a published commit only when it holds `prevSeq`) */
  readonly seq?: number
  readonly prevSeq?: number
  /** committed by another server instance (taken in by this one's copy): not published again */
  readonly remote?: boolean
  /** the Yjs client ids the commit bound (other instances' copies take them with the updates) */
  readonly bindings?: readonly ClientBinding[]
  /** the commit's receipts for users other than the writers (conflict entries), which their members on
   * every instance get */
  readonly receipts?: readonly Receipt[]
}

/** What a commit's message between instances carries besides its updates (fan-out.ts). */
export type Published = Pick<CommittedEvent, 'bindings' | 'receipts'>

/** A member closed because its user may no longer read the record. */
export interface EvictedEvent {
  readonly record: DocName
  readonly member: RoomMember
}

/** What the record's presence relayed to its members (an awareness update, y-protocols). */
export interface PresenceEvent {
  readonly record: DocName
  readonly update: Uint8Array
}

/** The record's log was merged into one entry (README, COMPACT_AFTER). */
export interface CompactedEvent {
  readonly record: DocName
}

// A type alias, not an interface: ObservableV2 maps over its keys.
export type RoomEvents = {
  committed: (e: CommittedEvent) => void
  evicted: (e: EvictedEvent) => void
  presence: (e: PresenceEvent) => void
  compacted: (e: CompactedEvent) => void
}
