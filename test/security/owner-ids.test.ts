// Issue 9, class 9: owner and principal ids are parsed strictly, by one parser, on every path. A loose
// parse (`systemuser/u-carol/x` read as carol) stored an owner nobody is, orphaning the record.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, META, readRecord } from '../../src/docs/record.ts'
import { asRecordId } from '../../src/ids.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { api, docOf, idsOwnedBy, receiptsOn, startServer } from './support.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const task = catalog.entities.get('task')!
const cleanups = useCleanups()
const AT = '2026-11-27T12:00:00.000Z'

const start = async (): Promise<TestServer> => startServer(cleanups)
const open = (s: TestServer, name: string, login: string): Promise<Y.Doc> => docOf(cleanups, s, name, login)
const ownedBy = (s: TestServer, entity: string, userId: string): string => idsOwnedBy(s, entity, userId)[0]

describe('owner ids are parsed strictly (issue 9, class 9)', () => {
  it('drops a reassignment over /sync to a malformed owner id (invalid-value) and keeps the owner', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-carol')
    const name = `account/${id}`
    const doc = await open(s, name, 'carol')
    doc.transact(() => {
      const meta = doc.getMap(META)
      meta.set('ownerid', 'systemuser/u-carol/x')
      meta.set('owningbusinessunit', 'bu-south')
      meta.set('modifiedby', 'u-carol')
      meta.set('modifiedon', AT)
    })
    // Either outcome is observable: the owner stored (the bug) or a receipt for it (the fix).
    await until(() => s.projection.row('account', id)?.ownerid !== 'systemuser/u-carol' || receiptsOn(s, 'u-carol', name).some(r => r.field === 'ownerid'), 'the reassignment decided')
    expect(s.projection.row('account', id)?.ownerid).toBe('systemuser/u-carol')
    expect(receiptsOn(s, 'u-carol', name).find(r => r.field === 'ownerid')).toMatchObject({ reason: 'invalid-value', attempted: 'systemuser/u-carol/x' })
    await until(() => readRecord(doc, account).meta.ownerid === 'systemuser/u-carol', 'the device converged', [doc])
  })

  it('drops a create over /sync whose owner id is malformed (invalid-value)', async () => {
    const s = await start()
    const name = 'task/forgedowner1'
    const doc = await open(s, name, 'carol')
    createRecord(doc, task, { id: asRecordId('forgedowner1'), ownerid: 'systemuser/u-carol/x', owningbusinessunit: 'bu-south', values: { subject: 'orphan' } }, { by: 'u-carol', at: AT })
    await until(() => s.projection.row('task', 'forgedowner1') !== undefined || receiptsOn(s, 'u-carol', name).length > 0, 'the create decided')
    expect(s.projection.row('task', 'forgedowner1')).toBeUndefined()
    expect(receiptsOn(s, 'u-carol', name).map(r => r.reason)).toContain('invalid-value')
    expect(receiptsOn(s, 'u-carol', name).every(r => r.reason === 'invalid-value')).toBe(true)
  })

  it('answers 400 naming ownerid when POST …/assign gets a malformed owner id, and changes nothing', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-alice')
    for (const ownerid of ['systemuser/u-carol/x', 'team/t-north/', 'systemuser/u-carol/', 'systemuser/', 'user/u-carol', 'u-carol', ' systemuser/u-carol']) {
      const r = await api(s, 'avery', `/api/records/account/${id}/assign`, { method: 'POST', body: JSON.stringify({ ownerid }) })
      expect(r.status, ownerid).toBe(400)
      expect(await r.json(), ownerid).toMatchObject({ field: 'ownerid' })
    }
    expect(s.projection.row('account', id)?.ownerid).toBe('systemuser/u-alice')
    // A well-formed owner still works.
    const ok = await api(s, 'avery', `/api/records/account/${id}/assign`, { method: 'POST', body: JSON.stringify({ ownerid: 'team/t-north' }) })
    expect(ok.status).toBe(200)
  })

  it('answers 400 naming principal when PUT …/shares gets a malformed principal, and stores no share', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-alice')
    for (const principal of ['systemuser/u-carol/x', 'team/t-north/x', 'systemuser/u-carol/', 'team/', 'robot/u-carol']) {
      const r = await api(s, 'avery', `/api/records/account/${id}/shares`, { method: 'PUT', body: JSON.stringify({ principal, access: 'read' }) })
      expect(r.status, principal).toBe(400)
      expect(await r.json(), principal).toMatchObject({ field: 'principal' })
    }
    expect(s.security.model.shares).toEqual([])
    const ok = await api(s, 'avery', `/api/records/account/${id}/shares`, { method: 'PUT', body: JSON.stringify({ principal: 'systemuser/u-carol', access: 'read' }) })
    expect(ok.status).toBe(200)
    expect(s.security.model.shares).toEqual([{ record: `account/${id}`, principal: 'systemuser/u-carol', access: 'read' }])
  })
})
