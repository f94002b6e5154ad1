// `fieldsync/client`: the device SDK as an app imports it, and the browser bundle's entry (the tests
// build it with esbuild). Browser-safe: nothing here reaches Node-only modules; the SQLite store for
// Node apps is its own entry (`fieldsync/client/sqlite`).

export { FieldsyncDevice, type DeviceOptions, type DeviceEvents, type DeviceStatus, type NewAttachment, type NoteView, type SocketLike, type TokenSource, type UploadFailure } from './device.ts'
export { IndexedDbLocalStore } from './indexeddb-store.ts'
export { YIndexedDbLocalStore } from './y-indexeddb-store.ts'
export { OfflineRefusal, type DeviceMetadata } from './offline-rules.ts'
export { ViewError } from '../metadata/views.ts'
export { SearchError } from '../metadata/search.ts'
export { UploadFailed, UploadRefused, type UploadBackoff } from './attachments.ts'
export type { IndexedRecord, InboxItem, LocalMeta, LocalReceipt, LocalStore, PendingCommand, PendingUpdate } from './store.ts'
export type { TokenRequest } from './token.ts'
export { SignInFailed, SignInSession, type ClosableDevice, type SessionEvents, type SessionState, type SignInOptions } from './sign-in-session.ts'
