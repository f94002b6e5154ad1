import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { deviceFor, serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
const account = buildCatalog().entities.get('account')!

describe('the device\'s cached index', () => {
  it('stays in step with local edits, commands, received changes and evictions', async () => {
    const s = await serverFor(cleanups)
    const d = await deviceFor(cleanups, s, 'alice')
    await d.sync()
    const total = (await d.view('account', 'Active Accounts')).total
    const [first] = await d.list('account')
    // local edit
    await d.update(first.record, { name: 'Zulu Traders' })
    expect((await d.list('account')).find(r => r.record === first.record)?.values.name).toBe('Zulu Traders')
    expect((await d.search('account', 'zulu traders')).map(h => h.record)).toEqual([first.record])
    // create and delete
    const created = await d.create('account', { name: 'Brand new' })
    expect((await d.view('account', 'Active Accounts')).total).toBe(total + 1)
    await d.remove(created)
    expect((await d.view('account', 'Active Accounts')).total).toBe(total)
    // a command's records
    const lead = await d.create('lead', { subject: 'Cache lead', companyname: 'Cache Co', lastname: 'Ito' })
    const made = await d.qualify(lead)
    expect((await d.list('account')).map(r => r.record)).toContain(made.find(r => r.startsWith('account/')))
    await d.sync()
    // a change from elsewhere, received at sync
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, first.record, doc, await s.token('alice'))
    cleanups.push(() => p.destroy())
    await synced(p)
    setField(doc, account, 'telephone1', '+47 from elsewhere', { by: 'u-alice', at: '2026-11-27T12:00:00.000Z' })
    await until(() => s.projection.row('account', first.record.split('/')[1])?.telephone1 === '+47 from elsewhere', 'the edit reached the server')
    await d.sync()
    expect((await d.list('account')).find(r => r.record === first.record)?.values.telephone1).toBe('+47 from elsewhere')
    // an eviction: the record is assigned away to carol (another business unit)
    const res = await fetch(`${s.url}/api/records/${first.record}/assign`, { method: 'POST', headers: { authorization: `Bearer ${await s.token('avery')}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerid: 'systemuser/u-carol' }) })
    expect(res.status).toBe(200)
    await d.sync()
    expect((await d.list('account')).map(r => r.record)).not.toContain(first.record)
  })
})
