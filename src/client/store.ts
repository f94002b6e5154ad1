// The device's local store port: record updates (synced and pending), a field index for listing
// without opening documents, the rejected-changes inbox and the sync cursor. Adapters: SQLite (Node)
// and IndexedDB (browser), both one database for every record.

import type { Receipt } from '../protocol/receipts.ts'

export interface LocalMeta {
  readonly deviceId: string
  /** the server's changes-feed position this device has fully received */
  readonly cursor: number
  /** the privilege version of `metadata` */
  readonly privilegeVersion: number
  /** the last metadata the server sent (JSON), or null before the first sync */
  readonly metadata: string | null
  /** the device has every receipt through this seq (set by full cycles; discarding an item does not lower it) */
  readonly receiptSeq: number
  /** receipts (seqs) dismissed in the inbox that the server has not been told of yet */
  readonly dismissals?: readonly number[]
}

/** A local edit that is part of a command over several records: its parts are sent, and decided, together. */
export interface PendingCommand { readonly group: string, readonly name: string, readonly target: string }

export interface PendingUpdate { readonly id: number, readonly record: string, readonly update: Uint8Array, readonly command?: PendingCommand }

export interface IndexedRecord { readonly record: string, readonly entity: string, readonly values: Readonly<Record<string, unknown>> }

/** An inbox entry the device made itself: a record left its scope with unsynced edits (`evicted`), or the
 * server refused a note's attachment content for good (`upload-refused`). */
export interface LocalReceipt {
  readonly record: string
  readonly reason: 'evicted' | 'upload-refused'
  readonly message: string
  readonly field: null
  readonly attempted: unknown
  readonly kept: null
}

export interface InboxItem {
  readonly id: number
  /** the receipt from the server, or a local one */
  readonly receipt: Receipt | LocalReceipt
  /** the server's value when it arrived */
  readonly serverValue: unknown
  readonly at: string
}

export interface LocalStore {
  meta (): Promise<LocalMeta | undefined>
  /** `lazy`: may be held back like put (a live cycle's cursor: lost in a crash, the device receives those changes again) */
  setMeta (m: LocalMeta, lazy?: boolean): Promise<void>
  records (): Promise<string[]>
  /** every update of a record: from the server and local, oldest first */
  load (record: string): Promise<Uint8Array[]>
  /** stores an update that came from the server, and (when given; null: none) the record's index entry
   * after it, in one write. What the server sent may be held back a little to be committed with more
   * (see commit) */
  put (record: string, update: Uint8Array, entry?: IndexedRecord | null): Promise<void>
  /** stores the first state of a record new to this device, with its index entry (one write where the
   * store can: an initial sync is thousands of these); may be held back like put. Receives made one after
   * another may share one promise: it settles once all of them are committed, and rejects if one failed */
  receive (record: string, update: Uint8Array, entry: IndexedRecord | null): Promise<void>
  /** commits every write made so far now (a sync cycle's end, which waits for its writes) */
  commit (): Promise<void>
  /** stores a local edit (a part of `command`, if given), returning its id; it stays pending until acknowledged */
  addPending (record: string, update: Uint8Array, command?: PendingCommand): Promise<number>
  pending (): Promise<PendingUpdate[]>
  /** how many local edits are pending, without reading them (the sync status shows it after every edit and acknowledgement) */
  pendingCount (): Promise<number>
  /** the server has the edit: it is no longer pending. May be held back like put (lost in a crash, the edit goes
   * out again, and the server, which has it, acknowledges it again) */
  acknowledge (id: number): Promise<void>
  /** drops a record and its pending edits (eviction) */
  remove (record: string): Promise<void>
  setIndex (record: string, entry: IndexedRecord | null): Promise<void>
  index (entity: string): Promise<IndexedRecord[]>
  addInbox (item: Omit<InboxItem, 'id'>): Promise<number>
  inbox (): Promise<InboxItem[]>
  removeInbox (id: number): Promise<void>
  /** stores attachment content by its sha-256 hash; `pending` until uploaded. A note may point only at
   * content its author uploaded, so attaching marks content pending again even when it was downloaded
   * (or uploaded before: the server then answers at once that this user's copy is complete); a
   * download never clears `pending`. */
  putBlob (hash: string, data: Uint8Array, pending: boolean): Promise<void>
  blob (hash: string): Promise<Uint8Array | undefined>
  /** hashes of the blobs not uploaded yet, oldest first */
  pendingBlobs (): Promise<string[]>
  blobUploaded (hash: string): Promise<void>
  /**
   * Holds one of this store's writer slots (0 to `slots` - 1) for as long as the store is open, against
   * every other opener of the same data (another tab, another process), or null when all are held. A
   * holder that dies (a closed tab, kill -9) lets go of its slot. A slot comes with the Yjs client ids
   * kept for it, unless the store may have lost writes its previous holder made (then they are forgotten).
   * Claiming again gives the slot already held. See src/client/writer-id.ts for why.
   */
  claimWriterSlot (slots: number): Promise<number | null>
  /** the Yjs client id kept for `user` in `slot` (the caller holds the slot) */
  writerId (slot: number, user: string): Promise<number | undefined>
  /** keeps `id` for `user` in `slot`, replacing any; committed (not held back) when it resolves */
  setWriterId (slot: number, user: string, id: number): Promise<void>
  /** forgets every kept id among `ids`, whatever its slot and user (their holders get fresh ids next time);
   * committed when it resolves */
  forgetWriterIds (ids: readonly number[]): Promise<void>
  /** commits what is queued and lets go of the writer slot */
  close (): Promise<void>
  /** closes the store and deletes everything it holds (sign-out); a store opened again under the same name is empty */
  destroy (): Promise<void>
}
