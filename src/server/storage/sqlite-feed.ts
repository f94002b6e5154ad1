// The changes feed (the server-wide update sequence) and what each device holds, in SQLite.

import * as Y from 'yjs'
import type { DocName } from '../../ids.ts'
import type { SqliteDb } from './sqlite.ts'

export class SqliteFeed {
  private readonly db: SqliteDb

  constructor (db: SqliteDb) {
    this.db = db
    db.exec(`
      CREATE TABLE IF NOT EXISTS device_records (device TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (device, doc));
      CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, principal TEXT NOT NULL, cursor INTEGER NOT NULL DEFAULT 0);
    `)
  }

  /** The newest sequence number (0 for an empty log). */
  maxSeq (): number {
    return this.db.prepare<[], { m: number | null }>('SELECT MAX(seq) AS m FROM record_updates').get()?.m ?? 0
  }

  /** Records with an update after `cursor` (through `upTo`), each with its newest seq. */
  changedSince (cursor: number, upTo: number): Map<DocName, number> {
    const rows = this.db.prepare<[number, number], { doc: string, seq: number }>('SELECT doc, MAX(seq) AS seq FROM record_updates WHERE seq > ? AND seq <= ? GROUP BY doc').all(cursor, upTo)
    return new Map(rows.map(r => [r.doc as DocName, r.seq]))
  }

  /**
   * A record's committed state after `cursor` (everything when cursor is 0), merged into one update;
   * served from storage without loading the record's Y.Doc.
   */
  stateSince (doc: DocName, cursor: number, upTo: number): Uint8Array {
    const rows = this.db.prepare<[string, number, number], { data: Buffer }>('SELECT data FROM record_updates WHERE doc = ? AND seq > ? AND seq <= ? ORDER BY seq').all(doc, cursor, upTo)
    const parts = rows.map(r => new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength))
    return parts.length === 1 ? parts[0] : Y.mergeUpdates(parts)
  }

  /** The device's owner, registering it on first use; a device id belongs to one principal. */
  claimDevice (device: string, principal: string): boolean {
    this.db.prepare('INSERT OR IGNORE INTO devices (device, principal) VALUES (?, ?)').run(device, principal)
    return this.db.prepare<[string], { principal: string }>('SELECT principal FROM devices WHERE device = ?').get(device)?.principal === principal
  }

  /** The cursor the server last told the device to store (with its 'done'). */
  deviceCursor (device: string): number {
    return this.db.prepare<[string], { cursor: number }>('SELECT cursor FROM devices WHERE device = ?').get(device)?.cursor ?? 0
  }

  /** Records a finished cycle in one transaction: what the device now holds, and its cursor. */
  finishCycle (device: string, added: Iterable<DocName>, removed: Iterable<DocName>, cursor: number): void {
    this.db.transaction(() => {
      this.hold(device, added)
      this.release(device, removed)
      this.db.prepare('UPDATE devices SET cursor = ? WHERE device = ?').run(cursor, device)
    })()
  }

  /** Forgets what a device holds (it will be sent its whole scope again). */
  forget (device: string): void {
    this.db.prepare('DELETE FROM device_records WHERE device = ?').run(device)
  }

  held (device: string): Set<DocName> {
    return new Set(this.db.prepare<[string], { doc: string }>('SELECT doc FROM device_records WHERE device = ?').all(device).map(r => r.doc as DocName))
  }

  hold (device: string, docs: Iterable<DocName>): void {
    const st = this.db.prepare('INSERT OR IGNORE INTO device_records (device, doc) VALUES (?, ?)')
    this.db.transaction(() => { for (const d of docs) st.run(device, d) })()
  }

  release (device: string, docs: Iterable<DocName>): void {
    const st = this.db.prepare('DELETE FROM device_records WHERE device = ? AND doc = ?')
    this.db.transaction(() => { for (const d of docs) st.run(device, d) })()
  }

  /** Every projected row of an entity (for scope computation). */
  allRows (table: string): Record<string, string | number | null>[] {
    return this.db.prepare(`SELECT * FROM "${table.replace(/"/g, '""')}"`).all() as Record<string, string | number | null>[]
  }
}
