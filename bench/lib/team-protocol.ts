// What bench/team's parent and its device host (team-host.ts) say to each other over IPC.

import type { LatencyStats } from './delivery.ts'
import type { HocusLiveRequest } from './hocuspocus-live.ts'

export interface SoakRequest {
  readonly op: 'soak'
  readonly url: string
  readonly seconds: number
  /** devices that stay online, syncing periodically and editing */
  readonly online: readonly string[]
  readonly teams: readonly (readonly string[])[]
  readonly synchronous: 'full' | 'normal'
  /** tokens of users whose fresh devices come and go (each syncs its scope from empty, then leaves) */
  readonly churnTokens: readonly string[]
  /** edits per second over all online devices */
  readonly rate: number
  /** plain y-websocket clients (token, record) that connect, edit and leave */
  readonly yclients: readonly { readonly token: string, readonly userId: string, readonly record: string }[]
}

export type HostRequest =
  /** `synchronous`: the device store's SQLite setting (SqliteLocalStoreOptions): many simulated devices share one disk here */
  | { readonly op: 'open', readonly devices: readonly { readonly key: string, readonly url: string, readonly token: string, readonly synchronous: 'full' | 'normal' }[] }
  | { readonly op: 'sync', readonly keys: readonly string[] }
  | { readonly op: 'live', readonly teams: readonly (readonly string[])[], readonly writers: readonly string[], readonly rate: number, readonly seconds: number, readonly warmupSeconds: number, readonly drainSeconds: number }
  | { readonly op: 'yfetch', readonly url: string, readonly names: readonly string[], readonly concurrency: number }
  | { readonly op: 'close', readonly keys: readonly string[], readonly remove: boolean }
  | SoakRequest
  | ({ readonly op: 'hocus-live' } & HocusLiveRequest)
  | { readonly op: 'exit' }

export interface SyncResult { readonly key: string, readonly ms: number, readonly records: number, readonly error?: string }

export interface LiveResult {
  readonly writers: number
  /** edits made in the measured window, and how long issuing them took */
  readonly edits: number
  readonly issueSeconds: number
  /** edits of the window every receiver got (by the end of the drain), deliveries still missing then */
  readonly complete: number
  readonly missing: number
  readonly errors: number
  /** from the window's start until the last delivery (or the drain's end) */
  readonly allDoneSeconds: number
  readonly latency: LatencyStats
}

export interface SoakResult {
  readonly edits: number
  readonly syncs: number
  readonly freshDevices: number
  readonly yclientSessions: number
  readonly errors: number
}

export type HostReply = { readonly id: number, readonly ok: true, readonly result: unknown } | { readonly id: number, readonly ok: false, readonly error: string }

export type HostEvent =
  | { readonly event: 'ready' }
  | { readonly event: 'window', readonly phase: 'start' | 'end' }
