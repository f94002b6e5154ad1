// What a user without any administrative role can make the server keep through the security model. Every
// change of the model is saved as a new version (a decision is replayed under the privileges a device last
// received), and a share is a change of the model that any user with the share privilege makes over HTTP
// (`PUT /api/records/<entity>/<id>/shares`). Before, every version was kept, each a copy of the whole model
// (17 KB in the demo, more with every user, team and share): a sales rep sharing one of her records and
// taking the share back in a loop made the server keep a copy of the organization's model per request,
// without bound (and a removal of a share that was not there was a new version too).

import { describe, expect, it } from 'vitest'
import { KEPT_MODEL_VERSIONS } from '../../src/server/storage/security-port.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import type { TestServer } from '../helpers/server.ts'
import { api, ownedBy, startServer } from './support.ts'

const cleanups = useCleanups()

const stored = (s: TestServer): { versions: number, bytes: number } => {
  const r = s.sql<{ n: number | string, b: number | string }>('SELECT count(*) AS n, sum(length(data)) AS b FROM security_models')[0]
  return { versions: Number(r.n), bytes: Number(r.b) }
}

const share = async (s: TestServer, login: string, record: string, access: 'read' | null): Promise<number> =>
  (await api(s, login, `/api/records/${record}/shares`, { method: 'PUT', body: JSON.stringify({ principal: 'systemuser/u-nina', access }) })).status

describe('the security model versions a user can make the server keep', () => {
  it('are bounded: a sales rep toggling a share of her own record does not store a copy of the model per request', async () => {
    // (Share changes are limited per user, share-changes.test.ts: not what this test is about.)
    const s = await startServer(cleanups, { SHARE_CHANGES_BURST: '100000' })
    const record = ownedBy(s, 'account', 'u-alice')
    const one = stored(s).bytes / stored(s).versions
    const toggles = KEPT_MODEL_VERSIONS + 150
    for (let i = 0; i < toggles; i++) expect(await share(s, 'alice', record, i % 2 === 0 ? 'read' : null)).toBe(200)
    // The newest versions, and those some user's devices last received (one per user at most), are kept.
    const users = s.security.model.org.users.length
    expect(stored(s).versions).toBeLessThanOrEqual(KEPT_MODEL_VERSIONS + users)
    expect(stored(s).bytes).toBeLessThan((KEPT_MODEL_VERSIONS + users + 1) * one * 1.1)
    // The model is what the last change made it (an even number of toggles: no share left).
    expect(s.security.model.shares.some(x => x.record === record)).toBe(false)
  })

  it('do not grow with a share change that changes nothing', async () => {
    const s = await startServer(cleanups)
    const record = ownedBy(s, 'account', 'u-alice')
    expect(await share(s, 'alice', record, 'read')).toBe(200)
    const version = s.security.model.version
    for (let i = 0; i < 20; i++) expect(await share(s, 'alice', record, 'read')).toBe(200)
    for (let i = 0; i < 20; i++) expect(await share(s, 'alice', ownedBy(s, 'lead', 'u-alice'), null)).toBe(200)
    expect(s.security.model.version).toBe(version)
  })
})
