// Field-level last-writer-wins with hybrid logical clocks: every field (and every text, as one value)
// carries the clock of its last write and the later clock wins it; a delete is a tombstone that wins
// over edits. No conflict entries, no security.

import { maxHlc, tick } from '../../src/docs/hlc.ts'
import type { Strategy } from '../strategy.ts'
import { starRun, type Unit, type UnitModel } from './star.ts'

const ZERO = { wall: 0, counter: 0, writer: 0 }
const DELETED = 'deleted'

const model: UnitModel = {
  initial: (fields, texts) => new Map<string, Unit>([
    ...Object.entries(fields).map(([f, value]) => [`f:${f}`, { value, clock: ZERO }] as const),
    ...Object.entries(texts).map(([f, value]) => [`t:${f}`, { value, clock: ZERO }] as const)
  ]),
  read: units => {
    const fields: Record<string, string> = {}
    const texts: Record<string, string> = {}
    for (const [k, u] of units) {
      if (k.startsWith('f:')) fields[k.slice(2)] = u.value as string
      else if (k.startsWith('t:')) texts[k.slice(2)] = u.value as string
    }
    return { deleted: units.has(DELETED), fields, texts }
  },
  write: (units, edit, clock) => {
    if (units.has(DELETED)) return null
    const key = edit.kind === 'delete' ? DELETED : edit.kind === 'set' ? `f:${edit.field}` : `t:${edit.field}`
    const value = edit.kind === 'delete' ? true : edit.kind === 'set' ? edit.value : edit.text
    return new Map<string, Unit>([[key, { value, clock }]])
  },
  next: (last, wall, writer) => tick(last, wall, writer),
  received: (last, clock) => ({ ...maxHlc(last, clock), writer: last.writer })
}

/** A tombstone's clock never matters: it wins whatever clock an edit has (merge keeps it, as no edit writes its key). */
export const fieldLwwHlc: Strategy = {
  name: 'field-lww-hlc',
  summary: 'field-level last-writer-wins by hybrid logical clock; a delete wins; no conflict entries',
  start: async world => starRun(world, model)
}
