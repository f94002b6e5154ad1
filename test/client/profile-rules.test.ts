// Issue 10: records shared with a user or the user's team reach the user's device (profile rule `shared`)
// and leave it when the share goes; a manager's device holds his reports' records (rule `hierarchy`);
// the admin API answers a profile's warnings and names the field of a bad rule. Real server, real devices.

import { describe, expect, it } from 'vitest'
import type { FieldsyncDevice } from '../../src/client/device.ts'
import type { TestServer } from '../helpers/server.ts'
import { deviceFor, serverFor } from '../helpers/device.ts'
import { api, idsOwnedBy } from '../security/support.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

const start = (): Promise<TestServer> => serverFor(cleanups)
const device = (s: TestServer, login: string): Promise<FieldsyncDevice> => deviceFor(cleanups, s, login)
/** `<entity>/<id>` of every demo record of `entity` owned by `userId`. */
const owned = (s: TestServer, entity: string, userId: string): string[] => idsOwnedBy(s, entity, userId).map(id => `${entity}/${id}`)
/** Shares `record` with `principal` as the administrator; access null removes the share. */
const share = async (s: TestServer, record: string, principal: string, access: 'read' | null): Promise<void> => {
  const r = await api(s, 'avery', `/api/records/${record}/shares`, { method: 'PUT', body: JSON.stringify({ principal, access }) })
  expect(r.status).toBe(200)
}
const admin = async (s: TestServer, method: string, path: string, body: unknown): Promise<{ status: number, json: Record<string, unknown> }> => {
  const r = await api(s, 'avery', `/api/admin${path}`, { method, body: JSON.stringify(body) })
  return { status: r.status, json: await r.json() as Record<string, unknown> }
}

describe('profile rule shared', () => {
  it('brings a record shared with the user, and one shared with the user\'s team, at the next sync, and takes them away when the shares go', async () => {
    const s = await start()
    const alice = await device(s, 'alice')
    await alice.sync()
    // carol's account (Sales South) alice may not read without the share; nina's (Sales North) she may
    // read, but no ownership rule of hers reaches it.
    const carols = owned(s, 'account', 'u-carol')[0]
    const ninas = owned(s, 'account', 'u-nina')[0]
    expect(await alice.store.records()).not.toContain(carols)
    expect(await alice.store.records()).not.toContain(ninas)

    await share(s, carols, 'systemuser/u-alice', 'read')
    await share(s, ninas, 'team/t-north', 'read')
    await alice.sync()
    expect(await alice.store.records()).toEqual(expect.arrayContaining([carols, ninas]))
    expect((await alice.list('account')).map(r => r.record)).toEqual(expect.arrayContaining([carols, ninas]))

    const evicted: string[] = []
    alice.on('evicted', (record: string) => evicted.push(record))
    await share(s, carols, 'systemuser/u-alice', null)
    await share(s, ninas, 'team/t-north', null)
    await alice.sync()
    const held = await alice.store.records()
    expect(held).not.toContain(carols)
    expect(held).not.toContain(ninas)
    expect(evicted).toEqual(expect.arrayContaining([carols, ninas]))
    // Her own records stayed.
    expect(held).toContain(owned(s, 'account', 'u-alice')[0])
  })
})

describe('profile rule hierarchy', () => {
  it('gives a manager\'s device his reports\' records (not his reps\' devices each other\'s), as long as hierarchy security is on', async () => {
    const s = await start()
    const bob = await device(s, 'bob')
    const alice = await device(s, 'alice')
    await Promise.all([bob.sync(), alice.sync()])
    // Opportunities and leads come by rules alone (no profile relationship brings them along).
    const reports = [...owned(s, 'opportunity', 'u-alice'), ...owned(s, 'opportunity', 'u-carol'), ...owned(s, 'lead', 'u-nina')]
    expect(await bob.store.records()).toEqual(expect.arrayContaining(reports))
    expect(await alice.store.records()).not.toContain(owned(s, 'lead', 'u-nina')[0])

    // Bob still reads them (his role reads Sales and the units below), but the rule no longer reaches them.
    expect((await admin(s, 'PUT', '/hierarchy', { enabled: false })).status).toBe(200)
    await bob.sync()
    const held = await bob.store.records()
    for (const r of reports) expect(held).not.toContain(r)
    expect((await api(s, 'bob', `/api/records/${reports[0]}`)).status).toBe(200)
  })
})

describe('PUT /api/admin/profiles', () => {
  it('answers the warnings of a profile it accepts, and 400 naming the field of a bad rule', async () => {
    const s = await start()
    const profile = (rules: unknown[]) => ({ id: 'masters', name: 'Master data', users: ['u-erin'], entities: { product: { rules, modifiedWithinDays: null } } })
    const ok = await admin(s, 'PUT', '/profiles', profile([{ kind: 'ownership', myBusinessUnit: true }, { kind: 'shared' }]))
    expect(ok.status).toBe(200)
    expect(ok.json).toEqual({ version: s.security.model.version, warnings: [expect.stringMatching(/^entities\.product\.rules\[0\]: business-unit ownership .* small master data$/)] })
    const quiet = await admin(s, 'PUT', '/profiles', profile([{ kind: 'shared' }]))
    expect(quiet.json.warnings).toEqual([])

    await admin(s, 'PUT', '/hierarchy', { enabled: false })
    const off = await admin(s, 'PUT', '/profiles', profile([{ kind: 'hierarchy' }]))
    expect(off.json.warnings).toEqual([expect.stringMatching(/hierarchy security is off/)])

    const bad = await admin(s, 'PUT', '/profiles', profile([{ kind: 'shared', withTeams: true }]))
    expect(bad).toEqual({ status: 400, json: { field: 'entities.product.rules[0].withTeams', error: expect.stringMatching(/unknown key "withTeams" in a "shared" rule/) } })
    const kind = await admin(s, 'PUT', '/profiles', profile([{ kind: 'manager' }]))
    expect(kind).toMatchObject({ status: 400, json: { field: 'entities.product.rules[0].kind' } })
    const stored = await (await api(s, 'avery', '/api/admin/profiles')).json() as { profiles: { id: string, entities: Record<string, { rules: unknown[] }> }[] }
    expect(stored.profiles.find(p => p.id === 'masters')?.entities.product.rules).toEqual([{ kind: 'hierarchy' }])
  })
})
