// How the HTTP API answers an error: the status comes from the error's stable code (one table, every
// code in it), the body is `{ error }` plus what the client acts on (the field, the bytes held).

import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { FieldError, FieldsyncError, type ErrorCodeValue } from '../errors.ts'
import { BlobError } from './storage/blob-port.ts'

/**
 * The status of each code. Codes that never come out of a route handler (start-up, device SDK, socket
 * frames) would be a bug there: 500.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCodeValue, ContentfulStatusCode>> = {
  'invalid-field': 400,
  'blob-invalid': 400,
  'blob-offset': 409,
  'blob-too-large': 413,
  'blob-quota': 413,
  'blob-hash-mismatch': 422,
  'invalid-config': 500,
  'invalid-catalog': 500,
  'invalid-metadata': 500,
  'invalid-record': 500,
  'malformed-message': 500,
  'offline-refused': 500,
  'view-unavailable': 500,
  'search-unavailable': 500,
  'upload-refused': 500,
  'upload-failed': 500,
  'sign-in-failed': 500
}

/** The answer to `err` thrown by a route (hono's `app.onError`). */
export const answerError = (err: Error, c: Context): Response => {
  if (err instanceof HTTPException) return c.json({ error: err.message }, err.status)
  if (err instanceof FieldsyncError && HTTP_STATUS[err.code] < 500) {
    const extra = err instanceof FieldError ? { field: err.field } : err instanceof BlobError ? { received: err.received ?? null } : {}
    return c.json({ error: err.message, ...extra }, HTTP_STATUS[err.code])
  }
  console.error(err)
  return c.json({ error: 'internal error' }, 500)
}
