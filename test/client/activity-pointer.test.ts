// The activity pointer is the read/delete view over the activities (issue 10), through a real server and
// device: it lists the phone calls, tasks, appointments and emails the device holds, each with its type;
// a delete through it deletes the activity under that activity's rules; create and update are refused.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import * as admin from '../../src/authz/admin.ts'
import { demoProfiles } from '../../src/server/demo.ts'
import { createRecord, readRecord } from '../../src/docs/record.ts'
import { OfflineRefusal } from '../../src/client/offline-rules.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { deviceFor, inboxReceipts, serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const cleanups = useCleanups()

const refusal = async (p: Promise<unknown>): Promise<string> => {
  const e = await p.catch((x: unknown) => x)
  expect(e).toBeInstanceOf(OfflineRefusal)
  return (e as OfflineRefusal).reason
}

describe('the activity pointer', () => {
  it('lists the activities the device holds, deletes through them under each activity\'s rules, and refuses create and update', async () => {
    const s = await serverFor(cleanups)
    // Field sales with emails too, and every task of the unit (alice may read them; delete only her own).
    const sales = demoProfiles(catalog)[0] as { entities: Record<string, unknown> }
    s.security.change(m => admin.putProfile(m, catalog, { ...sales, entities: { ...sales.entities, email: { rules: [{ kind: 'all' }], modifiedWithinDays: null }, task: { rules: [{ kind: 'all' }], modifiedWithinDays: null } } }))
    const alice = await deviceFor(cleanups, s, 'alice')
    await alice.sync()

    const pointers = await alice.list('activitypointer')
    const activities = (await Promise.all(['phonecall', 'task', 'appointment', 'email'].map(e => alice.list(e)))).flat()
    expect(new Set(pointers.map(p => p.values.activitytypecode))).toEqual(new Set(['phonecall', 'task', 'appointment', 'email']))
    expect(pointers.map(p => p.values.activityid).sort()).toEqual(activities.map(a => a.record).sort())
    for (const p of pointers) {
      const a = activities.find(x => x.record === p.values.activityid)!
      expect(p.record).toBe(`activitypointer/${a.record.split('/')[1]}`)
      expect(p.values).toMatchObject({ activitytypecode: a.entity, subject: a.values.subject, ownerid: a.values.ownerid })
    }

    // Delete through the pointer: the activity goes, on the device and the server.
    const call = pointers.find(p => p.values.activitytypecode === 'phonecall' && p.values.ownerid === 'systemuser/u-alice')!
    await alice.remove(call.record)
    expect((await alice.list('activitypointer')).some(p => p.record === call.record)).toBe(false)
    await alice.sync()
    expect(s.projection.row('phonecall', call.record.split('/')[1])).toBeUndefined()
    expect(await inboxReceipts(alice)).toEqual([])
    // Someone else's task: the device lets it through (alice may delete tasks), the server decides with
    // the task's delete privilege at its depth, and the task stays.
    const ninas = pointers.find(p => p.values.activitytypecode === 'task' && p.values.ownerid === 'systemuser/u-nina')!
    await alice.remove(ninas.record)
    await alice.sync()
    expect(await inboxReceipts(alice)).toEqual([expect.objectContaining({ record: ninas.values.activityid, reason: 'no-delete-privilege' })])
    expect(s.projection.row('task', ninas.record.split('/')[1])).toBeDefined()
    // An email is read-only offline, through the pointer too; create and update are not pointer commands.
    const email = pointers.find(p => p.values.activitytypecode === 'email')!
    expect(await refusal(alice.remove(email.record))).toBe('entity-read-only')
    expect(await refusal(alice.create('activitypointer', { subject: 'x' }))).toBe('command-not-offline')
    expect(await refusal(alice.update(call.record, { subject: 'x' }))).toBe('command-not-offline')
    expect(await refusal(alice.remove('activitypointer/nosuchactivity'))).toBe('invalid-value')

    // The server: no pointer records of its own (a plain client's create is dropped), the HTTP listing
    // and the SQL view show the activities with their type, read as what they are.
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, 'activitypointer/forged01', doc, await s.token('alice'))
    cleanups.push(() => p.destroy())
    await synced(p)
    createRecord(doc, catalog.entities.get('activitypointer')!, { id: 'forged01' as never, ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { subject: 'x' } }, { by: 'u-alice', at: new Date().toISOString() })
    await until(() => doc.getMap('meta').get('entity') === undefined, 'the pointer create reverted', [doc])
    expect(s.storage.receipts('u-alice', 0, 1000).find((r: Receipt) => r.record === 'activitypointer/forged01')?.reason).toBe('command-not-offline')
    const api = async (path: string, login: string): Promise<Response> => fetch(`${s.url}/api${path}`, { headers: { authorization: `Bearer ${await s.token(login)}` } })
    const listed = (await (await api('/records/activitypointer?limit=1000', 'alice')).json() as { rows: { id: string, activitytypecode: string }[] }).rows
    expect(new Set(listed.map(r => r.activitytypecode))).toEqual(new Set(['phonecall', 'task', 'appointment', 'email']))
    expect(listed.some(r => r.id === call.record.split('/')[1])).toBe(false)
    expect(await (await api(`/records/activitypointer/${email.record.split('/')[1]}`, 'alice')).json()).toMatchObject({ activitytypecode: 'email', subject: email.values.subject })
    // carol (another unit) reads none of the north unit's tasks through the pointer either
    expect((await api(`/records/activitypointer/${ninas.record.split('/')[1]}`, 'carol')).status).toBe(403)
    const types = s.sql<{ t: string }>('SELECT DISTINCT activitytypecode AS t FROM rec_activitypointer').map(r => r.t)
    expect(new Set(types)).toEqual(new Set(['phonecall', 'task', 'appointment', 'email']))
  })
})
