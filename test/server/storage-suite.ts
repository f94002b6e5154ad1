// The tests every RecordStorage adapter passes (SQLite today; PostgreSQL will run the same).

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { RecordStorage } from '../../src/server/storage/port.ts'
import type { DocName } from '../../src/ids.ts'

export interface StorageHarness {
  storage: RecordStorage
  /** closes and reopens over the same data */
  reopen (): Promise<RecordStorage>
  dispose (): Promise<void>
}

const name = (s: string): DocName => s as DocName

export const describeStorage = (adapter: string, open: () => Promise<StorageHarness>): void => {
  describe(`${adapter} record storage`, () => {
    it('appends in order, keeps records apart and survives reopening', async () => {
      const h = await open()
      try {
        const a = new Y.Doc()
        const updates: Uint8Array[] = []
        a.on('update', (u: Uint8Array) => updates.push(u))
        for (let i = 0; i < 10; i++) a.getMap('fields').set(`k${i}`, i)
        const seqs = (await Promise.all(updates.map(u => h.storage.append(name('account/a1'), u)))).map(r => r.seq)
        expect([...seqs].sort((x, y) => x - y)).toEqual(seqs) // increasing
        await h.storage.append(name('contact/c1'), Y.encodeStateAsUpdate(new Y.Doc()))
        const reopened = await h.reopen()
        const rows = (await reopened.load(name('account/a1'))).updates
        expect(rows.map(r => r.seq)).toEqual(seqs)
        const b = new Y.Doc()
        for (const r of rows) Y.applyUpdate(b, r.data)
        expect(b.getMap('fields').toJSON()).toEqual(a.getMap('fields').toJSON())
        expect(await reopened.list()).toEqual(['account/a1', 'contact/c1'])
        expect(await reopened.list('contact')).toEqual(['contact/c1'])
        expect(await reopened.load(name('account/none'))).toEqual({ updates: [], bindings: [], usage: [] })
      } finally {
        await h.dispose()
      }
    })

    it('appends several updates at once: given back in order, one by one, sharing the seq the result names (also after reopening)', async () => {
      const h = await open()
      try {
        const a = new Y.Doc()
        const updates: Uint8Array[] = []
        a.on('update', (u: Uint8Array) => updates.push(u))
        for (let i = 0; i < 3; i++) a.getMap('fields').set(`k${i}`, i)
        const { seq } = await h.storage.append(name('account/m1'), updates)
        const rows = (await h.storage.load(name('account/m1'))).updates
        expect(rows.map(r => r.data)).toEqual(updates)
        expect(rows.map(r => r.seq)).toEqual(updates.map(() => seq))
        expect((await h.storage.append(name('account/m1'), [])).seq).toBe(0)
        const reopened = await h.reopen()
        expect((await reopened.load(name('account/m1'))).updates.map(r => r.data)).toEqual(updates)
      } finally {
        await h.dispose()
      }
    })

    it('compacts atomically: the merged update replaces the rows through the given seq, later rows stay', async () => {
      const h = await open()
      try {
        const a = new Y.Doc()
        let seq = 0
        for (let i = 0; i < 5; i++) {
          const sv = Y.encodeStateVector(a)
          a.getMap('fields').set(`k${i}`, i)
          seq = (await h.storage.append(name('account/a2'), Y.encodeStateAsUpdate(a, sv))).seq
        }
        const merged = Y.encodeStateAsUpdate(a)
        const sv = Y.encodeStateVector(a)
        a.getMap('fields').set('after', true)
        const later = (await h.storage.append(name('account/a2'), Y.encodeStateAsUpdate(a, sv))).seq
        await h.storage.compact(name('account/a2'), merged, seq)
        const rows = (await h.storage.load(name('account/a2'))).updates
        expect(rows.map(r => r.seq)).toEqual([seq, later])
        const b = new Y.Doc()
        for (const r of rows) Y.applyUpdate(b, r.data)
        expect(b.getMap('fields').toJSON()).toEqual(a.getMap('fields').toJSON())
        // New appends keep increasing past the compacted seq.
        expect((await h.storage.append(name('account/a2'), Y.encodeStateAsUpdate(new Y.Doc()))).seq).toBeGreaterThan(later)
      } finally {
        await h.dispose()
      }
    })

    it('compacts in the commit: an append carrying the merged state replaces the whole log by one entry', async () => {
      const h = await open()
      try {
        const a = new Y.Doc()
        const edit = (k: string): Uint8Array => { const sv = Y.encodeStateVector(a); a.getMap('fields').set(k, k); return Y.encodeStateAsUpdate(a, sv) }
        const first = (await h.storage.append(name('account/c1'), [edit('k1'), edit('k2')])).seq
        const other = (await h.storage.append(name('account/c2'), edit('elsewhere'))).seq
        const last = [edit('k3'), edit('k4')]
        const { seq } = await h.storage.append(name('account/c1'), last, { compacted: Y.encodeStateAsUpdate(a) })
        expect(seq).toBeGreaterThan(other)
        const reopened = await h.reopen()
        const rows = (await reopened.load(name('account/c1'))).updates
        expect(rows.map(r => r.seq)).toEqual([seq])
        const b = new Y.Doc()
        Y.applyUpdate(b, rows[0].data)
        expect(b.getMap('fields').toJSON()).toEqual(a.getMap('fields').toJSON())
        expect(first).toBeLessThan(seq)
        // Another record's log is untouched.
        expect((await reopened.load(name('account/c2'))).updates.map(r => r.seq)).toEqual([other])
      } finally {
        await h.dispose()
      }
    })

    it('commits bindings and receipts with the update, and returns receipts with their seq', async () => {
      const h = await open()
      try {
        const receipt = { principal: 'u1', record: 'account/a3', change: 'field-set', field: 'name', attempted: 'x', kept: 'y', reason: 'no-write-privilege', message: 'm', privilegeVersion: 3, at: '2026-11-27T10:00:00.000Z' } as const
        const r = await h.storage.append(name('account/a3'), Y.encodeStateAsUpdate(new Y.Doc()), { bindings: [{ client: 42, principal: 'u1' }], receipts: [receipt] })
        expect(r.receipts).toEqual([{ ...receipt, seq: expect.any(Number) }])
        // Effects alone (receipts of a refused update): no row in the log.
        const alone = await h.storage.append(name('account/a4'), null, { receipts: [receipt] })
        expect(alone.seq).toBe(0)
        expect(alone.receipts).toHaveLength(1)
        const reopened = await h.reopen()
        expect((await reopened.load(name('account/a3'))).bindings).toEqual([{ client: 42, principal: 'u1' }])
        expect((await reopened.load(name('account/a4'))).updates).toEqual([])
      } finally {
        await h.dispose()
      }
    })

    it('adds usage per principal with the commit', async () => {
      const h = await open()
      try {
        await h.storage.append(name('account/a5'), null, { usage: [{ principal: 'u1', receipts: 2, refusedBytes: 10 }] })
        await h.storage.append(name('account/a5'), null, { usage: [{ principal: 'u1', receipts: 1, refusedBytes: 5 }, { principal: 'u2', receipts: 1, refusedBytes: 0 }] })
        const reopened = await h.reopen()
        const usage = (await reopened.load(name('account/a5'))).usage
        expect([...usage].sort((a, b) => a.principal.localeCompare(b.principal))).toEqual([
          { principal: 'u1', receipts: 3, refusedBytes: 15 }, { principal: 'u2', receipts: 1, refusedBytes: 0 }
        ])
      } finally {
        await h.dispose()
      }
    })

    it('group-commits appends made in the same turn and resolves each after the commit', async () => {
      const h = await open()
      try {
        const many = Array.from({ length: 500 }, (_, i) => h.storage.append(name(`task/t${i}`), Y.encodeStateAsUpdate(new Y.Doc())))
        const seqs = (await Promise.all(many)).map(r => r.seq)
        expect(new Set(seqs).size).toBe(500)
        const reopened = await h.reopen()
        expect((await reopened.list('task')).length).toBe(500)
      } finally {
        await h.dispose()
      }
    })
  })
}
