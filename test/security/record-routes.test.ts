// The record routes of the HTTP API (assign, shares, associate) under attack: the activity pointer has no
// records of its own (DESIGN.md: read, delete), so an assignment or share through it must change nothing
// and say so — before the fix it answered 200 with the new owner, left the activity with its old owner and
// stored a pointer document holding an owner; and a share of the pointer was stored. And a body far larger
// than any of these routes takes is refused while it streams in (413), not read whole into memory first —
// before the fix any signed-in user, even one without any privilege on the record, could make the server
// buffer and parse a body of any size. And the activity pointer's list, which reads each activity entity's
// first offset + limit rows to merge them, took any offset (a signed-in user made each request read every
// activity row into memory).

import { describe, expect, it } from 'vitest'
import type { DocName } from '../../src/ids.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, copyOf, exactly, idsOwnedBy, startServer } from './support.ts'
import { MAX_POINTER_WINDOW } from '../../src/server/record-routes.ts'

const cleanups = useCleanups()

describe('assign and share through the activity pointer', () => {
  it('are refused (400): the activity keeps its owner, the pointer stays without a document, no share is stored', async () => {
    const s = await startServer(cleanups)
    const id = idsOwnedBy(s, 'phonecall', 'u-alice')[0]
    const pointer = `activitypointer/${id}` as DocName
    const assigned = await api(s, 'alice', `/api/records/${pointer}/assign`, { method: 'POST', body: JSON.stringify({ ownerid: 'systemuser/u-nina' }) })
    expect(assigned.status).toBe(400)
    expect(s.projection.row('phonecall', id)?.ownerid).toBe('systemuser/u-alice')
    await s.server.rooms.get(pointer).settled()
    expect(exactly(copyOf(s, pointer))).toEqual({})
    expect(s.stored(pointer)).toEqual([])
    const shared = await api(s, 'alice', `/api/records/${pointer}/shares`, { method: 'PUT', body: JSON.stringify({ principal: 'systemuser/u-carol', access: 'readwrite' }) })
    expect(shared.status).toBe(400)
    expect(s.security.model.shares).toEqual([])
    // The activity itself is assigned as before.
    const ok = await api(s, 'alice', `/api/records/phonecall/${id}/assign`, { method: 'POST', body: JSON.stringify({ ownerid: 'systemuser/u-nina' }) })
    expect(ok.status).toBe(200)
    expect(s.projection.row('phonecall', id)?.ownerid).toBe('systemuser/u-nina')
  })
})

describe('bodies of the record routes', () => {
  it('far larger than any of them takes are refused with 413, whoever sends them', async () => {
    const s = await startServer(cleanups)
    const id = idsOwnedBy(s, 'account', 'u-alice')[0]
    const pad = ' '.repeat(8 * 1024 * 1024)
    for (const [method, path, body] of [
      ['POST', `/api/records/account/${id}/assign`, `{"ownerid": "systemuser/u-nina"${pad}}`],
      ['PUT', `/api/records/account/${id}/shares`, `{"principal": "systemuser/u-carol", "access": "read"${pad}}`],
      ['POST', `/api/records/account/${id}/associate`, `{"relationship": "x"${pad}}`]
    ] as const) {
      for (const login of ['erin', 'alice']) {
        const res = await api(s, login, path, { method, body })
        expect(res.status, `${login} ${path}`).toBe(413)
      }
    }
    expect(s.projection.row('account', id)?.ownerid).toBe('systemuser/u-alice')
    expect(s.security.model.shares).toEqual([])
  })
})

describe('the activity pointer\'s list', () => {
  it('pages within a bounded window and refuses an offset past it (400), naming the bound', async () => {
    const s = await startServer(cleanups)
    const page = await api(s, 'alice', '/api/records/activitypointer?limit=5&offset=0')
    expect(page.status).toBe(200)
    expect(((await page.json()) as { rows: unknown[] }).rows.length).toBeGreaterThan(0)
    expect((await api(s, 'alice', `/api/records/activitypointer?limit=1000&offset=${MAX_POINTER_WINDOW - 1000}`)).status).toBe(200)
    const far = await api(s, 'alice', `/api/records/activitypointer?limit=1&offset=${MAX_POINTER_WINDOW}`)
    expect(far.status).toBe(400)
    expect(((await far.json()) as { error: string }).error).toContain(String(MAX_POINTER_WINDOW))
    // Another entity's list pages as before.
    expect((await api(s, 'alice', `/api/records/account?limit=1&offset=${MAX_POINTER_WINDOW}`)).status).toBe(200)
  })
})
