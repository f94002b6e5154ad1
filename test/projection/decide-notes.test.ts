// The note decisions, pure (README, "Security and the authorization projection": notes). The same rules
// through the real protocol are in test/security/notes.test.ts.

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { diff } from '../../src/docs/diff.ts'
import { emptyState, type NoteState, type RecordState } from '../../src/docs/record.ts'
import { ModelIndex } from '../../src/authz/decide.ts'
import { demoModel } from '../../src/server/demo.ts'
import { decideChanges, type DecideContext } from '../../src/projection/decide-changes.ts'
import { MAX_CLOCK_SKEW_MS, MAX_NOTES_PER_RECORD, MAX_OFFLINE_AGE_MS, noteStampTime } from '../../src/projection/decide-notes.ts'
import { parseDateTime } from '../../src/docs/date-time.ts'
import { checkNoteChange, OfflineRefusal, type DeviceMetadata } from '../../src/client/offline-rules.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const model = demoModel(catalog)
const ix = new ModelIndex(model)
const NOW = '2026-11-27T12:00:00.000Z'
const at = (offsetMs: number): string => new Date(Date.parse(NOW) + offsetMs).toISOString()

const record = (ownerid: string, owningbusinessunit: string, notes: Record<string, NoteState> = {}): RecordState => ({
  ...emptyState(),
  meta: { entity: 'account', id: 'acc0001', ownerid, owningbusinessunit, createdby: 'u-avery', createdon: at(-86_400_000), statecode: 0 },
  notes
})
const alices = (notes: Record<string, NoteState> = {}): RecordState => record('systemuser/u-alice', 'bu-north', notes)
const ctxFor = (userId: string, over: Partial<DecideContext> = {}): DecideContext => ({ entity: account, record: 'account/acc0001', userId, ix, now: NOW, ...over })
const note = (createdby: string, extra: NoteState = {}): NoteState => ({ subject: 's', text: 't', createdby, createdon: at(-3_600_000), ...extra })

/** The verdicts of the note changes of (before -> after) as [kind, reason | 'ok'] pairs. */
const decide = (userId: string, before: RecordState, after: RecordState, over: Partial<DecideContext> = {}): string[][] =>
  decideChanges(ctxFor(userId, over), before, after, diff(before, after))
    .filter(v => v.change.kind.startsWith('note-'))
    .map(v => [v.change.kind, v.allowed ? 'ok' : v.reason])
const messageOf = (userId: string, before: RecordState, after: RecordState): string => {
  const v = decideChanges(ctxFor(userId), before, after, diff(before, after)).find(x => x.change.kind.startsWith('note-'))!
  return v.allowed ? 'ok' : v.message
}
const edited = (n: NoteState, userId: string, patch: NoteState, stampAt = at(0)): NoteState => ({ ...n, ...patch, modifiedby: userId, modifiedon: stampAt })

describe('new notes', () => {
  it('accept createdon from 30 days before now to 5 minutes after, to the millisecond', () => {
    const add = (createdon: string): string[][] => decide('u-alice', alices(), alices({ n: { subject: 's', text: 't', createdby: 'u-alice', createdon } }))
    expect(add(at(MAX_CLOCK_SKEW_MS))).toEqual([['note-added', 'ok']])
    expect(add(at(MAX_CLOCK_SKEW_MS + 1))).toEqual([['note-added', 'invalid-value']])
    expect(add(at(-MAX_OFFLINE_AGE_MS))).toEqual([['note-added', 'ok']])
    expect(add(at(-MAX_OFFLINE_AGE_MS - 1))).toEqual([['note-added', 'invalid-value']])
    expect(MAX_CLOCK_SKEW_MS).toBe(5 * 60_000)
    expect(MAX_OFFLINE_AGE_MS).toBe(30 * 86_400_000)
    for (const bad of ['2026-11-27', '2026-11-27T12:00:00+01:00', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '']) expect(add(bad), bad).toEqual([['note-added', 'invalid-value']])
  })

  it('must be created by the author, and stamped (if at all) by the author, not before createdon', () => {
    const add = (n: NoteState): string => messageOf('u-alice', alices(), alices({ n }))
    expect(add(note('u-nina'))).toBe('a new note must be created by its author (createdby u-alice)')
    expect(add(note('u-alice', { modifiedby: 'u-nina', modifiedon: at(0) }))).toMatch(/modifiedby must be its editor \(u-alice\), not u-nina/)
    expect(add(note('u-alice', { modifiedby: 'u-alice', modifiedon: at(-7_200_000) }))).toMatch(/is before its createdon/)
    expect(add(note('u-alice', { modifiedby: 'u-alice', modifiedon: at(0) }))).toBe('ok')
  })

  it('are checked the same way when the record is created in the same update', () => {
    const created = alices({ n: note('u-alice', { createdon: '2020-01-01T00:00:00.000Z' }) })
    created.meta = { ...created.meta, createdby: 'u-alice', createdon: at(0) }
    expect(decide('u-alice', emptyState(), created)).toEqual([['note-added', 'invalid-value']])
  })

  it('without a clock in the context, use the system clock', () => {
    const n = { subject: 's', text: 't', createdby: 'u-alice', createdon: new Date().toISOString() }
    expect(decide('u-alice', alices(), alices({ n }), { now: undefined })).toEqual([['note-added', 'ok']])
  })
})

describe('the number of notes', () => {
  const notes = (prefix: string, n: number, createdby = 'u-dan'): Record<string, NoteState> =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, note(createdby)]))
  /** [kind, reason | 'ok'] of every change, the record's stamps included, with the notes before counted as `held`. */
  const verdicts = (before: RecordState, after: RecordState, held?: number): string[][] =>
    decideChanges(ctxFor('u-dan'), before, after, diff(before, after), held).map(v => [v.change.kind === 'meta-set' ? v.change.key : v.change.kind, v.allowed ? 'ok' : v.reason])

  it(`refuse a new note past ${MAX_NOTES_PER_RECORD} on a record (quota-exceeded), with the record's stamps it brought`, () => {
    const full = alices(notes('n', MAX_NOTES_PER_RECORD))
    const stamped = (s: RecordState, extra: Record<string, NoteState>): RecordState => ({ ...s, meta: { ...s.meta, modifiedby: 'u-dan', modifiedon: at(0) }, notes: { ...s.notes, ...extra } })
    expect(verdicts(full, stamped(full, { x: note('u-dan') }))).toEqual([['modifiedby', 'quota-exceeded'], ['modifiedon', 'quota-exceeded'], ['note-added', 'quota-exceeded']])
    const v = decideChanges(ctxFor('u-dan'), full, stamped(full, { x: note('u-dan') }), diff(full, stamped(full, { x: note('u-dan') }))).find(x => x.change.kind === 'note-added')!
    expect(v.allowed ? 'ok' : v.message).toBe(`a record's timeline holds at most ${MAX_NOTES_PER_RECORD} notes, and this one holds ${MAX_NOTES_PER_RECORD}: remove some before adding more`)
    // The count given (a decision reads only the notes an update touches) is what counts.
    const touched = alices()
    expect(verdicts(touched, { ...touched, notes: { x: note('u-dan') } }, MAX_NOTES_PER_RECORD)).toEqual([['note-added', 'quota-exceeded']])
    expect(verdicts(touched, { ...touched, notes: { x: note('u-dan') } }, MAX_NOTES_PER_RECORD - 1)).toEqual([['note-added', 'ok']])
  })

  it('keep the new notes that fit, after the removals of the same update made room', () => {
    const before = alices(notes('n', MAX_NOTES_PER_RECORD - 1))
    const { n0: _, ...rest } = before.notes
    const after = { ...before, notes: { ...rest, ...notes('x', 3) } }
    expect(verdicts(before, after).sort()).toEqual([['note-added', 'ok'], ['note-added', 'ok'], ['note-added', 'quota-exceeded'], ['note-removed', 'ok']])
  })

  it('bound a record created with its notes in the same update', () => {
    const created = alices(notes('n', MAX_NOTES_PER_RECORD + 1, 'u-alice'))
    created.meta = { ...created.meta, createdby: 'u-alice', createdon: at(0) }
    const added = decideChanges(ctxFor('u-alice'), emptyState(), created, diff(emptyState(), created)).filter(v => v.change.kind === 'note-added')
    expect(added.filter(v => v.allowed)).toHaveLength(MAX_NOTES_PER_RECORD)
    expect(added.filter(v => !v.allowed).map(v => v.allowed ? 'ok' : v.reason)).toEqual(['quota-exceeded'])
  })
})

describe('edited notes', () => {
  const n = note('u-alice')
  it('never change createdby or createdon (field-read-only), whoever edits them', () => {
    expect(messageOf('u-alice', alices({ n }), alices({ n: edited(n, 'u-alice', { createdby: 'u-nina' }) }))).toBe("a note's createdby never changes after it is added")
    expect(messageOf('u-alice', alices({ n }), alices({ n: edited(n, 'u-alice', { createdon: at(-60_000) }) }))).toBe("a note's createdon never changes after it is added")
    expect(decide('u-avery', alices({ n }), alices({ n: edited(n, 'u-avery', { createdby: 'u-avery' }) }))).toEqual([['note-edited', 'field-read-only']])
  })

  it('carry new stamps by the editor, within the bounds and not before createdon', () => {
    const before = alices({ n: { ...n, modifiedby: 'u-alice', modifiedon: at(-60_000) } })
    const edit = (userId: string, patch: NoteState): string => messageOf(userId, before, alices({ n: { ...before.notes.n, ...patch } }))
    expect(edit('u-alice', { text: 'no new stamp' })).toBe('an edit of a note must stamp it: modifiedby (u-alice) and modifiedon (now)')
    expect(edit('u-bob', { text: 'under alice\'s stamp' })).toBe('an edit of a note must stamp it: modifiedby (u-bob) and modifiedon (now)')
    expect(edit('u-bob', { text: 'x', modifiedon: at(0) })).toMatch(/modifiedby must be its editor \(u-bob\), not u-alice/)
    expect(edit('u-alice', { text: 'x', modifiedby: undefined, modifiedon: undefined })).toMatch(/modifiedby must be its editor \(u-alice\)$/)
    expect(edit('u-alice', { text: 'x', modifiedon: at(MAX_CLOCK_SKEW_MS + 1) })).toMatch(/later than the server's clock/)
    expect(edit('u-alice', { text: 'x', modifiedon: at(-7_200_000) })).toMatch(/before its createdon/)
    expect(edit('u-alice', { text: 'x', modifiedon: 'yesterday' })).toMatch(/must be a UTC date-time/)
    expect(edit('u-alice', { text: 'x', modifiedon: at(0) })).toBe('ok')
    expect(edit('u-bob', { text: 'x', modifiedby: 'u-bob' })).toBe('ok') // same time, new editor: a new stamp
  })

  it('own notes need appendTo; another user\'s need write reaching the record and the creator', () => {
    const edit = (userId: string, before: RecordState): string[][] =>
      decide(userId, before, { ...before, notes: { n: edited(before.notes.n, userId, { text: 'changed' }) } })
    // dan: account appendTo (organization), no write
    expect(edit('u-dan', alices({ n: note('u-dan') }))).toEqual([['note-edited', 'ok']])
    expect(edit('u-dan', alices({ n: note('u-alice') }))).toEqual([['note-edited', 'no-write-privilege']])
    // nina: write at user depth; a team record of hers, alice's note
    const team = (n: NoteState): RecordState => record('team/t-north', 'bu-north', { n })
    expect(edit('u-nina', team(note('u-nina')))).toEqual([['note-edited', 'ok']])
    expect(edit('u-nina', team(note('u-alice')))).toEqual([['note-edited', 'no-write-privilege']])
    // bob reaches alice (a direct report) through hierarchy security
    expect(edit('u-bob', team(note('u-alice')))).toEqual([['note-edited', 'ok']])
    // carol: business-unit depth in Sales South; avery's note sits in the root unit
    const south = (n: NoteState): RecordState => record('systemuser/u-carol', 'bu-south', { n })
    expect(edit('u-carol', south(note('u-avery')))).toEqual([['note-edited', 'no-write-privilege']])
    expect(edit('u-avery', south(note('u-carol')))).toEqual([['note-edited', 'ok']])
    // an unknown creator: only organization depth reaches the note
    expect(edit('u-carol', south(note('u-gone')))).toEqual([['note-edited', 'no-write-privilege']])
    expect(edit('u-avery', south(note('u-gone')))).toEqual([['note-edited', 'ok']])
    // a share of the record does not reach other users' notes
    const shared = new ModelIndex({ ...model, shares: [{ record: 'account/acc0001', principal: 'systemuser/u-nina', access: 'readwrite' }] })
    const b = alices({ n: note('u-alice') })
    expect(decide('u-nina', b, { ...b, notes: { n: edited(b.notes.n, 'u-nina', { text: 'shared' }) } }, { ix: shared })).toEqual([['note-edited', 'no-write-privilege']])
  })

  it('tells privilege-revoked from never allowed', () => {
    const revoked = new ModelIndex({ ...model, version: model.version + 1, hierarchy: { ...model.hierarchy, enabled: false } })
    const b = record('team/t-north', 'bu-north', { n: note('u-alice') })
    const after = { ...b, notes: { n: edited(b.notes.n, 'u-bob', { text: 'x' }) } }
    expect(decide('u-bob', b, after, { ix: revoked, delivered: ix })).toEqual([['note-edited', 'privilege-revoked']])
    expect(decide('u-bob', b, after, { ix: revoked })).toEqual([['note-edited', 'no-write-privilege']])
  })

  it('decides a note added and another user\'s note edited in one update each on its own privilege', () => {
    const b = alices({ n: note('u-alice') })
    const after = { ...b, notes: { n: edited(b.notes.n, 'u-dan', { text: 'dan was here' }), d: note('u-dan') } }
    expect(decide('u-dan', b, after).sort()).toEqual([['note-added', 'ok'], ['note-edited', 'no-write-privilege']])
  })
})

describe('removed notes', () => {
  it('own notes need appendTo; another user\'s need delete reaching the record and the creator', () => {
    const remove = (userId: string, before: RecordState): string[][] => decide(userId, before, { ...before, notes: {} })
    expect(remove('u-dan', alices({ n: note('u-dan') }))).toEqual([['note-removed', 'ok']])
    expect(remove('u-dan', alices({ n: note('u-alice') }))).toEqual([['note-removed', 'no-delete-privilege']])
    expect(remove('u-nina', record('team/t-north', 'bu-north', { n: note('u-alice') }))).toEqual([['note-removed', 'no-delete-privilege']])
    expect(remove('u-bob', record('team/t-north', 'bu-north', { n: note('u-alice') }))).toEqual([['note-removed', 'ok']])
    // carol deletes at user depth only: not even her business unit's colleague's notes
    expect(remove('u-carol', record('systemuser/u-carol', 'bu-south', { n: note('u-avery') }))).toEqual([['note-removed', 'no-delete-privilege']])
    expect(remove('u-erin', alices({ n: note('u-erin') }))).toEqual([['note-removed', 'no-write-privilege']])
  })
})

describe('the device SDK', () => {
  const meta = (privileges: Record<string, boolean>): DeviceMetadata => ({
    version: 1, userId: 'u-dan', businessUnitId: 'bu-service', entities: [account], privileges: { account: privileges }, fieldPermissions: {}
  })
  const refusal = (f: () => unknown): string => { try { f(); return 'ok' } catch (e) { expect(e).toBeInstanceOf(OfflineRefusal); return (e as OfflineRefusal).message } }

  it('refuses up front, with the server\'s reason, what no privilege of the user allows', () => {
    const m = meta({ appendTo: true })
    expect(refusal(() => checkNoteChange(m, 'account', 'add'))).toBe('ok')
    expect(refusal(() => checkNoteChange(m, 'account', 'edit', note('u-dan')))).toBe('ok')
    expect(refusal(() => checkNoteChange(m, 'account', 'remove', note('u-dan')))).toBe('ok')
    expect(refusal(() => checkNoteChange(m, 'account', 'edit', note('u-alice')))).toBe('no-write-privilege: no write privilege on account')
    expect(refusal(() => checkNoteChange(m, 'account', 'remove', note('u-alice')))).toBe('no-delete-privilege: no delete privilege on account')
    expect(refusal(() => checkNoteChange(meta({ write: true, delete: true }), 'account', 'add'))).toBe('no-write-privilege: no appendTo privilege on account')
    expect(refusal(() => checkNoteChange(meta({ write: true, delete: true }), 'account', 'edit', note('u-alice')))).toBe('ok')
  })

  it('stamps an edit now, never before the note was created nor at or before its own last stamp', () => {
    const now = Date.parse(NOW)
    expect(noteStampTime('u-dan', note('u-dan'), now)).toBe(NOW)
    expect(noteStampTime('u-dan', note('u-dan', { createdon: at(60_000) }), now)).toBe(at(60_000))
    expect(noteStampTime('u-dan', note('u-dan', { modifiedby: 'u-dan', modifiedon: NOW }), now)).toBe(at(1))
    expect(noteStampTime('u-dan', note('u-dan', { modifiedby: 'u-bob', modifiedon: NOW }), now)).toBe(NOW)
    expect(parseDateTime('2026-11-27T12:00:00Z')).toBe(now)
  })
})
