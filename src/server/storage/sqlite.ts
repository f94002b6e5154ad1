// SQLite storage (better-sqlite3): WAL with synchronous=FULL, group commit of appends.

import Database from 'better-sqlite3'
import type { DocName } from '../../ids.ts'
import type { RecordStorage, StoredUpdate } from './port.ts'

export type SqliteDb = Database.Database

/** Opens (creating if needed) the database file with durable settings. */
export const openSqlite = (file: string): SqliteDb => {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  // FULL: a commit has been fsynced when it returns, so what was acknowledged survives power loss.
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  return db
}

interface Pending { doc: DocName, data: Uint8Array, resolve: (seq: number) => void, reject: (e: Error) => void }

export class SqliteRecordStorage implements RecordStorage {
  private readonly db: SqliteDb
  private pending: Pending[] = []
  private scheduled = false
  private closed = false
  private readonly stmt: {
    load: Database.Statement<[string], { seq: number, data: Buffer }>
    insert: Database.Statement<[string, Uint8Array]>
    insertAt: Database.Statement<[number, string, Uint8Array]>
    deleteThrough: Database.Statement<[string, number]>
    list: Database.Statement<[], { doc: string }>
    listEntity: Database.Statement<[string, string], { doc: string }>
  }

  constructor (db: SqliteDb) {
    this.db = db
    db.exec(`
      CREATE TABLE IF NOT EXISTS record_updates (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doc TEXT NOT NULL,
        data BLOB NOT NULL
      );
      CREATE INDEX IF NOT EXISTS record_updates_doc ON record_updates (doc, seq);
    `)
    this.stmt = {
      load: db.prepare('SELECT seq, data FROM record_updates WHERE doc = ? ORDER BY seq'),
      insert: db.prepare('INSERT INTO record_updates (doc, data) VALUES (?, ?)'),
      insertAt: db.prepare('INSERT INTO record_updates (seq, doc, data) VALUES (?, ?, ?)'),
      deleteThrough: db.prepare('DELETE FROM record_updates WHERE doc = ? AND seq <= ?'),
      list: db.prepare('SELECT DISTINCT doc FROM record_updates ORDER BY doc'),
      listEntity: db.prepare('SELECT DISTINCT doc FROM record_updates WHERE doc >= ? AND doc < ? ORDER BY doc')
    }
  }

  async load (doc: DocName): Promise<StoredUpdate[]> {
    return this.stmt.load.all(doc).map(r => ({ seq: r.seq, data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength) }))
  }

  append (doc: DocName, update: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Error('storage is closed'))
    return new Promise((resolve, reject) => {
      this.pending.push({ doc, data: update, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        // Everything appended during this turn of the event loop goes into one commit (one fsync).
        setImmediate(() => this.flush())
      }
    })
  }

  private flush (): void {
    this.scheduled = false
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    let seqs: number[]
    try {
      seqs = this.db.transaction(() => batch.map(p => Number(this.stmt.insert.run(p.doc, p.data).lastInsertRowid)))()
    } catch (e) {
      for (const p of batch) p.reject(e as Error)
      return
    }
    batch.forEach((p, i) => p.resolve(seqs[i]))
  }

  async compact (doc: DocName, merged: Uint8Array, throughSeq: number): Promise<void> {
    // One transaction: a crash leaves either the old rows or the merged one, never neither.
    this.db.transaction(() => {
      this.stmt.deleteThrough.run(doc, throughSeq)
      this.stmt.insertAt.run(throughSeq, doc, merged)
    })()
  }

  async list (entity?: string): Promise<DocName[]> {
    const rows = entity === undefined ? this.stmt.list.all() : this.stmt.listEntity.all(`${entity}/`, `${entity}0`)
    return rows.map(r => r.doc as DocName)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.flush()
    this.closed = true
  }
}
