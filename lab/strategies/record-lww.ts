// Record-level last-writer-wins: a save writes the whole record with the device's wall clock, and the
// save with the latest time replaces the record everywhere (what many sync layers do with `updated_at`).
// No conflict entries, no security.

import type { RecordSnapshot, Strategy } from '../strategy.ts'
import { starRun, type Unit, type UnitModel } from './star.ts'

const RECORD = 'record'

const model: UnitModel = {
  initial: (fields, texts) => new Map([[RECORD, { value: { deleted: false, fields: { ...fields }, texts: { ...texts } }, clock: { wall: 0, counter: 0, writer: 0 } }]]),
  read: units => units.get(RECORD)!.value as RecordSnapshot,
  write: (units, edit, clock) => {
    const r = units.get(RECORD)!.value as RecordSnapshot
    if (r.deleted) return null
    const value: RecordSnapshot = edit.kind === 'delete'
      ? { ...r, deleted: true }
      : edit.kind === 'set' ? { ...r, fields: { ...r.fields, [edit.field]: edit.value } } : { ...r, texts: { ...r.texts, [edit.field]: edit.text } }
    return new Map<string, Unit>([[RECORD, { value, clock }]])
  },
  // The device's wall clock as it is: no counter, nothing learnt from others (ties go to the higher device).
  next: (_last, wall, writer) => ({ wall, counter: 0, writer }),
  received: last => last
}

export const recordLww: Strategy = {
  name: 'record-lww',
  summary: 'record-level last-writer-wins by device wall clock; no conflict entries',
  start: async world => starRun(world, model)
}
