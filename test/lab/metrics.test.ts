// The lab's metrics on small hand-made traces whose right answers are known, under every strategy
// (fieldsync's real pipeline included): which edits each loses, reports, lets an older edit win, or keeps
// although forbidden, and that the replicas converge.

import { describe, expect, it } from 'vitest'
import { measure, type Metrics } from '../../lab/metrics.ts'
import { runTrace, TRACE_EPOCH, type RunResult } from '../../lab/run.ts'
import { jsonBytes } from '../../lab/strategy.ts'
import { STRATEGIES } from '../../lab/strategies/index.ts'
import { checkTrace, TRACE_FORMAT, TRACE_VERSION, type Step, type Trace } from '../../lab/trace.ts'

const HOUR = 3_600_000

/** Three devices (alice and nina, reps; bob, their manager) and one record. */
const trace = (steps: Step[], skews: Record<string, number> = {}): Trace => {
  const t: Trace = {
    header: {
      format: TRACE_FORMAT, version: TRACE_VERSION, scenario: 'hand-made', seed: 0, fields: ['telephone1', 'address1_city'], texts: ['description'],
      devices: [['alice', 'u-alice'], ['nina', 'u-nina'], ['bob', 'u-bob']].map(([id, user]) => ({ id, user, skewMs: skews[id] ?? 0 })),
      records: [{ id: 'r1', fields: { telephone1: 'p0', address1_city: 'c0' }, texts: { description: '' } }]
    },
    steps
  }
  checkTrace(t)
  return t
}
const set = (t: number, device: string, field: string, value: string): Step => ({ op: 'set', t, device, record: 'r1', field, value })
const online = (t: number, device: string): Step => ({ op: 'online', t, device })
const offline = (t: number, device: string): Step => ({ op: 'offline', t, device })

const strategy = (name: string) => { const s = STRATEGIES.find(x => x.name === name); if (s === undefined) throw new Error(name); return s }
const run = async (t: Trace, name: string): Promise<{ r: RunResult, m: Metrics }> => { const r = await runTrace(t, strategy(name)); return { r, m: measure(r) } }
/** The step indexes of the lost edits. */
const lost = (m: Metrics): number[] => [...m.lostIds].sort((a, b) => a - b)

const ALL = STRATEGIES.map(s => s.name)
const FIELDSYNC = ALL.filter(n => n.startsWith('fieldsync-'))

describe('lost updates', () => {
  // alice and nina, offline, edit different fields of the record; nina's save is the later one.
  const differentFields = trace([set(1000, 'alice', 'telephone1', 'a1'), set(2000, 'nina', 'address1_city', 'n1'), online(10_000, 'alice'), online(11_000, 'nina')])

  it('record-level LWW loses exactly the earlier save of a concurrently saved record; the others lose nothing', async () => {
    const lww = await run(differentFields, 'record-lww')
    expect(lost(lww.m)).toEqual([0])
    expect(lww.m).toMatchObject({ edits: 2, conflicts: 0, refusals: 0, converged: true })
    expect(lww.r.final.r1.fields).toEqual({ telephone1: 'p0', address1_city: 'n1' })
    for (const name of ALL.filter(n => n !== 'record-lww')) {
      const { r, m } = await run(differentFields, name)
      expect(lost(m), name).toEqual([])
      expect(m.conflicts, name).toBe(0)
      expect(r.final.r1.fields, name).toEqual({ telephone1: 'a1', address1_city: 'n1' })
      expect(m.converged, name).toBe(true)
    }
  })

  it('a same-field race: silent LWW loses the earlier value; fieldsync and Automerge report it instead', async () => {
    const race = trace([set(1000, 'alice', 'telephone1', 'a1'), set(2000, 'nina', 'telephone1', 'n1'), online(10_000, 'alice'), online(11_000, 'nina')])
    for (const name of ['record-lww', 'field-lww-hlc', 'fieldsync-yjs']) {
      const { r, m } = await run(race, name)
      // fieldsync-yjs: Yjs keeps the higher client id's value, whichever that is; the other is lost unreported.
      const loser = r.final.r1.fields.telephone1 === 'n1' ? 0 : 1
      expect(lost(m), name).toEqual([loser])
      expect(m.conflicts, name).toBe(0)
      expect(m.olderWins, name).toBe(loser === 1 ? 1 : 0)
    }
    const expected: Record<string, { kept: string, olderWins: number }> = {
      'fieldsync-later-edit-wins': { kept: 'n1', olderWins: 0 },
      // alice's arrived first: the server holds it when nina's comes
      'fieldsync-server-wins': { kept: 'a1', olderWins: 1 },
      'fieldsync-device-wins': { kept: 'n1', olderWins: 0 }
    }
    for (const [name, want] of Object.entries(expected)) {
      const { r, m } = await run(race, name)
      expect(r.final.r1.fields.telephone1, name).toBe(want.kept)
      expect(lost(m), name).toEqual([])
      expect(m.conflicts, name).toBe(1)
      expect(m.olderWins, name).toBe(want.olderWins)
      expect(r.reports, name).toEqual([expect.objectContaining({ kind: 'conflict', user: want.kept === 'n1' ? 'u-alice' : 'u-nina', field: 'telephone1', attempted: want.kept === 'n1' ? 'a1' : 'n1' })])
    }
    const am = await run(race, 'automerge')
    expect(lost(am.m)).toEqual([])
    expect(am.m.conflicts).toBe(1)
  })

  it('an edit replaced by one made with knowledge of it is not lost, and nobody reports a conflict', async () => {
    const sequential = trace([online(0, 'alice'), online(0, 'nina'), set(1000, 'alice', 'telephone1', 'a1'), set(2000, 'nina', 'telephone1', 'n1')])
    for (const name of ALL) {
      const { r, m } = await run(sequential, name)
      expect(r.final.r1.fields.telephone1, name).toBe('n1')
      expect(m, name).toMatchObject({ edits: 2, lost: 0, conflicts: 0, olderWins: 0, converged: true })
    }
  })

  it('concurrent typing in one text: character merges keep both, a text written as one value loses one', async () => {
    const typing = trace([
      { op: 'type', t: 1000, device: 'alice', record: 'r1', field: 'description', at: 0, token: '[a1]' },
      { op: 'type', t: 2000, device: 'nina', record: 'r1', field: 'description', at: 0, token: '[n1]' },
      online(10_000, 'alice'), online(11_000, 'nina')
    ])
    for (const name of [...FIELDSYNC, 'automerge']) {
      const { r, m } = await run(typing, name)
      expect(lost(m), name).toEqual([])
      expect(r.final.r1.texts.description, name).toMatch(/^(\[a1\]\[n1\]|\[n1\]\[a1\])$/)
    }
    for (const name of ['record-lww', 'field-lww-hlc']) expect(lost((await run(typing, name)).m), name).toEqual([0])
  })

  it('delete against a concurrent edit: fieldsync tells the editor; field LWW and Automerge lose the edit; record LWW loses the delete', async () => {
    const t = trace([{ op: 'delete', t: 1000, device: 'bob', record: 'r1' }, set(2000, 'alice', 'telephone1', 'a1'), online(10_000, 'bob'), online(11_000, 'alice')])
    for (const name of FIELDSYNC) {
      const { r, m } = await run(t, name)
      expect(r.final.r1.deleted, name).toBe(true)
      expect(m, name).toMatchObject({ lost: 0, conflicts: 1, converged: true })
    }
    for (const name of ['field-lww-hlc', 'automerge']) {
      const { r, m } = await run(t, name)
      expect(r.final.r1.deleted, name).toBe(true)
      expect(lost(m), name).toEqual([1])
    }
    const lww = await run(t, 'record-lww')
    expect(lww.r.final.r1.deleted).toBe(false)
    expect(lost(lww.m)).toEqual([0])
  })
})

describe('older edits beating newer ones', () => {
  it('a clock an hour ahead makes wall-clock LWW keep the older edit; fieldsync counts such a stamp as written on arrival', async () => {
    const t = trace([set(1000, 'alice', 'telephone1', 'a1'), set(60_000, 'nina', 'telephone1', 'n1'), online(100_000, 'nina'), online(110_000, 'alice')], { alice: HOUR })
    for (const name of ['record-lww', 'field-lww-hlc']) {
      const { r, m } = await run(t, name)
      expect(r.final.r1.fields.telephone1, name).toBe('a1')
      expect(m, name).toMatchObject({ olderWins: 1, lost: 1 })
    }
    // alice's stamp is more than MAX_CLOCK_SKEW ahead: it counts as written when it arrived (after nina's).
    const { r, m } = await run(t, 'fieldsync-later-edit-wins')
    expect(r.final.r1.fields.telephone1).toBe('a1')
    expect(m).toMatchObject({ olderWins: 1, lost: 0, conflicts: 1 })
  })
})

describe('privilege revoked while offline', () => {
  it('fieldsync refuses the edit and tells its author; strategies without security keep it', async () => {
    const t = trace([online(0, 'nina'), offline(1000, 'nina'), { op: 'revoke', t: 2000, user: 'u-nina' }, set(3000, 'nina', 'telephone1', 'n1'), online(10_000, 'nina')])
    for (const name of FIELDSYNC) {
      const { r, m } = await run(t, name)
      expect(r.final.r1.fields.telephone1, name).toBe('p0')
      expect(m, name).toMatchObject({ lost: 0, refusals: 1, forbiddenKept: 0, converged: true })
      expect(r.reports[0], name).toMatchObject({ kind: 'refusal', user: 'u-nina', attempted: 'n1' })
    }
    for (const name of ['record-lww', 'field-lww-hlc', 'automerge']) {
      expect((await run(t, name)).m, name).toMatchObject({ lost: 0, refusals: 0, forbiddenKept: 1 })
    }
  })
})

describe('bytes', () => {
  it('field LWW: what one online edit and the others\' final connects send, exactly; what the server stores', async () => {
    const t = trace([online(0, 'alice'), set(1000, 'alice', 'telephone1', 'a1')])
    const { r, m } = await run(t, 'field-lww-hlc')
    const unit = (value: string, wall: number, writer: number) => ({ value, clock: { wall, counter: 0, writer } })
    const sent = jsonBytes({ r1: { 'f:telephone1': unit('a1', TRACE_EPOCH + 1000, 1) } })
    // alice connects (8), sends her unit; nina and bob connect at the end (8 each) and receive it
    expect(r.bytes).toBe(24 + 3 * sent)
    expect(m.bytesPerEdit).toBe(24 + 3 * sent)
    expect(m.storedBytes).toBe(jsonBytes({ r1: { 'f:telephone1': unit('a1', TRACE_EPOCH + 1000, 1), 'f:address1_city': unit('c0', 0, 0), 't:description': unit('', 0, 0) } }))
  })

  it('fieldsync: an online edit costs its update once up and once more for each other online device', async () => {
    const base = [online(0, 'alice'), online(0, 'nina'), online(0, 'bob')]
    const quiet = await run(trace(base), 'fieldsync-later-edit-wins')
    const one = await run(trace([...base, set(1000, 'alice', 'telephone1', 'a1')]), 'fieldsync-later-edit-wins')
    const two = await run(trace([...base, set(1000, 'alice', 'telephone1', 'a1'), set(2000, 'alice', 'address1_city', 'a2')]), 'fieldsync-later-edit-wins')
    // Each edit is sent up once and published to the two other members: three copies of about the same size.
    const first = one.r.bytes - quiet.r.bytes
    const second = two.r.bytes - one.r.bytes
    expect(first % 3).toBe(0)
    expect(second % 3).toBe(0)
    expect(first).toBeGreaterThan(3 * 20)
    expect(two.m.bytesPerEdit).toBe(two.r.bytes / 2)
    expect(two.m.storedBytes).toBeGreaterThan(one.m.storedBytes)
  })
})
