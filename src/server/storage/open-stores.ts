// The storage every port of the server runs on, chosen by configuration: a SQLite file under DATA_DIR
// (one process), or PostgreSQL at DATABASE_URL (any number of instances sharing it).

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Catalog } from '../../docs/catalog-types.ts'
import type { RecordStorage } from './port.ts'
import type { ChangesFeed } from './feed-port.ts'
import type { ReceiptStore } from './receipt-port.ts'
import type { ProjectionReader } from './projection-port.ts'
import type { SecurityStore } from './security-port.ts'
import type { DeviceHoldings } from './holdings-port.ts'
import type { BlobStore } from './blob-port.ts'
import { openSqlite } from './sqlite-db.ts'
import { SqliteProjection } from './sqlite-projection.ts'
import { SqliteRecordStorage } from './sqlite.ts'
import { SqliteSecurityStore } from './sqlite-security.ts'
import { SqliteDeviceHoldings } from './sqlite-holdings.ts'
import { SqliteBlobStore } from './sqlite-blobs.ts'
import { openPgStores } from './pg-stores.ts'
import { SCHEMA_LOCK_KEY } from './pg-db.ts'

export interface Stores {
  /** the record log, which also serves the changes feed and the receipts */
  readonly storage: RecordStorage & ChangesFeed & ReceiptStore
  readonly projection: ProjectionReader
  readonly security: SecurityStore
  readonly holdings: DeviceHoldings
  readonly blobs: BlobStore
  /** where the data is (for the start message) */
  readonly where: string
  /** the Yjs client id this start writes under (from a shared sequence), when instances share the store */
  readonly serverClient: number | undefined
  /** Runs `f` while no other instance sharing the store runs its own (the first start's work: seeding). */
  exclusive<T> (f: () => Promise<T>): Promise<T>
  /** commits what is queued and releases the storage */
  close (): Promise<void>
}

export interface StoresConfig {
  readonly dataDir: string
  readonly databaseUrl: string | undefined
  readonly maxAttachmentBytes: number
  /** the most one user's attachments may take (default MAX_USER_BLOB_BYTES) */
  readonly maxAttachmentBytesPerUser?: number
  /** the least time between two commits of the SQLite log under a steady stream of appends (README, COMMIT_INTERVAL_MS) */
  readonly commitIntervalMs?: number
}

/** The advisory lock of start-up work (seeding a new database once, whichever instance starts first),
 * one per schema (pg-db.ts). */
const START_LOCK = 7_146_205_002

export const openStores = async (config: StoresConfig, catalog: Catalog): Promise<Stores> => {
  if (config.databaseUrl === undefined) {
    mkdirSync(config.dataDir, { recursive: true })
    const file = join(config.dataDir, 'fieldsync.db')
    const db = openSqlite(file)
    const projection = new SqliteProjection(db, catalog)
    const storage = new SqliteRecordStorage(db, projection, { commitIntervalMs: config.commitIntervalMs })
    return {
      storage, projection,
      security: new SqliteSecurityStore(db),
      holdings: new SqliteDeviceHoldings(db),
      blobs: new SqliteBlobStore(db, config.maxAttachmentBytes, Date.now, config.maxAttachmentBytesPerUser),
      where: file,
      serverClient: undefined,
      exclusive: f => f(),
      close: async () => { await storage.close(); db.close() }
    }
  }
  const pg = await openPgStores(config.databaseUrl, catalog, { maxAttachmentBytes: config.maxAttachmentBytes, maxAttachmentBytesPerUser: config.maxAttachmentBytesPerUser })
  const serverClient = await pg.log.nextServerClient()
  const shown = new URL(config.databaseUrl)
  shown.password = ''
  return {
    storage: pg.log, projection: pg.projection, security: pg.security, holdings: pg.holdings, blobs: pg.blobs,
    where: shown.toString(),
    serverClient,
    exclusive: async f => {
      const c = await pg.pool.connect()
      try {
        await c.query(`SELECT pg_advisory_lock(${SCHEMA_LOCK_KEY})`, [START_LOCK])
        try { return await f() } finally { await c.query(`SELECT pg_advisory_unlock(${SCHEMA_LOCK_KEY})`, [START_LOCK]) }
      } finally {
        c.release()
      }
    },
    close: () => pg.close()
  }
}
