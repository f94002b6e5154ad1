// What a change of the security model did, when all it did was add or remove record shares: then only
// the sharees' access to those records changed, and only their devices need to look again. Pure.

import type { SecurityModel, Share } from './model.ts'

export interface ShareDelta {
  /** shares new or with another access */
  readonly added: readonly Share[]
  /** shares gone or with another access (as they were) */
  readonly removed: readonly Share[]
}

const key = (s: Share): string => `${s.record}\u0000${s.principal}\u0000${s.access}`

/**
 * The shares `after` adds to and removes from `before`, or null when anything else changed too (every
 * part of the model but its version and shares the same object: the admin API's changes keep what they
 * do not change).
 */
export const shareDelta = (before: SecurityModel, after: SecurityModel): ShareDelta | null => {
  for (const k of Object.keys({ ...before, ...after }) as (keyof SecurityModel)[]) {
    if (k !== 'version' && k !== 'shares' && before[k] !== after[k]) return null
  }
  const was = new Set(before.shares.map(key))
  const is = new Set(after.shares.map(key))
  return { added: after.shares.filter(s => !was.has(key(s))), removed: before.shares.filter(s => !is.has(key(s))) }
}
