// The one base error of fieldsync: every error we throw on purpose carries a stable `code`, and HTTP
// statuses (src/server/http-errors.ts) and socket close codes (src/protocol/codes.ts) map from that code,
// never from the message text or the class name.

/** Stable codes of the errors fieldsync throws (README, "Errors"). A new code must be mapped where codes are. */
export const ErrorCode = {
  /** an input names a bad field: admin changes, offline profiles, request bodies (HTTP 400) */
  invalidField: 'invalid-field',
  /** the server's environment does not parse (start refused) */
  invalidConfig: 'invalid-config',
  /** the custom entities file does not parse (start refused) */
  invalidCatalog: 'invalid-catalog',
  /** the offline metadata file does not parse (start refused) */
  invalidMetadata: 'invalid-metadata',
  /** a record document cannot be read or written as asked */
  invalidRecord: 'invalid-record',
  /** a frame of a peer that does not decode (socket closed with 4400) */
  malformedMessage: 'malformed-message',
  /** an attachment upload that cannot be taken as sent: bad hash, size or chunk (HTTP 400) */
  blobInvalid: 'blob-invalid',
  /** an upload chunk at another offset than the server holds (HTTP 409, with what it holds) */
  blobOffset: 'blob-offset',
  /** an attachment above the server's limit (HTTP 413) */
  blobTooLarge: 'blob-too-large',
  /** an upload that would take its user's attachments past their quota (HTTP 413) */
  blobQuota: 'blob-quota',
  /** uploaded content that does not match its hash (HTTP 422) */
  blobHashMismatch: 'blob-hash-mismatch',
  /** device SDK: the last metadata forbids the change; `reason` is the receipt reason code the server would give */
  offlineRefused: 'offline-refused',
  /** device SDK: a view cannot run offline; `reason` says why */
  viewUnavailable: 'view-unavailable',
  /** device SDK: a search cannot run offline */
  searchUnavailable: 'search-unavailable',
  /** device SDK: the server refused an attachment for good */
  uploadRefused: 'upload-refused',
  /** device SDK: an attachment upload did not get through this time (retried) */
  uploadFailed: 'upload-failed',
  /** device SDK: the server refused a sign-in or a token renewal (`status`: 401, 429, ...) */
  signInFailed: 'sign-in-failed'
} as const

export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode]

export class FieldsyncError extends Error {
  override name = 'FieldsyncError'
  readonly code: ErrorCodeValue
  constructor (code: ErrorCodeValue, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** An input error that names the field it is about (admin changes, offline profiles); HTTP answers it 400. */
export class FieldError extends FieldsyncError {
  override name = 'FieldError'
  readonly field: string
  constructor (field: string, message: string) {
    super(ErrorCode.invalidField, `${field}: ${message}`)
    this.field = field
  }
}

/** A peer's frame that does not decode: bad input, which closes only that peer (CloseCode.malformed). */
export class MalformedMessage extends FieldsyncError {
  override name = 'MalformedMessage'
  constructor (message: string, options?: ErrorOptions) {
    super(ErrorCode.malformedMessage, message, options)
  }
}

/**
 * For the branch after every case of a closed union: the compiler proves it unreachable (a new member
 * fails to compile until it is handled), and if a value from outside the types gets there anyway it is a
 * bug, so it throws rather than being silently ignored.
 */
export const unexpectedCase = (value: never): never => {
  throw new Error(`unexpected case: ${JSON.stringify(value)}`)
}
