// Offline profiles are validated with clear errors (DESIGN, "Offline profiles"): a profile the server
// accepts must be one it can compute scopes from. Before, `modifiedWithinDays` had no upper bound: a
// value past what a date can hold (100,000,000 days and more) was accepted, and then every sync cycle of
// the profile's users failed computing "modified since" (an invalid date), so their devices never synced.

import { describe, expect, it } from 'vitest'
import { api, startServer } from './support.ts'
import { deviceFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

const profileWith = (modifiedWithinDays: number): unknown => ({
  id: 'p-big', name: 'Far back', users: ['u-alice'],
  entities: { account: { rules: [{ kind: 'ownership', mine: true }], modifiedWithinDays } }
})

describe('offline profile bounds', () => {
  it('refuses an organization data filter no date can hold, naming the field', async () => {
    const s = await startServer(cleanups)
    const r = await api(s, 'avery', '/api/admin/profiles', { method: 'PUT', body: JSON.stringify(profileWith(1e9)) })
    expect(r.status).toBe(400)
    expect(await r.json()).toMatchObject({ field: 'entities.account.modifiedWithinDays' })
  })

  it('a device of a profile with the largest filter taken still syncs', async () => {
    const s = await startServer(cleanups)
    const r = await api(s, 'avery', '/api/admin/profiles', { method: 'PUT', body: JSON.stringify(profileWith(36_500)) })
    expect(r.status).toBe(200)
    const d = await deviceFor(cleanups, s, 'alice')
    await d.sync()
    expect((await d.list('account')).length).toBeGreaterThan(0)
  })
})
