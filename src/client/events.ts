// What a device reports to the app: its events and connection status.

import type { Receipt } from '../projection/receipts.ts'

export type DeviceStatus = 'offline' | 'syncing' | 'synced' | 'error'

export interface DeviceEvents {
  status: (s: DeviceStatus) => void
  progress: (p: { done: number, total: number, bytes: number }) => void
  /** the number of local edits the server has not acknowledged yet */
  unsynced: (n: number) => void
  receipts: (r: Receipt[]) => void
  evicted: (record: string) => void
  /** an attachment's content was uploaded, resuming at `from` bytes */
  uploaded: (u: { hash: string, from: number, size: number }) => void
}

export type Emit = (name: keyof DeviceEvents, args: unknown[]) => void
