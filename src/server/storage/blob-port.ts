// The blob port: attachment content, content-addressed (sha-256), uploaded in chunks per uploader so a
// cut connection resumes; a user owns content they uploaded whole. Adapters pass
// test/server/ports/blobs-suite.ts.

import type { Awaitable } from './awaitable.ts'
import { ErrorCode, FieldsyncError } from '../../errors.ts'

export interface BlobStatus { readonly size: number, readonly received: number, readonly complete: boolean }

export type BlobErrorCode = typeof ErrorCode.blobInvalid | typeof ErrorCode.blobOffset | typeof ErrorCode.blobTooLarge | typeof ErrorCode.blobQuota | typeof ErrorCode.blobHashMismatch

/** A refused upload (its HTTP status follows from its code); `received` is what the server holds when the uploader should resume from there. */
export class BlobError extends FieldsyncError {
  override name = 'BlobError'
  override readonly code: BlobErrorCode
  readonly received: number | undefined
  constructor (code: BlobErrorCode, message: string, received?: number) {
    super(code, message)
    this.code = code
    this.received = received
  }
}

/** What one user's attachments may take by default: their content and their uploads in progress. */
export const MAX_USER_BLOB_BYTES = 1024 * 1024 * 1024

/**
 * Refuses a new upload of `size` bytes by a user whose attachments take `used` bytes (content they
 * uploaded whole, and the declared size of their other uploads in progress) when it would pass `max`.
 */
export const checkUserQuota = (used: number, size: number, max: number): void => {
  if (used + size > max) throw new BlobError(ErrorCode.blobQuota, `your attachments would take ${used + size} bytes, past your ${max}`)
}

export interface BlobStore {
  /** the largest blob taken */
  readonly maxBytes: number
  /** the most one user's attachments may take (content uploaded whole, and uploads in progress at their size) */
  readonly maxUserBytes: number
  /**
   * The size of `hash` if `userId` uploaded that content completely: what a note of theirs may point at.
   * Synchronous: asked while a note is decided; an adapter over the network keeps ownership in memory.
   */
  uploadedSize (userId: string, hash: string): number | undefined
  /** `userId`'s own upload of `hash`: complete, in progress, or undefined (whoever else holds it). */
  status (userId: string, hash: string): Awaitable<BlobStatus | undefined>
  /**
   * Stores `chunk` at `offset` of `userId`'s upload of `hash` (`size` bytes in all); the last chunk is
   * checked against the hash. Throws BlobError: invalid name, size or chunk; wrong offset (with the offset
   * expected); too large; past the user's quota (checked when an upload starts); content does not match
   * (the upload starts over).
   */
  write (userId: string, hash: string, size: number, offset: number, chunk: Uint8Array): Awaitable<BlobStatus>
  /** The content of a complete blob (whoever uploaded it: callers check who may see it). */
  read (hash: string): Awaitable<Uint8Array | undefined>
  /** The size of a complete blob, or undefined when there is none. */
  size (hash: string): Awaitable<number | undefined>
  /** `length` bytes of a complete blob's content from `start` (fewer at its end): a download reads it a
   * slice at a time, as its client takes it. */
  slice (hash: string, start: number, length: number): Awaitable<Uint8Array>
  /** Removes the partial uploads whose last chunk came more than `maxAgeMs` ago; returns how many. */
  removeAbandoned (maxAgeMs: number): Awaitable<number>
}
