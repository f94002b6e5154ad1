// The Node device store's reads see every write made before them, whether committed or still queued,
// and a received change is stored with its index entry in one write.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
const u = (...b: number[]): Uint8Array => new Uint8Array(b)

const open = (synchronous?: 'full' | 'normal'): { store: SqliteLocalStore, reopen: () => SqliteLocalStore } => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-store-'))
  const file = join(dir, 'device.db')
  const store = new SqliteLocalStore(file, { synchronous })
  const opened = [store]
  cleanups.push(async () => { for (const s of opened) await s.close().catch(() => {}); rmSync(dir, { recursive: true, force: true }) })
  return { store, reopen: () => { const s = new SqliteLocalStore(file); opened.push(s); return s } }
}

describe('the SQLite device store', () => {
  it('loads a record with its queued updates after the stored ones, in the order they were made', async () => {
    const { store } = open()
    await store.receive('account/a', u(1), { record: 'account/a', entity: 'account', values: { name: 'A' } })
    // Not awaited: still queued when loaded.
    const put = store.put('account/a', u(2))
    const edit = store.addPending('account/a', u(3))
    expect(await store.load('account/a')).toEqual([u(1), u(2), u(3)])
    await Promise.all([put, edit])
    expect(await store.load('account/a')).toEqual([u(1), u(2), u(3)])
    expect((await store.pending()).map(p => p.update)).toEqual([u(3)])
  })

  it('loads nothing stored of a record whose removal is queued, only what came after it', async () => {
    const { store } = open()
    await store.receive('account/a', u(1), null)
    const removed = store.remove('account/a')
    expect(await store.load('account/a')).toEqual([])
    const again = store.put('account/a', u(9))
    expect(await store.load('account/a')).toEqual([u(9)])
    await Promise.all([removed, again])
    expect(await store.load('account/a')).toEqual([u(9)])
    expect(await store.records()).toEqual(['account/a'])
  })

  it('stores a received change with the index entry it brings (and leaves the entry when none is given)', async () => {
    const { store, reopen } = open('normal')
    await store.receive('account/a', u(1), { record: 'account/a', entity: 'account', values: { name: 'old' } })
    await store.put('account/a', u(2), { record: 'account/a', entity: 'account', values: { name: 'new' } })
    await store.put('account/a', u(3))
    expect(await store.index('account')).toEqual([{ record: 'account/a', entity: 'account', values: { name: 'new' } }])
    await store.put('account/a', u(4), null)
    expect(await store.index('account')).toEqual([])
    await store.close()
    const again = reopen()
    expect(await again.load('account/a')).toEqual([u(1), u(2), u(3), u(4)])
  })

  it('keeps pending edits in order until acknowledged, across a reopen', async () => {
    const { store, reopen } = open()
    const ids = [await store.addPending('task/t', u(1)), await store.addPending('account/a', u(2), { group: 'g', name: 'qualify', target: 'lead/l' })]
    await store.put('account/a', u(7))
    await store.acknowledge(ids[0])
    await store.close()
    const again = reopen()
    expect(await again.pending()).toEqual([{ id: ids[1], record: 'account/a', update: u(2), command: { group: 'g', name: 'qualify', target: 'lead/l' } }])
  })
})
