// Attachment content on the device: sha-256 naming, the resumable upload and checked download over the
// server's HTTP API (README, "Attachments"), which answers are final and how long to wait before
// trying again after one that is not.

import { currentToken, type TokenSource } from './token.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'

/** The chunk size of uploads: a cut connection loses at most one chunk of progress. */
export const UPLOAD_CHUNK_BYTES = 256 * 1024

/** The answers to an upload that retrying cannot change (malformed, too large, hash mismatch). */
export const FINAL_UPLOAD_STATUSES: readonly number[] = [400, 413, 422]

export const sha256Hex = async (data: Uint8Array): Promise<string> => {
  const d = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>))
  return Array.from(d, b => b.toString(16).padStart(2, '0')).join('')
}

export interface Http { readonly base: string, readonly token: TokenSource }

/** The server refused the content for good (400, 413, 422): retrying cannot help. */
export class UploadRefused extends FieldsyncError {
  override name = 'UploadRefused'
  readonly status: number
  constructor (status: number, message: string) {
    super(ErrorCode.uploadRefused, message)
    this.status = status
  }
}

/**
 * The upload did not get through this time (no connection, 401 with a renewed token too, 5xx, a proxy's
 * answer): the content stays pending and is tried again later. `retryAfterMs` is the server's
 * Retry-After, when it gave one.
 */
export class UploadFailed extends FieldsyncError {
  override name = 'UploadFailed'
  readonly status: number | null
  readonly retryAfterMs: number | null
  constructor (status: number | null, message: string, retryAfterMs: number | null = null) {
    super(ErrorCode.uploadFailed, message)
    this.status = status
    this.retryAfterMs = retryAfterMs
  }
}

export interface UploadBackoff { readonly baseMs: number, readonly maxMs: number }

export const DEFAULT_UPLOAD_BACKOFF: UploadBackoff = { baseMs: 5_000, maxMs: 10 * 60_000 }

/** How long to wait after the `failures`-th failed upload in a row: doubling from `baseMs`, at most `maxMs`. */
export const uploadRetryDelay = (failures: number, backoff: UploadBackoff, retryAfterMs: number | null = null): number =>
  Math.max(Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, failures - 1)), retryAfterMs ?? 0)

const retryAfter = (res: Response): number | null => {
  const v = res.headers.get('retry-after')
  const s = v === null ? NaN : Number(v)
  return Number.isFinite(s) && s >= 0 ? Math.min(s, 86_400) * 1000 : null
}

/** The JSON body of an answer, or {} when it has none (a proxy's error page). */
const bodyOf = async (res: Response): Promise<Record<string, unknown>> => {
  try {
    const b: unknown = await res.json()
    return typeof b === 'object' && b !== null ? b as Record<string, unknown> : {}
  } catch { return {} }
}

/**
 * A request with the current token; on 401 the token source is asked for a renewed one (told the last
 * was refused) and the request goes once more. Network errors become UploadFailed.
 */
const request = async (http: Http, url: string, init: RequestInit = {}): Promise<Response> => {
  const go = async (refused: boolean): Promise<Response> => {
    const token = await currentToken(http.token, { refused })
    try {
      return await fetch(url, { ...init, headers: { ...init.headers as Record<string, string>, authorization: `Bearer ${token}` } })
    } catch (e) {
      throw new UploadFailed(null, `${url}: ${(e as Error).message}`)
    }
  }
  const res = await go(false)
  if (res.status !== 401) return res
  await res.body?.cancel()
  return go(true)
}

/** Throws what an answer that is neither success nor an expected one means. */
const refusal = async (res: Response, what: string): Promise<never> => {
  const body = await bodyOf(res)
  const message = `${what}: ${res.status}${typeof body.error === 'string' ? ` ${body.error}` : ''}`
  if (FINAL_UPLOAD_STATUSES.includes(res.status)) throw new UploadRefused(res.status, message)
  throw new UploadFailed(res.status, message, retryAfter(res))
}

/**
 * Uploads a blob from where the server's copy stopped, chunk by chunk. Resolves with the offset it
 * resumed from; throws UploadRefused for a final refusal and UploadFailed for anything to try again.
 */
export const uploadBlob = async (http: Http, hash: string, data: Uint8Array): Promise<{ from: number }> => {
  const url = `${http.base}/api/blobs/${hash}`
  const what = `upload of ${hash}`
  const status = await request(http, url)
  // 404: this user has not started uploading it
  if (status.status !== 200 && status.status !== 404) return refusal(status, what)
  const known = await bodyOf(status)
  if (known.complete === true) return { from: data.length }
  let offset = known.size === data.length && typeof known.received === 'number' ? known.received : 0
  const from = offset
  while (offset < data.length) {
    const chunk = data.subarray(offset, Math.min(data.length, offset + UPLOAD_CHUNK_BYTES))
    const res = await request(http, `${url}?size=${data.length}&offset=${offset}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: chunk as Uint8Array<ArrayBuffer> })
    if (res.status === 409) {
      const body = await bodyOf(res)
      if (typeof body.received !== 'number') return refusal(res, what)
      offset = body.received
      continue
    }
    if (!res.ok) return refusal(res, what)
    const body = await bodyOf(res)
    offset = typeof body.received === 'number' ? body.received : offset + chunk.length
  }
  return { from }
}

/** Downloads a note's attachment and checks it against the hash the note names. */
export const downloadAttachment = async (http: Http, record: string, noteId: string, hash: string): Promise<Uint8Array> => {
  const res = await request(http, `${http.base}/api/records/${record}/notes/${encodeURIComponent(noteId)}/attachment`)
  if (!res.ok) throw new Error(`attachment of ${record} note ${noteId}: ${res.status} ${await res.text()}`)
  const data = new Uint8Array(await res.arrayBuffer())
  if (await sha256Hex(data) !== hash) throw new Error(`attachment of ${record} note ${noteId} does not match its hash`)
  return data
}
