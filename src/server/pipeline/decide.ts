// Step 2 of the record pipeline: decide an admitted update and integrate it, its refused part
// compensated in the same transaction (src/projection/project.ts), and say what the record keeps of it.

import * as Y from 'yjs'
import { projectUpdate, type ProjectContext, type ProjectResult } from '../../projection/project.ts'

export interface Decision {
  /** what the document took in (the update with its compensation); null: nothing new (sent again) */
  readonly integrated: Uint8Array | null
  readonly result: ProjectResult
  /** whether part of it was refused: what a user may not do, or could not show (a change of nothing
   * by a user who may not write), is kept as content-free placeholders only, counted against the
   * user's quota and rate, and the author gets the result back */
  readonly refused: boolean
}

/** Runs `f` and returns the update of what it changed in `doc` (null when it changed nothing). */
export const capture = (doc: Y.Doc, f: () => void): Uint8Array | null => {
  let update: Uint8Array | null = null
  const on = (u: Uint8Array): void => { update = update === null ? u : Y.mergeUpdates([update, u]) }
  doc.on('update', on)
  try { f() } finally { doc.off('update', on) }
  return update
}

/** `mayWrite`: whether the sender may write the record now (asked only for an update that changed nothing). */
export const decide = (doc: Y.Doc, update: Uint8Array, ctx: ProjectContext, origin: unknown, now: string, mayWrite: () => boolean, decoded?: ReturnType<typeof Y.decodeUpdate>): Decision => {
  const r = projectUpdate(doc, update, ctx, origin, now, decoded)
  const integrated = r.integrated
  const refused = integrated !== null && (r.receipts.length > 0 || (r.changes.length === 0 && !mayWrite()))
  return { integrated, result: r, refused }
}
