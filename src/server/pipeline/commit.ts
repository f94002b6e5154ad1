// Step 3 of the record pipeline: what one batch commits in one storage append — the updates of
// everything kept (merged into one log entry), and with it its receipts (each routed to a device's inbox), client-id bindings, usage
// and the projected row. Nothing of the batch reaches anyone before this append has returned.

import * as Y from 'yjs'
import { EVERY_DEVICE } from '../../protocol/receipts.ts'
import type { CommitEffects, PrincipalUsage } from '../storage/port.ts'
import type { Batch } from './batch.ts'

export interface Commit {
  /** the batch's kept updates as one (empty when it commits effects alone) */
  readonly updates: readonly Uint8Array[]
  readonly effects: CommitEffects
}

/** What to append for `batch`, or null when it keeps nothing. `row` is read only when an update is kept. */
/** `merged`: the kept updates as one, when the batch could say so cheaply (batch-update.ts; else they are merged here). */
export const commitOf = (batch: Batch, row: () => NonNullable<CommitEffects['row']>, merged?: Uint8Array | null): Commit | null => {
  const { accepted, receipts, bindings } = batch
  if (accepted.length === 0 && receipts.length === 0 && bindings.length === 0) return null
  // (One entry, one frame per member and one fan-out message for the batch, not one per update: the merge
  // costs less than the rows and sends it saves, bench/relay.)
  const updates = accepted.length === 0 ? [] : accepted.length === 1 ? [accepted[0].update] : [merged ?? Y.mergeUpdates(accepted.map(a => a.update))]
  const usage: PrincipalUsage[] = [...batch.usage].map(([principal, u]) => ({ principal, ...u }))
  return {
    updates,
    effects: {
      // A receipt names the device whose change it was: that device's inbox gets it (README, "Receipts").
      // One for another user (a conflict entry about their value) goes to every device of theirs.
      receipts: receipts.map(r => r.member === null ? { ...r.receipt, device: EVERY_DEVICE } : r.member.device === undefined ? r.receipt : { ...r.receipt, device: r.member.device }),
      bindings,
      usage,
      row: accepted.length > 0 ? row() : undefined
    }
  }
}
