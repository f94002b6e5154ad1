// Opens the signed-in user's device (one IndexedDB database per user) and feeds its events to the app's
// signals; runs the first sync with progress, periodic syncs, and sign-out (which deletes the database).

import { FieldsyncDevice, type SocketLike } from '../client/device.ts'
import { IndexedDbLocalStore } from '../client/indexeddb-store.ts'
import { Session, stored, type SignIn } from './session.ts'
import { conflictCount, dataVersion, firstSync, inboxCount, lastSyncAt, progress, signed, signInNote, status, syncError, unsynced } from './state.ts'

const SYNC_EVERY_MS = 15_000

// The browser's WebSocket is a SocketLike; only its handlers' event types are narrower than the SDK's `unknown`.
const BrowserSocket = WebSocket as unknown as new (url: string) => SocketLike

const dbNameOf = (s: SignIn): string => `fieldsync-${s.user.id}`

export const refreshInbox = async (device: FieldsyncDevice): Promise<void> => {
  const items = await device.inbox()
  inboxCount.value = items.length
  conflictCount.value = items.filter(i => i.receipt.reason === 'superseded').length
}

const markSynced = (): void => {
  const at = new Date().toISOString()
  localStorage.setItem('fieldsync.last-sync', at)
  lastSyncAt.value = at
}

/** Runs a sync cycle, reporting a failure in the header instead of throwing. */
export const syncNow = async (device: FieldsyncDevice): Promise<boolean> => {
  try {
    await device.sync()
    syncError.value = null
    markSynced()
    return true
  } catch (e) {
    syncError.value = (e as Error).message
    return false
  } finally {
    dataVersion.value++
    await refreshInbox(device)
  }
}

export const openDevice = async (s: SignIn): Promise<void> => {
  const session = new Session(s)
  const dbName = dbNameOf(s)
  const device = await FieldsyncDevice.open({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`,
    token: session.token, store: await IndexedDbLocalStore.open(dbName), WebSocket: BrowserSocket, syncIntervalMs: SYNC_EVERY_MS
  })
  device.on('status', st => {
    status.value = st
    if (st === 'synced') { markSynced(); syncError.value = null; progress.value = null; dataVersion.value++ }
  })
  device.on('progress', p => { progress.value = p; if (p.done === p.total) dataVersion.value++ })
  device.on('unsynced', n => { unsynced.value = n; dataVersion.value++ })
  device.on('receipts', () => { void refreshInbox(device); dataVersion.value++ })
  device.on('evicted', () => { dataVersion.value++ })
  device.on('uploadFailed', u => { if (u.final) void refreshInbox(device) })
  let ended = false
  session.onEnded = message => {
    if (ended) return
    ended = true
    // The data stays (the same user signing in again finds it); the device stops syncing until then.
    device.stopPeriodic()
    device.close().catch(() => {})
    signInNote.value = `Your sign-in ended (${message}). Sign in again; your data on this device is kept.`
    signed.value = null
  }
  unsynced.value = await device.unsyncedCount()
  await refreshInbox(device)
  status.value = device.status
  session.start()
  firstSync.value = device.lastMetadata === null
  signed.value = { session, device, dbName }
  addEventListener('online', () => { void syncNow(device) })
  if (firstSync.value) {
    progress.value = { done: 0, total: 0, bytes: 0 }
    const ok = await syncNow(device)
    if (ok) firstSync.value = false
  }
  device.startPeriodic(SYNC_EVERY_MS)
}

/** The app's start: a stored sign-in opens the device at once (offline too). */
export const resume = async (): Promise<void> => {
  const s = stored()
  if (s !== null) await openDevice(s)
}

const deleteDatabase = (name: string): Promise<void> => new Promise((resolve, reject) => {
  const req = indexedDB.deleteDatabase(name)
  req.onsuccess = () => resolve()
  req.onerror = () => reject(req.error ?? new Error(`could not delete ${name}`))
  req.onblocked = () => resolve() // closed below; it goes once the last connection is gone
})

/** Signs out: ends the sign-in, closes the device and deletes its data from this browser. */
export const signOut = async (): Promise<void> => {
  const cur = signed.value
  if (cur === null) return
  cur.device.stopPeriodic()
  await cur.device.close()
  await cur.session.signOut()
  await deleteDatabase(cur.dbName)
  localStorage.removeItem('fieldsync.last-sync')
  lastSyncAt.value = null
  unsynced.value = 0
  inboxCount.value = 0
  signed.value = null
  signInNote.value = 'Signed out. The data of this device was removed.'
}
