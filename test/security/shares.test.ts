// Issue 9, class 10: a share grants a privilege only where the sharee's roles (the user's own or their
// teams') hold that privilege on the entity at some depth. A read-write share must not let an auditor, or
// a team without write on the entity, write the record; a read share needs the read privilege.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { api, docOf, idsOwnedBy, receiptsOn, startServer } from './support.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const cleanups = useCleanups()
const AT = '2026-11-27T12:00:00.000Z'

const start = async (): Promise<TestServer> => startServer(cleanups)
const open = (s: TestServer, name: string, login: string): Promise<Y.Doc> => docOf(cleanups, s, name, login)
const ownedBy = (s: TestServer, entity: string, userId: string): string => idsOwnedBy(s, entity, userId)[0]
const share = async (s: TestServer, record: string, principal: string, access: 'read' | 'readwrite'): Promise<void> => {
  const r = await api(s, 'avery', `/api/records/${record}/shares`, { method: 'PUT', body: JSON.stringify({ principal, access }) })
  expect(r.status).toBe(200)
}
/** Sets account.name as `login` over /sync; resolves once the server stored it or sent a receipt for it. */
const rename = async (s: TestServer, id: string, login: string, userId: string, value: string): Promise<{ stored: boolean, receipt?: Receipt }> => {
  const name = `account/${id}`
  const doc = await open(s, name, login)
  setField(doc, account, 'name', value, { by: userId, at: AT })
  await until(() => s.projection.row('account', id)?.name === value || receiptsOn(s, userId, name).some(r => r.field === 'name'), 'the write decided')
  return { stored: s.projection.row('account', id)?.name === value, receipt: receiptsOn(s, userId, name).find(r => r.field === 'name') }
}
/** The HTTP status of a /sync upgrade (101 when a socket opens). */
const upgradeStatus = (s: TestServer, name: string, token: string): Promise<number> => new Promise(resolve => {
  const ws = new WebSocket(`${s.wsUrl}/${name}?token=${token}`)
  ws.on('upgrade', () => { resolve(101); ws.close() })
  ws.on('unexpected-response', (req, res) => { resolve(res.statusCode ?? 0); req.destroy() })
  ws.on('error', () => {})
})

describe('shares never exceed the sharee\'s role (issue 9, class 10)', () => {
  it('a read-write share does not let the auditor (no write privilege) write', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-alice')
    await share(s, `account/${id}`, 'systemuser/u-erin', 'readwrite')
    const before = s.projection.row('account', id)?.name
    const out = await rename(s, id, 'erin', 'u-erin', 'renamed by the auditor')
    expect(out.stored).toBe(false)
    expect(s.projection.row('account', id)?.name).toBe(before)
    expect(out.receipt).toMatchObject({ reason: 'no-write-privilege' })
  })

  it('a read-write share with a team whose role has no write on the entity does not let its member write', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-alice')
    await share(s, `account/${id}`, 'team/t-service', 'readwrite')
    const out = await rename(s, id, 'dan', 'u-dan', 'renamed by the service desk')
    expect(out.stored).toBe(false)
    expect(out.receipt).toMatchObject({ reason: 'no-write-privilege' })
  })

  it('a read-write share still lets a sharee whose role has write (at user depth) write', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-alice')
    await share(s, `account/${id}`, 'systemuser/u-nina', 'readwrite')
    const out = await rename(s, id, 'nina', 'u-nina', 'renamed by nina through a share')
    expect(out).toEqual({ stored: true, receipt: undefined })
    await until(() => s.projection.row('account', id)?.modifiedby === 'u-nina', 'row stamped')
    const doc = await open(s, `account/${id}`, 'alice')
    expect(readRecord(doc, account).fields.name).toBe('renamed by nina through a share')
  })

  it('a read share does not give read access to a user without the read privilege on the entity', async () => {
    const s = await start()
    const id = ownedBy(s, 'opportunity', 'u-alice')
    // dan (Field Technician, through his team) has no privilege at all on opportunity.
    expect((await api(s, 'dan', `/api/records/opportunity/${id}`)).status).toBe(403)
    await share(s, `opportunity/${id}`, 'systemuser/u-dan', 'read')
    expect((await api(s, 'dan', `/api/records/opportunity/${id}`)).status).toBe(403)
    const list = await (await api(s, 'dan', '/api/records/opportunity?limit=1000')).json() as { rows: { id: string }[] }
    expect(list.rows.map(r => r.id)).not.toContain(id)
    expect(await upgradeStatus(s, `opportunity/${id}`, await s.token('dan'))).toBe(403)
    // The same share with someone who holds read on opportunity works: carol reads only bu-south's.
    expect((await api(s, 'carol', `/api/records/opportunity/${id}`)).status).toBe(403)
    await share(s, `opportunity/${id}`, 'systemuser/u-carol', 'read')
    expect((await api(s, 'carol', `/api/records/opportunity/${id}`)).status).toBe(200)
  })
})
