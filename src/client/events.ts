// What a device reports to the app: its events (typed: a listener gets the arguments of its event's
// signature here) and connection status.

import type { Receipt } from '../protocol/receipts.ts'

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
  /** an upload did not get through: `final` (400, 413, 422; in the inbox too) or retried in `retryInMs` */
  uploadFailed: (u: UploadFailure) => void
}

export interface UploadFailure {
  readonly hash: string
  /** the HTTP status, or null when there was no answer */
  readonly status: number | null
  readonly message: string
  readonly final: boolean
  readonly retryInMs: number | null
}

/** How the device's parts report an event: its name and the listener's arguments, typed by the name. */
export type Emit = <N extends keyof DeviceEvents>(name: N, args: Parameters<DeviceEvents[N]>) => void
