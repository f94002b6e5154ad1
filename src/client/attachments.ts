// Attachment content on the device: sha-256 naming, and the resumable upload and checked download
// over the server's HTTP API (README, "Attachments").

import { currentToken, type TokenSource } from './token.ts'

/** The chunk size of uploads: a cut connection loses at most one chunk of progress. */
export const UPLOAD_CHUNK_BYTES = 256 * 1024

export const sha256Hex = async (data: Uint8Array): Promise<string> => {
  const d = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>))
  return Array.from(d, b => b.toString(16).padStart(2, '0')).join('')
}

export interface Http { readonly base: string, readonly token: TokenSource }

/** The server refused the content for good (too large, hash mismatch): retrying cannot help. */
export class UploadRefused extends Error {
  override name = 'UploadRefused'
}

const headers = async (http: Http): Promise<Record<string, string>> => ({ authorization: `Bearer ${await currentToken(http.token)}` })

/** A 401 means the token expired or was refused: not the content's fault, so the upload is retried. */
const unauthorized = (what: string): Error => new Error(`${what}: the server refused the token (401)`)

/**
 * Uploads a blob from where the server's copy stopped, chunk by chunk. Resolves with the offset it
 * resumed from; throws UploadRefused for a refusal and a plain error when the connection fails.
 */
export const uploadBlob = async (http: Http, hash: string, data: Uint8Array): Promise<{ from: number }> => {
  const url = `${http.base}/api/blobs/${hash}`
  const status = await fetch(url, { headers: await headers(http) })
  if (status.status === 401) throw unauthorized(`upload of ${hash}`)
  const known = await status.json() as { received: number, complete: boolean, size: number | null }
  if (known.complete) return { from: data.length }
  let offset = known.size === data.length ? known.received : 0
  const from = offset
  while (offset < data.length) {
    const chunk = data.subarray(offset, Math.min(data.length, offset + UPLOAD_CHUNK_BYTES))
    const res = await fetch(`${url}?size=${data.length}&offset=${offset}`, { method: 'PUT', headers: { ...await headers(http), 'content-type': 'application/octet-stream' }, body: chunk as Uint8Array<ArrayBuffer> })
    const body = await res.json() as { received: number | null, error?: string }
    if (res.status === 409 && typeof body.received === 'number') { offset = body.received; continue }
    if (res.status === 401) throw unauthorized(`upload of ${hash}`)
    if (!res.ok) throw new UploadRefused(`upload of ${hash} refused (${res.status}): ${body.error ?? ''}`)
    offset = body.received ?? offset + chunk.length
  }
  return { from }
}

/** Downloads a note's attachment and checks it against the hash the note names. */
export const downloadAttachment = async (http: Http, record: string, noteId: string, hash: string): Promise<Uint8Array> => {
  const res = await fetch(`${http.base}/api/records/${record}/notes/${encodeURIComponent(noteId)}/attachment`, { headers: await headers(http) })
  if (!res.ok) throw new Error(`attachment of ${record} note ${noteId}: ${res.status} ${await res.text()}`)
  const data = new Uint8Array(await res.arrayBuffer())
  if (await sha256Hex(data) !== hash) throw new Error(`attachment of ${record} note ${noteId} does not match its hash`)
  return data
}
