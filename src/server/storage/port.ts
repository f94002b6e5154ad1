// The record log port: record documents: an append-only update log per record with compaction, and
// what is committed together with an update (its projected row, receipts, client-id bindings).
// Adapters (SQLite now, PostgreSQL next) all pass test/server/storage-suite.ts.

import type { DocName } from '../../ids.ts'
import type { Receipt } from '../../protocol/receipts.ts'
import type { Row } from '../../projection/rows.ts'

export interface StoredUpdate {
  /** Position in the server-wide log; increases with every append (a changes feed). */
  readonly seq: number
  readonly data: Uint8Array
}

/** A Yjs client id bound to the principal that first wrote with it in a record. */
export interface ClientBinding { readonly client: number, readonly principal: string }

/** What one principal made the server keep in a record (bounded: README, "Security"). */
export interface PrincipalUsage {
  readonly principal: string
  /** receipts stored for this principal about this record */
  readonly receipts: number
  /** bytes of integrated updates of this principal that had a part refused */
  readonly refusedBytes: number
}

export interface StoredRecord {
  readonly updates: StoredUpdate[]
  readonly bindings: ClientBinding[]
  /** per principal; absent principals have used nothing */
  readonly usage: PrincipalUsage[]
}

/** What commits atomically with an update. */
export interface CommitEffects {
  /** the record's projected row after the update; null removes it; absent leaves it. Columns absent
   * from `values` keep what they hold (secured fields are written by their own documents); with
   * `partial` only an existing row's given columns are set (a secured field's document). */
  readonly row?: { readonly entity: string, readonly id: string, readonly values: Row | null, readonly partial?: boolean }
  readonly receipts?: readonly Receipt[]
  readonly bindings?: readonly ClientBinding[]
  /** usage to add (deltas) */
  readonly usage?: readonly PrincipalUsage[]
  /** the record's whole state once the appended updates are in (its log merged): stored as the
   * record's one log entry in place of its earlier entries and of the appended updates — a compaction
   * in the same commit (the same fsync); the result's seq is that entry's */
  readonly compacted?: Uint8Array
}

export interface CommitResult {
  /** the update's seq (0 when the commit carried effects only) */
  readonly seq: number
  /** the receipts as stored, with their seq */
  readonly receipts: Receipt[]
}

/** What was committed to a record after a position (by another server instance), and its bindings. */
export interface CatchUp {
  readonly updates: StoredUpdate[]
  /** the record's bindings (all of them; none when nothing was committed after the position asked for) */
  readonly bindings: ClientBinding[]
  /** the newest security-model version saved, read in the same transaction (when the store keeps it) */
  readonly securityVersion?: number
  /** what each principal has the record keep, read under the lock: every instance's commits counted, so a
   * principal's quotas hold across instances (principals absent have used nothing) */
  readonly usage?: PrincipalUsage[]
}

/**
 * One writer per record among server instances that share a store (PostgreSQL). A store that one process
 * alone writes (SQLite) has none: its records' pipelines are their only writers.
 */
export interface RecordLocks {
  /** Waits for the record's write lock and answers what was committed after `afterSeq` (the caller takes
   * it in before deciding), the record's bindings if anything was committed after `bindingsAfter` (default
   * `afterSeq`: a copy that took in published updates reads their bindings here before it decides), and
   * each principal's usage of the record. Held until the holder's next `append` or `compact` of the record
   * has committed, or `release`. */
  lock (doc: DocName, afterSeq: number, bindingsAfter?: number): Promise<CatchUp>
  /** Ends the lock if still held (nothing was written under it: an append or a compaction commits its own);
   * resolves once it has ended. */
  release (doc: DocName): Promise<void>
  /** What was committed after `afterSeq`, without the lock (a copy that fell behind catches up). */
  since (doc: DocName, afterSeq: number): Promise<CatchUp>
  /** Each record's newest log position (records with none are left out): copies behind it catch up. */
  positions (docs: readonly DocName[]): Promise<Map<DocName, number>>
}

export interface RecordStorage {
  /** present when other processes write the same store (RecordLocks) */
  readonly locks?: RecordLocks
  /** Every stored update of a record, oldest first (after compaction the merged one comes first; updates appended together share their entry's seq), and its bindings. */
  load (doc: DocName): Promise<StoredRecord>
  /**
   * Appends an update, or several in order (one log entry, committed together; `load` gives them back
   * one by one, with that entry's seq; merging them would cost more than storing them), and their effects
   * to a record's log; null or none commits the effects alone. Resolves only after the storage commit that contains it has returned: an
   * acknowledged update survives a crash. Appends that arrive close together share one commit.
   * The result's seq is that of the last update appended.
   */
  append (doc: DocName, update: Uint8Array | readonly Uint8Array[] | null, effects?: CommitEffects): Promise<CommitResult>
  /** Replaces the record's updates with seq <= throughSeq by `merged`, atomically. */
  compact (doc: DocName, merged: Uint8Array, throughSeq: number): Promise<void>
  /** The names of all stored records, optionally only those of one entity. */
  list (entity?: string): Promise<DocName[]>
  /** Commits what is pending and releases the storage. */
  close (): Promise<void>
}

/**
 * A log adapter that groups commits (SQLite): the least time between two commits while appends keep coming
 * (one alone is committed at once; README, COMMIT_INTERVAL_MS). With a team editing, appends arrive a few
 * ms apart and each turn's commit was a transaction and an fsync of its own (an fsync costs about 0.1 ms of
 * the server's core in the kernel). Acknowledgements wait at most this much longer.
 */
export const DEFAULT_COMMIT_INTERVAL_MS = 4
