// Attachment content as content-addressed blobs (sha-256, lowercase hex), uploaded in chunks so that a
// cut connection resumes where it stopped; the hash is checked once the last byte is in, and content
// that does not match it is discarded.

import { createHash } from 'node:crypto'
import type Database from 'better-sqlite3'
import type { SqliteDb } from './sqlite.ts'

export const HASH = /^[0-9a-f]{64}$/

const MISMATCH = -1

export interface BlobStatus { readonly size: number, readonly received: number, readonly complete: boolean }

/** A refused upload: `status` is the HTTP status the route answers with. */
export class BlobError extends Error {
  override name = 'BlobError'
  readonly status: 400 | 409 | 413 | 422
  readonly received: number | undefined
  constructor (status: 400 | 409 | 413 | 422, message: string, received?: number) {
    super(message)
    this.status = status
    this.received = received
  }
}

export class SqliteBlobStore {
  readonly maxBytes: number
  private readonly db: SqliteDb
  private readonly stmt: {
    get: Database.Statement<[string], { size: number, received: number, complete: number }>
    insert: Database.Statement<[string, number]>
    reset: Database.Statement<[number, string]>
    part: Database.Statement<[string, number, Uint8Array]>
    received: Database.Statement<[number, string]>
    complete: Database.Statement<[string]>
    parts: Database.Statement<[string], { data: Buffer }>
    dropParts: Database.Statement<[string]>
    drop: Database.Statement<[string]>
  }

  constructor (db: SqliteDb, maxBytes: number) {
    this.db = db
    this.maxBytes = maxBytes
    db.exec(`
      CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, received INTEGER NOT NULL, complete INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS blob_parts (hash TEXT NOT NULL, offset INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (hash, offset));
    `)
    this.stmt = {
      get: db.prepare('SELECT size, received, complete FROM blobs WHERE hash = ?'),
      insert: db.prepare('INSERT INTO blobs (hash, size, received, complete) VALUES (?, ?, 0, 0)'),
      reset: db.prepare('UPDATE blobs SET size = ?, received = 0, complete = 0 WHERE hash = ?'),
      part: db.prepare('INSERT INTO blob_parts (hash, offset, data) VALUES (?, ?, ?)'),
      received: db.prepare('UPDATE blobs SET received = ? WHERE hash = ?'),
      complete: db.prepare('UPDATE blobs SET complete = 1 WHERE hash = ?'),
      parts: db.prepare('SELECT data FROM blob_parts WHERE hash = ? ORDER BY offset'),
      dropParts: db.prepare('DELETE FROM blob_parts WHERE hash = ?'),
      drop: db.prepare('DELETE FROM blobs WHERE hash = ?')
    }
  }

  status (hash: string): BlobStatus | undefined {
    const r = this.stmt.get.get(hash)
    return r === undefined ? undefined : { size: r.size, received: r.received, complete: r.complete === 1 }
  }

  /** The size of a completely uploaded blob, or undefined. */
  completeSize (hash: string): number | undefined {
    const s = this.status(hash)
    return s?.complete === true ? s.size : undefined
  }

  /**
   * Stores `chunk` at `offset` of the blob `hash` of `size` bytes, in one transaction. The offset must
   * be what was received so far (409 says how much that is); the last chunk triggers the hash check.
   */
  write (hash: string, size: number, offset: number, chunk: Uint8Array): BlobStatus {
    if (!HASH.test(hash)) throw new BlobError(400, 'a blob is named by its sha-256 hash: 64 lowercase hex digits')
    if (!Number.isSafeInteger(size) || size < 1) throw new BlobError(400, 'size: expected the whole blob\'s size in bytes (at least 1)')
    if (size > this.maxBytes) throw new BlobError(413, `an attachment may have at most ${this.maxBytes} bytes; this one has ${size}`)
    const result = this.db.transaction((): BlobStatus => {
      let s = this.status(hash)
      if (s?.complete === true) return s // content-addressed: it is here already
      if (s === undefined) this.stmt.insert.run(hash, size)
      else if (s.size !== size) { this.stmt.dropParts.run(hash); this.stmt.reset.run(size, hash) }
      s = this.status(hash)!
      if (offset !== s.received) throw new BlobError(409, `expected offset ${s.received}`, s.received)
      if (chunk.length === 0 || offset + chunk.length > size) throw new BlobError(400, `a chunk must hold 1 to ${size - offset} bytes`)
      this.stmt.part.run(hash, offset, chunk)
      const received = offset + chunk.length
      this.stmt.received.run(received, hash)
      if (received < size) return { size, received, complete: false }
      const h = createHash('sha256')
      for (const p of this.stmt.parts.iterate(hash)) h.update(p.data)
      if (h.digest('hex') !== hash) {
        // Discarded (and committed as such): the upload starts over.
        this.stmt.dropParts.run(hash)
        this.stmt.drop.run(hash)
        return { size, received: MISMATCH, complete: false }
      }
      this.stmt.complete.run(hash)
      return { size, received, complete: true }
    })()
    if (result.received === MISMATCH) throw new BlobError(422, 'the content does not match its sha-256 hash; the upload was discarded', 0)
    return result
  }

  /** The content of a complete blob. */
  read (hash: string): Uint8Array | undefined {
    if (this.completeSize(hash) === undefined) return undefined
    return Buffer.concat(this.stmt.parts.all(hash).map(p => p.data))
  }
}
