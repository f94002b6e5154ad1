// One base error with a stable code: every error fieldsync throws on purpose is a FieldsyncError, and
// HTTP statuses and close codes are read from its code in one table each, which names every code.

import { describe, expect, it } from 'vitest'
import { ErrorCode, FieldError, FieldsyncError, MalformedMessage, unexpectedCase } from '../src/errors.ts'
import { AdminError } from '../src/authz/admin.ts'
import { ProfileError } from '../src/profiles/profile.ts'
import { ConfigError, parseConfig } from '../src/server/config.ts'
import { CatalogError } from '../src/docs/catalog.ts'
import { MetadataError } from '../src/metadata/metadata.ts'
import { RecordError } from '../src/docs/record.ts'
import { ViewError } from '../src/metadata/views.ts'
import { SearchError } from '../src/metadata/search.ts'
import { BlobError } from '../src/server/storage/blob-port.ts'
import { OfflineRefusal } from '../src/client/offline-rules.ts'
import { UploadFailed, UploadRefused } from '../src/client/attachments.ts'
import { SignInFailed } from '../src/client/sign-in-session.ts'
import { decodeDeviceFrame } from '../src/protocol/device-frames.ts'
import { CLOSE_CODE, CloseCode, closeCodeOf } from '../src/protocol/codes.ts'
import { Reason } from '../src/protocol/receipts.ts'
import { HTTP_STATUS } from '../src/server/http-errors.ts'

const CODES = Object.values(ErrorCode)

describe('errors', () => {
  it('are FieldsyncErrors, each with its stable code', () => {
    const made: [FieldsyncError, string][] = [
      [new FieldError('f', 'bad'), 'invalid-field'],
      [new AdminError('f', 'bad'), 'invalid-field'],
      [new ProfileError('f', 'bad'), 'invalid-field'],
      [new ConfigError('bad'), 'invalid-config'],
      [new CatalogError('bad'), 'invalid-catalog'],
      [new MetadataError('bad'), 'invalid-metadata'],
      [new RecordError('bad'), 'invalid-record'],
      [new MalformedMessage('bad'), 'malformed-message'],
      [new ViewError('personal-view', 'bad'), 'view-unavailable'],
      [new SearchError('bad'), 'search-unavailable'],
      [new BlobError(ErrorCode.blobOffset, 'bad', 3), 'blob-offset'],
      [new OfflineRefusal(Reason.entityReadOnly, 'bad'), 'offline-refused'],
      [new UploadRefused(413, 'bad'), 'upload-refused'],
      [new UploadFailed(null, 'bad'), 'upload-failed'],
      [new SignInFailed(401, 'bad'), 'sign-in-failed']
    ]
    for (const [e, code] of made) {
      expect(e).toBeInstanceOf(FieldsyncError)
      expect(e).toBeInstanceOf(Error)
      expect([e.name, e.code]).toEqual([e.constructor.name, code])
    }
    expect(new Set(made.map(([, code]) => code))).toEqual(new Set(CODES.filter(c => !c.startsWith('blob-') || c === 'blob-offset')))
  })

  it('thrown by the code are the FieldsyncErrors with their codes (configuration, frames)', () => {
    expect(() => parseConfig({ PORT: 'eighty' })).toThrow(expect.objectContaining({ code: ErrorCode.invalidConfig }))
    expect(() => decodeDeviceFrame(new Uint8Array([99]))).toThrow(expect.objectContaining({ code: ErrorCode.malformedMessage }))
    // lib0's reader fails on a truncated frame with a plain error: it comes out as a malformed message
    expect(() => decodeDeviceFrame(new Uint8Array([0]))).toThrow(MalformedMessage)
  })

  it('map to an HTTP status and a close code from one table each, naming every code', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...CODES].sort())
    expect(Object.keys(CLOSE_CODE).sort()).toEqual([...CODES].sort())
    expect([HTTP_STATUS['invalid-field'], HTTP_STATUS['blob-offset'], HTTP_STATUS['blob-too-large'], HTTP_STATUS['blob-hash-mismatch']]).toEqual([400, 409, 413, 422])
    expect(closeCodeOf(new MalformedMessage('x'))).toBe(CloseCode.malformed)
    expect(closeCodeOf(new RecordError('x'))).toBe(CloseCode.internalError)
  })

  it('an impossible case throws instead of passing silently', () => {
    expect(() => unexpectedCase('surprise' as never)).toThrow(/unexpected case: "surprise"/)
  })
})
