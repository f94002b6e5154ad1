// Every share change is a new version of the whole security model: saved whole, indexed anew, and told to
// every open socket and device session (each checks what it holds). A sales rep may share her own records,
// so she alone could make the server copy and reindex the organization's model as fast as she could send
// requests (toggling one share), and grow it with every record she creates and shares. Share changes are
// limited per user: a burst of SHARE_CHANGES_BURST, then SHARE_CHANGES_PER_MINUTE (30, then 10 a minute); past it 429 with
// Retry-After, the model unchanged.

import { describe, expect, it } from 'vitest'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, idsOwnedBy, startServer } from './support.ts'

const cleanups = useCleanups()
/** README, "Security": share changes one user may make at once */
const SHARE_CHANGES_BURST = 30

describe('share changes', () => {
  it('are limited per user: past the burst 429 with Retry-After, and no new model version', async () => {
    const s = await startServer(cleanups)
    const record = `account/${idsOwnedBy(s, 'account', 'u-alice')[0]}`
    const before = s.security.index.version
    const statuses: number[] = []
    let retryAfter: string | null = null
    for (let i = 0; i < SHARE_CHANGES_BURST + 20; i++) {
      const r = await api(s, 'alice', `/api/records/${record}/shares`, { method: 'PUT', body: JSON.stringify({ principal: 'systemuser/u-nina', access: i % 2 === 0 ? 'read' : null }) })
      statuses.push(r.status)
      if (r.status === 429) retryAfter = r.headers.get('retry-after')
      await r.body?.cancel()
    }
    expect(statuses.filter(x => x === 429).length).toBeGreaterThan(0)
    expect(Number(retryAfter)).toBeGreaterThan(0)
    // (Past the burst a refused removal makes the next share no change, answered 200 at no cost.)
    expect(s.security.index.version - before).toBeLessThanOrEqual(SHARE_CHANGES_BURST + 1)
    // Another user's own burst is untouched.
    const bobs = `account/${idsOwnedBy(s, 'account', 'u-bob')[0]}`
    expect((await api(s, 'bob', `/api/records/${bobs}/shares`, { method: 'PUT', body: JSON.stringify({ principal: 'systemuser/u-nina', access: 'read' }) })).status).toBe(200)
  })
})
