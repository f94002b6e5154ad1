// The record routes of the HTTP API (assign, shares, associate) under attack: the activity pointer has no
// records of its own (DESIGN.md: read, delete), so an assignment or share through it must change nothing
// and say so — before the fix it answered 200 with the new owner, left the activity with its old owner and
// stored a pointer document holding an owner; and a share of the pointer was stored. And a body far larger
// than any of these routes takes is refused while it streams in (413), not read whole into memory first —
// before the fix any signed-in user, even one without any privilege on the record, could make the server
// buffer and parse a body of any size. And the activity pointer's list, which reads each activity entity's
// first offset + limit rows to merge them, took any offset (a signed-in user made each request read every
// activity row into memory). And a list of a thousand rows was read and answered at once: over rows of
// long memo texts (100,000 characters each) one request held hundreds of MB; now an answer stops at
// MAX_LIST_ROW_BYTES of rows and says where the next page starts.

import { describe, expect, it } from 'vitest'
import type { DocName } from '../../src/ids.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, copyOf, exactly, idsOwnedBy, open, startServer } from './support.ts'
import { MAX_POINTER_WINDOW } from '../../src/server/record-routes.ts'
import { MAX_LIST_ROW_BYTES } from '../../src/server/row-pages.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { until, type TestServer } from '../helpers/server.ts'

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

interface ListAnswer { entity: string, limit: number, offset: number, rows: { id: string, activitytypecode?: string }[], nextOffset: number | null, truncated: boolean }

describe('a list over rows of long memo texts', () => {
  const catalog = buildCatalog()
  /** 100,000 characters of three UTF-8 bytes each: about 300 KB of JSON per row. */
  const LONG = '\u20ac'.repeat(100_000)

  /** Writes LONG into the description of each record (as avery, the administrator), once the projection has it. */
  const describeLong = async (s: TestServer, entity: string, ids: readonly string[]): Promise<void> => {
    const def = catalog.entities.get(entity)!
    for (const id of ids) {
      const { doc, p } = await open(cleanups, s, `${entity}/${id}`, 'avery')
      setField(doc, def, 'description', LONG, { by: 'u-avery', at: new Date().toISOString() })
      await until(() => s.projection.row(entity, id)?.description === LONG, `${entity}/${id}'s long description projected`)
      p.destroy()
    }
  }

  const rowBytes = (rows: readonly unknown[]): number => rows.reduce<number>((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0)

  /** Every page of a list from offset 0, following nextOffset; each within MAX_LIST_ROW_BYTES of rows. */
  const pages = async (s: TestServer, path: string): Promise<ListAnswer[]> => {
    const out: ListAnswer[] = []
    for (let offset: number | null = 0; offset !== null;) {
      const res = await api(s, 'avery', `${path}?limit=1000&offset=${offset}`)
      expect(res.status).toBe(200)
      const page = await res.json() as ListAnswer
      expect(rowBytes(page.rows)).toBeLessThanOrEqual(MAX_LIST_ROW_BYTES)
      out.push(page)
      expect(page.offset).toBe(offset)
      offset = page.nextOffset
      if (offset !== null) expect(offset).toBe(page.offset + page.rows.length)
    }
    return out
  }

  it('stops at MAX_LIST_ROW_BYTES of rows, says so and where the next page starts; the pages hold every row once, by id', async () => {
    const s = await startServer(cleanups)
    const all = s.projection.rows('account', { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0).map(r => String(r.id))
    // About 6 MB of descriptions: more than one answer takes.
    await describeLong(s, 'account', all.slice(0, 20))
    const got = await pages(s, '/api/records/account')
    expect(got.length).toBeGreaterThan(1)
    expect(got[0]).toMatchObject({ entity: 'account', limit: 1000, offset: 0, truncated: true })
    expect(got.at(-1)).toMatchObject({ truncated: false, nextOffset: null })
    expect(got.flatMap(p => p.rows.map(r => r.id))).toEqual([...all].sort())
    // A page that is not cut says where the next starts when it is full, and nothing when the list ended.
    const small = await (await api(s, 'avery', `/api/records/account?limit=2&offset=${all.length - 3}`)).json() as ListAnswer
    expect(small).toMatchObject({ truncated: false, nextOffset: all.length - 1 })
    const last = await (await api(s, 'avery', `/api/records/account?limit=2&offset=${all.length - 1}`)).json() as ListAnswer
    expect(last).toMatchObject({ truncated: false, nextOffset: null })
    expect(last.rows).toHaveLength(1)
  }, 120_000)

  it('through the activity pointer, merged across the activity entities, the same way', async () => {
    const s = await startServer(cleanups)
    const scope = { all: true, businessUnits: new Set<string>(), owners: new Set<string>(), records: new Set<string>() }
    const activities = ['phonecall', 'task', 'appointment', 'email'].flatMap(e => s.projection.rows(e, scope, 1000, 0).map(r => ({ id: String(r.id), activitytypecode: e })))
    // About 5 MB of descriptions, over two activity entities.
    await describeLong(s, 'phonecall', activities.filter(a => a.activitytypecode === 'phonecall').slice(0, 9).map(a => a.id))
    await describeLong(s, 'task', activities.filter(a => a.activitytypecode === 'task').slice(0, 9).map(a => a.id))
    const got = await pages(s, '/api/records/activitypointer')
    expect(got.length).toBeGreaterThan(1)
    expect(got[0].truncated).toBe(true)
    const byId = (a: { id: string }, b: { id: string }): number => a.id < b.id ? -1 : a.id > b.id ? 1 : 0
    expect(got.flatMap(p => p.rows.map(r => ({ id: r.id, activitytypecode: r.activitytypecode })))).toEqual([...activities].sort(byId))
  }, 120_000)
})
