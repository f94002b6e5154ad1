// The types a record's pipeline is driven with (its options, context, origins and command parts) and the
// constants other modules and tests read, apart from the Room class that uses them (room.ts).

import type * as Y from 'yjs'
import type { EntityDef } from '../docs/catalog-types.ts'
import type { RecordState } from '../docs/record.ts'
import type { Change } from '../docs/diff.ts'
import type { RecordOwnership } from '../docs/ownership.ts'
import type { ProjectContext } from '../projection/project.ts'
import type { CommandGrant } from '../projection/decide-changes.ts'
import type { ConflictStrategy } from '../metadata/conflict-strategies.ts'
import type { ReasonCode } from '../protocol/receipts.ts'
import type { QuotaLimits } from './quotas.ts'
import type { Security } from './security.ts'
import type { BusinessRule } from '../metadata/business-rules.ts'
import type { ProcessFlow } from '../metadata/process-flows.ts'
import type { RoomMember, SubmitOutcome } from './room-member.ts'
import type { CostBudgets } from './rate-limit.ts'

/** The principal the server's own writes (compensations, assignments) are bound to. */
export const SERVER_PRINCIPAL = '@server'

/** Transaction origins the server tags its writes with. */
export type Origin =
  | { source: 'device', member: RoomMember }
  | { source: 'storage' }
  | { source: 'projection' }
  /** committed by another server instance (src/server/room-catch-up.ts) */
  | { source: 'peer-instance' }

/** What the command coordinator decided for one part of a multi-record command. */
export type PartDecision =
  | { readonly kind: 'accept', readonly command: CommandGrant }
  | { readonly kind: 'reject', readonly command: string, readonly reason: ReasonCode, readonly message: string }
  /** not decided (another part's record failed): nothing is integrated; the device sends it again */
  | { readonly kind: 'abort' }

/** How a room takes part in a command (src/server/commands.ts). */
export interface CommandGate {
  /** Called when the room's pipeline reaches the part, with nothing else queued before it; the pipeline
   * goes on when the returned promise resolves (every part has arrived: with several instances, the
   * parts then ask for their records' locks in the same turn, so one transaction takes them in one order). */
  arrive (): Promise<void>
  /** Called with the copy caught up with what every instance committed (under the record's lock when
   * there is one); the pipeline waits for the returned decision. */
  decide (): Promise<PartDecision>
  /** The room failed before the part was decided. */
  fail (e: Error): void
}

/** A part of a multi-record command, submitted like an update: `gate` decides it with the other parts. */
export interface CommandPartSubmission {
  readonly kind: 'command-part'
  readonly update: Uint8Array
  readonly gate: CommandGate
}

/** What integrating a command part would do, found on a copy of the document. */
export type PartTrial =
  | { readonly ok: true, readonly before: RecordState, readonly after: RecordState, readonly changes: readonly Change[], readonly denied: { reason: ReasonCode, message: string } | null }
  | { readonly ok: false, readonly reason: ReasonCode, readonly message: string, readonly missing: boolean }

export type Job =
  | { kind: 'state', member: RoomMember, stateVector: Uint8Array }
  /** `gate`: a command part (processed alone, once `gate` has decided it: `decision`) */
  | { kind: 'update', member: RoomMember, update: Uint8Array, settle: (o: SubmitOutcome) => void, gate?: CommandGate, decision?: PartDecision }
  | { kind: 'server', write: (doc: Y.Doc) => void, done: (e?: Error) => void }

export interface RoomOptions {
  /** merge the log into one update once it holds more updates than this: when the record has been quiet
   * for `compactQuietMs`, or at once when it holds COMPACT_BUSY_FACTOR times as many */
  readonly compactAfter: number
  /** how long a record whose log passed `compactAfter` must go without a commit before it is merged (default COMPACT_QUIET_MS) */
  readonly compactQuietMs?: number
  /** the Yjs client id this server writes under in every record (one per start from a shared sequence,
   * when several instances share the store); absent: a fresh one per record */
  readonly serverClient?: number
  /** what one principal may make the server keep in a record (defaults: DEFAULT_LIMITS) */
  readonly limits?: Partial<QuotaLimits>
}

export interface RoomContext {
  readonly entity: EntityDef
  readonly security: Security
  readonly now: () => string
  /** business rules and process flows the projection enforces */
  readonly rules?: readonly BusinessRule[]
  readonly flows?: readonly ProcessFlow[]
  /** the size of attachment content the user uploaded completely */
  readonly blobSize?: (userId: string, hash: string) => number | undefined
  /** set for the document of one secured field of a record (`<entity>/<id>/<attribute>`): the attribute */
  readonly field?: string
  /** the record's values kept outside this document (src/projection/decide-changes.ts `elsewhere`) */
  readonly elsewhere?: () => Readonly<Record<string, unknown>>
  /** for a field's document: the owner of its record now (undefined while the record does not exist) */
  readonly parentOwnership?: () => RecordOwnership | undefined
  readonly ownershipOf?: ProjectContext['ownershipOf']
  /** what updates refused whole may cost each principal, across records (WHOLE_REFUSALS) */
  readonly wholeRefusals?: Pick<CostBudgets, 'allows' | 'charge'>
  /** what answers to state requests may cost each principal, across records (STATE_REPLIES) */
  readonly stateReplies?: Pick<CostBudgets, 'allows' | 'charge'>
  /** same-field conflicts: each field's strategy and the clock skew allowed */
  readonly conflicts?: { readonly strategyOf: (field: string) => ConflictStrategy, readonly maxSkewMs: number }
}

/** Server client ids come from a low range: where Yjs's order decides (meta keys, fields under the `yjs`
 * strategy) it favours the higher client id, so a device's later edit wins over a compensation it had not
 * seen yet. Other scalar fields are decided by their stamps (src/projection/arbitrate.ts). */
export const SERVER_CLIENT_RANGE = 1 << 20

/** A merge costs the whole state's encoding, which grows with the record's history: a record in use is
 * merged once it is quiet, and one that never is, at this many times `compactAfter`. */
export const COMPACT_QUIET_MS = 1000
export const COMPACT_BUSY_FACTOR = 4

/** What one member may have waiting in a record's pipeline (README, "Security"). */
export const MAX_WAITING_PER_PEER = { messages: 16_384, bytes: 16 * 1024 * 1024 }


/** What updates refused whole (content outside the layout) may cost one principal, across every record, in
 * bytes of the records' logs read and applied again: leaving no trace of such an update rebuilds its
 * record's document from storage (tens of ms for a record with a long history). A sender whose budget is
 * spent is closed with 4429 before any of that (before, the rate of refusals per record let one user keep
 * the server busy sending such updates to large records). */
export const WHOLE_REFUSALS = { burstBytes: 8 * 1024 * 1024, bytesPerSecond: 1024 * 1024 }

/** What answers to state requests (sync step 1) may cost one principal, across every record and
 * connection, in bytes encoded: each is what the record has beyond the state vector it names, the whole
 * record for an empty one (a y-websocket client sends one as it connects). A member whose principal's
 * budget is spent is closed with 4429 instead of answered (before, a loop of 4-byte frames made the server
 * encode a large record's whole state for each). */
export const STATE_REPLIES = { burstBytes: 64 * 1024 * 1024, bytesPerSecond: 8 * 1024 * 1024 }

/**
 * Loaded records no one uses, kept for a quick return, at most (README, IDLE_ROOMS_MAX). A loaded record
 * takes ~27 KiB of heap and more with history: a team editing thousands of records in a minute held all of
 * them for the idle delay, hundreds of MB, and the collector's work on that heap ran on the one core.
 */
export const MAX_IDLE_ROOMS = 2000

/**
 * What the loaded records no one uses may take, estimated (README, IDLE_ROOMS_MAX_BYTES): a count alone
 * bounds nothing as records' histories grow (each overwritten map entry stays in a Yjs document as a
 * deleted item), and the hour's soak grew its heap with the history of the records its devices kept
 * editing (bench/team --soak).
 */
export const MAX_IDLE_ROOM_BYTES = 16 * 1024 * 1024

/** A loaded record's heap, estimated from its Yjs structs (measured on accounts: an empty document and
 * its room about 16 KiB, each struct about 220 bytes more; `Room.weight`). */
export const ROOM_BASE_BYTES = 16 * 1024
export const STRUCT_BYTES = 220
