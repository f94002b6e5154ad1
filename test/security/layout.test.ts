// Every struct an update adds is checked against the record layout before anything is integrated:
// embeds, formats and nested types in memo texts, list items in maps, nested maps, foreign roots and
// unknown keys are refused whole, with a receipt naming where, on /sync and in a /device command part;
// nothing is stored or broadcast, and the sender's copy is brought back.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, readRecord } from '../../src/docs/record.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { applyReceived, copyOf, edit, exactly, open, ownedBy, raw, rawDevice, startServer, TIME } from './support.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const cleanups = useCleanups()

/** Attacks by a user who may write the record: only the layout refuses them. */
const ATTACKS: Record<string, { path: RegExp, make: (d: Y.Doc) => void }> = {
  'an embed in a memo': { path: /^memo:description$/, make: d => d.getText('memo:description').insertEmbed(0, { image: 'x' }) },
  'a nested map in a memo': { path: /^memo:description$/, make: d => d.getText('memo:description').insertEmbed(0, new Y.Map()) },
  'a formatting mark in a memo': { path: /^memo:description$/, make: d => d.getText('memo:description').insert(0, 'bold', { bold: true }) },
  'formatting of existing memo text': { path: /^memo:description$/, make: d => { const t = d.getText('memo:description'); t.insert(0, 'abcd'); t.format(0, 2, { italic: true }) } },
  'a list item in fields': { path: /^fields$/, make: d => d.getArray('fields').insert(0, ['loose']) },
  'a list item in meta': { path: /^meta$/, make: d => d.getArray('meta').insert(0, [1]) },
  'a list item in notes': { path: /^notes$/, make: d => d.getArray('notes').insert(0, ['note?']) },
  'a nested map as a field value': { path: /^fields\.name$/, make: d => d.getMap('fields').set('name', new Y.Map()) },
  'an array as a field value': { path: /^fields\.name$/, make: d => d.getMap('fields').set('name', new Y.Array()) },
  'an object as a field value': { path: /^fields\.name$/, make: d => d.getMap('fields').set('name', { a: 1 } as never) },
  'binary as a field value': { path: /^fields\.name$/, make: d => d.getMap('fields').set('name', new Uint8Array([1, 2]) as never) },
  'an unknown field key': { path: /^fields\.nosuchfield$/, make: d => d.getMap('fields').set('nosuchfield', 1) },
  'an unknown meta key': { path: /^meta\.sneaky$/, make: d => d.getMap('meta').set('sneaky', 'x') },
  'a note that is not a map': { path: /^notes\.n1$/, make: d => d.getMap('notes').set('n1', 'text') },
  'a nested map in a note': { path: /^notes\.n2\.text$/, make: d => { const n = new Y.Map(); d.getMap('notes').set('n2', n); n.set('text', new Y.Map()) } },
  'a number in a note': { path: /^notes\.n3\.subject$/, make: d => { const n = new Y.Map(); d.getMap('notes').set('n3', n); n.set('subject', 5) } },
  'an unknown note key': { path: /^notes\.n4\.script$/, make: d => { const n = new Y.Map(); d.getMap('notes').set('n4', n); n.set('script', 'x') } },
  'a foreign root map': { path: /^evil$/, make: d => d.getMap('evil').set('x', 1) },
  'a foreign root text': { path: /^memo:nosuchmemo$/, make: d => d.getText('memo:nosuchmemo').insert(0, 'hi') }
}

describe('content outside the record layout', () => {
  it('is refused whole on /sync: nothing stored or broadcast, a receipt naming where, the sender brought back', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const watcher = await open(cleanups, s, name, 'avery')
    const room = s.server.rooms.get(name)
    const before = exactly(room.doc)
    const rows = (await s.storage.load(name)).updates.length
    let broadcast = 0
    watcher.doc.on('update', () => { broadcast++ })
    const attacker = await raw(cleanups, s, name, 'avery')
    for (const [what, attack] of Object.entries(ATTACKS)) {
      const mine = copyOf(s, name)
      // An allowed change rides along: the update is refused whole all the same.
      const update = edit(mine, d => d.transact(() => {
        attack.make(d)
        // An allowed change rides along (when `fields` is still a map here): refused whole all the same.
        if (!(d.share.get('fields') instanceof Y.Array)) d.getMap('fields').set('telephone1', `+47 ${what}`)
      }))
      const seen = attacker.receipts().length
      attacker.update(update)
      await until(() => attacker.receipts().length > seen, `a receipt for ${what}`)
      const r = attacker.receipts()[seen]
      expect(r.reason, what).toBe('invalid-value')
      expect(r.field, what).toMatch(attack.path)
      expect(exactly(room.doc), what).toEqual(before)
      // The sender applies what it was sent and is back where the server is.
      applyReceived(mine, attacker.messages)
      expect(exactly(mine), what).toEqual(before)
    }
    expect((await s.storage.load(name)).updates.length).toBe(rows)
    expect(broadcast).toBe(0)
    expect(readRecord(watcher.doc, account)).toEqual(readRecord(room.doc, account))
    expect(watcher.p.wsconnected).toBe(true)
  })

  it('is refused in a /device command part, and the command with it', async () => {
    const s = await startServer(cleanups)
    const lead = ownedBy(s, 'lead', 'u-alice')
    const leadRoom = s.server.rooms.get(lead)
    await leadRoom.ready
    const before = exactly(leadRoom.doc)
    const copy = copyOf(s, lead)
    const update = edit(copy, d => d.transact(() => {
      d.getMap('meta').set('statecode', 2)
      d.getText('memo:description').insertEmbed(0, { script: 'x' })
    }))
    const device = await rawDevice(cleanups, s, 'alice', 'device-layout-1')
    const { frames } = device
    device.send({ type: DeviceMessage.command, command: 'disqualify', target: lead, parts: [{ record: lead, id: 1, update }] })
    await until(() => frames.some(f => f.type === DeviceMessage.ack), 'the part acknowledged')
    const receipts = frames.flatMap(f => f.type === DeviceMessage.receipts ? JSON.parse(f.json) as Receipt[] : [])
    expect(receipts.map(r => [r.record, r.reason])).toEqual([[lead, 'invalid-value']])
    expect(receipts[0].message).toMatch(/memo:description/)
    expect(exactly(leadRoom.doc)).toEqual(before)
    expect(s.projection.row('lead', lead.split('/')[1])?.statecode).toBe(0)
  })

  it('lets a note with a picture through when it follows the layout', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const room = s.server.rooms.get(name)
    const attacker = await raw(cleanups, s, name, 'avery')
    attacker.update(edit(copyOf(s, name), d => addNote(d, account, 'plain1', { subject: 's', text: 't' }, { by: 'u-avery', at: TIME })))
    await until(() => readRecord(room.doc, account).notes.plain1 !== undefined, 'the note lands')
    expect(attacker.receipts()).toEqual([])
  })
})
