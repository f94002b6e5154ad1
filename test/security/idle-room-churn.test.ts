// Loaded records no one uses are bounded (IDLE_ROOMS_MAX). A read-only user asking for the state of every
// record it can name pushes others' idle records out, but never one in use: two people editing a record
// over y-websocket keep it loaded and keep converging, and the server holds no more idle records than the bound.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import { syncedEditors, until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { ownedBy, rawDevice, startServer } from './support.ts'

const cleanups = useCleanups()
const account = buildCatalog().entities.get('account')!
const MAX = 5

describe('idle records pushed out by a read-only user', () => {
  it('never takes out a record in use, and keeps the idle ones within the bound', async () => {
    const s = await startServer(cleanups, { IDLE_ROOMS_MAX: String(MAX) })
    const name = ownedBy(s, 'account', 'u-alice')
    const [alice, avery] = await syncedEditors(s, cleanups, name, ['alice', 'avery'])
    // erin (read only) asks for the state of every demo record.
    const all = ['account', 'contact', 'opportunity', 'incident', 'lead'].flatMap(e =>
      s.projection.rows(e, { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0).map(r => `${e}/${String(r.id)}`))
    expect(all.length).toBeGreaterThan(4 * MAX)
    const erin = await rawDevice(cleanups, s, 'erin', 'idle-churn-erin')
    const sv = Y.encodeStateVector(new Y.Doc())
    for (const record of all) erin.send({ type: DeviceMessage.sync, record, step: SyncStep.step1, payload: sv })
    const answered = (): number => erin.frames.filter(f => (f.type === DeviceMessage.sync && f.step === SyncStep.step2) || f.type === DeviceMessage.evict).length
    await until(() => answered() >= all.length, 'every step 1 answered')
    // The record in use stayed loaded; besides it, at most MAX idle records are.
    expect(s.server.rooms.has(name)).toBe(true)
    expect(s.server.rooms.loaded).toBeLessThanOrEqual(MAX + 1)
    // Its two editors still converge through it.
    setField(alice, account, 'telephone1', '+47 after the churn', { by: 'u-alice', at: new Date().toISOString() })
    await until(() => readRecord(avery, account).fields.telephone1 === '+47 after the churn', 'alice\'s edit at avery')
  })
})
