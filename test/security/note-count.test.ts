// Notes per record are bounded: any user who may append to a record could add notes to its timeline
// without end (each one a map in the record's document, which every reader loads and syncs whole). A
// note past MAX_NOTES_PER_RECORD is refused by the server's projection like any other refused change (a
// `quota-exceeded` receipt, and the note removed so the sender's copy converges), and the device SDK
// refuses it up front with the same reason. Through the real server, with y-websocket clients and the SDK.

import { describe, expect, it } from 'vitest'
import type * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, countNotes, readRecord, removeNote, type Actor } from '../../src/docs/record.ts'
import { MAX_NOTES_PER_RECORD } from '../../src/projection/decide-notes.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { OfflineRefusal } from '../../src/client/offline-rules.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { deviceFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, docOf, ownedBy, receiptsOn, startServer } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const by = (userId: string): Actor => ({ by: userId, at: new Date().toISOString() })
const notesOf = (doc: Y.Doc): Record<string, unknown> => readRecord(doc, account).notes

/** Alice fills the timeline of her account to the bound (500 notes an update, each a frame well under 1 MiB), once `observer` has them all. */
const fill = async (alice: Y.Doc, observer: Y.Doc): Promise<void> => {
  for (let from = 0; from < MAX_NOTES_PER_RECORD; from += 500) {
    alice.transact(() => {
      for (let i = from; i < Math.min(from + 500, MAX_NOTES_PER_RECORD); i++) addNote(alice, account, `a${i}`, { subject: `visit ${i}`, text: '' }, by('u-alice'))
    })
  }
  await until(() => countNotes(observer) === MAX_NOTES_PER_RECORD, 'the full timeline reaches the observer', [observer], 30_000)
}

/** The receipts of `userId` about `record`, once there are `count` of them. */
const receiptsAfter = async (s: TestServer, userId: string, record: string, count: number): Promise<ReturnType<typeof receiptsOn>> => {
  await until(() => receiptsOn(s, userId, record).length >= count, `${count} receipts for ${userId}`)
  return receiptsOn(s, userId, record)
}

describe(`notes per record (at most ${MAX_NOTES_PER_RECORD})`, () => {
  it('refuses a note past the bound (quota-exceeded) and removes it from its sender\'s copy; one fits again once a note is removed', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await docOf(cleanups, s, name, 'alice')
    const dan = await docOf(cleanups, s, name, 'dan') // technician: appendTo on accounts, no write
    const avery = await docOf(cleanups, s, name, 'avery')
    await fill(alice, avery)
    await until(() => countNotes(dan) === MAX_NOTES_PER_RECORD, 'the full timeline reaches dan', [dan], 30_000)
    addNote(dan, account, 'over', { subject: 'one more', text: 'past the bound' }, by('u-dan'))
    const [refused] = await receiptsAfter(s, 'u-dan', name, 1)
    expect(refused).toMatchObject({ change: 'note-added', field: 'notes.over', reason: Reason.quotaExceeded, kept: null })
    expect(refused.message).toContain(`at most ${MAX_NOTES_PER_RECORD} notes`)
    await until(() => notesOf(dan).over === undefined, 'dan\'s copy converges', [dan])
    expect(countNotes(dan)).toBe(MAX_NOTES_PER_RECORD)
    expect(notesOf(avery).over).toBeUndefined()
    expect(countNotes(copyOf(s, name))).toBe(MAX_NOTES_PER_RECORD)
    // Two removed make room for two: of three new notes in one update, two land and one is refused.
    removeNote(alice, account, 'a0', by('u-alice'))
    removeNote(alice, account, 'a1', by('u-alice'))
    await until(() => countNotes(dan) === MAX_NOTES_PER_RECORD - 2, 'the removals reach dan', [dan])
    dan.transact(() => { for (const id of ['d1', 'd2', 'd3']) addNote(dan, account, id, { subject: id, text: '' }, by('u-dan')) })
    const receipts = await receiptsAfter(s, 'u-dan', name, 2)
    expect(receipts.map(r => [r.change, r.reason])).toEqual([['note-added', Reason.quotaExceeded], ['note-added', Reason.quotaExceeded]])
    await until(() => countNotes(avery) === MAX_NOTES_PER_RECORD && ['d1', 'd2', 'd3'].filter(id => notesOf(avery)[id] !== undefined).length === 2, 'two of dan\'s notes land', [avery])
    await until(() => countNotes(dan) === MAX_NOTES_PER_RECORD && notesOf(dan)[receipts[1].field!.slice('notes.'.length)] === undefined, 'dan\'s copy converges', [dan])
    expect(countNotes(copyOf(s, name))).toBe(MAX_NOTES_PER_RECORD)
  }, 120_000)

  it('the device SDK refuses a note past the bound up front, with the same reason', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await docOf(cleanups, s, name, 'alice')
    await fill(alice, await docOf(cleanups, s, name, 'avery'))
    const d = await deviceFor(cleanups, s, 'alice')
    await d.sync()
    expect(await d.notes(name)).toHaveLength(MAX_NOTES_PER_RECORD)
    const refusal = await d.addNote(name, { subject: 'one more', text: '' }).then(() => null, (e: unknown) => e)
    expect(refusal).toBeInstanceOf(OfflineRefusal)
    expect(refusal).toMatchObject({ reason: Reason.quotaExceeded })
    expect(await d.notes(name)).toHaveLength(MAX_NOTES_PER_RECORD)
    // Once a note is removed, one fits again, and it lands.
    await d.removeNote(name, 'a0')
    const added = await d.addNote(name, { subject: 'fits now', text: '' })
    await d.sync()
    await until(() => notesOf(alice)[added] !== undefined && notesOf(alice).a0 === undefined, 'the device\'s note lands', [alice])
    expect(countNotes(alice)).toBe(MAX_NOTES_PER_RECORD)
  }, 120_000)
})
