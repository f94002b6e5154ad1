// Issue 9, class 8: notes cannot be forged. Each attack goes through the real y-websocket client (or the
// device SDK) against a real server: rewriting a note's createdby/createdon, backdating or future-dating
// a new note, editing a note without the editor's stamps or with another user's, and editing or removing
// another user's note without the privileges that reach its creator (README, "Security and the
// authorization projection": notes).

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { WebsocketProvider } from 'y-websocket'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, editNote, readRecord, removeNote, setField, type Actor, type NoteState } from '../../src/docs/record.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { MAX_CLOCK_SKEW_MS, MAX_OFFLINE_AGE_MS } from '../../src/projection/decide-notes.ts'
import { OfflineRefusal } from '../../src/client/offline-rules.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { deviceFor, inboxReceipts } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const cleanups = useCleanups()

const start = async (): Promise<TestServer> => {
  const s = await startTestServer()
  cleanups.push(() => s.dispose())
  return s
}

/** A y-websocket client of `name` as `login`, synced. */
const client = async (s: TestServer, login: string, name: string): Promise<Y.Doc> => {
  const doc = new Y.Doc()
  const p: WebsocketProvider = provider(s.wsUrl, name, doc, await s.token(login))
  cleanups.push(() => p.destroy())
  await synced(p)
  return doc
}

const iso = (ms: number): string => new Date(ms).toISOString()
const now = (): Actor['at'] => iso(Date.now())
const by = (userId: string, at = now()): Actor => ({ by: userId, at })
const notesOf = (doc: Y.Doc): Record<string, NoteState> => readRecord(doc, account).notes
const noteMap = (doc: Y.Doc, id: string): Y.Map<string> => doc.getMap<Y.Map<string>>('notes').get(id)!

const receiptsOf = async (s: TestServer, login: string): Promise<Receipt[]> => {
  const res = await fetch(`${s.url}/api/receipts`, { headers: { authorization: `Bearer ${await s.token(login)}` } })
  return (await res.json() as { receipts: Receipt[] }).receipts
}

/** `read()` once `done` holds for it (polled every 20 ms, within 5 s), or its last value. */
const eventually = async <T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> => {
  const deadline = Date.now() + 5000
  for (;;) {
    const v = await read()
    if (done(v) || Date.now() > deadline) return v
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** The receipts of `login` about note `noteId`, once there are `count` of them. */
const noteReceipts = async (s: TestServer, login: string, noteId: string, count: number): Promise<Receipt[]> =>
  eventually(async () => (await receiptsOf(s, login)).filter(r => r.field === `notes.${noteId}`), got => got.length >= count)

/** An id of a demo account owned by `userId`. */
const accountOf = (s: TestServer, userId: string): string => {
  const row = s.projection.rows('account', { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0).find(r => r.ownerid === `systemuser/${userId}`)
  if (row === undefined) throw new Error(`no account owned by ${userId}`)
  return `account/${String(row.id)}`
}

let markers = 0
/**
 * Everything `writer` sent before is decided once `observer` sees a later allowed edit of the writer
 * (a field set, or where the writer may not write the record, a note of its own).
 */
const settle = async (writer: Y.Doc, userId: string, observer: Y.Doc, viaNote = false): Promise<void> => {
  const marker = `marker ${++markers}`
  if (viaNote) addNote(writer, account, `m${markers}`, { subject: marker, text: '' }, by(userId))
  else setField(writer, account, 'telephone1', marker, by(userId))
  await until(() => viaNote ? notesOf(observer)[`m${markers}`] !== undefined : readRecord(observer, account).fields.telephone1 === marker, marker, [observer])
}

describe('notes cannot be forged (issue 9, class 8)', () => {
  it('keeps a note\'s createdby and createdon as they were when it was added (field-read-only)', async () => {
    const s = await start()
    const name = accountOf(s, 'u-alice')
    const alice = await client(s, 'alice', name)
    const avery = await client(s, 'avery', name)
    addNote(alice, account, 'n1', { subject: 'Visit', text: 'met the buyer' }, by('u-alice'))
    await until(() => notesOf(avery).n1 !== undefined, 'the note reaches avery', [avery])
    const original = notesOf(avery).n1
    // Rewritten to another user, and backdated, each with alice's own (valid) stamps.
    alice.transact(() => { const m = noteMap(alice, 'n1'); m.set('createdby', 'u-nina'); m.set('modifiedby', 'u-alice'); m.set('modifiedon', now()) })
    alice.transact(() => { const m = noteMap(alice, 'n1'); m.set('createdon', '2020-01-01T00:00:00.000Z'); m.set('modifiedby', 'u-alice'); m.set('modifiedon', now()) })
    await settle(alice, 'u-alice', avery)
    expect(notesOf(avery).n1).toEqual(original)
    const receipts = await noteReceipts(s, 'alice', 'n1', 2)
    expect(receipts.map(r => [r.change, r.reason])).toEqual([['note-edited', 'field-read-only'], ['note-edited', 'field-read-only']])
    expect(receipts.map(r => r.message)).toEqual(["a note's createdby never changes after it is added", "a note's createdon never changes after it is added"])
    await until(() => JSON.stringify(notesOf(alice).n1) === JSON.stringify(original), 'alice converges', [alice])
  })

  it('drops a new note that is backdated, dated in the future or created by someone else (invalid-value)', async () => {
    const s = await start()
    const name = accountOf(s, 'u-alice')
    const alice = await client(s, 'alice', name)
    const avery = await client(s, 'avery', name)
    addNote(alice, account, 'old', { subject: 'Backdated', text: 'x' }, by('u-alice', iso(Date.now() - MAX_OFFLINE_AGE_MS - 60_000)))
    addNote(alice, account, 'future', { subject: 'Future', text: 'x' }, by('u-alice', iso(Date.now() + MAX_CLOCK_SKEW_MS + 60_000)))
    addNote(alice, account, 'garbled', { subject: 'Garbled', text: 'x' }, by('u-alice', '2026-02-30T10:00:00.000Z'))
    addNote(alice, account, 'nina', { subject: 'As nina', text: 'x' }, by('u-nina'))
    addNote(alice, account, 'ok', { subject: 'Fine', text: 'offline since yesterday' }, by('u-alice', iso(Date.now() - 86_400_000)))
    await settle(alice, 'u-alice', avery)
    expect(Object.keys(notesOf(avery))).toEqual(['ok'])
    const messages = async (id: string): Promise<[string, string][]> => (await noteReceipts(s, 'alice', id, 1)).map(r => [r.reason, r.message])
    expect(await messages('old')).toEqual([['invalid-value', expect.stringMatching(/createdon .* is more than 30 days before the server's clock/)]])
    expect(await messages('future')).toEqual([['invalid-value', expect.stringMatching(/createdon .* is later than the server's clock .* plus 5 minutes/)]])
    expect(await messages('garbled')).toEqual([['invalid-value', expect.stringMatching(/createdon must be a UTC date-time/)]])
    expect(await messages('nina')).toEqual([['invalid-value', 'a new note must be created by its author (createdby u-alice)']])
    await until(() => Object.keys(notesOf(alice)).every(k => k === 'ok' || k.startsWith('m')), 'alice converges', [alice])
  })

  it('drops an edit without the editor\'s stamps, with another user\'s, or dated out of bounds', async () => {
    const s = await start()
    const name = accountOf(s, 'u-alice')
    const alice = await client(s, 'alice', name)
    const bob = await client(s, 'bob', name) // alice's manager: writes her records through hierarchy security
    const avery = await client(s, 'avery', name)
    addNote(alice, account, 'n1', { subject: 'Visit', text: 'met the buyer' }, by('u-alice'))
    await until(() => notesOf(bob).n1 !== undefined && notesOf(avery).n1 !== undefined, 'the note reaches bob and avery', [bob, avery])
    const original = notesOf(avery).n1
    const steps: { doc: Y.Doc, userId: string, forge: (m: Y.Map<string>) => void, reason: string, message: RegExp }[] = [
      { doc: bob, userId: 'u-bob', forge: m => m.set('text', 'no stamp at all'), reason: 'invalid-value', message: /an edit of a note must stamp it: modifiedby \(u-bob\) and modifiedon \(now\)/ },
      { doc: bob, userId: 'u-bob', forge: m => { m.delete('text'); m.set('modifiedby', 'u-alice'); m.set('modifiedon', now()) }, reason: 'field-read-only', message: /modifiedby must be its editor \(u-bob\), not u-alice/ },
      { doc: alice, userId: 'u-alice', forge: m => { m.set('text', 'backdated'); m.set('modifiedby', 'u-alice'); m.set('modifiedon', '2020-01-01T00:00:00.000Z') }, reason: 'invalid-value', message: /modifiedon 2020-01-01T00:00:00.000Z is more than 30 days before/ },
      { doc: alice, userId: 'u-alice', forge: m => { m.set('text', 'before it was written'); m.set('modifiedby', 'u-alice'); m.set('modifiedon', iso(Date.parse(original.createdon!) - 60_000)) }, reason: 'invalid-value', message: /modifiedon .* is before its createdon/ }
    ]
    for (const [i, step] of steps.entries()) {
      step.doc.transact(() => step.forge(noteMap(step.doc, 'n1')))
      await settle(step.doc, step.userId, avery)
      expect(notesOf(avery).n1, `step ${i}`).toEqual(original)
      await until(() => JSON.stringify(notesOf(step.doc).n1) === JSON.stringify(original), `step ${i} reverted on its sender`, [step.doc])
    }
    const receipts = [...await noteReceipts(s, 'bob', 'n1', 2), ...await noteReceipts(s, 'alice', 'n1', 2)]
    expect(receipts.map(r => r.reason)).toEqual(steps.map(x => x.reason))
    receipts.forEach((r, i) => expect(r.message).toMatch(steps[i].message))
    // Stamped by its editor, bob's edit of alice's note lands.
    editNote(bob, account, 'n1', { text: 'met the buyer; bob followed up' }, by('u-bob'))
    await until(() => notesOf(avery).n1?.text === 'met the buyer; bob followed up', 'bob\'s stamped edit lands', [avery])
    expect(notesOf(avery).n1).toMatchObject({ createdby: 'u-alice', createdon: original.createdon, modifiedby: 'u-bob' })
  })

  it('lets only users whose write (edit) or delete (remove) reaches the note\'s creator change another user\'s note', async () => {
    const s = await start()
    const name = accountOf(s, 'u-alice')
    // A record of the North reps team: alice, nina and bob may all write it (user depth, through the team).
    const res = await fetch(`${s.url}/api/records/${name}/assign`, { method: 'POST', headers: { authorization: `Bearer ${await s.token('avery')}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerid: 'team/t-north' }) })
    expect(res.status).toBe(200)
    const alice = await client(s, 'alice', name)
    const nina = await client(s, 'nina', name)
    const bob = await client(s, 'bob', name)
    const avery = await client(s, 'avery', name)
    addNote(alice, account, 'a1', { subject: 'Alice 1', text: 'hers' }, by('u-alice'))
    addNote(alice, account, 'a2', { subject: 'Alice 2', text: 'hers too' }, by('u-alice'))
    await until(() => notesOf(nina).a2 !== undefined && notesOf(avery).a2 !== undefined, 'alice\'s notes reach nina and avery', [nina, avery])
    const before = notesOf(avery)
    // nina's role writes and deletes at user depth: it reaches the team's record, not alice's notes.
    editNote(nina, account, 'a1', { text: 'nina rewrote it' }, by('u-nina'))
    removeNote(nina, account, 'a2', by('u-nina'))
    await settle(nina, 'u-nina', avery)
    expect(notesOf(avery)).toMatchObject({ a1: before.a1, a2: before.a2 })
    expect((await noteReceipts(s, 'nina', 'a1', 1)).map(r => [r.reason, r.message])).toEqual([
      ['no-write-privilege', "editing another user's note needs write privilege on account that reaches its creator u-alice: write privilege on account at user depth does not reach this record"]
    ])
    expect((await noteReceipts(s, 'nina', 'a2', 1)).map(r => [r.reason, r.message])).toEqual([
      ['no-delete-privilege', "removing another user's note needs delete privilege on account that reaches its creator u-alice: delete privilege on account at user depth does not reach this record"]
    ])
    await until(() => notesOf(nina).a1?.text === 'hers' && notesOf(nina).a2 !== undefined, 'nina converges', [nina])
    // Her own note she edits and removes (appendTo); bob, alice's manager, reaches alice's notes through hierarchy security.
    addNote(nina, account, 'n1', { subject: 'Nina', text: 'mine' }, by('u-nina'))
    await until(() => notesOf(avery).n1 !== undefined, 'nina\'s note lands', [avery])
    editNote(nina, account, 'n1', { text: 'mine, edited' }, by('u-nina'))
    editNote(bob, account, 'a1', { text: 'bob edited it' }, by('u-bob'))
    removeNote(bob, account, 'a2', by('u-bob'))
    await until(() => notesOf(avery).n1?.text === 'mine, edited' && notesOf(avery).a1?.text === 'bob edited it' && notesOf(avery).a2 === undefined, 'allowed edits land', [avery])
    removeNote(nina, account, 'n1', by('u-nina'))
    await until(() => notesOf(avery).n1 === undefined, 'nina removes her own note', [avery])
    expect((await receiptsOf(s, 'bob')).filter(r => r.field?.startsWith('notes.'))).toEqual([])
  })

  it('needs a depth that reaches the creator\'s business unit: a business-unit lead may not edit an administrator\'s note', async () => {
    const s = await start()
    const name = accountOf(s, 'u-carol') // Sales South; carol writes at business-unit depth, deletes at user depth
    const avery = await client(s, 'avery', name)
    const carol = await client(s, 'carol', name)
    addNote(avery, account, 'v1', { subject: 'From head office', text: 'call them' }, by('u-avery'))
    await until(() => notesOf(carol).v1 !== undefined, 'the note reaches carol', [carol])
    const original = notesOf(avery).v1
    editNote(carol, account, 'v1', { text: 'done' }, by('u-carol'))
    await settle(carol, 'u-carol', avery)
    removeNote(carol, account, 'v1', by('u-carol'))
    await settle(carol, 'u-carol', avery)
    expect(notesOf(avery).v1).toEqual(original)
    expect((await noteReceipts(s, 'carol', 'v1', 2)).map(r => r.reason)).toEqual(['no-write-privilege', 'no-delete-privilege'])
    // The administrator's organization depth reaches carol's notes.
    addNote(carol, account, 'c1', { subject: 'Carol', text: 'visited' }, by('u-carol'))
    await until(() => notesOf(avery).c1 !== undefined, 'carol\'s note lands', [avery])
    editNote(avery, account, 'c1', { text: 'visited (checked)' }, by('u-avery'))
    await until(() => notesOf(carol).c1?.text === 'visited (checked)', 'avery edits carol\'s note', [carol])
  })

  it('lets a user with appendTo but no write edit and remove their own notes', async () => {
    const s = await start()
    const name = accountOf(s, 'u-alice')
    const dan = await client(s, 'dan', name) // technician: account read and appendTo at organization depth, no write
    const avery = await client(s, 'avery', name)
    addNote(dan, account, 'd1', { subject: 'Meter', text: 'reading 1200' }, by('u-dan'))
    addNote(dan, account, 'd2', { subject: 'Scrap', text: 'wrong record' }, by('u-dan'))
    await until(() => notesOf(avery).d2 !== undefined, 'dan\'s notes land', [avery])
    editNote(dan, account, 'd1', { text: 'reading 1210' }, by('u-dan'))
    removeNote(dan, account, 'd2', by('u-dan'))
    await settle(dan, 'u-dan', avery, true)
    expect(notesOf(avery).d1?.text).toBe('reading 1210')
    expect(notesOf(avery).d2).toBeUndefined()
    expect(await receiptsOf(s, 'dan')).toEqual([])
  })

  it('through the device SDK: another user\'s note out of reach is dropped at sync; own notes and repeated edits land', async () => {
    const s = await start()
    const name = accountOf(s, 'u-alice')
    const avery = await client(s, 'avery', name)
    addNote(avery, account, 'v1', { subject: 'Head office', text: 'call them' }, by('u-avery'))
    addNote(avery, account, 'v2', { subject: 'Head office', text: 'and send the offer' }, by('u-avery'))
    await settle(avery, 'u-avery', await client(s, 'avery', name)) // avery's notes are on the server (another copy has them)
    const d = await deviceFor(cleanups, s, 'alice')
    await d.sync()
    expect((await d.notes(name)).map(n => n.id).sort()).toEqual(['v1', 'v2'])
    // alice holds write and delete (at user depth): the device cannot tell the depth, the server drops both.
    await d.editNote(name, 'v1', { text: 'alice rewrote it' })
    await d.removeNote(name, 'v2')
    await d.sync()
    const inbox = await eventually(() => inboxReceipts(d), r => r.length >= 2)
    expect(inbox.map(r => [r.field, r.reason]).sort()).toEqual([['notes.v1', 'no-write-privilege'], ['notes.v2', 'no-delete-privilege']])
    expect(notesOf(avery).v1?.text).toBe('call them')
    expect(notesOf(avery).v2).toBeDefined()
    // Her own note: edited twice in a row (each edit stamped after the last), all land.
    const mine = await d.addNote(name, { subject: 'Visit', text: 'one' })
    await d.editNote(name, mine, { text: 'two' })
    await d.editNote(name, mine, { text: 'three' })
    await d.sync()
    await until(() => notesOf(avery)[mine]?.text === 'three', 'alice\'s edits land', [avery])
    expect(await inboxReceipts(d)).toHaveLength(2)
    // A note the device does not hold is refused up front.
    await expect(d.editNote(name, 'nope', { text: 'x' })).rejects.toBeInstanceOf(OfflineRefusal)
  })
})
