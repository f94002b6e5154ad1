// A compensation restores exactly what it removed: after a refused change (refused whole or in part, the
// server compensates it in the transaction that integrates it), the sender's copy equals the
// record, content for content (memo texts as deltas, notes key by key), over every content kind the
// layout allows. Seeded: SEED=<n> replays.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, deleteRecord, editNote, readRecord, removeNote, setField, clearField, editText } from '../../src/docs/record.ts'
import type { FieldValue } from '../../src/docs/values.ts'
import type { DocName } from '../../src/ids.ts'
import { until } from '../helpers/server.ts'
import { chance, int, pick, withSeed, word, type Gen } from '../helpers/seed.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { applyReceived, copyOf, edit, exactly, ownedBy, raw, startServer, type Raw } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()
const STEPS = Number(process.env.COMPENSATION_STEPS ?? 40)

const now = (): string => new Date().toISOString()

/** A value of each scalar kind the account layout has. */
const scalar = (gen: Gen): [string, FieldValue] => pick(gen, [
  ['name', `n ${word(gen, 1, 8)}`], ['telephone1', `+47 ${int(gen, 0, 99999)}`], ['websiteurl', `https://${word(gen, 1, 6).replace(/\W/g, 'x')}.example`],
  ['numberofemployees', int(gen, 0, 5000)], ['donotemail', chance(gen, 0.5)], ['lastonholdtime', `2026-0${int(gen, 1, 9)}-1${int(gen, 0, 9)}`]
] as [string, FieldValue][])

/** A change a user may make to the record's content, of a random kind. */
const change = (gen: Gen, d: Y.Doc, by: string): void => {
  const actor = { by, at: now() }
  const s = readRecord(d, account)
  const notes = Object.keys(s.notes)
  const text = s.texts.description ?? ''
  switch (int(gen, 0, 7)) {
    case 0: { const [k, v] = scalar(gen); setField(d, account, k, v, actor); break }
    case 1: { const k = pick(gen, Object.keys(s.fields).filter(f => f !== 'revenue').concat('name')); if (s.fields[k] !== undefined) clearField(d, account, k, actor); else setField(d, account, 'name', 'x', actor); break }
    case 2: { let i = int(gen, 0, text.length); if (i > 0 && i < text.length && /[\udc00-\udfff]/.test(text[i])) i--; editText(d, account, 'description', i, 0, word(gen, 1, 10), actor); break }
    case 3: if (text.length > 0) {
      // Whole characters: Yjs keeps a string split inside a surrogate pair as U+FFFD on one side only.
      const cut = (k: number): number => k > 0 && k < text.length && /[\udc00-\udfff]/.test(text[k]) ? k - 1 : k
      const i = cut(int(gen, 0, text.length - 1))
      const end = cut(int(gen, i + 1, text.length))
      editText(d, account, 'description', i, Math.max(0, end - i), word(gen, 0, 4), actor)
    } else editText(d, account, 'description', 0, 0, 'seed text', actor); break
    case 4: addNote(d, account, `n${int(gen, 0, 1e6)}`, { subject: word(gen, 1, 8), text: word(gen, 0, 20) }, actor); break
    case 5: if (notes.length > 0) editNote(d, account, pick(gen, notes), { subject: word(gen, 1, 6), text: word(gen, 0, 10) }, actor); else addNote(d, account, 'first', { subject: 's', text: 't' }, actor); break
    case 6: if (notes.length > 0) removeNote(d, account, pick(gen, notes), actor); else addNote(d, account, 'first', { subject: 's', text: 't' }, actor); break
    default: deleteRecord(d, account, actor)
  }
}

const settle = async (who: Raw, seen: number, what: string): Promise<void> => {
  await until(() => who.receipts().length > seen, what)
}

describe('a compensation restores exactly what it removed', () => {
  it('on the sender\'s copy, for refused and partly refused changes of every kind', async () => {
    await withSeed(async gen => {
      const s = await startServer(cleanups, { REFUSED_UPDATES_BURST: '100000', MAX_RECEIPTS_PER_RECORD: '100000' })
      const name = ownedBy(s, 'account', 'u-alice') as DocName
      const room = s.server.rooms.get(name)
      const avery = await raw(cleanups, s, name, 'avery')
      const erin = await raw(cleanups, s, name, 'erin') // reads everything, writes nothing
      const alice = await raw(cleanups, s, name, 'alice') // writes her account, not its system fields
      for (let step = 0; step < STEPS; step++) {
        // The record gets richer: avery (allowed) changes it, never deleting it.
        let changed = false
        while (!changed) {
          const base = copyOf(s, name)
          const u = edit(base, d => {
            const before = readRecord(d, account)
            // Now and then avery tries formatting in the memo: outside the layout, so refused whole (it once
            // landed, and a compensation then restored the text without it).
            const t = d.getText('memo:description')
            if (t.length > 1 && chance(gen, 0.15)) t.format(0, int(gen, 1, t.length), { bold: true })
            change(gen, d, 'u-avery'); if (readRecord(d, account).meta.deletedon !== undefined) { d.getMap('meta').delete('deletedon'); d.getMap('meta').delete('deletedby'); d.getMap('meta').delete('deletedseen') } changed = JSON.stringify(readRecord(d, account)) !== JSON.stringify(before) })
          if (!changed) continue
          const target = exactly(base)
          const refused = avery.receipts().length
          avery.update(u)
          // It lands, or a business rule (say) drops it with a receipt: either way the record is settled.
          await until(() => JSON.stringify(exactly(room.doc)) === JSON.stringify(target) || avery.receipts().length > refused, `step ${step}: avery's change decided`)
          await room.settled()
        }
        const want = exactly(room.doc)
        // Refused whole: erin's change of a random kind; her copy comes back exactly.
        const mine = copyOf(s, name)
        const seen = erin.receipts().length
        const from = erin.messages.length
        erin.update(edit(mine, d => change(gen, d, 'u-erin')))
        await settle(erin, seen, `step ${step}: erin refused`)
        await until(() => erin.messages.length > from, `step ${step}: erin's revert`)
        applyReceived(mine, erin.messages.slice(from))
        expect(exactly(mine), `step ${step}: erin's copy`).toEqual(want)
        expect(exactly(room.doc), `step ${step}: record unchanged`).toEqual(want)
        // Partly refused: alice changes something she may and a system field she may not.
        const hers = copyOf(s, name)
        const at = alice.messages.length
        const seenA = alice.receipts().length
        alice.update(edit(hers, d => d.transact(() => {
          setField(d, account, 'telephone1', `+47 alice ${step}`, { by: 'u-alice', at: now() })
          d.getMap('meta').set('createdon', `2020-01-01T00:00:${String(step % 60).padStart(2, '0')}.000Z`)
        })))
        await settle(alice, seenA, `step ${step}: alice's system field refused`)
        await until(() => readRecord(room.doc, account).fields.telephone1 === `+47 alice ${step}`, `step ${step}: alice's allowed change lands`)
        await until(() => alice.messages.length > at, `step ${step}: alice gets the compensation`)
        applyReceived(hers, alice.messages.slice(at))
        expect(exactly(hers), `step ${step}: alice's copy`).toEqual(exactly(room.doc))
      }
    })
  })
})
