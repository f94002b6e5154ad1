// The receipts port: what the server refused, kept per principal until the user deals with it on a
// device. Receipts are written with the update they are about (RecordStorage.append's effects, one
// commit); this port reads and dismisses them. Adapters pass test/server/ports/receipts-suite.ts.

import type { Receipt } from '../../protocol/receipts.ts'
import type { Awaitable } from './awaitable.ts'

export interface ReceiptStore {
  /** A principal's receipts after the seq `since`, oldest first, at most `limit`. */
  receipts (principal: string, since: number, limit: number): Awaitable<Receipt[]>
  /** A principal's receipts not dismissed on any of their devices, oldest first (what a new device is offered). */
  openReceipts (principal: string, limit: number): Awaitable<Receipt[]>
  /** Marks receipts of `principal` as dismissed; returns how many were not already (another's seqs count 0). */
  dismissReceipts (principal: string, seqs: readonly number[]): Awaitable<number>
}
