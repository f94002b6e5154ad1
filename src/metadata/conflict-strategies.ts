// Conflict strategies: which of two concurrent writes of one scalar field stands (README, "Conflicts").
// One small interface, so the merge-strategy lab (and a customer's metadata) can pick one per entity or
// attribute and the real engine runs under it.

import type { FieldValue } from '../docs/values.ts'
import { compareHlc, type FieldStamp } from '../docs/hlc.ts'

/** One write of a field: its value (null: cleared) and its stamp (null: written before stamps existed). */
export interface FieldWrite {
  readonly value: FieldValue | null
  readonly stamp: FieldStamp | null
}

export interface ConflictStrategy {
  readonly name: string
  /** false: the field is left to Yjs's own merge (by client id), with no stamps and no entries */
  readonly arbitrates: boolean
  /** For a write arriving concurrently with the record's current one (its writer had not seen it): which stands. */
  winner (current: FieldWrite, incoming: FieldWrite): 'current' | 'incoming'
  /** whether the author of the losing value gets a `superseded` entry */
  readonly reports: boolean
}

const clockOf = (w: FieldWrite): FieldStamp['clock'] | null => w.stamp?.clock ?? null

/** The later edit by hybrid logical clock wins; its loser is told. The default. */
export const laterEditWins: ConflictStrategy = {
  name: 'later-edit-wins',
  arbitrates: true,
  winner: (current, incoming) => {
    const a = clockOf(current)
    const b = clockOf(incoming)
    if (a === null) return 'incoming'
    if (b === null) return 'current'
    return compareHlc(b, a) > 0 ? 'incoming' : 'current'
  },
  reports: true
}

/** Yjs's own merge: the write of the higher-ranked client id stays; nobody is told. */
export const yjsNative: ConflictStrategy = {
  name: 'yjs',
  arbitrates: false,
  winner: () => 'incoming',
  reports: false
}

/** The value the server already holds stays; a device's concurrent write loses and its author is told. */
export const serverWins: ConflictStrategy = {
  name: 'server-wins',
  arbitrates: true,
  winner: () => 'current',
  reports: true
}

/** The arriving device's write replaces the server's value, whatever its time; the overwritten author is told. */
export const deviceWins: ConflictStrategy = {
  name: 'device-wins',
  arbitrates: true,
  winner: () => 'incoming',
  reports: true
}

export const STRATEGIES: Readonly<Record<string, ConflictStrategy>> = Object.fromEntries(
  [laterEditWins, yjsNative, serverWins, deviceWins].map(s => [s.name, s])
)

