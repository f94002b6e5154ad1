// The device holdings port in PostgreSQL: who owns each device id, its cursor and receipt offer, and the
// records it holds. Synchronous (pg-sync.ts); an open device's holdings are cached by HeldRecords.

import type { DocName } from '../../ids.ts'
import type { DeviceHoldings } from './holdings-port.ts'
import type { SyncPg } from './pg-sync.ts'

export const holdingsMigrations: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS device_records (device TEXT NOT NULL, doc TEXT COLLATE "C" NOT NULL, confirmed BOOLEAN NOT NULL DEFAULT TRUE, PRIMARY KEY (device, doc))',
  'CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, principal TEXT NOT NULL, cursor BIGINT NOT NULL DEFAULT 0, needs_scope BOOLEAN NOT NULL DEFAULT FALSE, offer_mark BIGINT)',
  // seen: the order in which a principal's devices last said hello (its newest has the largest).
  'ALTER TABLE devices ADD COLUMN IF NOT EXISTS seen BIGINT NOT NULL DEFAULT 0',
  'CREATE INDEX IF NOT EXISTS devices_principal_seen ON devices (principal, seen)'
]

export class PgDeviceHoldings implements DeviceHoldings {
  private readonly sync: SyncPg

  /** The tables must exist (holdingsMigrations, run by openPgStores). */
  constructor (sync: SyncPg) {
    this.sync = sync
  }

  claimDevice (device: string, principal: string): boolean {
    this.sync.query('INSERT INTO devices (device, principal) VALUES ($1, $2) ON CONFLICT (device) DO NOTHING', [device, principal])
    const owned = this.sync.one<{ principal: string }>('SELECT principal FROM devices WHERE device = $1', [device])?.principal === principal
    if (owned) this.sync.query('UPDATE devices SET seen = (SELECT COALESCE(MAX(seen), 0) + 1 FROM devices WHERE principal = $1) WHERE device = $2', [principal, device])
    return owned
  }

  retireDevices (principal: string, keep: number, except: ReadonlySet<string>): string[] {
    const old = this.sync.query<{ device: string }>('SELECT device FROM devices WHERE principal = $1 ORDER BY seen DESC, device OFFSET $2', [principal, keep])
      .rows.map(r => r.device).filter(d => !except.has(d))
    if (old.length > 0) {
      this.sync.transaction(() => {
        this.sync.query('DELETE FROM device_records WHERE device = ANY($1::text[])', [old])
        this.sync.query('DELETE FROM devices WHERE device = ANY($1::text[])', [old])
      })
    }
    return old
  }

  offerMark (device: string): number | null {
    return this.sync.one<{ m: number | null }>('SELECT offer_mark AS m FROM devices WHERE device = $1', [device])?.m ?? null
  }

  setOfferMark (device: string, mark: number): void {
    this.sync.query('UPDATE devices SET offer_mark = $1 WHERE device = $2', [mark, device])
  }

  deviceCursor (device: string): number {
    return this.sync.one<{ cursor: number }>('SELECT cursor FROM devices WHERE device = $1', [device])?.cursor ?? 0
  }

  unsure (device: string, docs: Iterable<DocName>): void {
    const list = [...docs]
    if (list.length > 0) this.sync.query('UPDATE device_records SET confirmed = FALSE WHERE device = $1 AND doc = ANY($2::text[])', [device, list])
  }

  mayHold (device: string, docs: Iterable<DocName>): void {
    const list = [...docs]
    if (list.length > 0) this.sync.query('INSERT INTO device_records (device, doc, confirmed) SELECT $1, d, FALSE FROM unnest($2::text[]) d ON CONFLICT DO NOTHING', [device, list])
  }

  finishCycle (device: string, added: Iterable<DocName>, removed: Iterable<DocName>, cursor: number, sentScope: boolean): void {
    this.sync.transaction(() => {
      this.hold(device, added)
      const gone = [...removed]
      if (gone.length > 0) this.sync.query('DELETE FROM device_records WHERE device = $1 AND doc = ANY($2::text[])', [device, gone])
      this.sync.query('UPDATE devices SET cursor = $1, needs_scope = needs_scope AND $2 WHERE device = $3', [cursor, !sentScope, device])
    })
  }

  needsScope (device: string): boolean {
    return this.sync.one<{ n: boolean }>('SELECT needs_scope AS n FROM devices WHERE device = $1', [device])?.n === true
  }

  unconfirmed (device: string): Set<DocName> {
    return new Set(this.sync.query<{ doc: string }>('SELECT doc FROM device_records WHERE device = $1 AND NOT confirmed', [device]).rows.map(r => r.doc as DocName))
  }

  forget (device: string): void {
    this.sync.transaction(() => {
      this.sync.query('DELETE FROM device_records WHERE device = $1', [device])
      this.sync.query('UPDATE devices SET needs_scope = TRUE WHERE device = $1', [device])
    })
  }

  held (device: string): Set<DocName> {
    return new Set(this.sync.query<{ doc: string }>('SELECT doc FROM device_records WHERE device = $1 AND confirmed', [device]).rows.map(r => r.doc as DocName))
  }

  holds (device: string, doc: DocName): boolean {
    return this.sync.one('SELECT 1 FROM device_records WHERE device = $1 AND doc = $2 AND confirmed', [device, doc]) !== undefined
  }

  hold (device: string, docs: Iterable<DocName>): void {
    const list = [...docs]
    if (list.length > 0) this.sync.query('INSERT INTO device_records (device, doc, confirmed) SELECT $1, d, TRUE FROM unnest($2::text[]) d ON CONFLICT (device, doc) DO UPDATE SET confirmed = TRUE', [device, list])
  }

  batch (f: () => void): void {
    this.sync.transaction(f)
  }
}
