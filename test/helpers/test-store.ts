// The storage a test server runs on: a SQLite file (default) or, with FIELDSYNC_STORE=pg, a fresh schema of
// the `test` PostgreSQL database with Redis fan-out (channels prefixed by the schema's name), wired by the
// server's own storage/open-stores.ts. Tests read receipts and run SQL synchronously through TestStorage on
// either (PostgreSQL over the adapters' synchronous connection).

import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Catalog } from '../../src/docs/catalog-types.ts'
import type { DocName } from '../../src/ids.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import type { RecordStorage } from '../../src/server/storage/port.ts'
import type { ChangesFeed } from '../../src/server/storage/feed-port.ts'
import type { ReceiptStore } from '../../src/server/storage/receipt-port.ts'
import type { ProjectionReader } from '../../src/server/storage/projection-port.ts'
import type { ReadScope } from '../../src/authz/decide.ts'
import { tableName, type Row } from '../../src/projection/rows.ts'
import { openStores, type Stores } from '../../src/server/storage/open-stores.ts'
import { openSqlite, type SqliteDb } from '../../src/server/storage/sqlite-db.ts'
import { SqliteProjection } from '../../src/server/storage/sqlite-projection.ts'
import { SqliteRecordStorage } from '../../src/server/storage/sqlite.ts'
import { SqliteSecurityStore } from '../../src/server/storage/sqlite-security.ts'
import { SqliteDeviceHoldings } from '../../src/server/storage/sqlite-holdings.ts'
import { SqliteBlobStore } from '../../src/server/storage/sqlite-blobs.ts'
import { SyncPg } from '../../src/server/storage/pg-sync.ts'
import { PG_URL, REDIS_URL, withSchema } from './pg.ts'
import { releaseSchema, takeSchema } from './pg-schemas.ts'

/** Whether test servers run on PostgreSQL + Redis (FIELDSYNC_STORE=pg) rather than SQLite. */
export const ON_PG = process.env.FIELDSYNC_STORE === 'pg'

/** The record log as tests read it: receipts and secured-field documents answered in the same turn. */
export interface TestStorage extends RecordStorage {
  receipts (principal: string, since: number, limit: number): Receipt[]
  openReceipts (principal: string, limit: number): Receipt[]
  fieldDocuments (entity: string, attribute: string): DocName[]
  head (): number
}

/** The projection as tests read it: every read answered in the same turn. */
export interface TestProjection extends ProjectionReader {
  rows (entity: string, scope: ReadScope, limit: number, offset: number, afterId?: string | null): Row[]
  all (entity: string): Row[]
  page (entity: string, afterId: string | null, limit: number): Row[]
}

export interface TestStores {
  /** whether the store holds the demo records already (a reused PostgreSQL schema) */
  readonly seeded: boolean
  readonly stores: Omit<Stores, 'storage'> & { readonly storage: RecordStorage & ChangesFeed & ReceiptStore }
  readonly storage: TestStorage
  readonly projection: TestProjection
  /** environment the server's configuration takes (DATABASE_URL, REDIS_URL…) */
  readonly env: Record<string, string>
  /** runs SQL on the test's database (`?` placeholders) and returns its rows */
  sql<T = Record<string, unknown>> (query: string, ...params: unknown[]): T[]
  close (): Promise<void>
  /** drops what the test stored (the schema; the SQLite file goes with its folder) */
  drop (): Promise<void>
}

const SCHEMA_FILE = 'pg-schema'

const sqliteStores = (dataDir: string, catalog: Catalog, maxAttachmentBytes: number, maxAttachmentBytesPerUser?: number): TestStores => {
  const db: SqliteDb = openSqlite(join(dataDir, 'fieldsync.db'))
  const projection = new SqliteProjection(db, catalog)
  const storage = new SqliteRecordStorage(db, projection)
  const stores = {
    storage, projection, security: new SqliteSecurityStore(db), holdings: new SqliteDeviceHoldings(db),
    blobs: new SqliteBlobStore(db, maxAttachmentBytes, Date.now, maxAttachmentBytesPerUser), where: dataDir, serverClient: undefined,
    exclusive: <T>(f: () => Promise<T>) => f(), close: async () => { await storage.close(); db.close() }
  }
  return {
    seeded: false, stores, storage, projection, env: {},
    sql: <T>(query: string, ...params: unknown[]) => { const st = db.prepare(query); if (st.reader) return st.all(...params) as T[]; st.run(...params); return [] },
    close: stores.close,
    drop: async () => {}
  }
}

/** A PostgreSQL schema a test's servers use: given back (pg-schemas.ts) once the last of them closed and
 * the test dropped it. */
interface Lease { readonly schema: string, readonly reusable: boolean, open: number, dropped: boolean, released: boolean }

/** the lease of each schema this process has servers over, by schema */
const leases = new Map<string, Lease>()

const release = async (lease: Lease): Promise<void> => {
  if (lease.released || !lease.dropped || lease.open > 0) return
  lease.released = true
  if (leases.get(lease.schema) === lease) leases.delete(lease.schema)
  await releaseSchema(lease.schema, lease.reusable)
}

/** Opens the test's stores over `dataDir` (PostgreSQL: the schema named in it, taken when `fresh`; `empty`:
 * a new one, holding nothing, not even the demo records). */
export const openTestStores = async (dataDir: string, fresh: boolean, catalog: Catalog, maxAttachmentBytes: number, env: Record<string, string>, options: { empty?: boolean, maxAttachmentBytesPerUser?: number } = {}): Promise<TestStores> => {
  if (!ON_PG) return sqliteStores(dataDir, catalog, maxAttachmentBytes, options.maxAttachmentBytesPerUser)
  const file = join(dataDir, SCHEMA_FILE)
  let lease: Lease
  let seeded = false
  if (fresh || !existsSync(file)) {
    const taken = await takeSchema(catalog, options.empty === true)
    seeded = taken.seeded
    lease = { schema: taken.schema, reusable: taken.reusable, open: 0, dropped: false, released: false }
    leases.set(lease.schema, lease)
    writeFileSync(file, lease.schema)
  } else {
    const name = readFileSync(file, 'utf8').trim()
    // (A schema no lease of this process knows is not given back: the run's end drops it.)
    lease = leases.get(name) ?? { schema: name, reusable: false, open: 0, dropped: false, released: false }
  }
  lease.open++
  const schema = lease.schema
  const url = withSchema(PG_URL, schema)
  const serverEnv = { DATABASE_URL: url, REDIS_URL, REDIS_PREFIX: schema, ...env }
  const stores = await openStores({ dataDir, databaseUrl: url, maxAttachmentBytes, maxAttachmentBytesPerUser: options.maxAttachmentBytesPerUser }, catalog)
  const sync = new SyncPg(url)
  const log = stores.storage
  const storage: TestStorage = {
    locks: log.locks,
    load: doc => log.load(doc),
    append: (doc, update, effects) => log.append(doc, update, effects),
    compact: (doc, merged, through) => log.compact(doc, merged, through),
    list: entity => log.list(entity),
    close: () => log.close(),
    receipts: (principal: string, since: number, limit: number): Receipt[] =>
      sync.query<{ seq: number, data: string }>('SELECT seq, data FROM receipts WHERE principal = $1 AND seq > $2 ORDER BY seq LIMIT $3', [principal, since, limit]).rows.map(r => ({ ...JSON.parse(r.data) as Receipt, seq: r.seq })),
    openReceipts: (principal: string, limit: number): Receipt[] =>
      sync.query<{ seq: number, data: string }>('SELECT r.seq, r.data FROM receipts r WHERE r.principal = $1 AND NOT EXISTS (SELECT 1 FROM receipt_dismissals d WHERE d.seq = r.seq) ORDER BY r.seq LIMIT $2', [principal, limit]).rows.map(r => ({ ...JSON.parse(r.data) as Receipt, seq: r.seq })),
    fieldDocuments: (entity: string, attribute: string): DocName[] =>
      sync.query<{ doc: string }>('SELECT DISTINCT doc FROM record_updates WHERE split_part(doc, \'/\', 1) = $1 AND split_part(doc, \'/\', 3) = $2 AND split_part(doc, \'/\', 4) = \'\'', [entity, attribute]).rows.map(r => r.doc as DocName),
    head: (): number => sync.one<{ m: number | null }>('SELECT MAX(seq) AS m FROM record_updates')?.m ?? 0
  }
  const all = (entity: string): Row[] => sync.query<Row>(`SELECT * FROM "${tableName(entity)}" ORDER BY id`).rows
  const projection: TestProjection = {
    row: (entity, id) => stores.projection.row(entity, id),
    all,
    page: (entity, afterId, limit) => all(entity).filter(r => afterId === null || String(r.id) > afterId).slice(0, limit),
    rows: (entity, scope, limit, offset, afterId = null) => all(entity).filter(r => (afterId === null || String(r.id) > afterId) && (scope.all ||
      scope.businessUnits.has(String(r.owningbusinessunit)) || scope.owners.has(String(r.ownerid)) || scope.records.has(`${entity}/${String(r.id)}`))).slice(offset, offset + limit)
  }
  let closed = false
  return {
    seeded, stores, storage, projection, env: serverEnv,
    sql: <T>(query: string, ...params: unknown[]) => { let i = 0; return sync.query<T>(query.replace(/\?/g, () => `$${++i}`), params).rows },
    close: async () => {
      if (closed) return
      closed = true
      sync.close()
      await stores.close()
      lease.open--
      await release(lease)
    },
    // Once every server over the schema has closed (a restarted server's included).
    drop: async () => { lease.dropped = true; await release(lease) }
  }
}
