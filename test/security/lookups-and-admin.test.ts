// Issue 9, class 15: a lookup needs appendTo on the target record and read access to it; `GET /` names
// users and business units only in demo mode; the admin API refuses a secured field that is no attribute.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, readRecord, setField } from '../../src/docs/record.ts'
import { asRecordId } from '../../src/ids.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { api, docOf, idsOwnedBy, receiptsOn, startServer } from './support.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const contact = catalog.entities.get('contact')!
const cleanups = useCleanups()
const AT = '2026-11-27T12:00:00.000Z'

const start = async (env: Record<string, string> = {}): Promise<TestServer> => startServer(cleanups, env)
const open = (s: TestServer, name: string, login: string): Promise<Y.Doc> => docOf(cleanups, s, name, login)
const ownedBy = (s: TestServer, entity: string, userId: string): string[] => idsOwnedBy(s, entity, userId)

describe('lookups need appendTo on the target and read access to it (issue 9, class 15)', () => {
  it('drops a lookup to a record the user may read but not append to, one they may not read, and one that does not exist', async () => {
    const s = await start()
    const [mine, alsoMine] = ownedBy(s, 'account', 'u-alice')
    expect(alsoMine).toBeDefined()
    const name = `account/${mine}`
    const doc = await open(s, name, 'alice')
    /** Sets parentaccountid; resolves with whether it was stored, and its receipt. */
    const point = async (target: string): Promise<{ stored: boolean, receipt?: Receipt }> => {
      const seen = receiptsOn(s, 'u-alice', name).length
      setField(doc, account, 'parentaccountid', target, { by: 'u-alice', at: AT })
      await until(() => s.projection.row('account', mine)?.parentaccountid === target || receiptsOn(s, 'u-alice', name).length > seen, `the lookup to ${target} decided`)
      // The next edit starts from the converged state (the compensation, if any, reached the device).
      await until(() => (readRecord(doc, account).fields.parentaccountid ?? null) === (s.projection.row('account', mine)?.parentaccountid ?? null), 'the device converged', [doc])
      return { stored: s.projection.row('account', mine)?.parentaccountid === target, receipt: receiptsOn(s, 'u-alice', name).slice(seen).find(r => r.field === 'parentaccountid') }
    }
    // alice (Salesperson: read at business-unit depth, appendTo at user depth) and nina are in Sales North.
    const ninas = `account/${ownedBy(s, 'account', 'u-nina')[0]}`
    const carols = `account/${ownedBy(s, 'account', 'u-carol')[0]}`
    expect((await api(s, 'alice', `/api/records/${ninas}`)).status).toBe(200)
    expect((await api(s, 'alice', `/api/records/${carols}`)).status).toBe(403)

    expect(await point(ninas)).toMatchObject({ stored: false, receipt: { reason: 'no-write-privilege', attempted: ninas } })
    expect((await point(carols)).receipt).toMatchObject({ reason: 'invalid-value', attempted: carols })
    const missing = await point('account/nosuchaccount1')
    expect(missing).toMatchObject({ stored: false, receipt: { reason: 'invalid-value' } })
    // The message for a missing record is the one for an unreadable one: no existence oracle.
    expect(missing.receipt?.message.replace('account/nosuchaccount1', 'X')).toBe((await point(carols)).receipt?.message.replace(carols, 'X'))
    // A record alice may append to is fine.
    expect(await point(`account/${alsoMine}`)).toEqual({ stored: true, receipt: undefined })
  })

  it('checks the lookups of a new record too: the record is created without the lookup it may not set', async () => {
    const s = await start()
    const carols = `account/${ownedBy(s, 'account', 'u-carol')[0]}`
    const name = 'contact/lookupcheck1'
    const doc = await open(s, name, 'alice')
    createRecord(doc, contact, { id: asRecordId('lookupcheck1'), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { lastname: 'Lopez', parentcustomerid: carols } }, { by: 'u-alice', at: AT })
    await until(() => s.projection.row('contact', 'lookupcheck1') !== undefined, 'the contact created')
    await until(() => s.projection.row('contact', 'lookupcheck1')?.parentcustomerid === carols || receiptsOn(s, 'u-alice', name).length > 0, 'the lookup decided')
    expect(s.projection.row('contact', 'lookupcheck1')).toMatchObject({ lastname: 'Lopez', parentcustomerid: null })
    expect(receiptsOn(s, 'u-alice', name)).toMatchObject([{ field: 'parentcustomerid', reason: 'invalid-value' }])
  })
})

describe('the index page (issue 9, class 15)', () => {
  it('names users and business units only in demo mode', async () => {
    const demo = await start()
    const page = await (await fetch(`${demo.url}/about`)).text()
    expect(page).toContain('Avery Admin')
    expect(page).toContain('Sales North')
    const prod = await start({ DEMO: '0' })
    const closed = await (await fetch(`${prod.url}/about`)).text()
    expect(closed).toContain('fieldsync')
    for (const u of prod.security.model.org.users) {
      expect(closed).not.toContain(u.fullName)
      expect(closed).not.toContain(`<code>${u.login}</code>`)
    }
    for (const b of prod.security.model.org.businessUnits) expect(closed).not.toContain(b.name)
  })
})

describe('the admin API refuses a secured field that is no attribute (issue 9, class 15)', () => {
  it('answers 400 naming the field and changes nothing', async () => {
    const s = await start()
    const before = s.security.model
    for (const field of ['account.revenue.x', 'account.revenue.', 'account..revenue', '.account.revenue', 'account.nothing', 'spaceship.revenue', 'account']) {
      const r = await api(s, 'avery', '/api/admin/secured-fields', { method: 'PUT', body: JSON.stringify({ field, secured: true }) })
      expect(r.status, field).toBe(400)
      expect(await r.json(), field).toMatchObject({ field: 'field' })
    }
    const key = 'account.revenue.x'
    const r = await api(s, 'avery', '/api/admin/field-profiles', { method: 'PUT', body: JSON.stringify({ name: 'Bad', users: ['u-alice'], permissions: { [key]: { read: true, update: true, create: true } } }) })
    expect(r.status).toBe(400)
    expect(await r.json()).toMatchObject({ field: `permissions.${key}` })
    expect(s.security.model.version).toBe(before.version)
    expect(s.security.model.securedFields).toEqual(before.securedFields)
    // A real attribute still works.
    expect((await api(s, 'avery', '/api/admin/secured-fields', { method: 'PUT', body: JSON.stringify({ field: 'contact.birthdate', secured: true }) })).status).toBe(200)
  })
})
