// A profile's custom rule may filter on any projected column, and a secured field's value is projected
// (from its own document) like any other. Which records a device receives then told its user something
// of a secured field it may not read: with `revenue ge X` on accounts, alice (no read permission on
// account.revenue) learned which of the accounts she reads have a revenue of at least X, one threshold
// per profile change. A condition on a secured field the user may not read matches as if the field were
// empty, as the user sees it everywhere else.

import { describe, expect, it } from 'vitest'
import { DeviceMessage, holdingsDigest } from '../../src/protocol/device-frames.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, rawDevice, startServer } from './support.ts'

const cleanups = useCleanups()

/** The accounts a new device of `login` receives in its first cycle. */
const accountsOf = async (s: TestServer, login: string, deviceId: string): Promise<string[]> => {
  const d = await rawDevice(cleanups, s, login, deviceId)
  d.send({ type: DeviceMessage.syncNow, request: 1, count: 0, digest: holdingsDigest([]), receiptSeq: 0 })
  await until(() => d.frames.some(f => f.type === DeviceMessage.done && f.request === 1), `${login}'s first cycle`)
  return d.frames.flatMap(f => f.type === DeviceMessage.sync && /^account\/[^/]+$/.test(f.record) ? [f.record] : []).sort()
}

describe('a profile condition on a secured field', () => {
  it('matches as if the field were empty for a user who may not read it', async () => {
    const s = await startServer(cleanups)
    const revenues = s.projection.rows('account', { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0)
      .map(r => r.revenue).filter((v): v is number => typeof v === 'number' && v > 0)
    expect(revenues.length, 'the demo has accounts with a revenue').toBeGreaterThan(0)
    const profile = {
      id: 'field-sales', name: 'Field sales', users: ['u-alice', 'u-bob'],
      entities: { account: { rules: [{ kind: 'custom', conditions: [{ field: 'revenue', op: 'ge', value: revenues.sort((a, b) => a - b)[Math.floor(revenues.length / 2)] }] }], modifiedWithinDays: null } }
    }
    const res = await api(s, 'avery', '/api/admin/profiles', { method: 'PUT', body: JSON.stringify(profile) })
    expect(res.status).toBe(200)
    // bob reads account.revenue (Finance): the rule brings him the accounts it matches.
    expect((await accountsOf(s, 'bob', 'profile-secured-bob')).length).toBeGreaterThan(0)
    // alice does not: what her device receives says nothing of their revenue.
    expect(await accountsOf(s, 'alice', 'profile-secured-alice')).toEqual([])
  })
})

describe('a profile relationship through a secured lookup', () => {
  it('brings nothing to a user who may not read the lookup', async () => {
    const s = await startServer(cleanups)
    // contact.parentcustomerid secured, readable by the Finance field profile (bob) only.
    const secure = await api(s, 'avery', '/api/admin/secured-fields', { method: 'PUT', body: JSON.stringify({ field: 'contact.parentcustomerid', secured: true }) })
    expect(secure.status).toBe(200)
    const finance = { id: 'fp-finance', name: 'Finance', users: ['u-avery', 'u-bob'], teams: [], permissions: { 'account.revenue': { read: true, update: true, create: true }, 'contact.parentcustomerid': { read: true, update: true, create: true } } }
    expect((await api(s, 'avery', '/api/admin/field-profiles', { method: 'PUT', body: JSON.stringify(finance) })).status).toBe(200)
    const contactsOf = async (login: string, deviceId: string): Promise<string[]> => {
      const d = await rawDevice(cleanups, s, login, deviceId)
      d.send({ type: DeviceMessage.syncNow, request: 1, count: 0, digest: holdingsDigest([]), receiptSeq: 0 })
      await until(() => d.frames.some(f => f.type === DeviceMessage.done && f.request === 1), `${login}'s first cycle`)
      return d.frames.flatMap(f => f.type === DeviceMessage.sync && /^contact\/[^/]+$/.test(f.record) ? [f.record] : [])
    }
    // field-sales: contacts come only along the account -> contact relationship (parentcustomerid).
    expect((await contactsOf('bob', 'secured-lookup-bob')).length).toBeGreaterThan(0)
    expect(await contactsOf('alice', 'secured-lookup-alice')).toEqual([])
  })
})
