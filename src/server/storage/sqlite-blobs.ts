// The blob port in SQLite: attachment content as content-addressed blobs (sha-256, lowercase hex), uploaded in chunks so that a
// cut connection resumes where it stopped. Upload state is per uploader: a user's partial upload is
// seen, continued, reset or discarded only by that user, and nobody learns from it whether someone
// else holds the content. Content is kept once; each user who uploaded it whole is recorded as one of
// its owners (the proof that they hold it, which a note needs to point at it).

import { createHash } from 'node:crypto'
import type Database from 'better-sqlite3'
import type { SqliteDb } from './sqlite-db.ts'
import { BlobError, checkUserQuota, MAX_USER_BLOB_BYTES, type BlobStatus, type BlobStore } from './blob-port.ts'
import { ErrorCode } from '../../errors.ts'
import { CONTENT_HASH } from '../../docs/record.ts'

const MISMATCH = -1

type Key = [userId: string, hash: string]

export class SqliteBlobStore implements BlobStore {
  readonly maxBytes: number
  readonly maxUserBytes: number
  private readonly db: SqliteDb
  private readonly now: () => number
  private readonly stmt: {
    content: Database.Statement<[string], { size: number }>
    owned: Database.Statement<[string, string], { size: number }>
    upload: Database.Statement<Key, { size: number, received: number }>
    start: Database.Statement<[...Key, number, number]>
    restart: Database.Statement<[number, number, ...Key]>
    part: Database.Statement<[...Key, number, Uint8Array]>
    received: Database.Statement<[number, number, ...Key]>
    uploadParts: Database.Statement<Key, { data: Buffer }>
    keep: Database.Statement<Key>
    keepContent: Database.Statement<[string, number, number]>
    own: Database.Statement<[string, string]>
    dropUploadParts: Database.Statement<Key>
    dropUpload: Database.Statement<Key>
    parts: Database.Statement<[string], { data: Buffer }>
    sweepParts: Database.Statement<[number]>
    sweep: Database.Statement<[number]>
    used: Database.Statement<[string, string, string], { n: number | null }>
    slice: Database.Statement<{ hash: string, start: number, end: number }, { data: Buffer }>
  }

  /** `now` (ms since the epoch) stamps each upload's last chunk, which the sweep measures from. */
  constructor (db: SqliteDb, maxBytes: number, now: () => number = Date.now, maxUserBytes = MAX_USER_BLOB_BYTES) {
    this.db = db
    this.maxBytes = maxBytes
    this.maxUserBytes = maxUserBytes
    this.now = now
    // `blobs` keeps its first layout (received, complete) so that existing databases open; it now holds
    // complete content only. Partial uploads from before uploads were per uploader have no known
    // uploader: they are dropped.
    db.exec(`
      CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, received INTEGER NOT NULL, complete INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS blob_parts (hash TEXT NOT NULL, offset INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (hash, offset));
      CREATE TABLE IF NOT EXISTS blob_owners (hash TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (hash, user_id));
      CREATE TABLE IF NOT EXISTS blob_uploads (user_id TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL, received INTEGER NOT NULL, touched INTEGER NOT NULL, PRIMARY KEY (user_id, hash));
      CREATE INDEX IF NOT EXISTS blob_uploads_touched ON blob_uploads (touched);
      CREATE TABLE IF NOT EXISTS blob_upload_parts (user_id TEXT NOT NULL, hash TEXT NOT NULL, offset INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (user_id, hash, offset));
      DELETE FROM blob_parts WHERE hash IN (SELECT hash FROM blobs WHERE complete = 0);
      DELETE FROM blobs WHERE complete = 0;
    `)
    this.stmt = {
      content: db.prepare('SELECT size FROM blobs WHERE hash = ?'),
      owned: db.prepare('SELECT b.size FROM blob_owners o JOIN blobs b ON b.hash = o.hash WHERE o.user_id = ? AND o.hash = ?'),
      upload: db.prepare('SELECT size, received FROM blob_uploads WHERE user_id = ? AND hash = ?'),
      start: db.prepare('INSERT INTO blob_uploads (user_id, hash, size, received, touched) VALUES (?, ?, ?, 0, ?)'),
      restart: db.prepare('UPDATE blob_uploads SET size = ?, received = 0, touched = ? WHERE user_id = ? AND hash = ?'),
      part: db.prepare('INSERT INTO blob_upload_parts (user_id, hash, offset, data) VALUES (?, ?, ?, ?)'),
      received: db.prepare('UPDATE blob_uploads SET received = ?, touched = ? WHERE user_id = ? AND hash = ?'),
      uploadParts: db.prepare('SELECT data FROM blob_upload_parts WHERE user_id = ? AND hash = ? ORDER BY offset'),
      keep: db.prepare('INSERT INTO blob_parts (hash, offset, data) SELECT hash, offset, data FROM blob_upload_parts WHERE user_id = ? AND hash = ?'),
      keepContent: db.prepare('INSERT INTO blobs (hash, size, received, complete) VALUES (?, ?, ?, 1)'),
      own: db.prepare('INSERT OR IGNORE INTO blob_owners (user_id, hash) VALUES (?, ?)'),
      dropUploadParts: db.prepare('DELETE FROM blob_upload_parts WHERE user_id = ? AND hash = ?'),
      dropUpload: db.prepare('DELETE FROM blob_uploads WHERE user_id = ? AND hash = ?'),
      parts: db.prepare('SELECT data FROM blob_parts WHERE hash = ? ORDER BY offset'),
      sweepParts: db.prepare('DELETE FROM blob_upload_parts WHERE (user_id, hash) IN (SELECT user_id, hash FROM blob_uploads WHERE touched < ?)'),
      sweep: db.prepare('DELETE FROM blob_uploads WHERE touched < ?'),
      used: db.prepare(`SELECT (SELECT COALESCE(SUM(b.size), 0) FROM blob_owners o JOIN blobs b ON b.hash = o.hash WHERE o.user_id = ?) +
        (SELECT COALESCE(SUM(size), 0) FROM blob_uploads WHERE user_id = ? AND hash <> ?) AS n`),
      // (The bytes of each part within [start, end); substr counts a blob's bytes from 1.)
      slice: db.prepare(`SELECT substr(data, MAX(@start - offset, 0) + 1, MIN(@end, offset + length(data)) - MAX(@start, offset)) AS data
        FROM blob_parts WHERE hash = @hash AND offset < @end AND offset + length(data) > @start ORDER BY offset`)
    }
  }

  /** The size of `hash` if `userId` uploaded that content completely: what a note of theirs may point at. */
  uploadedSize (userId: string, hash: string): number | undefined {
    return this.stmt.owned.get(userId, hash)?.size
  }

  /** `userId`'s own upload of `hash`: complete, in progress, or undefined (whoever else holds it). */
  status (userId: string, hash: string): BlobStatus | undefined {
    const size = this.uploadedSize(userId, hash)
    if (size !== undefined) return { size, received: size, complete: true }
    const u = this.stmt.upload.get(userId, hash)
    return u === undefined ? undefined : { size: u.size, received: u.received, complete: false }
  }

  /**
   * Stores `chunk` at `offset` of `userId`'s upload of the blob `hash` of `size` bytes, in one
   * transaction. The offset must be what this user's upload has so far (409 says how much that is);
   * the last chunk triggers the hash check over this user's chunks. Content the server already holds
   * is uploaded whole all the same (that proves the user holds it); then only the ownership is kept.
   */
  write (userId: string, hash: string, size: number, offset: number, chunk: Uint8Array): BlobStatus {
    if (!CONTENT_HASH.test(hash)) throw new BlobError(ErrorCode.blobInvalid, 'a blob is named by its sha-256 hash: 64 lowercase hex digits')
    if (!Number.isSafeInteger(size) || size < 1) throw new BlobError(ErrorCode.blobInvalid, 'size: expected the whole blob\'s size in bytes (at least 1)')
    if (size > this.maxBytes) throw new BlobError(ErrorCode.blobTooLarge, `an attachment may have at most ${this.maxBytes} bytes; this one has ${size}`)
    const key: Key = [userId, hash]
    const result = this.db.transaction((): BlobStatus => {
      const owned = this.uploadedSize(userId, hash)
      if (owned !== undefined) return { size: owned, received: owned, complete: true } // this user proved it already
      const now = this.now()
      const u = this.stmt.upload.get(...key)
      if (u === undefined || u.size !== size) checkUserQuota(this.stmt.used.get(userId, userId, hash)?.n ?? 0, size, this.maxUserBytes)
      if (u === undefined) this.stmt.start.run(...key, size, now)
      else if (u.size !== size) { this.stmt.dropUploadParts.run(...key); this.stmt.restart.run(size, now, ...key) }
      const received = u === undefined || u.size !== size ? 0 : u.received
      if (offset !== received) throw new BlobError(ErrorCode.blobOffset, `expected offset ${received}`, received)
      if (chunk.length === 0 || offset + chunk.length > size) throw new BlobError(ErrorCode.blobInvalid, `a chunk must hold 1 to ${size - offset} bytes`)
      this.stmt.part.run(...key, offset, chunk)
      const total = offset + chunk.length
      this.stmt.received.run(total, now, ...key)
      if (total < size) return { size, received: total, complete: false }
      const h = createHash('sha256')
      for (const p of this.stmt.uploadParts.iterate(...key)) h.update(p.data)
      const matches = h.digest('hex') === hash
      // Content is kept once: the first complete upload's parts become the content.
      if (matches && this.stmt.content.get(hash) === undefined) { this.stmt.keep.run(...key); this.stmt.keepContent.run(hash, size, size) }
      if (matches) this.stmt.own.run(...key)
      this.stmt.dropUploadParts.run(...key)
      this.stmt.dropUpload.run(...key)
      // A mismatch is discarded (and committed as such): this user's upload starts over.
      return matches ? { size, received: size, complete: true } : { size, received: MISMATCH, complete: false }
    })()
    if (result.received === MISMATCH) throw new BlobError(ErrorCode.blobHashMismatch, 'the content does not match its sha-256 hash; the upload was discarded', 0)
    return result
  }

  /** The content of a complete blob (whoever uploaded it: callers check who may see it). */
  read (hash: string): Uint8Array | undefined {
    if (this.stmt.content.get(hash) === undefined) return undefined
    return Buffer.concat(this.stmt.parts.all(hash).map(p => p.data))
  }

  size (hash: string): number | undefined {
    return this.stmt.content.get(hash)?.size
  }

  slice (hash: string, start: number, length: number): Uint8Array {
    const parts = this.stmt.slice.all({ hash, start, end: start + length }).map(p => p.data)
    return parts.length === 1 ? parts[0] : Buffer.concat(parts)
  }

  /** Removes the partial uploads whose last chunk came more than `maxAgeMs` ago; returns how many. */
  removeAbandoned (maxAgeMs: number): number {
    const before = this.now() - maxAgeMs
    return this.db.transaction(() => {
      this.stmt.sweepParts.run(before)
      return this.stmt.sweep.run(before).changes
    })()
  }
}
