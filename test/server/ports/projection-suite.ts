// The tests every relational-projection adapter passes: rows written with the log's commits, read here.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { RecordStorage } from '../../../src/server/storage/port.ts'
import type { ProjectionReader } from '../../../src/server/storage/projection-port.ts'
import type { DocName } from '../../../src/ids.ts'
import type { Row } from '../../../src/projection/rows.ts'
import type { ReadScope } from '../../../src/authz/decide.ts'

export interface ProjectionHarness {
  /** rows are written with a commit of the record log (over the standard catalog) */
  readonly log: RecordStorage
  readonly projection: ProjectionReader
  dispose (): Promise<void>
}

const scope = (s: Partial<ReadScope>): ReadScope => ({ all: false, businessUnits: new Set(), owners: new Set(), records: new Set(), ...s })

const account = (id: string, owner: string, unit: string, more: Row = {}): Row =>
  ({ id, ownerid: `systemuser/${owner}`, owningbusinessunit: unit, name: `acme ${id}`, modifiedon: '2026-11-27T10:00:00.000Z', ...more })

const put = (h: ProjectionHarness, id: string, values: Row | null, partial?: boolean): Promise<unknown> =>
  h.log.append(`account/${id}` as DocName, Y.encodeStateAsUpdate(new Y.Doc()), { row: { entity: 'account', id, values, partial } })

export const describeProjection = (adapter: string, open: () => Promise<ProjectionHarness>): void => {
  describe(`${adapter} relational projection`, () => {
    it('reads the row a commit wrote; columns a write leaves out keep their value; null removes it', async () => {
      const h = await open()
      try {
        expect(h.projection.row('account', 'a1')).toBeUndefined()
        await put(h, 'a1', account('a1', 'u1', 'bu1', { telephone1: '+47 1', revenue: 10 }))
        expect(h.projection.row('account', 'a1')).toMatchObject({ id: 'a1', name: 'acme a1', telephone1: '+47 1', revenue: 10 })
        // A secured field's value is written by its own document: a row without that column keeps it.
        const { revenue: _, ...withoutRevenue } = account('a1', 'u1', 'bu1', { telephone1: '+47 2', revenue: 0 })
        await put(h, 'a1', withoutRevenue)
        expect(h.projection.row('account', 'a1')).toMatchObject({ telephone1: '+47 2', revenue: 10 })
        // Partial: only an existing row's given columns.
        await put(h, 'a1', { revenue: 20 }, true)
        await put(h, 'a9', { revenue: 20 }, true)
        expect(h.projection.row('account', 'a1')).toMatchObject({ telephone1: '+47 2', revenue: 20 })
        expect(h.projection.row('account', 'a9')).toBeUndefined()
        await put(h, 'a1', null)
        expect(h.projection.row('account', 'a1')).toBeUndefined()
        expect(await h.projection.all('account')).toEqual([])
      } finally {
        await h.dispose()
      }
    })

    it('pages the rows within a read scope by id, and lists every row of an entity', async () => {
      const h = await open()
      try {
        await put(h, 'a3', account('a3', 'u2', 'bu1'))
        await put(h, 'a1', account('a1', 'u1', 'bu1'))
        await put(h, 'a2', account('a2', 'u1', 'bu2'))
        await put(h, 'a4', account('a4', 'u3', 'bu3'))
        const ids = async (s: ReadScope, limit = 100, offset = 0): Promise<unknown[]> => (await h.projection.rows('account', s, limit, offset)).map(r => r.id)
        expect(await ids(scope({ all: true }))).toEqual(['a1', 'a2', 'a3', 'a4'])
        expect(await ids(scope({ all: true }), 2, 1)).toEqual(['a2', 'a3'])
        expect(await ids(scope({ owners: new Set(['systemuser/u1']) }))).toEqual(['a1', 'a2'])
        expect(await ids(scope({ businessUnits: new Set(['bu1']) }))).toEqual(['a1', 'a3'])
        expect(await ids(scope({ records: new Set(['account/a4']) }))).toEqual(['a4'])
        expect(await ids(scope({ owners: new Set(['systemuser/u2']), records: new Set(['account/a4']) }))).toEqual(['a3', 'a4'])
        expect(await ids(scope({}))).toEqual([])
        // On after an id (a list reads on from the last row it read), with or without a scope.
        const after = async (s: ReadScope, id: string, limit = 100, offset = 0): Promise<unknown[]> => (await h.projection.rows('account', s, limit, offset, id)).map(r => r.id)
        expect(await after(scope({ all: true }), 'a1')).toEqual(['a2', 'a3', 'a4'])
        expect(await after(scope({ all: true }), 'a1', 1, 1)).toEqual(['a3'])
        expect(await after(scope({ businessUnits: new Set(['bu1']), records: new Set(['account/a4']) }), 'a1')).toEqual(['a3', 'a4'])
        expect(await after(scope({ owners: new Set(['systemuser/u1']) }), 'a2')).toEqual([])
        expect((await h.projection.all('account')).map(r => r.id).sort()).toEqual(['a1', 'a2', 'a3', 'a4'])
        expect(await h.projection.all('contact')).toEqual([])
        // Every row a page at a time, by id, whole rows.
        const pages: unknown[][] = []
        for (let after: string | null = null; ;) {
          const page: Row[] = await h.projection.page('account', after, 3)
          if (page.length === 0) break
          pages.push(page.map(r => r.id))
          after = String(page[page.length - 1].id)
        }
        expect(pages).toEqual([['a1', 'a2', 'a3'], ['a4']])
        expect(await h.projection.page('account', 'a2', 10)).toEqual([account('a3', 'u2', 'bu1'), account('a4', 'u3', 'bu3')].map(r => expect.objectContaining(r)))
        expect(await h.projection.page('contact', null, 10)).toEqual([])
      } finally {
        await h.dispose()
      }
    })
  })
}
