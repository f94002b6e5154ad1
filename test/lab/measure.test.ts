// The metrics as functions of a run's facts (no strategy): percentiles, per-edit bytes, convergence,
// what counts as reported and as in the final state.

import { describe, expect, it } from 'vitest'
import { carries, inFinal, measure } from '../../lab/metrics.ts'
import type { EditFact, RunResult } from '../../lab/run.ts'
import type { Snapshot } from '../../lab/strategy.ts'

const snap = (telephone1: string, text = '', deleted = false): Snapshot => ({ r1: { deleted, fields: { telephone1 }, texts: { description: text } } })
const fact = (id: number, value: string, cpuMicros: number, t = id, user = 'u-alice'): EditFact =>
  ({ id, step: { op: 'set', t, device: 'd', record: 'r1', field: 'telephone1', value }, user, made: true, cutToken: null, overwrites: [], forbidden: false, cpuMicros })
const result = (edits: EditFact[], final: Snapshot, replicas: Record<string, Snapshot> = { d: final }): RunResult =>
  ({ edits, final, replicas, reports: [], bytes: 1000, stored: 77, cpuMicros: 5000, memory: null })

describe('metrics', () => {
  it('CPU p50 and p99 are nearest-rank percentiles over the edits; bytes and CPU per edit divide by the edits made', () => {
    const edits = Array.from({ length: 100 }, (_, i) => fact(i, `v${i}`, i + 1))
    const m = measure(result([...edits, { ...fact(100, 'x', 1e9), made: false }], snap('v99')))
    expect(m).toMatchObject({ edits: 100, cpuP50Micros: 50, cpuP99Micros: 99, bytesPerEdit: 10, cpuPerEditMicros: 50, storedBytes: 77 })
  })

  it('a replica that differs from the server is not converged', () => {
    expect(measure(result([fact(0, 'a', 1)], snap('a'), { d: snap('a'), e: snap('b') })).converged).toBe(false)
    expect(measure(result([fact(0, 'a', 1)], snap('a'), { d: snap('a'), e: snap('a') })).converged).toBe(true)
  })

  it('lost: neither in the final state, nor overwritten knowingly, nor reported; older won: a newer concurrent edit lost', () => {
    const older = fact(0, 'old', 1, 10)
    const newer = fact(1, 'new', 1, 20, 'u-nina')
    const m = measure(result([older, newer], snap('old')))
    expect(m).toMatchObject({ lost: 1, lostIds: [1], olderWins: 1 })
    const told = measure({ ...result([older, newer], snap('old')), reports: [{ kind: 'conflict', user: 'u-nina', record: 'r1', field: 'telephone1', attempted: 'new' }] })
    expect(told).toMatchObject({ lost: 0, conflicts: 1, olderWins: 1 })
    // told to someone else: still lost
    expect(measure({ ...result([older, newer], snap('old')), reports: [{ kind: 'conflict', user: 'u-alice', record: 'r1', field: 'telephone1', attempted: 'new' }] }).lost).toBe(1)
    const knowingly = measure(result([older, { ...newer, overwrites: [] }, { ...fact(2, 'third', 1, 30), overwrites: [0, 1] }], snap('third')))
    expect(knowingly).toMatchObject({ lost: 0, olderWins: 0 })
  })

  it('what a report carries, and what is in the final state', () => {
    expect(carries('a', 'a')).toBe(true)
    expect(carries({ telephone1: 'a' }, 'a')).toBe(true)
    expect(carries('xx[e1]yy', '[e1]')).toBe(true)
    expect(carries({ index: 0, deleteCount: 0, insert: '1][e' }, '[e1]')).toBe(true)
    expect(carries('b', 'a')).toBe(false)
    expect(carries('xxayy', 'a')).toBe(false)
    const typed: EditFact = { ...fact(0, '', 1), step: { op: 'type', t: 0, device: 'd', record: 'r1', field: 'description', at: 0, token: '[e1]' } }
    expect(inFinal(typed, snap('', '[e0][e1]'))).toBe(true)
    expect(inFinal(typed, snap('', '[e1]', true))).toBe(false)
  })
})
