// A share grants no more than the sharer holds on the record (as in Dynamics, where GrantAccess needs
// the rights it grants): the share privilege reaching a record is not enough to hand out read or write
// on it. Before, a user whose share privilege reached further than their read or write (share at
// organization depth, write at user depth) could share any record read-write with themselves (or a
// team they are in) and then read and write it.

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { api, docOf, idsOwnedBy, receiptsOn, startServer } from './support.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const cleanups = useCleanups()
const AT = '2026-11-27T12:00:00.000Z'

/** Gives nina (a sales rep) only `privileges` on account, through a role of her own. */
const narrowRole = async (s: TestServer, privileges: Record<string, string>): Promise<void> => {
  expect((await api(s, 'avery', '/api/admin/roles', { method: 'PUT', body: JSON.stringify({ id: 'role-narrow', name: 'Narrow', privileges: { account: privileges } }) })).status).toBe(200)
  expect((await api(s, 'avery', '/api/admin/users/u-nina/roles', { method: 'PUT', body: JSON.stringify({ roles: ['role-narrow'] }) })).status).toBe(200)
}
const shareAs = (s: TestServer, login: string, record: string, principal: string, access: 'read' | 'readwrite' | null): Promise<Response> =>
  api(s, login, `/api/records/${record}/shares`, { method: 'PUT', body: JSON.stringify({ principal, access }) })

describe('a share grants no more than the sharer holds on the record', () => {
  it('a user whose share reaches further than their write cannot share a record read-write with themselves and write it', async () => {
    const s = await startServer(cleanups)
    await narrowRole(s, { read: 'organization', write: 'user', appendTo: 'user', share: 'organization' })
    const id = idsOwnedBy(s, 'account', 'u-carol')[0]
    const r = await shareAs(s, 'nina', `account/${id}`, 'systemuser/u-nina', 'readwrite')
    expect(r.status).toBe(403)
    expect(s.security.model.shares).not.toContainEqual(expect.objectContaining({ record: `account/${id}`, principal: 'systemuser/u-nina' }))
    // Whatever the answer, nina still may not write carol's account.
    const before = s.projection.row('account', id)?.name
    const doc = await docOf(cleanups, s, `account/${id}`, 'nina')
    setField(doc, account, 'name', 'taken over by nina', { by: 'u-nina', at: AT })
    await until(() => s.projection.row('account', id)?.name === 'taken over by nina' || receiptsOn(s, 'u-nina', `account/${id}`).some(x => x.field === 'name'), 'the write decided')
    expect(s.projection.row('account', id)?.name).toBe(before)
  })

  it('a user whose share reaches further than their read cannot share a record with themselves to read it', async () => {
    const s = await startServer(cleanups)
    await narrowRole(s, { read: 'user', share: 'organization' })
    const id = idsOwnedBy(s, 'account', 'u-carol')[0]
    expect((await api(s, 'nina', `/api/records/account/${id}`)).status).toBe(403)
    expect((await shareAs(s, 'nina', `account/${id}`, 'systemuser/u-nina', 'read')).status).toBe(403)
    expect((await api(s, 'nina', `/api/records/account/${id}`)).status).toBe(403)
  })

  it('nor grant others write it does not hold itself, while a share within what the sharer holds still works', async () => {
    const s = await startServer(cleanups)
    await narrowRole(s, { read: 'organization', write: 'user', append: 'user', appendTo: 'user', share: 'organization' })
    const carols = idsOwnedBy(s, 'account', 'u-carol')[0]
    // alice (write at user depth) would be handed write on carol's account by someone who cannot write it.
    expect((await shareAs(s, 'nina', `account/${carols}`, 'systemuser/u-alice', 'readwrite')).status).toBe(403)
    // A read share of a record nina reads is within what she holds; removing a share needs only the share privilege.
    expect((await shareAs(s, 'nina', `account/${carols}`, 'systemuser/u-alice', 'read')).status).toBe(200)
    expect((await shareAs(s, 'nina', `account/${carols}`, 'systemuser/u-alice', null)).status).toBe(200)
    // Her own record she may share read-write (she holds read, write, append and append-to on it).
    const ninas = idsOwnedBy(s, 'account', 'u-nina')[0]
    expect((await shareAs(s, 'nina', `account/${ninas}`, 'systemuser/u-alice', 'readwrite')).status).toBe(200)
  })
})
