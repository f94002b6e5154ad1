// Opens the signed-in user's device (one IndexedDB database per user) and feeds its events to the app's
// signals; runs the first sync with progress, periodic syncs, and sign-out (which deletes the database).
// The sign-in itself is the device SDK's SignInSession (kept in localStorage by ./session.ts).

import { FieldsyncDevice, type SocketLike } from '../client/device.ts'
import { IndexedDbLocalStore } from '../client/indexeddb-store.ts'
import { SignInSession } from '../client/sign-in-session.ts'
import { forget, persist, providerTokenInFragment, sessionOptions, storedSession } from './session.ts'
import { conflictCount, dataVersion, firstSync, inboxCount, lastSyncAt, progress, signed, signInNote, status, syncError, unsynced } from './state.ts'

const SYNC_EVERY_MS = 15_000

// The browser's WebSocket is a SocketLike; only its handlers' event types are narrower than the SDK's `unknown`.
const BrowserSocket = WebSocket as unknown as new (url: string) => SocketLike

const dbNameOf = (session: SignInSession): string => `fieldsync-${session.user.id}`

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

/** What the browser's coming back online does: sync the open device (one listener, the open device's). */
let onOnline: (() => void) | null = null
const syncWhenOnline = (device: FieldsyncDevice | null): void => {
  if (onOnline !== null) removeEventListener('online', onOnline)
  onOnline = device === null ? null : () => { void syncNow(device) }
  if (onOnline !== null) addEventListener('online', onOnline)
}

export const openDevice = async (session: SignInSession): Promise<void> => {
  persist(session)
  const dbName = dbNameOf(session)
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
  session.on('ended', e => { // (emitted once)
    // The data stays (the same user signing in again finds it); the device stops syncing until then.
    forget()
    syncWhenOnline(null)
    device.stopPeriodic()
    device.close().catch(() => {})
    signInNote.value = `Your sign-in ended (${e.message}). Sign in again; your data on this device is kept.`
    signed.value = null
  })
  unsynced.value = await device.unsyncedCount()
  await refreshInbox(device)
  status.value = device.status
  session.renewInBackground()
  firstSync.value = device.lastMetadata === null
  signed.value = { session, device }
  syncWhenOnline(device)
  if (firstSync.value) {
    progress.value = { done: 0, total: 0, bytes: 0 }
    const ok = await syncNow(device)
    if (ok) firstSync.value = false
  }
  device.startPeriodic(SYNC_EVERY_MS)
}

/** The app's start: a stored sign-in opens the device at once (offline too); else an identity provider's
 * token in the fragment signs in with it. */
export const resume = async (): Promise<void> => {
  const token = providerTokenInFragment()
  const stored = storedSession()
  // A token in a link does not replace the sign-in kept here: the app starts no provider sign-in (no state
  // or nonce to check it against), so anyone could send a link with their own token.
  if (token !== null && stored === null) {
    let session: SignInSession
    try {
      session = SignInSession.fromProviderToken(sessionOptions(), token)
    } catch (e) {
      signInNote.value = `The identity provider's sign-in could not be read (${(e as Error).message}). Sign in again.`
      return
    }
    await openDevice(session)
    return
  }
  if (stored !== null) await openDevice(stored)
}

/** Signs out: ends the sign-in, closes the device and deletes its data from this browser. */
export const signOut = async (): Promise<void> => {
  const cur = signed.value
  if (cur === null) return
  cur.device.stopPeriodic()
  syncWhenOnline(null)
  forget()
  await cur.session.signOut(cur.device) // closes the device and deletes its database
  localStorage.removeItem('fieldsync.last-sync')
  lastSyncAt.value = null
  unsynced.value = 0
  inboxCount.value = 0
  signed.value = null
  signInNote.value = 'Signed out. The data of this device was removed.'
}
