// Once a user may no longer read a record, their receipts about it withhold what stands there (`kept`, a
// conflict's author): the user's own attempted value stays, so that their intent is not lost. But the
// attempted value of a note edit was the whole note as the edit left it — the subject the user typed, and
// with it the note's text, its attachment and its author, none of them the user's. nina, who may read
// alice's account but not edit alice's notes, tried to retitle one: after the account went where nina
// reads nothing, GET /api/receipts (and the inbox offered to a new device of hers) still gave her alice's
// note, word for word.

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, editNote } from '../../src/docs/record.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { assignAs, deviceFor, inboxReceipts } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, copyOf, edit, ownedBy, raw, receiptsOn, sendSettled, startServer } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()
const SECRET = 'alice: the buyer signs on Friday, budget 40k'

describe('a refused note edit\'s receipt', () => {
  it('keeps only what the edit changed once its user may no longer read the record, over HTTP and to a new device', async () => {
    const s = await startServer(cleanups)
    const record = ownedBy(s, 'account', 'u-alice')
    const now = (): string => new Date().toISOString()
    // alice adds a note to her account.
    const alice = await raw(cleanups, s, record, 'alice')
    await sendSettled(s, record, alice, edit(copyOf(s, record, 0x6200001), d => addNote(d, account, 'n-plan', { subject: 'Plan', text: SECRET }, { by: 'u-alice', at: now() })))
    expect(s.server.rooms.get(record).doc.getMap('notes').has('n-plan')).toBe(true)
    // nina (alice's business unit: she reads the account) retitles alice's note: refused, she may not edit it.
    const nina = await raw(cleanups, s, record, 'nina')
    await sendSettled(s, record, nina, edit(copyOf(s, record, 0x6200002), d => editNote(d, account, 'n-plan', { subject: 'Plan (nina)' }, { by: 'u-nina', at: now() })))
    const [refused] = receiptsOn(s, 'u-nina', record).filter(r => r.change === 'note-edited')
    expect(refused).toMatchObject({ reason: 'no-write-privilege', field: 'notes.n-plan' })
    expect(refused.attempted).toMatchObject({ subject: 'Plan (nina)' })

    // The account goes to carol (Sales South): nina may no longer read it.
    expect((await assignAs(s, record, 'systemuser/u-carol')).status).toBe(200)
    expect((await api(s, 'nina', `/api/records/${record}`)).status).toBe(403)
    const overHttp = (await (await api(s, 'nina', '/api/receipts')).json() as { receipts: Receipt[] }).receipts
    const fresh = await deviceFor(cleanups, s, 'nina')
    await fresh.sync()
    for (const receipts of [overHttp, await inboxReceipts(fresh)]) {
      const entry = receipts.find(r => r.record === record && r.change === 'note-edited')
      // Still there, with what nina changed and why: her intent is not lost.
      expect(entry).toMatchObject({ reason: 'no-write-privilege', field: 'notes.n-plan', kept: null })
      expect((entry?.attempted as Record<string, unknown>).subject).toBe('Plan (nina)')
      // Nothing of alice's note.
      expect(JSON.stringify(entry)).not.toContain(SECRET)
      expect(JSON.stringify(entry?.attempted)).not.toContain('u-alice')
    }
  })
})
