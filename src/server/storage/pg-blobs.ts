// The blob port in PostgreSQL: content-addressed attachment content uploaded in chunks per uploader (the
// same rules as sqlite-blobs.ts). Ownership (what a note may point at) is read synchronously (pg-sync.ts).

import { createHash } from 'node:crypto'
import { BlobError, checkUserQuota, MAX_USER_BLOB_BYTES, type BlobStatus, type BlobStore } from './blob-port.ts'
import { ErrorCode } from '../../errors.ts'
import { CONTENT_HASH } from '../../docs/record.ts'
import { bytesOf, inTransaction, type PgPool } from './pg-db.ts'
import type { SyncPg } from './pg-sync.ts'

export const blobMigrations: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, size BIGINT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS blob_parts (hash TEXT NOT NULL, "offset" BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (hash, "offset"))',
  'CREATE TABLE IF NOT EXISTS blob_owners (hash TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (hash, user_id))',
  'CREATE TABLE IF NOT EXISTS blob_uploads (user_id TEXT NOT NULL, hash TEXT NOT NULL, size BIGINT NOT NULL, received BIGINT NOT NULL, touched BIGINT NOT NULL, PRIMARY KEY (user_id, hash))',
  'CREATE INDEX IF NOT EXISTS blob_uploads_touched ON blob_uploads (touched)',
  'CREATE TABLE IF NOT EXISTS blob_upload_parts (user_id TEXT NOT NULL, hash TEXT NOT NULL, "offset" BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (user_id, hash, "offset"))'
]

const MISMATCH = -1

export class PgBlobStore implements BlobStore {
  readonly maxBytes: number
  readonly maxUserBytes: number
  private readonly pool: PgPool
  private readonly sync: SyncPg
  private readonly now: () => number

  constructor (pool: PgPool, sync: SyncPg, maxBytes: number, now: () => number = Date.now, maxUserBytes = MAX_USER_BLOB_BYTES) {
    this.pool = pool
    this.sync = sync
    this.maxBytes = maxBytes
    this.maxUserBytes = maxUserBytes
    this.now = now
  }

  uploadedSize (userId: string, hash: string): number | undefined {
    return this.sync.one<{ size: number }>('SELECT b.size FROM blob_owners o JOIN blobs b ON b.hash = o.hash WHERE o.user_id = $1 AND o.hash = $2', [userId, hash])?.size
  }

  async status (userId: string, hash: string): Promise<BlobStatus | undefined> {
    const owned = (await this.pool.query<{ size: number }>('SELECT b.size FROM blob_owners o JOIN blobs b ON b.hash = o.hash WHERE o.user_id = $1 AND o.hash = $2', [userId, hash])).rows[0]
    if (owned !== undefined) return { size: owned.size, received: owned.size, complete: true }
    const u = (await this.pool.query<{ size: number, received: number }>('SELECT size, received FROM blob_uploads WHERE user_id = $1 AND hash = $2', [userId, hash])).rows[0]
    return u === undefined ? undefined : { size: u.size, received: u.received, complete: false }
  }

  async write (userId: string, hash: string, size: number, offset: number, chunk: Uint8Array): Promise<BlobStatus> {
    if (!CONTENT_HASH.test(hash)) throw new BlobError(ErrorCode.blobInvalid, 'a blob is named by its sha-256 hash: 64 lowercase hex digits')
    if (!Number.isSafeInteger(size) || size < 1) throw new BlobError(ErrorCode.blobInvalid, 'size: expected the whole blob\'s size in bytes (at least 1)')
    if (size > this.maxBytes) throw new BlobError(ErrorCode.blobTooLarge, `an attachment may have at most ${this.maxBytes} bytes; this one has ${size}`)
    const key = [userId, hash]
    const result = await inTransaction(this.pool, async (c): Promise<BlobStatus> => {
      // One chunk of one user at a time, on any instance: the quota is checked against their other uploads.
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7147))', [JSON.stringify([userId])])
      const owned = (await c.query<{ size: number }>('SELECT b.size FROM blob_owners o JOIN blobs b ON b.hash = o.hash WHERE o.user_id = $1 AND o.hash = $2', key)).rows[0]
      if (owned !== undefined) return { size: owned.size, received: owned.size, complete: true }
      const now = this.now()
      const u = (await c.query<{ size: number, received: number }>('SELECT size, received FROM blob_uploads WHERE user_id = $1 AND hash = $2', key)).rows[0]
      if (u === undefined || u.size !== size) {
        const used = (await c.query<{ n: string }>(`SELECT (SELECT COALESCE(SUM(b.size), 0) FROM blob_owners o JOIN blobs b ON b.hash = o.hash WHERE o.user_id = $1) +
          (SELECT COALESCE(SUM(size), 0) FROM blob_uploads WHERE user_id = $1 AND hash <> $2) AS n`, key)).rows[0]
        checkUserQuota(Number(used?.n ?? 0), size, this.maxUserBytes)
      }
      if (u === undefined) await c.query('INSERT INTO blob_uploads (user_id, hash, size, received, touched) VALUES ($1, $2, $3, 0, $4)', [...key, size, now])
      else if (u.size !== size) {
        await c.query('DELETE FROM blob_upload_parts WHERE user_id = $1 AND hash = $2', key)
        await c.query('UPDATE blob_uploads SET size = $1, received = 0, touched = $2 WHERE user_id = $3 AND hash = $4', [size, now, ...key])
      }
      const received = u === undefined || u.size !== size ? 0 : u.received
      if (offset !== received) throw new BlobError(ErrorCode.blobOffset, `expected offset ${received}`, received)
      if (chunk.length === 0 || offset + chunk.length > size) throw new BlobError(ErrorCode.blobInvalid, `a chunk must hold 1 to ${size - offset} bytes`)
      await c.query('INSERT INTO blob_upload_parts (user_id, hash, "offset", data) VALUES ($1, $2, $3, $4)', [...key, offset, chunk])
      const total = offset + chunk.length
      await c.query('UPDATE blob_uploads SET received = $1, touched = $2 WHERE user_id = $3 AND hash = $4', [total, now, ...key])
      if (total < size) return { size, received: total, complete: false }
      const h = createHash('sha256')
      for (const p of (await c.query<{ data: Buffer }>('SELECT data FROM blob_upload_parts WHERE user_id = $1 AND hash = $2 ORDER BY "offset"', key)).rows) h.update(p.data)
      const matches = h.digest('hex') === hash
      if (matches) {
        // Content is kept once: the first complete upload's parts become the content.
        const kept = await c.query('INSERT INTO blobs (hash, size) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING', [hash, size])
        if (kept.rowCount === 1) await c.query('INSERT INTO blob_parts (hash, "offset", data) SELECT hash, "offset", data FROM blob_upload_parts WHERE user_id = $1 AND hash = $2', key)
        await c.query('INSERT INTO blob_owners (user_id, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING', key)
      }
      await c.query('DELETE FROM blob_upload_parts WHERE user_id = $1 AND hash = $2', key)
      await c.query('DELETE FROM blob_uploads WHERE user_id = $1 AND hash = $2', key)
      // A mismatch is discarded (and committed as such): this user's upload starts over.
      return matches ? { size, received: size, complete: true } : { size, received: MISMATCH, complete: false }
    })
    if (result.received === MISMATCH) throw new BlobError(ErrorCode.blobHashMismatch, 'the content does not match its sha-256 hash; the upload was discarded', 0)
    return result
  }

  async read (hash: string): Promise<Uint8Array | undefined> {
    const [content, parts] = await Promise.all([
      this.pool.query('SELECT 1 FROM blobs WHERE hash = $1', [hash]),
      this.pool.query<{ data: Buffer }>('SELECT data FROM blob_parts WHERE hash = $1 ORDER BY "offset"', [hash])
    ])
    if (content.rowCount === 0) return undefined
    return bytesOf(Buffer.concat(parts.rows.map(p => p.data)))
  }

  async size (hash: string): Promise<number | undefined> {
    const r = await this.pool.query<{ size: string }>('SELECT size FROM blobs WHERE hash = $1', [hash])
    return r.rowCount === 0 ? undefined : Number(r.rows[0].size)
  }

  async slice (hash: string, start: number, length: number): Promise<Uint8Array> {
    // (The bytes of each part within [start, end); substring counts a bytea's bytes from 1.)
    const parts = await this.pool.query<{ data: Buffer }>(`SELECT substring(data FROM (GREATEST($2::bigint - "offset", 0) + 1)::int FOR (LEAST($3::bigint, "offset" + length(data)) - GREATEST($2::bigint, "offset"))::int) AS data
      FROM blob_parts WHERE hash = $1 AND "offset" < $3::bigint AND "offset" + length(data) > $2::bigint ORDER BY "offset"`, [hash, start, start + length])
    return bytesOf(parts.rows.length === 1 ? parts.rows[0].data : Buffer.concat(parts.rows.map(p => p.data)))
  }

  async removeAbandoned (maxAgeMs: number): Promise<number> {
    const before = this.now() - maxAgeMs
    return inTransaction(this.pool, async c => {
      await c.query('DELETE FROM blob_upload_parts WHERE (user_id, hash) IN (SELECT user_id, hash FROM blob_uploads WHERE touched < $1)', [before])
      return (await c.query('DELETE FROM blob_uploads WHERE touched < $1', [before])).rowCount ?? 0
    })
  }
}
