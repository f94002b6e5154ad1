// The record log in SQLite (better-sqlite3): WAL, group commit of appends, each group acknowledged once
// the WAL is on disk (synced off the event loop: wal-sync.ts). The
// same tables serve the changes feed (the log read by position) and the receipts committed with the
// updates, so this one adapter implements those three ports; the projection is written through its own
// adapter inside the same transaction.

import type Database from 'better-sqlite3'
import type { SqliteDb } from './sqlite-db.ts'
import type { DocName } from '../../ids.ts'
import type { Receipt } from '../../protocol/receipts.ts'
import { DEFAULT_COMMIT_INTERVAL_MS, type CommitEffects, type CommitResult, type RecordStorage, type StoredRecord } from './port.ts'
import type { ChangesFeed } from './feed-port.ts'
import type { ReceiptStore } from './receipt-port.ts'
import type { SqliteProjection } from './sqlite-projection.ts'
import { WalSync } from './wal-sync.ts'
import { encodePackedUpdates, oneUpdate, statesOf, updatesOf } from './packed-updates.ts'
import { FeedTail, type FeedTailBounds } from './feed-tail.ts'

/** Options of the SQLite log: the feed's tail, and the least time between commits (COMMIT_INTERVAL_MS). */
export interface SqliteLogOptions {
  readonly tail?: FeedTailBounds
  readonly commitIntervalMs?: number
}

interface Pending { doc: DocName, data: Uint8Array | readonly Uint8Array[] | null, effects: CommitEffects, resolve: (r: CommitResult) => void, reject: (e: Error) => void }

export class SqliteRecordStorage implements RecordStorage, ChangesFeed, ReceiptStore {
  private readonly db: SqliteDb
  private readonly projection: SqliteProjection | undefined
  private pending: Pending[] = []
  private scheduled = false
  private closed = false
  private readonly stmt: {
    load: Database.Statement<[string], { seq: number, data: Buffer, parts: number }>
    insert: Database.Statement<[string, Uint8Array]>
    insertPacked: Database.Statement<[string, Uint8Array, number]>
    insertAt: Database.Statement<[number, string, Uint8Array]>
    deleteThrough: Database.Statement<[string, number]>
    deleteBefore: Database.Statement<[string, number]>
    list: Database.Statement<[], { doc: string }>
    listEntity: Database.Statement<[string, string], { doc: string }>
    bindings: Database.Statement<[string], { client: number, principal: string }>
    bind: Database.Statement<[string, number, string]>
    usage: Database.Statement<[string], { principal: string, receipts: number, refusedBytes: number }>
    addUsage: Database.Statement<[string, string, number, number]>
    receipt: Database.Statement<[string, string]>
    receiptsSince: Database.Statement<[string, number, number], { seq: number, data: string }>
    openReceipts: Database.Statement<[string, number], { seq: number, data: string }>
    dismiss: Database.Statement<[string, number]>
    head: Database.Statement<[], { m: number | null }>
    changed: Database.Statement<[number, number], { doc: string, seq: number }>
    since: Database.Statement<[string, number, number], { data: Buffer, parts: number }>
    sinceMany: Database.Statement<[string, number, number], { doc: string, data: Buffer, parts: number }>
    glob: Database.Statement<[string], { doc: string }>
    syncNormal: Database.Statement<[]>
    syncFull: Database.Statement<[]>
  }

  /** `projection`, when given, receives each commit's row in the same transaction. */
  /** syncs the WAL for the group commits (null: a database in memory, committed as FULL says) */
  private readonly wal: WalSync | null

  /** the log's newest entries, which answer the feed's reads of recent positions (this adapter is the log's one writer) */
  private readonly tail: FeedTail

  private readonly commitIntervalMs: number

  constructor (db: SqliteDb, projection?: SqliteProjection, options: SqliteLogOptions = {}) {
    this.db = db
    // (A database in memory has no fsync to share: its commits go at once.)
    this.commitIntervalMs = db.memory ? 0 : options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS
    this.commitAll = db.transaction((batch: readonly Pending[]) => batch.map(p => this.write(p)))
    this.projection = projection
    this.wal = db.memory ? null : new WalSync(db.name)
    db.exec(`
      CREATE TABLE IF NOT EXISTS record_updates (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doc TEXT NOT NULL,
        data BLOB NOT NULL
      );
      CREATE INDEX IF NOT EXISTS record_updates_doc ON record_updates (doc, seq);
      CREATE TABLE IF NOT EXISTS client_bindings (
        doc TEXT NOT NULL, client INTEGER NOT NULL, principal TEXT NOT NULL, PRIMARY KEY (doc, client)
      );
      CREATE TABLE IF NOT EXISTS receipts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, principal TEXT NOT NULL, data TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS receipts_principal ON receipts (principal, seq);
      CREATE TABLE IF NOT EXISTS receipt_dismissals (seq INTEGER PRIMARY KEY, principal TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS principal_usage (
        doc TEXT NOT NULL, principal TEXT NOT NULL, receipts INTEGER NOT NULL, refused_bytes INTEGER NOT NULL, PRIMARY KEY (doc, principal)
      );
    `)
    // A log entry holds one update, or several packed (packed-updates.ts); databases made before hold one each.
    if (!(db.prepare('PRAGMA table_info(record_updates)').all() as { name: string }[]).some(c => c.name === 'parts')) {
      db.exec('ALTER TABLE record_updates ADD COLUMN parts INTEGER NOT NULL DEFAULT 1')
    }
    this.stmt = {
      load: db.prepare('SELECT seq, data, parts FROM record_updates WHERE doc = ? ORDER BY seq'),
      insert: db.prepare('INSERT INTO record_updates (doc, data) VALUES (?, ?)'),
      insertPacked: db.prepare('INSERT INTO record_updates (doc, data, parts) VALUES (?, ?, ?)'),
      insertAt: db.prepare('INSERT INTO record_updates (seq, doc, data) VALUES (?, ?, ?)'),
      deleteThrough: db.prepare('DELETE FROM record_updates WHERE doc = ? AND seq <= ?'),
      deleteBefore: db.prepare('DELETE FROM record_updates WHERE doc = ? AND seq < ?'),
      list: db.prepare('SELECT DISTINCT doc FROM record_updates ORDER BY doc'),
      listEntity: db.prepare('SELECT DISTINCT doc FROM record_updates WHERE doc >= ? AND doc < ? ORDER BY doc'),
      bindings: db.prepare('SELECT client, principal FROM client_bindings WHERE doc = ?'),
      bind: db.prepare('INSERT OR IGNORE INTO client_bindings (doc, client, principal) VALUES (?, ?, ?)'),
      usage: db.prepare('SELECT principal, receipts, refused_bytes AS refusedBytes FROM principal_usage WHERE doc = ?'),
      addUsage: db.prepare(`INSERT INTO principal_usage (doc, principal, receipts, refused_bytes) VALUES (?, ?, ?, ?)
        ON CONFLICT (doc, principal) DO UPDATE SET receipts = receipts + excluded.receipts, refused_bytes = refused_bytes + excluded.refused_bytes`),
      receipt: db.prepare('INSERT INTO receipts (principal, data) VALUES (?, ?)'),
      receiptsSince: db.prepare('SELECT seq, data FROM receipts WHERE principal = ? AND seq > ? ORDER BY seq LIMIT ?'),
      openReceipts: db.prepare('SELECT r.seq, r.data FROM receipts r WHERE r.principal = ? AND NOT EXISTS (SELECT 1 FROM receipt_dismissals d WHERE d.seq = r.seq) ORDER BY r.seq LIMIT ?'),
      // Only the principal's own receipts: the receipt's principal is checked by the select.
      dismiss: db.prepare('INSERT OR IGNORE INTO receipt_dismissals (seq, principal) SELECT seq, principal FROM receipts WHERE principal = ? AND seq = ?'),
      head: db.prepare('SELECT MAX(seq) AS m FROM record_updates'),
      changed: db.prepare('SELECT doc, MAX(seq) AS seq FROM record_updates WHERE seq > ? AND seq <= ? GROUP BY doc'),
      since: db.prepare('SELECT data, parts FROM record_updates WHERE doc = ? AND seq > ? AND seq <= ? ORDER BY seq'),
      sinceMany: db.prepare('SELECT doc, data, parts FROM record_updates WHERE doc IN (SELECT value FROM json_each(?)) AND seq > ? AND seq <= ? ORDER BY doc, seq'),
      glob: db.prepare('SELECT DISTINCT doc FROM record_updates WHERE doc GLOB ?'),
      // (Prepared once: db.pragma prepares its statement on every call, twice a flush.)
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: db.prepare('PRAGMA synchronous = FULL')
    }
    this.tail = new FeedTail(this.stmt.head.get()?.m ?? 0, options.tail)
  }

  async load (doc: DocName): Promise<StoredRecord> {
    return {
      updates: this.stmt.load.all(doc).flatMap(r => updatesOf(r).map(data => ({ seq: r.seq, data }))),
      bindings: this.stmt.bindings.all(doc),
      usage: this.stmt.usage.all(doc)
    }
  }

  append (doc: DocName, update: Uint8Array | readonly Uint8Array[] | null, effects: CommitEffects = {}): Promise<CommitResult> {
    if (this.closed) return Promise.reject(new Error('storage is closed'))
    return new Promise((resolve, reject) => {
      this.pending.push({ doc, data: update, effects, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        // Everything appended during this turn of the event loop goes into one commit (one fsync); under
        // a steady stream of appends, everything appended within the commit interval of the last commit.
        const wait = this.lastFlush + this.commitIntervalMs - performance.now()
        if (wait <= 0) setImmediate(this.flushNow); else setTimeout(this.flushNow, wait)
      }
    })
  }

  /** when the last commit began (performance.now()) */
  private lastFlush = -Infinity
  private readonly flushNow = (): void => { this.flush() }

  private flush (): void {
    this.scheduled = false
    this.lastFlush = performance.now()
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    let results: CommitResult[]
    const commit = (): CommitResult[] => this.commitAll(batch)
    try {
      if (this.wal === null) results = commit()
      else {
        // Committed without waiting for the disk; acknowledged below once the WAL is synced.
        this.stmt.syncNormal.run()
        try { results = commit() } finally { this.stmt.syncFull.run() }
      }
    } catch (e) {
      for (const p of batch) p.reject(e as Error)
      return
    }
    // (Committed: the feed reads it from now on, as it would from the database.)
    batch.forEach((p, i) => { this.remember(p, results[i].seq) })
    if (this.wal === null) { batch.forEach((p, i) => p.resolve(results[i])); return }
    this.wal.durable().then(
      () => batch.forEach((p, i) => p.resolve(results[i])),
      (e: unknown) => { for (const p of batch) p.reject(new Error(`the commit could not be synced to disk: ${(e as Error).message}`)) }
    )
  }

  /** One commit of appended updates (made once: better-sqlite3 builds a transaction's wrappers anew on every call of db.transaction). */
  private readonly commitAll: (batch: readonly Pending[]) => CommitResult[]

  private write (p: Pending): CommitResult {
    let seq = 0
    const { row, receipts = [], bindings = [], usage = [], compacted } = p.effects
    const updates = p.data === null ? [] : p.data instanceof Uint8Array ? [p.data] : p.data
    if (compacted !== undefined && updates.length > 0) {
      seq = Number(this.stmt.insert.run(p.doc, compacted).lastInsertRowid)
      this.stmt.deleteBefore.run(p.doc, seq)
    } else if (updates.length === 1) {
      seq = Number(this.stmt.insert.run(p.doc, updates[0]).lastInsertRowid)
    } else if (updates.length > 1) {
      seq = Number(this.stmt.insertPacked.run(p.doc, encodePackedUpdates(updates), updates.length).lastInsertRowid)
    }
    for (const b of bindings) this.stmt.bind.run(p.doc, b.client, b.principal)
    for (const u of usage) this.stmt.addUsage.run(p.doc, u.principal, u.receipts, u.refusedBytes)
    if (row !== undefined) {
      if (this.projection === undefined) throw new Error('this storage has no projection')
      if (row.partial === true) { if (row.values !== null) this.projection.update(row.entity, row.id, row.values) } else this.projection.write(row.entity, row.id, row.values)
    }
    const stored = receipts.map(r => {
      const { seq: _, ...rest } = r
      return { ...rest, seq: Number(this.stmt.receipt.run(r.principal, JSON.stringify(rest)).lastInsertRowid) }
    })
    return { seq, receipts: stored }
  }

  /** What `write` put in the log for `p` at `seq`, told to the tail. */
  private remember (p: Pending, seq: number): void {
    if (seq === 0 || p.data === null) return
    const { compacted } = p.effects
    if (compacted !== undefined) this.tail.add(seq, p.doc, [compacted], true)
    else this.tail.add(seq, p.doc, p.data instanceof Uint8Array ? [p.data] : p.data)
  }

  /** A principal's receipts after `since`, oldest first. */
  receipts (principal: string, since: number, limit: number): Receipt[] {
    return this.stmt.receiptsSince.all(principal, since, limit).map(r => ({ ...JSON.parse(r.data) as Receipt, seq: r.seq }))
  }

  /** A principal's receipts not dismissed on any of their devices, oldest first (what a new device is offered). */
  openReceipts (principal: string, limit: number): Receipt[] {
    return this.stmt.openReceipts.all(principal, limit).map(r => ({ ...JSON.parse(r.data) as Receipt, seq: r.seq }))
  }

  /** Marks receipts of `principal` as dismissed (the user dealt with them on a device); returns how many were new. */
  dismissReceipts (principal: string, seqs: readonly number[]): number {
    return this.db.transaction(() => seqs.reduce((n, seq) => n + this.stmt.dismiss.run(principal, seq).changes, 0))()
  }

  head (): number {
    return this.tail.head()
  }

  changedSince (cursor: number, upTo: number): Map<DocName, number> {
    if (this.tail.covers(cursor)) return this.tail.changedSince(cursor, upTo)
    return new Map(this.stmt.changed.all(cursor, upTo).map(r => [r.doc as DocName, r.seq]))
  }

  /** Served from the log without loading the record's Y.Doc (recent changes from the tail, in memory). */
  stateSince (doc: DocName, cursor: number, upTo: number): Uint8Array {
    if (cursor > 0 && this.tail.covers(cursor)) return oneUpdate(this.tail.updatesSince(doc, cursor, upTo))
    return oneUpdate(this.stmt.since.all(doc, cursor, upTo).flatMap(updatesOf))
  }

  statesSince (docs: readonly DocName[], cursor: number, upTo: number): Uint8Array[] {
    if (cursor > 0 && this.tail.covers(cursor)) return docs.map(d => oneUpdate(this.tail.updatesSince(d, cursor, upTo)))
    return statesOf(docs, this.stmt.sinceMany.all(JSON.stringify(docs), cursor, upTo))
  }

  fieldDocuments (entity: string, attribute: string): DocName[] {
    return this.stmt.glob.all(`${entity.replace(/[[*?]/g, '')}/*/${attribute.replace(/[[*?]/g, '')}`).map(r => r.doc as DocName)
  }

  async compact (doc: DocName, merged: Uint8Array, throughSeq: number): Promise<void> {
    // One transaction: a crash leaves either the old rows or the merged one, never neither.
    this.db.transaction(() => {
      this.stmt.deleteThrough.run(doc, throughSeq)
      this.stmt.insertAt.run(throughSeq, doc, merged)
    })()
    this.tail.compacted(doc, throughSeq, merged)
  }

  async list (entity?: string): Promise<DocName[]> {
    const rows = entity === undefined ? this.stmt.list.all() : this.stmt.listEntity.all(`${entity}/`, `${entity}0`)
    return rows.map(r => r.doc as DocName)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.flush()
    this.closed = true
    await this.wal?.close()
  }
}
