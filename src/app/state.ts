// The app's state as signals: the route, the signed-in device and what it reports (status, first-sync
// progress, changes waiting, inbox), and a counter that lists and forms watch to read the device again.

import { signal, computed } from '@preact/signals'
import type { FieldsyncDevice, DeviceStatus } from '../client/device.ts'
import type { Session } from './session.ts'

export type Route =
  | { readonly name: 'home' }
  | { readonly name: 'list', readonly entity: string }
  | { readonly name: 'record', readonly record: string }
  | { readonly name: 'new', readonly entity: string }
  | { readonly name: 'inbox' }
  | { readonly name: 'status' }

export const parseRoute = (hash: string): Route => {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  switch (parts[0]) {
    case 'e': return parts[1] !== undefined ? { name: 'list', entity: parts[1] } : { name: 'home' }
    case 'r': return parts.length >= 3 ? { name: 'record', record: `${parts[1]}/${parts[2]}` } : { name: 'home' }
    case 'new': return parts[1] !== undefined ? { name: 'new', entity: parts[1] } : { name: 'home' }
    case 'inbox': return { name: 'inbox' }
    case 'status': return { name: 'status' }
    default: return { name: 'home' }
  }
}

export const href = {
  home: '#/',
  list: (entity: string) => `#/e/${encodeURIComponent(entity)}`,
  record: (record: string) => `#/r/${record.split('/').map(encodeURIComponent).join('/')}`,
  create: (entity: string) => `#/new/${encodeURIComponent(entity)}`,
  inbox: '#/inbox',
  status: '#/status'
}

export const route = signal<Route>(parseRoute(location.hash))
addEventListener('hashchange', () => { route.value = parseRoute(location.hash) })
export const go = (to: string): void => { location.hash = to }

export interface Signed { readonly session: Session, readonly device: FieldsyncDevice, readonly dbName: string }

/** null: the sign-in screen */
export const signed = signal<Signed | null>(null)
/** a message on the sign-in screen (a sign-in that ended, a sign-out) */
export const signInNote = signal<string | null>(null)
export const status = signal<DeviceStatus>('offline')
export const progress = signal<{ done: number, total: number, bytes: number } | null>(null)
export const unsynced = signal(0)
export const inboxCount = signal(0)
export const conflictCount = signal(0)
export const lastSyncAt = signal<string | null>(localStorage.getItem('fieldsync.last-sync'))
export const syncError = signal<string | null>(null)
/** true until the device has its first metadata and records */
export const firstSync = signal(false)
/** bumped whenever what the device holds may have changed */
export const dataVersion = signal(0)

export type HeaderState = { readonly kind: 'synced' | 'syncing' | 'waiting' | 'offline' | 'error' | 'conflicts', readonly text: string }

/** The one sync status the header shows (its six states), most pressing first. */
export const headerState = computed<HeaderState>(() => {
  const n = unsynced.value
  const waiting = n === 1 ? '1 change waiting' : `${n} changes waiting`
  if (status.value === 'syncing') {
    const p = progress.value
    return { kind: 'syncing', text: p !== null && p.total > 0 ? `Syncing ${p.done} of ${p.total}` : 'Syncing…' }
  }
  if (status.value === 'error') return { kind: 'error', text: n > 0 ? `Sync error · ${waiting}` : 'Sync error' }
  if (status.value === 'offline') return { kind: 'offline', text: n > 0 ? `Offline · ${waiting}` : 'Offline' }
  if (n > 0) return { kind: 'waiting', text: waiting }
  if (inboxCount.value > 0) return { kind: 'conflicts', text: inboxCount.value === 1 ? '1 to look at' : `${inboxCount.value} to look at` }
  return { kind: 'synced', text: 'Synced' }
})
