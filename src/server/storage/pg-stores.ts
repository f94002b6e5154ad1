// Every storage port over one PostgreSQL database: the schema brought up to date (safe when several
// instances start together), one pool for what can wait, one synchronous connection (pg-sync.ts) for what
// is asked in the same turn.

import type { Catalog } from '../../docs/catalog-types.ts'
import { migrate, openPg, type PgPool } from './pg-db.ts'
import { SyncPg } from './pg-sync.ts'
import { logMigrations, PgRecordStorage } from './pg-log.ts'
import { MAX_OPEN_GROUPS } from './pg-lock-groups.ts'
import { PgProjection, projectionMigrations } from './pg-projection.ts'
import { PgSecurityStore, securityMigrations } from './pg-security.ts'
import { holdingsMigrations, PgDeviceHoldings } from './pg-holdings.ts'
import { blobMigrations, PgBlobStore } from './pg-blobs.ts'

/** Connections for the record log's commits: the lock groups that may be open, one committing, and one
 * for appends made without a lock (pg-lock-groups.ts). */
const COMMIT_CONNECTIONS = MAX_OPEN_GROUPS + 2

export interface PgStores {
  readonly pool: PgPool
  readonly sync: SyncPg
  /** the record log; also the changes feed, the receipts and the record locks */
  readonly log: PgRecordStorage
  readonly projection: PgProjection
  readonly security: PgSecurityStore
  readonly holdings: PgDeviceHoldings
  readonly blobs: PgBlobStore
  /** commits what is queued and closes both connections */
  close (): Promise<void>
}

export interface PgStoresOptions {
  readonly maxAttachmentBytes: number
  /** the most one user's attachments may take (default MAX_USER_BLOB_BYTES) */
  readonly maxAttachmentBytesPerUser?: number
  /** the blob store's clock (ms) */
  readonly now?: () => number
  readonly poolSize?: number
}

/** The statements that bring a schema up to date for `catalog` (each idempotent), in order. */
export const pgMigrations = (catalog: Catalog): string[] =>
  [...logMigrations, ...securityMigrations, ...holdingsMigrations, ...blobMigrations, ...projectionMigrations(catalog)]

/** Opens every port over the database at `url`, bringing its schema up to date first. */
export const openPgStores = async (url: string, catalog: Catalog, options: PgStoresOptions): Promise<PgStores> => {
  const pool = openPg(url, options.poolSize)
  try {
    await migrate(pool, pgMigrations(catalog))
  } catch (e) {
    await pool.end()
    throw e
  }
  const sync = new SyncPg(url)
  const projection = new PgProjection(pool, sync, catalog)
  // The record log's commits and lock groups run on connections of their own, pipelined: a group's
  // BEGIN, locks and catch-up go out together, and so do its writes and COMMIT.
  const commits = openPg(url, COMMIT_CONNECTIONS, true)
  const log = new PgRecordStorage(pool, projection, commits)
  let closed = false
  return {
    pool,
    sync,
    log,
    projection,
    security: new PgSecurityStore(sync),
    holdings: new PgDeviceHoldings(sync),
    blobs: new PgBlobStore(pool, sync, options.maxAttachmentBytes, options.now, options.maxAttachmentBytesPerUser),
    close: async () => {
      if (closed) return
      closed = true
      await log.close()
      sync.close()
      await Promise.all([pool.end(), commits.end()])
    }
  }
}
