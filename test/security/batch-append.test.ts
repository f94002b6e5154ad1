// The append-several storage path (a batch's kept updates stored as one log entry each): a batch mixing
// a refused update (erin, read-only), a malformed one and good ones from several users commits every good
// one in the order sent, and a restarted server over the same files holds exactly the same record.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { recordingMember } from '../../tools/room-member.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { applyReceived, copyOf, edit, exactly, ownedBy, raw, receiptsOn, startServer, TIME } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

describe('a mixed batch over the append-several path', () => {
  it('commits the good updates of several users (a later write of a field winning), refuses the others, and a restart yields the same record', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const id = name.split('/')[1]
    const watcher = await raw(cleanups, s, name, 'avery')
    const room = s.server.rooms.get(name)
    await room.ready
    const members = Object.fromEntries(['u-alice', 'u-erin', 'u-avery'].map(u => [u, recordingMember(u)]))
    for (const m of Object.values(members)) room.join(m)
    const base = Y.encodeStateAsUpdate(room.doc)
    const alice = copyOf(s, name)
    const avery = copyOf(s, name)
    const erin = copyOf(s, name)
    // One batch: alice's two successive writes of one field, erin's refused write, a malformed update,
    // avery's write of another field.
    const outcomes = [
      room.submit(members['u-alice'], edit(alice, d => setField(d, account, 'telephone1', '+47 first', { by: 'u-alice', at: TIME }))),
      room.submit(members['u-erin'], edit(erin, d => setField(d, account, 'name', 'erin was here', { by: 'u-erin', at: TIME }))),
      room.submit(members['u-avery'], new Uint8Array([0, 255, 255, 255, 7, 1, 2])),
      room.submit(members['u-alice'], edit(alice, d => setField(d, account, 'telephone1', '+47 second', { by: 'u-alice', at: TIME }))),
      room.submit(members['u-avery'], edit(avery, d => setField(d, account, 'websiteurl', 'https://example.com', { by: 'u-avery', at: TIME })))
    ]
    await Promise.all(outcomes.map(o => Promise.resolve(o).catch(() => undefined)))
    await room.settled()
    for (const m of Object.values(members)) room.leave(m)
    expect(room.isBroken).toBe(false)
    const fields = readRecord(room.doc, account).fields
    expect(fields.telephone1).toBe('+47 second')
    expect(fields.websiteurl).toBe('https://example.com')
    expect(fields.name).not.toBe('erin was here')
    expect(receiptsOn(s, 'u-erin', name).length).toBeGreaterThan(0)
    expect(s.projection.row('account', id)).toMatchObject({ telephone1: '+47 second', websiteurl: 'https://example.com' })
    // The watcher got the committed state.
    await until(() => {
      const seen = new Y.Doc()
      Y.applyUpdate(seen, base)
      applyReceived(seen, watcher.messages)
      return readRecord(seen, account).fields.websiteurl === 'https://example.com' && readRecord(seen, account).fields.telephone1 === '+47 second'
    }, 'the watcher converges')
    const held = exactly(room.doc)
    const r = await s.restart()
    cleanups.push(() => r.dispose())
    const reloaded = r.server.rooms.get(name)
    await reloaded.ready
    expect(exactly(reloaded.doc)).toEqual(held)
    expect(r.projection.row('account', id)).toMatchObject({ telephone1: '+47 second', websiteurl: 'https://example.com' })
  })
})
