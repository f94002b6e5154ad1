// Message numbers and close codes of the /sync websocket (README, "Protocol"). Defined here only.

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
