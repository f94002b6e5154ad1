// The device holdings port in SQLite: who owns each device id, its cursor and receipt offer, and the
// records it holds. Its own tables only (the changes feed is the record log's, sqlite.ts).

import type Database from 'better-sqlite3'
import type { DocName } from '../../ids.ts'
import type { SqliteDb } from './sqlite-db.ts'
import type { DeviceHoldings } from './holdings-port.ts'

export class SqliteDeviceHoldings implements DeviceHoldings {
  private readonly db: SqliteDb
  private readonly statements = new Map<string, Database.Statement>()

  /** A statement prepared once (cycles run these per record). */
  private st<P extends unknown[] = unknown[], R = unknown> (sql: string): Database.Statement<P, R> {
    let s = this.statements.get(sql)
    if (s === undefined) { s = this.db.prepare(sql); this.statements.set(sql, s) }
    return s as unknown as Database.Statement<P, R>
  }

  constructor (db: SqliteDb) {
    this.db = db
    db.exec(`
      CREATE TABLE IF NOT EXISTS device_records (device TEXT NOT NULL, doc TEXT NOT NULL, confirmed INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (device, doc));
      CREATE TABLE IF NOT EXISTS devices (
        device TEXT PRIMARY KEY, principal TEXT NOT NULL, cursor INTEGER NOT NULL DEFAULT 0, needs_scope INTEGER NOT NULL DEFAULT 0
      );
    `)
    // offer_mark: the receipt mark sent with the user's open items when the device was new (NULL: not
    // offered yet). Devices registered before it existed count as offered (0).
    const columns = this.st<[], { name: string }>('PRAGMA table_info(devices)').all().map(c => c.name)
    if (!columns.includes('offer_mark')) db.exec('ALTER TABLE devices ADD COLUMN offer_mark INTEGER DEFAULT 0')
    // seen: the order in which a principal's devices last said hello (its newest has the largest).
    if (!columns.includes('seen')) db.exec('ALTER TABLE devices ADD COLUMN seen INTEGER NOT NULL DEFAULT 0')
    db.exec('CREATE INDEX IF NOT EXISTS devices_principal_seen ON devices (principal, seen)')
  }

  /** The device's owner, registering it on first use; a device id belongs to one principal. */
  claimDevice (device: string, principal: string): boolean {
    this.st('INSERT OR IGNORE INTO devices (device, principal, offer_mark) VALUES (?, ?, NULL)').run(device, principal)
    const owned = this.st<[string], { principal: string }>('SELECT principal FROM devices WHERE device = ?').get(device)?.principal === principal
    if (owned) this.st('UPDATE devices SET seen = (SELECT COALESCE(MAX(seen), 0) + 1 FROM devices WHERE principal = ?) WHERE device = ?').run(principal, device)
    return owned
  }

  retireDevices (principal: string, keep: number, except: ReadonlySet<string>): string[] {
    const old = this.st<[string, number], { device: string }>('SELECT device FROM devices WHERE principal = ? ORDER BY seen DESC, device LIMIT -1 OFFSET ?')
      .all(principal, keep).map(r => r.device).filter(d => !except.has(d))
    if (old.length > 0) {
      this.transaction(() => {
        const list = JSON.stringify(old)
        this.st('DELETE FROM device_records WHERE device IN (SELECT value FROM json_each(?))').run(list)
        this.st('DELETE FROM devices WHERE device IN (SELECT value FROM json_each(?))').run(list)
      })
    }
    return old
  }

  /**
   * The receipt mark sent when the device was offered its user's open items, or null when it has not
   * been: a device whose receipt mark is below it did not store that offer, which is then made again.
   */
  offerMark (device: string): number | null {
    return this.st<[string], { m: number | null }>('SELECT offer_mark AS m FROM devices WHERE device = ?').get(device)?.m ?? null
  }

  setOfferMark (device: string, mark: number): void {
    this.st('UPDATE devices SET offer_mark = ? WHERE device = ?').run(mark, device)
  }

  /** The cursor the server last told the device to store (with its 'done'). */
  deviceCursor (device: string): number {
    return this.st<[string], { cursor: number }>('SELECT cursor FROM devices WHERE device = ?').get(device)?.cursor ?? 0
  }

  /**
   * Runs `f` in one transaction committed without waiting for the disk (synchronous NORMAL, the file's
   * other commits stay FULL): what devices hold is noted many times per cycle, and a morning's cycles
   * would otherwise wait for thousands of fsyncs on the one thread. It survives the process's crash; a
   * power loss may take the last of it until the next durable commit, and then a device's next sync
   * finds its holdings differ (syncNow's count and digest) and is told its scope whole.
   */
  private transaction (f: () => void): void {
    if (this.db.inTransaction) { this.db.transaction(f)(); return }
    this.db.pragma('synchronous = NORMAL')
    try {
      this.db.transaction(f)()
    } finally {
      this.db.pragma('synchronous = FULL')
    }
  }

  /** Runs `sql` once with the device and every doc (parameters: device, a JSON array read with
   * `json_each`): a cycle notes its records 64 at a time, and one statement costs less than 64. */
  private all (sql: string, device: string, docs: Iterable<DocName>): void {
    const list = [...docs]
    if (list.length === 0) return
    const st = this.st(sql)
    this.transaction(() => { st.run(device, JSON.stringify(list)) })
  }

  /** Marks records as perhaps held (an evict frame was sent; the socket may drop before it arrives). */
  unsure (device: string, docs: Iterable<DocName>): void {
    this.all('UPDATE device_records SET confirmed = 0 WHERE device = ? AND doc IN (SELECT value FROM json_each(?))', device, docs)
  }

  /**
   * Notes records sent in a cycle that has not finished: the device may hold them (so they are evicted
   * if they leave its scope) but may not (so they are sent whole again until a cycle confirms them).
   */
  mayHold (device: string, docs: Iterable<DocName>): void {
    this.all('INSERT OR IGNORE INTO device_records (device, doc, confirmed) SELECT ?, value, 0 FROM json_each(?)', device, docs)
  }

  /** Records a finished cycle in one transaction: what the device now holds, and its cursor. */
  finishCycle (device: string, added: Iterable<DocName>, removed: Iterable<DocName>, cursor: number, sentScope: boolean): void {
    this.transaction(() => {
      this.hold(device, added)
      this.release(device, removed)
      this.st('UPDATE devices SET cursor = ?, needs_scope = needs_scope AND ? WHERE device = ?').run(cursor, sentScope ? 0 : 1, device)
    })
  }

  /** Whether the device must be told its whole scope (the server forgot what it holds). */
  needsScope (device: string): boolean {
    return this.st<[string], { n: number }>('SELECT needs_scope AS n FROM devices WHERE device = ?').get(device)?.n === 1
  }

  /** Records the device may hold but no finished cycle confirmed. */
  unconfirmed (device: string): Set<DocName> {
    return new Set(this.st<[string], { doc: string }>('SELECT doc FROM device_records WHERE device = ? AND confirmed = 0').all(device).map(r => r.doc as DocName))
  }

  /** Forgets what a device holds: it is sent its whole scope, and the list of it, until a cycle finishes. */
  forget (device: string): void {
    this.transaction(() => {
      this.st('DELETE FROM device_records WHERE device = ?').run(device)
      this.st('UPDATE devices SET needs_scope = 1 WHERE device = ?').run(device)
    })
  }

  /** Records a finished cycle confirmed the device holds. */
  held (device: string): Set<DocName> {
    return new Set(this.st<[string], { doc: string }>('SELECT doc FROM device_records WHERE device = ? AND confirmed = 1').all(device).map(r => r.doc as DocName))
  }

  /** Whether a finished cycle confirmed the device holds `doc` (one row: a push asks this per record). */
  holds (device: string, doc: DocName): boolean {
    return this.st<[string, string], { n: number }>('SELECT 1 AS n FROM device_records WHERE device = ? AND doc = ? AND confirmed = 1').get(device, doc) !== undefined
  }

  hold (device: string, docs: Iterable<DocName>): void {
    // (`WHERE true`: an upsert's SELECT needs one, or SQLite reads ON as a join's.)
    this.all('INSERT INTO device_records (device, doc, confirmed) SELECT ?, value, 1 FROM json_each(?) WHERE true ON CONFLICT (device, doc) DO UPDATE SET confirmed = 1', device, docs)
  }

  /** One transaction (the methods' own become savepoints inside it). */
  batch (f: () => void): void {
    this.transaction(f)
  }

  private release (device: string, docs: Iterable<DocName>): void {
    this.all('DELETE FROM device_records WHERE device = ? AND doc IN (SELECT value FROM json_each(?))', device, docs)
  }
}
