// The lab's metrics, computed from a run's facts (README, "For researchers" defines each). Pure: the
// tests check them on hand-made traces whose right answers are known.

import type { EditFact, RunResult } from './run.ts'
import type { Report, Snapshot } from './strategy.ts'

export interface Metrics {
  /** edits the devices made */
  readonly edits: number
  /** edits neither in the final state, nor replaced by an edit made with knowledge of them, nor reported to their author */
  readonly lost: number
  /** conflict entries the strategy showed (each a value that lost a race, shown to its author or everyone) */
  readonly conflicts: number
  /** refusals the strategy sent (the server would not take the edit) */
  readonly refusals: number
  /** scalar edits that did not stand although newer (by true time) than the concurrent edit whose value stands */
  readonly olderWins: number
  /** edits that reached the server after their user lost write privilege and are in the final state */
  readonly forbiddenKept: number
  /** every device's replica equals the server's at the end */
  readonly converged: boolean
  readonly bytesPerEdit: number
  readonly storedBytes: number
  readonly cpuP50Micros: number
  readonly cpuP99Micros: number
  /** CPU of the whole run over the edits (syncs included) */
  readonly cpuPerEditMicros: number
  readonly memoryBytes: number | null
  /** the ids of the lost edits (for the JSON and the tests) */
  readonly lostIds: readonly number[]
}

/** Whether a report's `attempted` carries `value`: equal, a text containing it (a token), an object with it as
 * a value; for a token, also a text splice (`{ index, deleteCount, insert }`: fieldsync's receipt for a refused
 * text edit is the minimal splice between the texts before and after, which may cut through tokens). */
export const carries = (attempted: unknown, value: string): boolean => {
  if (attempted === value) return true
  const token = value.startsWith('[')
  if (typeof attempted === 'string') return token && attempted.includes(value)
  if (token && attempted !== null && typeof attempted === 'object' && 'insert' in attempted && typeof attempted.insert === 'string') return true
  if (attempted !== null && typeof attempted === 'object') return Object.values(attempted).some(v => carries(v, value))
  return false
}

/** What of the edit a report would carry: its value, its token, or nothing (a delete or a cut). */
const valueOf = (e: EditFact): string | null => e.step.op === 'set' ? e.step.value : e.step.op === 'type' ? e.step.token : null

/** Whether a report reached the edit's author about this edit. */
export const reportedTo = (e: EditFact, reports: readonly Report[]): Report | undefined => {
  const value = valueOf(e)
  const field = 'field' in e.step ? e.step.field : null
  return reports.find(r => (r.user === undefined || r.user === e.user) && r.record === e.step.record &&
    (value === null ? r.field === null || r.field === field : (r.field === null || r.field === field) && carries(r.attempted, value)))
}

/** Whether the edit's effect is in the final state. */
export const inFinal = (e: EditFact, final: Snapshot): boolean => {
  const r = final[e.step.record]
  switch (e.step.op) {
    case 'set': return !r.deleted && r.fields[e.step.field] === e.step.value
    case 'type': return !r.deleted && (r.texts[e.step.field] ?? '').includes(e.step.token)
    case 'cut': return r.deleted || !(r.texts[e.step.field] ?? '').includes(e.cutToken ?? '')
    case 'delete': return r.deleted
  }
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]

const canonical = (s: Snapshot): string => JSON.stringify(Object.keys(s).sort().map(k => [k, s[k].deleted, Object.entries(s[k].fields).sort(), Object.entries(s[k].texts).sort()]))

export const measure = (r: RunResult): Metrics => {
  const made = r.edits.filter(e => e.made)
  const overwritten = new Set(made.flatMap(e => e.overwrites))
  const lost = made.filter(e => !inFinal(e, r.final) && !overwritten.has(e.id) && reportedTo(e, r.reports) === undefined)
  // The edit whose value a field holds at the end, by record, field and value.
  const setBy = new Map(made.filter(e => e.step.op === 'set').map(e => [`${e.step.record}\n${'field' in e.step ? e.step.field : ''}\n${e.step.op === 'set' ? e.step.value : ''}`, e]))
  const olderWins = made.filter(e => {
    if (e.step.op !== 'set' || inFinal(e, r.final) || overwritten.has(e.id)) return false
    const rec = r.final[e.step.record]
    if (rec.deleted) return false
    const winner = setBy.get(`${e.step.record}\n${e.step.field}\n${rec.fields[e.step.field]}`)
    // The record's initial value (no edit) is older than any edit.
    const winnerT = winner === undefined ? -1 : winner.step.t
    return winner !== e && winnerT < e.step.t
  }).length
  const cpu = made.map(e => e.cpuMicros).sort((a, b) => a - b)
  const final = canonical(r.final)
  return {
    edits: made.length,
    lost: lost.length,
    conflicts: r.reports.filter(x => x.kind === 'conflict').length,
    refusals: r.reports.filter(x => x.kind === 'refusal').length,
    olderWins,
    // (A cut is left out: cutting a token whose typing was refused too leaves the text as the cut would.)
    forbiddenKept: made.filter(e => e.forbidden && e.step.op !== 'cut' && inFinal(e, r.final)).length,
    converged: Object.values(r.replicas).every(s => canonical(s) === final),
    bytesPerEdit: made.length === 0 ? 0 : r.bytes / made.length,
    storedBytes: r.stored,
    cpuP50Micros: percentile(cpu, 0.5),
    cpuP99Micros: percentile(cpu, 0.99),
    cpuPerEditMicros: made.length === 0 ? 0 : r.cpuMicros / made.length,
    memoryBytes: r.memory,
    lostIds: lost.map(e => e.id)
  }
}
