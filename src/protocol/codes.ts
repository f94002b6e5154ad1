// Message numbers and close codes of the /sync websocket (README, "Protocol"). Defined here only.

import type { ErrorCodeValue, FieldsyncError } from '../errors.ts'

/** Top-level message types of the y-websocket protocol. */
export const MessageType = {
  sync: 0,
  awareness: 1,
  auth: 2,
  queryAwareness: 3,
  /** fieldsync: receipts for dropped changes, JSON; sent only to connections that asked (`?receipts=1`) */
  receipts: 100
} as const

/** Sub-types of a sync message (y-protocols/sync). */
export const SyncStep = {
  step1: 0,
  step2: 1,
  update: 2
} as const

/** Why the server closed a socket. 1xxx are standard codes, 4xxx are fieldsync's. */
export const CloseCode = {
  /** the server is shutting down; reconnect later */
  goingAway: 1001,
  /** a frame above the configured limit (`MAX_FRAME_BYTES`, default 1 MiB) */
  tooLarge: 1009,
  /** the server could not keep the record consistent (storage failed); reconnect */
  internalError: 1011,
  /** a frame that does not decode: truncated, random bytes, impossible lengths, unknown message type */
  malformed: 4400,
  /** the token the socket was opened with expired: reconnect with a fresh one */
  tokenExpired: 4401,
  /** the user may no longer read the record (privileges or ownership changed) */
  readRevoked: 4403,
  /** the socket's send buffer is full: the client stopped reading what the server sends */
  slowConsumer: 4408,
  /** the user reached a limit on what the server keeps for them in this record (README, "Security") */
  quotaExceeded: 4413,
  /** too many requests of one kind (presence queries, refused updates) in a short time */
  rateLimited: 4429
} as const

export type CloseCodeValue = typeof CloseCode[keyof typeof CloseCode]

/**
 * The close code for an error thrown while taking a peer's frame, from the error's stable code. Only a
 * frame that does not decode is the peer's fault (4400); anything else there is the server's (1011).
 */
export const CLOSE_CODE: Readonly<Record<ErrorCodeValue, CloseCodeValue>> = {
  'malformed-message': CloseCode.malformed,
  'invalid-field': CloseCode.internalError,
  'invalid-config': CloseCode.internalError,
  'invalid-catalog': CloseCode.internalError,
  'invalid-metadata': CloseCode.internalError,
  'invalid-record': CloseCode.internalError,
  'blob-invalid': CloseCode.internalError,
  'blob-offset': CloseCode.internalError,
  'blob-too-large': CloseCode.internalError,
  'blob-quota': CloseCode.internalError,
  'blob-hash-mismatch': CloseCode.internalError,
  'offline-refused': CloseCode.internalError,
  'view-unavailable': CloseCode.internalError,
  'search-unavailable': CloseCode.internalError,
  'upload-refused': CloseCode.internalError,
  'upload-failed': CloseCode.internalError,
  'sign-in-failed': CloseCode.internalError
}

export const closeCodeOf = (e: FieldsyncError): CloseCodeValue => CLOSE_CODE[e.code]
