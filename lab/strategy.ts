// The one interface every merge strategy of the lab implements (one file per strategy in strategies/).
// A strategy gets the world (devices, records, the server's clock) and answers the trace's steps on its
// own replicas; the runner (run.ts) measures what it keeps, loses and costs.

import type { DeviceSpec, RecordSpec } from './trace.ts'

/** A replica's view of the records, the same shape for every strategy (compared for convergence). */
export interface RecordSnapshot {
  readonly deleted: boolean
  readonly fields: Readonly<Record<string, string>>
  readonly texts: Readonly<Record<string, string>>
}
export type Snapshot = Readonly<Record<string, RecordSnapshot>>

/** Something the strategy told a user about an edit of theirs: a conflict it lost, or a refusal. */
export interface Report {
  readonly kind: 'conflict' | 'refusal'
  /** the user told; undefined: shown to every user (the author included) */
  readonly user: string | undefined
  readonly record: string
  /** null: about the record as a whole */
  readonly field: string | null
  /** the value the user had written (a field's value, a text, or an object of field values) */
  readonly attempted: unknown
}

export interface LabWorld {
  readonly devices: readonly DeviceSpec[]
  readonly records: readonly RecordSpec[]
  readonly fields: readonly string[]
  readonly texts: readonly string[]
  /** the server's clock now (ms since the epoch); a device's wall clock is this plus its skew */
  readonly serverNow: () => number
}

/** One running instance of a strategy over a world. Edits return false when the device cannot make
 * them (the record is deleted on its replica); `cut` returns the token it removed, or null. */
export interface LabRun {
  set (device: string, record: string, field: string, value: string): Promise<boolean>
  type (device: string, record: string, field: string, at: number, token: string): Promise<boolean>
  cut (device: string, record: string, field: string, at: number): Promise<string | null>
  remove (device: string, record: string): Promise<boolean>
  /** The device connects: both sides exchange what the other lacks; until `disconnect`, its edits are sent
   * at once and it receives everyone else's. */
  connect (device: string): Promise<void>
  disconnect (device: string): Promise<void>
  /** The user loses write privilege on the records (a strategy without security ignores it). */
  revoke (user: string): Promise<void>
  /** the server's replica, or a device's */
  snapshot (replica: string | 'server'): Snapshot
  /** everything the strategy has told users so far */
  reports (): readonly Report[]
  /** bytes that crossed the network so far, both directions */
  traffic (): number
  /** bytes the server keeps for the records now */
  stored (): Promise<number>
  close (): Promise<void>
}

export interface Strategy {
  /** unique, kebab-case: what --strategy names */
  readonly name: string
  /** one line for the tables' legend */
  readonly summary: string
  start (world: LabWorld): Promise<LabRun>
}

/** The tokens of a text, in order, with where each starts (tokens look like `[e12]`). */
export const tokensOf = (text: string): { token: string, index: number }[] =>
  [...text.matchAll(/\[[a-z0-9-]+\]/g)].map(m => ({ token: m[0], index: m.index }))

/** Where a token typed at `at` (0..1) of the way through `text` goes: a boundary between tokens, never inside one. */
export const insertionIndex = (text: string, at: number): number => {
  const tokens = tokensOf(text)
  const k = Math.min(tokens.length, Math.floor(at * (tokens.length + 1)))
  return k === tokens.length ? text.length : tokens[k].index
}

/** The token `at` (0..1) of the way through `text`, or null when it has none. */
export const tokenAt = (text: string, at: number): { token: string, index: number } | null => {
  const tokens = tokensOf(text)
  if (tokens.length === 0) return null
  return tokens[Math.min(tokens.length - 1, Math.floor(at * tokens.length))]
}

/** A JSON value's size in bytes as UTF-8 (what a strategy that ships JSON sends or stores). */
export const jsonBytes = (x: unknown): number => Buffer.byteLength(JSON.stringify(x))
