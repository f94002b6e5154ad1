// A record's pipeline over the test store and no socket (a SQLite file, or with FIELDSYNC_STORE=pg a
// PostgreSQL schema, where each batch is decided holding the record's lock): the demo organization, one
// account `account/a1` created by the server, and the helpers the room tests edit copies of it with.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord } from '../../src/docs/record.ts'
import { asRecordId, type DocName } from '../../src/ids.ts'
import { Rooms } from '../../src/server/rooms.ts'
import type { Room } from '../../src/server/room.ts'
import { Security } from '../../src/server/security.ts'
import { demoModel } from '../../src/server/demo.ts'
import { openTestStores, type TestStorage } from './test-store.ts'
import type { Cleanup } from './cleanups.ts'

export const catalog = buildCatalog()
export const account = catalog.entities.get('account')!
export const AT = '2026-11-27T09:00:00.000Z'

/** Rooms over a new test store, and the loaded room of `account/a1` (owned by alice), closed after the test. */
export const roomOverStore = async (cleanups: Cleanup[], label: string, options: { compactAfter?: number, compactQuietMs?: number, maxIdleRooms?: number, maxIdleBytes?: number } = {}): Promise<{ rooms: Rooms, room: Room, storage: TestStorage, security: Security }> => {
  const dir = mkdtempSync(join(tmpdir(), `fieldsync-${label}-`))
  const t = await openTestStores(dir, true, catalog, 1024, {})
  const storage = t.storage
  const security = new Security(t.stores.security, demoModel(catalog))
  const rooms = new Rooms({ storage: t.stores.storage, catalog, security, idleUnloadMs: 60_000, compactAfter: 1000, ...options })
  cleanups.push(async () => { await rooms.close(); await t.close(); await t.drop(); rmSync(dir, { recursive: true, force: true }) })
  const room = rooms.get('account/a1' as DocName)
  await room.ready
  await room.write(doc => createRecord(doc, account, { id: asRecordId('a1'), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: 'Contoso' } }, { by: 'u-avery', at: AT }))
  return { rooms, room, storage, security }
}

/** A device's copy of what the room holds now. */
export const copy = (room: Room): Y.Doc => { const d = new Y.Doc(); Y.applyUpdate(d, Y.encodeStateAsUpdate(room.doc)); return d }

/** The update `f` makes on `d`. */
export const edit = (d: Y.Doc, f: (d: Y.Doc) => void): Uint8Array => { const sv = Y.encodeStateVector(d); f(d); return Y.encodeStateAsUpdate(d, sv) }
