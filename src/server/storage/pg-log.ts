// The record log in PostgreSQL, shared by every server instance: one writer per record at a time
// (pg_advisory_xact_lock on the record, held from catch-up to commit: RecordLocks), and feed numbers from
// a one-row counter taken in the committing transaction, so they follow commit order (a reader of the
// feed never skips a row committed later under a lower number). The same tables serve the changes feed
// and the receipts; the projection's row is written in the same transaction.

import * as Y from 'yjs'
import type { DocName } from '../../ids.ts'
import type { Receipt } from '../../protocol/receipts.ts'
import type { CatchUp, CommitEffects, CommitResult, RecordLocks, RecordStorage, StoredRecord } from './port.ts'
import type { ChangesFeed } from './feed-port.ts'
import type { ReceiptStore } from './receipt-port.ts'
import type { PgProjection } from './pg-projection.ts'
import { bytesOf, type PgClient, type PgPool } from './pg-db.ts'
import { decodePackedUpdates, encodePackedUpdates } from './packed-updates.ts'

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

const updatesOf = (r: { data: Buffer, parts: number }): Uint8Array[] => {
  const bytes = bytesOf(r.data)
  return r.parts === 1 ? [bytes] : decodePackedUpdates(bytes, r.parts)
}

const listOf = (data: Uint8Array | readonly Uint8Array[] | null): readonly Uint8Array[] =>
  data === null ? [] : data instanceof Uint8Array ? [data] : data

/** The advisory lock key of a record: 64 bits of a hash of its name (hashtextextended). */
const LOCK = 'SELECT pg_advisory_xact_lock(hashtextextended($1, 7146))'

export class PgRecordStorage implements RecordStorage, ChangesFeed, ReceiptStore, RecordLocks {
  private readonly pool: PgPool
  private readonly projection: PgProjection | undefined
  private pending: Pending[] = []
  private scheduled = false
  private flushing: Promise<void> = Promise.resolve()
  private closed = false
  /** records whose write lock this instance holds: the transaction holding it */
  private readonly held = new Map<DocName, PgClient>()
  readonly locks: RecordLocks = this

  /** The tables must exist (logMigrations, run by openPgStores). `projection` receives each commit's row. */
  constructor (pool: PgPool, projection?: PgProjection) {
    this.pool = pool
    this.projection = projection
  }

  async load (doc: DocName): Promise<StoredRecord> {
    const [log, bindings, usage] = await Promise.all([
      this.pool.query<LogRow>('SELECT seq, data, parts FROM record_updates WHERE doc = $1 ORDER BY seq', [doc]),
      this.pool.query<{ client: number, principal: string }>('SELECT client, principal FROM client_bindings WHERE doc = $1', [doc]),
      this.pool.query<{ principal: string, receipts: number, refusedBytes: number }>('SELECT principal, receipts, refused_bytes AS "refusedBytes" FROM principal_usage WHERE doc = $1', [doc])
    ])
    return { updates: log.rows.flatMap(r => updatesOf(r).map(data => ({ seq: r.seq, data }))), bindings: bindings.rows, usage: usage.rows }
  }

  /** Takes the record's write lock (a transaction that holds it) and reads what was committed after `afterSeq`. */
  async lock (doc: DocName, afterSeq: number): Promise<CatchUp> {
    if (this.held.has(doc)) throw new Error(`the write lock of ${doc} is held already`)
    const c = await this.pool.connect()
    try {
      await c.query('BEGIN')
      // The lock, and (read under it) the newest privilege version: a decision is made under the current one.
      const { v } = (await c.query<{ v: number | null }>(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7146))::text AS l,
        (SELECT MAX(version) FROM security_models) AS v`, [doc])).rows[0]
      const log = await c.query<LogRow>('SELECT seq, data, parts FROM record_updates WHERE doc = $1 AND seq > $2 ORDER BY seq', [doc, afterSeq])
      // Bindings change only with updates: none to read when nothing was committed since.
      const bindings = log.rows.length === 0 ? [] : (await c.query<{ client: number, principal: string }>('SELECT client, principal FROM client_bindings WHERE doc = $1', [doc])).rows
      // Usage changes with commits that append nothing too (an update refused whole): read every time.
      const usage = (await c.query<{ principal: string, receipts: number, refusedBytes: number }>('SELECT principal, receipts, refused_bytes AS "refusedBytes" FROM principal_usage WHERE doc = $1', [doc])).rows
      this.held.set(doc, c)
      return { updates: log.rows.flatMap(r => updatesOf(r).map(data => ({ seq: r.seq, data }))), bindings, securityVersion: v ?? 0, usage }
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      c.release()
      throw e
    }
  }

  /** Ends the lock's transaction (committing what was written under it: a compaction) if still held. */
  async release (doc: DocName): Promise<void> {
    const c = this.held.get(doc)
    if (c === undefined) return
    this.held.delete(doc)
    try {
      await c.query('COMMIT')
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      c.release()
    }
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
    const held = this.held.get(doc)
    if (held !== undefined) {
      // The record's writer: its transaction, holding the lock since the catch-up, commits this.
      this.held.delete(doc)
      return (async () => {
        try {
          const [r] = await this.write(held, [{ doc, data: update, effects }])
          await held.query('COMMIT')
          return r
        } catch (e) {
          await held.query('ROLLBACK').catch(() => {})
          throw e
        } finally {
          held.release()
        }
      })()
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ doc, data: update, effects, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        // Everything appended during this turn goes into one transaction (one WAL flush).
        setImmediate(() => { this.flushing = this.flush() })
      }
    })
  }

  private async flush (): Promise<void> {
    this.scheduled = false
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    const c = await this.pool.connect().catch((e: Error) => { for (const p of batch) p.reject(e); return null })
    if (c === null) return
    let results: CommitResult[]
    try {
      await c.query('BEGIN')
      // Each record's lock, in one order (no two such transactions wait for each other).
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended(d, 7146)) FROM (SELECT DISTINCT d FROM unnest($1::text[]) d ORDER BY d) x', [batch.map(p => p.doc)])
      results = await this.write(c, batch)
      await c.query('COMMIT')
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      for (const p of batch) p.reject(e as Error)
      return
    } finally {
      c.release()
    }
    batch.forEach((p, i) => p.resolve(results[i]))
  }

  /** Writes appends in `c`'s transaction; the counter row is taken last, so it is held only until the commit. */
  private async write (c: PgClient, batch: readonly Pick<Pending, 'doc' | 'data' | 'effects'>[]): Promise<CommitResult[]> {
    for (const p of batch) {
      const { row, bindings = [], usage = [] } = p.effects
      if (bindings.length > 0) {
        await c.query('INSERT INTO client_bindings (doc, client, principal) SELECT $1, * FROM unnest($2::bigint[], $3::text[]) ON CONFLICT DO NOTHING',
          [p.doc, bindings.map(b => b.client), bindings.map(b => b.principal)])
      }
      for (const u of usage) {
        await c.query(`INSERT INTO principal_usage (doc, principal, receipts, refused_bytes) VALUES ($1, $2, $3, $4)
          ON CONFLICT (doc, principal) DO UPDATE SET receipts = principal_usage.receipts + excluded.receipts, refused_bytes = principal_usage.refused_bytes + excluded.refused_bytes`,
        [p.doc, u.principal, u.receipts, u.refusedBytes])
      }
      if (row !== undefined) {
        if (this.projection === undefined) throw new Error('this storage has no projection')
        if (row.partial === true) { if (row.values !== null) await this.projection.update(c, row.entity, row.id, row.values) } else await this.projection.write(c, row.entity, row.id, row.values)
      }
    }
    const entries = batch.filter(p => listOf(p.data).length > 0).length
    const receiptCount = batch.reduce((n, p) => n + (p.effects.receipts?.length ?? 0), 0)
    let feed = 0
    let receipt = 0
    if (entries > 0 || receiptCount > 0) {
      const r = (await c.query<{ feed: number, receipt: number }>('UPDATE fs_counters SET feed = feed + $1, receipt = receipt + $2 WHERE id = 1 RETURNING feed, receipt', [entries, receiptCount])).rows[0]
      feed = r.feed - entries
      receipt = r.receipt - receiptCount
    }
    const results: CommitResult[] = []
    /** log entries, inserted together: seq, doc, data, parts */
    const rows: [number[], string[], Uint8Array[], number[]] = [[], [], [], []]
    const entry = (seq: number, doc: string, data: Uint8Array, parts: number): void => { rows[0].push(seq); rows[1].push(doc); rows[2].push(data); rows[3].push(parts) }
    for (const p of batch) {
      const updates = listOf(p.data)
      let seq = 0
      if (updates.length > 0) {
        seq = ++feed
        const { compacted } = p.effects
        if (compacted !== undefined) {
          await c.query('DELETE FROM record_updates WHERE doc = $1', [p.doc])
          // an earlier entry of this batch for the record is in the merged state too
          for (let i = rows[1].length - 1; i >= 0; i--) if (rows[1][i] === p.doc) for (const r of rows) r.splice(i, 1)
          entry(seq, p.doc, compacted, 1)
        } else if (updates.length === 1) {
          entry(seq, p.doc, updates[0], 1)
        } else {
          entry(seq, p.doc, encodePackedUpdates(updates), updates.length)
        }
      }
      const stored = (p.effects.receipts ?? []).map(r => {
        const { seq: _, ...rest } = r
        return { ...rest, seq: ++receipt }
      })
      if (stored.length > 0) {
        await c.query('INSERT INTO receipts (seq, principal, data) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])',
          [stored.map(r => r.seq), stored.map(r => r.principal), stored.map(({ seq: _, ...rest }) => JSON.stringify(rest))])
      }
      results.push({ seq, receipts: stored })
    }
    if (rows[0].length > 0) {
      await c.query('INSERT INTO record_updates (seq, doc, data, parts) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::int[])',
        [rows[0], rows[1], rows[2].map(d => Buffer.from(d.buffer, d.byteOffset, d.byteLength)), rows[3]])
    }
    return results
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
    return parts.length === 1 ? parts[0] : Y.mergeUpdates(parts)
  }

  async statesSince (docs: readonly DocName[], cursor: number, upTo: number): Promise<Uint8Array[]> {
    const r = await this.pool.query<{ doc: string, data: Buffer, parts: number }>('SELECT doc, data, parts FROM record_updates WHERE doc = ANY($1) AND seq > $2 AND seq <= $3 ORDER BY doc, seq', [docs, cursor, upTo])
    const parts = new Map<string, Uint8Array[]>()
    for (const row of r.rows) {
      const list = parts.get(row.doc)
      if (list === undefined) parts.set(row.doc, updatesOf(row)); else list.push(...updatesOf(row))
    }
    return docs.map(d => { const p = parts.get(d) ?? []; return p.length === 1 ? p[0] : Y.mergeUpdates(p) })
  }

  async fieldDocuments (entity: string, attribute: string): Promise<DocName[]> {
    const esc = (s: string): string => s.replace(/[\\%_]/g, m => `\\${m}`)
    const r = await this.pool.query<{ doc: string }>(`SELECT DISTINCT doc FROM record_updates WHERE doc LIKE $1 ESCAPE '\\'`, [`${esc(entity)}/%/${esc(attribute)}`])
    return r.rows.map(x => x.doc as DocName)
  }

  async compact (doc: DocName, merged: Uint8Array, throughSeq: number): Promise<void> {
    const held = this.held.get(doc)
    const run = async (c: PgClient): Promise<void> => {
      await c.query('DELETE FROM record_updates WHERE doc = $1 AND seq <= $2', [doc, throughSeq])
      await c.query('INSERT INTO record_updates (seq, doc, data) VALUES ($1, $2, $3)', [throughSeq, doc, merged])
    }
    // Under the record's lock: in its transaction, which commits here (as an append's does), so the
    // compaction is stored once this resolves (the room announces it then); otherwise one of its own.
    const own = held === undefined
    if (!own) this.held.delete(doc)
    const c = held ?? await this.pool.connect()
    try {
      if (own) {
        await c.query('BEGIN')
        await c.query(LOCK, [doc])
      }
      await run(c)
      await c.query('COMMIT')
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      c.release()
    }
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
    for (const doc of [...this.held.keys()]) await this.release(doc)
    this.closed = true
  }
}
