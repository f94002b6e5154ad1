// The storage port for record documents: an append-only update log per record, with compaction.
// Adapters (SQLite now, PostgreSQL next) all pass test/server/storage.test.ts.

import type { DocName } from '../../ids.ts'

export interface StoredUpdate {
  /** Position in the server-wide log; increases with every append (a changes feed). */
  readonly seq: number
  readonly data: Uint8Array
}

export interface RecordStorage {
  /** Every stored update of a record, oldest first (after compaction, the merged one comes first). */
  load (doc: DocName): Promise<StoredUpdate[]>
  /**
   * Appends one update to a record's log. Resolves with its seq only after the storage commit that
   * contains it has returned: an acknowledged update survives a crash. Appends that arrive close
   * together share one commit.
   */
  append (doc: DocName, update: Uint8Array): Promise<number>
  /** Replaces the record's updates with seq <= throughSeq by `merged`, atomically. */
  compact (doc: DocName, merged: Uint8Array, throughSeq: number): Promise<void>
  /** The names of all stored records, optionally only those of one entity. */
  list (entity?: string): Promise<DocName[]>
  /** Commits what is pending and releases the storage. */
  close (): Promise<void>
}
