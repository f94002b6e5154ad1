// The record log in PostgreSQL, shared by every server instance: one writer per record at a time
// (pg_advisory_xact_lock on the record, held from catch-up to commit: RecordLocks, taken in groups by
// pg-lock-groups.ts), and feed numbers from a one-row counter taken in the committing transaction, so they
// follow commit order (a reader of the feed never skips a row committed later under a lower number). The
// same tables serve the changes feed and the receipts; the projection's row is written in the same
// transaction (pg-log-writes.ts).

import type { DocName } from '../../ids.ts'
import type { Receipt } from '../../protocol/receipts.ts'
import type { CatchUp, CommitEffects, CommitResult, RecordLocks, RecordStorage, StoredRecord } from './port.ts'
import type { ChangesFeed } from './feed-port.ts'
import type { ReceiptStore } from './receipt-port.ts'
import type { PgProjection } from './pg-projection.ts'
import { prepared, type PgPool } from './pg-db.ts'
import { oneUpdate, statesOf, updatesOf } from './packed-updates.ts'
import { writeLog } from './pg-log-writes.ts'
import { LOCK_ALL, LockGroups } from './pg-lock-groups.ts'

/** The statements that bring the log's tables up to date (idempotent). */
export const logMigrations: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS fs_counters (id INTEGER PRIMARY KEY CHECK (id = 1), feed BIGINT NOT NULL, receipt BIGINT NOT NULL)`,
  // (not ON CONFLICT: that would wait for a commit holding the row)
  `INSERT INTO fs_counters (id, feed, receipt) SELECT 1, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM fs_counters)`,
  `CREATE TABLE IF NOT EXISTS record_updates (seq BIGINT PRIMARY KEY, doc TEXT COLLATE "C" NOT NULL, data BYTEA NOT NULL, parts INTEGER NOT NULL DEFAULT 1)`,
  `CREATE INDEX IF NOT EXISTS record_updates_doc ON record_updates (doc, seq)`,
  `CREATE TABLE IF NOT EXISTS client_bindings (doc TEXT COLLATE "C" NOT NULL, client BIGINT NOT NULL, principal TEXT NOT NULL, PRIMARY KEY (doc, client))`,
  `CREATE TABLE IF NOT EXISTS receipts (seq BIGINT PRIMARY KEY, principal TEXT NOT NULL, data TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS receipts_principal ON receipts (principal, seq)`,
  `CREATE TABLE IF NOT EXISTS receipt_dismissals (seq BIGINT PRIMARY KEY, principal TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS principal_usage (doc TEXT NOT NULL, principal TEXT NOT NULL, receipts BIGINT NOT NULL, refused_bytes BIGINT NOT NULL, PRIMARY KEY (doc, principal))`,
  // Server Yjs client ids: one per instance start (README, "More than one instance").
  `CREATE SEQUENCE IF NOT EXISTS server_client_ids MINVALUE 1 MAXVALUE 1048575 NO CYCLE`
]

interface Pending { doc: DocName, data: Uint8Array | readonly Uint8Array[] | null, effects: CommitEffects, resolve: (r: CommitResult) => void, reject: (e: Error) => void }

type LogRow = { seq: number, data: Buffer, parts: number }

export class PgRecordStorage implements RecordStorage, ChangesFeed, ReceiptStore, RecordLocks {
  private readonly pool: PgPool
  /** where commits run (a pipelined pool sends each commit's statements in one round trip) */
  private readonly commitPool: PgPool
  private readonly projection: PgProjection | undefined
  private pending: Pending[] = []
  private scheduled = false
  private flushing: Promise<void> = Promise.resolve()
  private closed = false
  /** the records' write locks, taken in groups */
  readonly groups: LockGroups
  readonly locks: RecordLocks = this

  /** The tables must exist (logMigrations, run by openPgStores). `projection` receives each commit's row;
   * `commitPool` (default `pool`) runs the commits. */
  constructor (pool: PgPool, projection?: PgProjection, commitPool: PgPool = pool) {
    this.pool = pool
    this.commitPool = commitPool
    this.projection = projection
    this.groups = new LockGroups(commitPool, projection)
  }

  async load (doc: DocName): Promise<StoredRecord> {
    const [log, bindings, usage] = await Promise.all([
      this.pool.query<LogRow>('SELECT seq, data, parts FROM record_updates WHERE doc = $1 ORDER BY seq', [doc]),
      this.pool.query<{ client: number, principal: string }>('SELECT client, principal FROM client_bindings WHERE doc = $1', [doc]),
      this.pool.query<{ principal: string, receipts: number, refusedBytes: number }>('SELECT principal, receipts, refused_bytes AS "refusedBytes" FROM principal_usage WHERE doc = $1', [doc])
    ])
    return { updates: log.rows.flatMap(r => updatesOf(r).map(data => ({ seq: r.seq, data }))), bindings: bindings.rows, usage: usage.rows }
  }

  /** Takes the record's write lock (in a transaction with the locks of other records asked for meanwhile)
   * and reads what was committed after `afterSeq`. */
  lock (doc: DocName, afterSeq: number, bindingsAfter = afterSeq): Promise<CatchUp> {
    if (this.closed) return Promise.reject(new Error('storage is closed'))
    return this.groups.lock(doc, afterSeq, bindingsAfter)
  }

  /** Ends the record's part in its lock's transaction (what was written under it without an append, a
   * compaction, commits with it); resolves once that transaction has ended. */
  release (doc: DocName): Promise<void> {
    return this.groups.release(doc)
  }

  /** What others committed to the record after `afterSeq`, without the lock (a copy that fell behind). */
  async since (doc: DocName, afterSeq: number): Promise<CatchUp> {
    const [log, bindings] = await Promise.all([
      this.pool.query<LogRow>('SELECT seq, data, parts FROM record_updates WHERE doc = $1 AND seq > $2 ORDER BY seq', [doc, afterSeq]),
      this.pool.query<{ client: number, principal: string }>('SELECT client, principal FROM client_bindings WHERE doc = $1', [doc])
    ])
    return { updates: log.rows.flatMap(r => updatesOf(r).map(data => ({ seq: r.seq, data }))), bindings: bindings.rows }
  }

  async positions (docs: readonly DocName[]): Promise<Map<DocName, number>> {
    if (docs.length === 0) return new Map()
    const r = await this.pool.query<{ doc: string, seq: number }>('SELECT doc, MAX(seq) AS seq FROM record_updates WHERE doc = ANY($1::text[]) GROUP BY doc', [docs])
    return new Map(r.rows.map(x => [x.doc as DocName, x.seq]))
  }

  /** A server Yjs client id no instance has written under (one per start). */
  async nextServerClient (): Promise<number> {
    return (await this.pool.query<{ n: number }>(`SELECT nextval('server_client_ids') AS n`)).rows[0].n
  }

  append (doc: DocName, update: Uint8Array | readonly Uint8Array[] | null, effects: CommitEffects = {}): Promise<CommitResult> {
    if (this.closed) return Promise.reject(new Error('storage is closed'))
    // The record's writer: its group's transaction, holding the lock since the catch-up, commits this.
    if (this.groups.holds(doc)) return this.groups.append(doc, { doc, data: update, effects })
    return new Promise((resolve, reject) => {
      this.pending.push({ doc, data: update, effects, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        // Everything appended during this turn goes into one transaction (one WAL flush).
        setImmediate(() => { this.flushing = this.flush() })
      }
    })
  }

  /** Appends made without the record's lock: taken here, for all of them, in one transaction. */
  private async flush (): Promise<void> {
    this.scheduled = false
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    const c = await this.commitPool.connect().catch((e: Error) => { for (const p of batch) p.reject(e); return null })
    if (c === null) return
    let results: CommitResult[]
    try {
      await c.query('BEGIN')
      // Each record's lock, in one order (no two such transactions wait for each other).
      await c.query(prepared(LOCK_ALL, [batch.map(p => p.doc)]))
      results = await writeLog(c, batch, this.projection, true)
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      c.release(e as Error)
      for (const p of batch) p.reject(e as Error)
      return
    }
    c.release()
    batch.forEach((p, i) => p.resolve(results[i]))
  }

  async receipts (principal: string, since: number, limit: number): Promise<Receipt[]> {
    const r = await this.pool.query<{ seq: number, data: string }>('SELECT seq, data FROM receipts WHERE principal = $1 AND seq > $2 ORDER BY seq LIMIT $3', [principal, since, limit])
    return r.rows.map(x => ({ ...JSON.parse(x.data) as Receipt, seq: x.seq }))
  }

  async openReceipts (principal: string, limit: number): Promise<Receipt[]> {
    const r = await this.pool.query<{ seq: number, data: string }>(`SELECT r.seq, r.data FROM receipts r WHERE r.principal = $1
      AND NOT EXISTS (SELECT 1 FROM receipt_dismissals d WHERE d.seq = r.seq) ORDER BY r.seq LIMIT $2`, [principal, limit])
    return r.rows.map(x => ({ ...JSON.parse(x.data) as Receipt, seq: x.seq }))
  }

  async dismissReceipts (principal: string, seqs: readonly number[]): Promise<number> {
    if (seqs.length === 0) return 0
    // Only the principal's own receipts: the receipt's principal is checked by the select.
    const r = await this.pool.query(`INSERT INTO receipt_dismissals (seq, principal) SELECT seq, principal FROM receipts
      WHERE principal = $1 AND seq = ANY($2::bigint[]) ON CONFLICT DO NOTHING`, [principal, [...new Set(seqs)]])
    return r.rowCount ?? 0
  }

  async head (): Promise<number> {
    return (await this.pool.query<{ m: number | null }>('SELECT MAX(seq) AS m FROM record_updates')).rows[0].m ?? 0
  }

  async changedSince (cursor: number, upTo: number): Promise<Map<DocName, number>> {
    const r = await this.pool.query<{ doc: string, seq: number }>('SELECT doc, MAX(seq) AS seq FROM record_updates WHERE seq > $1 AND seq <= $2 GROUP BY doc', [cursor, upTo])
    return new Map(r.rows.map(x => [x.doc as DocName, x.seq]))
  }

  async stateSince (doc: DocName, cursor: number, upTo: number): Promise<Uint8Array> {
    const r = await this.pool.query<{ data: Buffer, parts: number }>('SELECT data, parts FROM record_updates WHERE doc = $1 AND seq > $2 AND seq <= $3 ORDER BY seq', [doc, cursor, upTo])
    const parts = r.rows.flatMap(updatesOf)
    return oneUpdate(parts)
  }

  async statesSince (docs: readonly DocName[], cursor: number, upTo: number): Promise<Uint8Array[]> {
    const r = await this.pool.query<{ doc: string, data: Buffer, parts: number }>('SELECT doc, data, parts FROM record_updates WHERE doc = ANY($1) AND seq > $2 AND seq <= $3 ORDER BY doc, seq', [docs, cursor, upTo])
    return statesOf(docs, r.rows)
  }

  async fieldDocuments (entity: string, attribute: string): Promise<DocName[]> {
    const esc = (s: string): string => s.replace(/[\\%_]/g, m => `\\${m}`)
    const r = await this.pool.query<{ doc: string }>(`SELECT DISTINCT doc FROM record_updates WHERE doc LIKE $1 ESCAPE '\\'`, [`${esc(entity)}/%/${esc(attribute)}`])
    return r.rows.map(x => x.doc as DocName)
  }

  async compact (doc: DocName, merged: Uint8Array, throughSeq: number): Promise<void> {
    const write = { doc, data: null, effects: {}, merge: { merged, throughSeq } }
    // Under the record's lock: in its group's commit (this ends its part in it); otherwise a transaction of its own.
    if (this.groups.holds(doc)) { await this.groups.append(doc, write); return }
    const c = await this.commitPool.connect()
    try {
      await c.query('BEGIN')
      await c.query(prepared(LOCK_ALL, [[doc]]))
      await writeLog(c, [write], this.projection, true)
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      c.release(e as Error)
      throw e
    }
    c.release()
  }

  async list (entity?: string): Promise<DocName[]> {
    const r = entity === undefined
      ? await this.pool.query<{ doc: string }>('SELECT DISTINCT doc FROM record_updates ORDER BY doc')
      : await this.pool.query<{ doc: string }>('SELECT DISTINCT doc FROM record_updates WHERE doc >= $1 AND doc < $2 ORDER BY doc', [`${entity}/`, `${entity}0`])
    return r.rows.map(x => x.doc as DocName)
  }

  /** Commits what is queued. The pool is the caller's (openPgStores closes it). */
  async close (): Promise<void> {
    if (this.closed) return
    await this.flushing
    await this.flush()
    await this.groups.close()
    this.closed = true
  }
}
