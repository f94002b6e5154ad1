// What one principal may make the server keep in one record (receipts, bytes of refused content,
// Yjs client ids), and how fast its updates may be refused. Counted per record and principal, kept
// with the record's commits, so the bounds hold across restarts (README, "Security").

import type { Receipt } from '../protocol/receipts.ts'
import type { PrincipalUsage } from './storage/port.ts'

export interface QuotaLimits {
  /** receipts stored for one principal about one record */
  readonly receiptsPerRecord: number
  /** bytes of integrated updates of one principal that had a refused part, per record */
  readonly refusedBytesPerRecord: number
  /** Yjs client ids one principal may introduce in one record */
  readonly clientIdsPerRecord: number
  /** refused updates one principal may send to one record in a burst, and per second after it */
  readonly refusedBurst: number
  readonly refusedPerSecond: number
  /** presence updates that change something one connection may send in a burst, and per second after it */
  readonly presenceBurst: number
  readonly presencePerSecond: number
}

export const DEFAULT_LIMITS: QuotaLimits = {
  receiptsPerRecord: 1000,
  refusedBytesPerRecord: 64 * 1024,
  clientIdsPerRecord: 1000,
  refusedBurst: 60,
  refusedPerSecond: 20,
  presenceBurst: 60,
  presencePerSecond: 20
}

interface Account { receipts: number, refusedBytes: number, clientIds: number, tokens: number, refilled: number }

/** The usage of one record, per principal; `exceeded` names the first bound an addition would pass. */
export class RecordQuotas {
  private readonly limits: QuotaLimits
  private readonly accounts = new Map<string, Account>()
  private readonly clock: () => number

  constructor (limits: QuotaLimits, usage: readonly PrincipalUsage[], clientIds: Iterable<string>, clock: () => number = Date.now) {
    this.limits = limits
    this.clock = clock
    for (const u of usage) Object.assign(this.account(u.principal), { receipts: u.receipts, refusedBytes: u.refusedBytes })
    for (const p of clientIds) this.account(p).clientIds++
  }

  private account (principal: string): Account {
    let a = this.accounts.get(principal)
    if (a === undefined) { a = { receipts: 0, refusedBytes: 0, clientIds: 0, tokens: this.limits.refusedBurst, refilled: this.clock() }; this.accounts.set(principal, a) }
    return a
  }

  /** Why keeping this much more for `principal` would pass a bound, or null. */
  exceeded (principal: string, more: { receipts?: number, refusedBytes?: number, clientIds?: number }): string | null {
    const a = this.account(principal)
    const l = this.limits
    if (a.receipts + (more.receipts ?? 0) > l.receiptsPerRecord) return `at most ${l.receiptsPerRecord} receipts per user and record are kept`
    if (a.refusedBytes + (more.refusedBytes ?? 0) > l.refusedBytesPerRecord) return `at most ${l.refusedBytesPerRecord} bytes of partly refused updates per user and record are kept`
    if (a.clientIds + (more.clientIds ?? 0) > l.clientIdsPerRecord) return `at most ${l.clientIdsPerRecord} Yjs client ids per user and record are accepted`
    return null
  }

  /** What each principal has the record keep now, as storage counts it (every instance's commits; a
   * principal absent has used nothing): replaces the receipts and refused bytes counted so far. */
  setUsage (usage: readonly PrincipalUsage[]): void {
    for (const a of this.accounts.values()) { a.receipts = 0; a.refusedBytes = 0 }
    for (const u of usage) Object.assign(this.account(u.principal), { receipts: u.receipts, refusedBytes: u.refusedBytes })
  }

  /** Whether one more receipt, telling the principal it reached a bound, may still be kept (one past the bound). */
  mayNotify (principal: string): boolean {
    return this.account(principal).receipts <= this.limits.receiptsPerRecord
  }

  /** Counts what was kept (after the commit that keeps it is queued). */
  add (principal: string, kept: { receipts?: number, refusedBytes?: number, clientIds?: number }): void {
    const a = this.account(principal)
    a.receipts += kept.receipts ?? 0
    a.refusedBytes += kept.refusedBytes ?? 0
    a.clientIds += kept.clientIds ?? 0
  }

  /** Takes one refusal from the principal's bucket; false when it is empty (too many, too fast). */
  takeRefusal (principal: string): boolean {
    const a = this.account(principal)
    const now = this.clock()
    a.tokens = Math.min(this.limits.refusedBurst, a.tokens + (now - a.refilled) / 1000 * this.limits.refusedPerSecond)
    a.refilled = now
    if (a.tokens < 1) return false
    a.tokens--
    return true
  }
}

/**
 * The most one stored receipt takes, as JSON (README, "Security"). A receipt keeps what its change tried,
 * and the bytes of a refused update count what the record keeps of it (placeholders, no value): without a
 * bound of its own, one receipt kept a value as large as a frame, and a user's receipts on one record a
 * gigabyte (test/security/receipt-sizes.test.ts).
 */
export const MAX_RECEIPT_BYTES = 16 * 1024

/** What a stored receipt adds to the one the room makes: its seq and the device it came from. */
const STORED_EXTRA_BYTES = 128

const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v))

/** `v` with every string in it (keys too) longer than `keep` characters cut to `keep`, and an ellipsis. */
const cut = (v: unknown, keep: number): unknown => {
  if (typeof v === 'string') return v.length > keep ? `${v.slice(0, keep)}…` : v
  if (Array.isArray(v)) return v.map(x => cut(x, keep))
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [cut(k, keep) as string, cut(x, keep)]))
  return v
}

/**
 * `r` as the server keeps it: unchanged when it fits MAX_RECEIPT_BYTES (every receipt of a change within the
 * catalog's bounds but the longest memo texts), else with the start of its strings (what was tried, what is
 * kept, the field and the message), marked `truncated`.
 */
export const boundReceipt = (r: Receipt, max = MAX_RECEIPT_BYTES - STORED_EXTRA_BYTES): Receipt => {
  if (jsonBytes(r) <= max) return r
  for (let keep = Math.floor(max / 4); keep >= 16; keep = Math.floor(keep / 2)) {
    const shorter: Receipt = { ...r, field: r.field === null ? null : cut(r.field, keep) as string, attempted: cut(r.attempted, keep), kept: cut(r.kept, keep), message: cut(r.message, keep) as string, truncated: true }
    if (jsonBytes(shorter) <= max) return shorter
  }
  return { ...r, field: r.field === null ? null : cut(r.field, 16) as string, attempted: null, kept: null, message: cut(r.message, 200) as string, truncated: true }
}
