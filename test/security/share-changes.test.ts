// Every share change is a new version of the whole security model: saved whole, indexed anew, and told to
// every open socket and device session (each checks what it holds). A sales rep may share her own records,
// so she alone could make the server copy and reindex the organization's model as fast as she could send
// requests (toggling one share), and grow it with every record she creates and shares. Share changes are
// limited per user: a burst of SHARE_CHANGES_BURST, then SHARE_CHANGES_PER_MINUTE (30, then 10 a minute); past it 429 with
// Retry-After, the model unchanged. And the shares themselves are bounded (MAX_SHARES_PER_RECORD, MAX_SHARES):
// each version of the model is a copy of all of them.

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

  it('are bounded: a new share past the record\'s or the organization\'s bound is 409 and changes nothing; changing or removing one still works', async () => {
    const s = await startServer(cleanups, { MAX_SHARES_PER_RECORD: '2', MAX_SHARES: '3', SHARE_CHANGES_BURST: '1000' })
    expect(s.security.index.model.shares.length).toBe(0)
    const [a1, a2] = idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}`)
    const share = async (record: string, principal: string, access: string | null): Promise<number> => {
      const r = await api(s, 'alice', `/api/records/${record}/shares`, { method: 'PUT', body: JSON.stringify({ principal, access }) })
      await r.body?.cancel()
      return r.status
    }
    expect(await share(a1, 'systemuser/u-nina', 'read')).toBe(200)
    expect(await share(a1, 'systemuser/u-carol', 'read')).toBe(200)
    let version = s.security.index.version
    const r = await api(s, 'alice', `/api/records/${a1}/shares`, { method: 'PUT', body: JSON.stringify({ principal: 'systemuser/u-bob', access: 'read' }) })
    expect(r.status).toBe(409)
    expect((await r.json() as { error: string }).error).toMatch(/shared with 2 principals, the most one record may be/)
    expect(s.security.index.version).toBe(version)
    // A share there changes; one goes, and another may come.
    expect(await share(a1, 'systemuser/u-nina', 'readwrite')).toBe(200)
    expect(await share(a1, 'systemuser/u-carol', null)).toBe(200)
    expect(await share(a1, 'systemuser/u-bob', 'read')).toBe(200)
    // The organization's bound: 2 on a1, 1 on a2, then no more anywhere.
    expect(await share(a2, 'systemuser/u-nina', 'read')).toBe(200)
    version = s.security.index.version
    const over = await api(s, 'alice', `/api/records/${a2}/shares`, { method: 'PUT', body: JSON.stringify({ principal: 'systemuser/u-carol', access: 'read' }) })
    expect(over.status).toBe(409)
    expect((await over.json() as { error: string }).error).toMatch(/3 shares, the most it may have/)
    expect(s.security.index.version).toBe(version)
    expect(s.security.index.model.shares.map(x => [x.record, x.principal])).toEqual([[a1, 'systemuser/u-nina'], [a1, 'systemuser/u-bob'], [a2, 'systemuser/u-nina']])
  })
})
