// The browser bundle's entry: the device SDK with the IndexedDB store (built by esbuild for the tests).

export { FieldsyncDevice } from './device.ts'
export { IndexedDbLocalStore } from './indexeddb-store.ts'
export { OfflineRefusal } from './offline-rules.ts'
