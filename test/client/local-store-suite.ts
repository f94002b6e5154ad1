// The tests every LocalStore adapter passes: SQLite in Node (test/client/local-stores.test.ts), IndexedDB
// and y-indexeddb in headless Chromium (test/browser/local-stores.test.ts). Updates are real Yjs updates:
// a store may give a record's updates back one by one (`keepsUpdates`) or merged into its state.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { IndexedRecord, InboxItem, LocalStore } from '../../src/client/store.ts'

export interface LocalStoreHarness {
  /** opens the store named `name` (again: over the same data); a second one may be open beside the first */
  open (name: string): Promise<LocalStore>
  /** load() gives back each update as stored, in order (else: one update with the record's state first) */
  readonly keepsUpdates: boolean
  /** records in the large-count test */
  readonly many: number
}

/** A record document and the updates that made it. */
class Rec {
  readonly doc = new Y.Doc()
  readonly updates: Uint8Array[] = []
  constructor (readonly record: string) { this.doc.on('update', (u: Uint8Array) => this.updates.push(u)) }
  /** sets fields, returning the update that did */
  set (values: Record<string, unknown>): Uint8Array {
    this.doc.transact(() => { for (const [k, v] of Object.entries(values)) this.doc.getMap('fields').set(k, v) })
    return this.updates[this.updates.length - 1]
  }

  entry (values: Record<string, unknown> = this.fields()): IndexedRecord {
    return { record: this.record, entity: this.record.split('/')[0], values }
  }

  fields (): Record<string, unknown> { return this.doc.getMap('fields').toJSON() }
}

const fieldsOf = (updates: Uint8Array[]): Record<string, unknown> => {
  const d = new Y.Doc()
  for (const u of updates) Y.applyUpdate(d, u)
  return d.getMap('fields').toJSON()
}

const item = (record: string, n: number): Omit<InboxItem, 'id'> => ({
  receipt: { record, reason: 'evicted', message: `edit ${n} left with the record`, field: null, attempted: { n }, kept: null },
  serverValue: { n, bytes: 'none' }, at: `2026-11-20T00:00:0${n}.000Z`
})

let names = 0

export const describeLocalStore = (adapter: string, harness: () => LocalStoreHarness): void => {
  describe(`the ${adapter} local store`, () => {
    /** A store under a name of its own, and an opener of the same data. */
    const fresh = async (): Promise<{ store: LocalStore, again: () => Promise<LocalStore>, h: LocalStoreHarness }> => {
      const h = harness()
      const name = `suite-${process.pid}-${Date.now()}-${names++}`
      return { store: await h.open(name), again: () => h.open(name), h }
    }

    /** A record's fields from what load() gives, checking the updates themselves where the store keeps them. */
    const loaded = async (store: LocalStore, h: LocalStoreHarness, record: string, expected: Uint8Array[]): Promise<Record<string, unknown>> => {
      const got = await store.load(record)
      if (h.keepsUpdates) expect(got).toEqual(expected)
      return fieldsOf(got)
    }

    it('gives back records, their updates and index entries, and keeps a received change with the entry it brings', async () => {
      const { store, again, h } = await fresh()
      const a = new Rec('account/a')
      const c = new Rec('contact/c')
      await store.receive(a.record, a.set({ name: 'old', city: 'Oslo' }), a.entry())
      await store.receive(c.record, c.set({ fullname: 'Eva' }), null)
      await store.put(a.record, a.set({ name: 'new' }), a.entry())
      await store.put(a.record, a.set({ city: 'Bergen' })) // no entry given: the entry stays
      expect(await store.index('account')).toEqual([a.entry({ name: 'new', city: 'Oslo' })])
      expect(await store.index('contact')).toEqual([]) // received with none
      expect(await store.records()).toEqual(['account/a', 'contact/c'])
      expect(await loaded(store, h, a.record, a.updates)).toEqual({ name: 'new', city: 'Bergen' })
      await store.put(a.record, a.set({ name: 'gone' }), null) // null: no entry any more
      expect(await store.index('account')).toEqual([])
      await store.setIndex(c.record, c.entry())
      await store.close()
      const reopened = await again()
      expect(await reopened.records()).toEqual(['account/a', 'contact/c'])
      expect(await loaded(reopened, h, a.record, a.updates)).toEqual({ name: 'gone', city: 'Bergen' })
      expect(await reopened.index('contact')).toEqual([c.entry({ fullname: 'Eva' })])
      expect(await reopened.load('account/none')).toEqual([])
      await reopened.destroy()
    })

    it('lists index entries by entity, in record order', async () => {
      const { store } = await fresh()
      for (const id of ['c', 'a', 'b']) { const r = new Rec(`account/${id}`); await store.receive(r.record, r.set({ name: id }), r.entry()) }
      const t = new Rec('task/t')
      await store.receive(t.record, t.set({ subject: 'x' }), t.entry())
      expect((await store.index('account')).map(e => [e.record, e.values.name])).toEqual([['account/a', 'a'], ['account/b', 'b'], ['account/c', 'c']])
      expect(await store.index('task')).toEqual([t.entry()])
      await store.destroy()
    })

    it('loads a record with the writes made before, awaited or not, in the order they were made', async () => {
      const { store, h } = await fresh()
      const a = new Rec('account/a')
      await store.receive(a.record, a.set({ name: 'A' }), a.entry())
      // Not awaited: still queued when loaded.
      const put = store.put(a.record, a.set({ phone: '1' }))
      const edit = store.addPending(a.record, a.set({ name: 'mine' }))
      expect(await loaded(store, h, a.record, a.updates)).toEqual({ name: 'mine', phone: '1' })
      await Promise.all([put, edit])
      expect(await loaded(store, h, a.record, a.updates)).toEqual({ name: 'mine', phone: '1' })
      expect((await store.pending()).map(p => p.update)).toEqual([a.updates[2]])
      await store.destroy()
    })

    it('loads nothing stored of a record whose removal is queued, only what came after it', async () => {
      const { store, h } = await fresh()
      const a = new Rec('account/a')
      await store.receive(a.record, a.set({ name: 'A' }), a.entry())
      const removed = store.remove(a.record)
      expect(await store.load(a.record)).toEqual([])
      const b = new Rec('account/a') // the record comes back: a state of its own
      const back = store.put(b.record, b.set({ name: 'B' }))
      expect(await loaded(store, h, b.record, b.updates)).toEqual({ name: 'B' })
      await Promise.all([removed, back])
      expect(await loaded(store, h, b.record, b.updates)).toEqual({ name: 'B' })
      expect(await store.records()).toEqual(['account/a'])
      await store.destroy()
    })

    it('keeps pending edits (with their command) in order until acknowledged, across a reopen; an acknowledged edit stays in its record', async () => {
      const { store, again, h } = await fresh()
      const t = new Rec('task/t')
      const a = new Rec('account/a')
      await store.receive(a.record, a.set({ name: 'A' }), a.entry())
      const command = { group: 'g', name: 'qualify', target: 'lead/l' }
      const ids = [await store.addPending(t.record, t.set({ subject: 'new here' })), await store.addPending(a.record, a.set({ name: 'edited' }), command)]
      expect(ids[1]).toBeGreaterThan(ids[0])
      expect(await store.pendingCount()).toBe(2)
      expect(await store.records()).toEqual(['account/a', 'task/t']) // a record made on the device is held from its first edit
      await store.put(a.record, a.set({ phone: '7' }))
      await store.acknowledge(ids[0])
      await store.close()
      const reopened = await again()
      expect(await reopened.pending()).toEqual([{ id: ids[1], record: a.record, update: a.updates[1], command }])
      expect(await reopened.pendingCount()).toBe(1)
      expect(fieldsOf(await reopened.load(t.record))).toEqual({ subject: 'new here' })
      expect(await loaded(reopened, h, a.record, a.updates)).toEqual({ name: 'edited', phone: '7' })
      await reopened.acknowledge(ids[1])
      await reopened.acknowledge(ids[1]) // twice: nothing more
      expect(await reopened.pending()).toEqual([])
      expect(await reopened.pendingCount()).toBe(0)
      expect(fieldsOf(await reopened.load(a.record))).toEqual({ name: 'edited', phone: '7' })
      await reopened.destroy()
    })

    it('drops a removed record with its index entry and pending edits, and nothing of another', async () => {
      const { store, again } = await fresh()
      const a = new Rec('account/a')
      const b = new Rec('account/b')
      await store.receive(a.record, a.set({ name: 'A' }), a.entry())
      await store.receive(b.record, b.set({ name: 'B' }), b.entry())
      await store.addPending(a.record, a.set({ name: 'A2' }))
      const kept = await store.addPending(b.record, b.set({ name: 'B2' }))
      await store.remove(a.record)
      expect(await store.records()).toEqual(['account/b'])
      expect(await store.index('account')).toEqual([b.entry({ name: 'B' })])
      expect((await store.pending()).map(p => p.id)).toEqual([kept])
      expect(await store.pendingCount()).toBe(1)
      await store.close()
      const reopened = await again()
      expect(await reopened.load(a.record)).toEqual([])
      expect(fieldsOf(await reopened.load(b.record))).toEqual({ name: 'B2' })
      await reopened.destroy()
    })

    it('merges the many stored updates of a record once it is read, keeping its state, its pending edit and what came after', async () => {
      const { store, again } = await fresh()
      const a = new Rec('account/a')
      await store.receive(a.record, a.set({ n: 0 }), a.entry())
      let pendingId = 0
      const writes: Promise<void>[] = []
      for (let i = 1; i <= 150; i++) {
        if (i === 40) pendingId = await store.addPending(a.record, a.set({ mine: 'pending' }))
        writes.push(store.put(a.record, a.set({ n: i }), a.entry()))
      }
      await store.commit()
      await Promise.all(writes)
      expect(fieldsOf(await store.load(a.record))).toEqual({ n: 150, mine: 'pending' }) // (this read has them merged)
      const late = store.put(a.record, a.set({ n: 151 }), a.entry())
      await store.commit()
      await late
      const after = await store.load(a.record)
      expect(after.length).toBeLessThanOrEqual(4) // the merge, the pending edit, the change after
      expect(fieldsOf(after)).toEqual({ n: 151, mine: 'pending' })
      expect((await store.pending()).map(p => p.id)).toEqual([pendingId])
      await store.close()
      const reopened = await again()
      expect(fieldsOf(await reopened.load(a.record))).toEqual({ n: 151, mine: 'pending' })
      await reopened.destroy()
    })

    it('keeps first states received one after another in order with the writes between them', async () => {
      const { store, again } = await fresh()
      const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(id => new Rec(`account/${id}`))
      const writes: Promise<unknown>[] = [
        store.receive(b.record, b.set({ name: 'B' }), b.entry()),
        store.setIndex(a.record, a.entry({ name: 'listed before its first state' })),
        store.receive(a.record, a.set({ name: 'A' }), null), // after the setIndex: a is not listed
        store.receive(c.record, c.set({ name: 'C' }), c.entry()),
        store.setIndex(c.record, null), // after c's first state: c is not listed
        store.receive(d.record, d.set({ name: 'D' }), d.entry())
      ]
      await store.commit()
      await Promise.all(writes)
      const expected = [b.entry(), d.entry()]
      expect(await store.index('account')).toEqual(expected)
      expect(await store.records()).toEqual([a.record, b.record, c.record, d.record])
      await store.close()
      const reopened = await again()
      expect(await reopened.index('account')).toEqual(expected)
      expect(fieldsOf(await reopened.load(c.record))).toEqual({ name: 'C' })
      await reopened.destroy()
    })

    it('commit() stores every write made before it, awaited or not: another connection sees them all', async () => {
      const { store, again } = await fresh()
      const recs = Array.from({ length: 40 }, (_, i) => new Rec(`contact/c${String(i).padStart(2, '0')}`))
      const writes: Promise<unknown>[] = []
      for (const r of recs) writes.push(store.receive(r.record, r.set({ n: r.record }), r.entry()))
      for (const r of recs.slice(0, 10)) writes.push(store.put(r.record, r.set({ more: true }), r.entry()))
      writes.push(store.setMeta({ deviceId: 'd1', cursor: 40, privilegeVersion: 3, metadata: '{}', receiptSeq: 2 }))
      const acked = await store.addPending(recs[2].record, recs[2].set({ mine: 2 }))
      writes.push(store.addPending(recs[0].record, recs[0].set({ mine: 1 })))
      writes.push(store.addInbox(item(recs[1].record, 1)))
      writes.push(store.putBlob('h1', new Uint8Array([1, 2, 3]), true))
      // Writes that may be held back (an acknowledgement, a live cycle's cursor) are in it too.
      writes.push(store.acknowledge(acked))
      writes.push(store.setMeta({ deviceId: 'd1', cursor: 41, privilegeVersion: 3, metadata: '{}', receiptSeq: 2 }, true))
      await store.commit()
      const other = await again() // the first is still open: what the second sees is what was committed
      expect(await other.records()).toEqual(recs.map(r => r.record))
      expect(await other.index('contact')).toEqual(recs.map((r, i) => r.entry(i < 10 ? { n: r.record, more: true } : { n: r.record })))
      expect(fieldsOf(await other.load(recs[0].record))).toEqual({ n: recs[0].record, more: true, mine: 1 })
      expect((await other.meta())?.cursor).toBe(41)
      expect((await other.pending()).length).toBe(1)
      expect((await other.inbox()).length).toBe(1)
      expect(await other.pendingBlobs()).toEqual(['h1'])
      await Promise.all(writes)
      await other.close()
      await store.destroy()
    })

    it('keeps the device meta, the inbox and attachment content across a reopen', async () => {
      const { store, again } = await fresh()
      expect(await store.meta()).toBeUndefined()
      const meta = { deviceId: 'dev-1', cursor: 12, privilegeVersion: 4, metadata: JSON.stringify({ entities: ['account'] }), receiptSeq: 9, dismissals: [3, 5] }
      await store.setMeta({ ...meta, cursor: 1 })
      await store.setMeta(meta)
      const ids = [await store.addInbox(item('account/a', 1)), await store.addInbox(item('account/b', 2)), await store.addInbox(item('account/c', 3))]
      expect(ids[1]).toBeGreaterThan(ids[0])
      await store.removeInbox(ids[1])
      const photo = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff)
      await store.putBlob('taken', photo, true)
      await store.putBlob('downloaded', new Uint8Array([9]), false)
      await store.putBlob('second', new Uint8Array([8]), true)
      await store.putBlob('taken', photo, false) // downloaded again: still waits to be uploaded
      expect(new Set(await store.pendingBlobs())).toEqual(new Set(['taken', 'second']))
      await store.blobUploaded('taken')
      await store.putBlob('downloaded', new Uint8Array([9]), true) // attached by this user: pending again
      await store.close()
      const reopened = await again()
      expect(await reopened.meta()).toEqual(meta)
      expect(await reopened.inbox()).toEqual([{ ...item('account/a', 1), id: ids[0] }, { ...item('account/c', 3), id: ids[2] }])
      expect(await reopened.blob('taken')).toEqual(photo)
      expect(await reopened.blob('none')).toBeUndefined()
      expect(new Set(await reopened.pendingBlobs())).toEqual(new Set(['second', 'downloaded']))
      await reopened.destroy()
    })

    it('keeps the last of many device metas set close together, and the metadata each time it changes', async () => {
      const { store, again } = await fresh()
      const m = { deviceId: 'd', cursor: 0, privilegeVersion: 1, metadata: JSON.stringify({ v: 1 }), receiptSeq: 0 }
      // Live cycles: one setting each, not awaited one by one (some may be held back).
      const writes: Promise<void>[] = []
      for (let c = 1; c <= 30; c++) writes.push(store.setMeta({ ...m, cursor: c }, c % 3 === 0))
      await Promise.all(writes)
      expect(await store.meta()).toEqual({ ...m, cursor: 30 })
      const v2 = { ...m, privilegeVersion: 2, metadata: JSON.stringify({ v: 2 }) }
      await store.setMeta({ ...v2, cursor: 31 })
      await store.setMeta({ ...v2, cursor: 32 })
      const other = await again()
      expect(await other.meta()).toEqual({ ...v2, cursor: 32 })
      await other.close()
      await store.setMeta({ ...v2, cursor: 33, metadata: null })
      expect(await store.meta()).toEqual({ ...v2, cursor: 33, metadata: null })
      await store.setMeta({ ...v2, cursor: 34 })
      await store.close()
      const reopened = await again()
      expect(await reopened.meta()).toEqual({ ...v2, cursor: 34 })
      await reopened.destroy()
    })

    it('destroy() deletes everything it holds: the same name opens empty', async () => {
      const { store, again } = await fresh()
      const a = new Rec('account/a')
      await store.receive(a.record, a.set({ name: 'A' }), a.entry())
      await store.addPending(a.record, a.set({ name: 'mine' }))
      await store.setMeta({ deviceId: 'd', cursor: 5, privilegeVersion: 1, metadata: null, receiptSeq: 0 })
      await store.addInbox(item(a.record, 1))
      await store.putBlob('h', new Uint8Array([1]), true)
      void store.put(a.record, a.set({ phone: '1' })) // not awaited: destroy still deletes it
      await store.destroy()
      const empty = await again()
      expect({
        meta: await empty.meta(), records: await empty.records(), index: await empty.index('account'), load: await empty.load(a.record),
        pending: await empty.pending(), inbox: await empty.inbox(), blob: await empty.blob('h'), blobs: await empty.pendingBlobs()
      }).toEqual({ meta: undefined, records: [], index: [], load: [], pending: [], inbox: [], blob: undefined, blobs: [] })
      await empty.destroy()
    })

    it('destroy() after close() (a device closed, then signed out) deletes everything too', async () => {
      const { store, again } = await fresh()
      const a = new Rec('account/a')
      await store.receive(a.record, a.set({ name: 'A' }), a.entry())
      await store.addPending(a.record, a.set({ name: 'mine' }))
      await store.setMeta({ deviceId: 'd', cursor: 5, privilegeVersion: 1, metadata: null, receiptSeq: 0 })
      await store.close()
      await store.destroy()
      const empty = await again()
      expect([await empty.meta(), await empty.records(), await empty.pending(), await empty.load(a.record)]).toEqual([undefined, [], [], []])
      await empty.destroy()
    })

    it('keeps writer ids per slot and user across a reopen; a second store open on the same data holds another slot until the first is closed', async () => {
      const { store, again } = await fresh()
      expect(await store.claimWriterSlot(4)).toBe(0)
      expect(await store.claimWriterSlot(4)).toBe(0) // (claiming again: the slot held)
      expect(await store.writerId(0, 'u-a')).toBeUndefined()
      await store.setWriterId(0, 'u-a', 1_234_567_890)
      await store.setWriterId(0, 'u-b', 987_654_321)
      const beside = await again()
      expect(await beside.claimWriterSlot(4)).toBe(1)
      expect(await beside.writerId(0, 'u-a')).toBe(1_234_567_890)
      const third = await again()
      expect(await third.claimWriterSlot(2)).toBe(null)
      await third.close()
      await store.close()
      const reopened = await again()
      expect(await reopened.claimWriterSlot(4)).toBe(0)
      expect([await reopened.writerId(0, 'u-a'), await reopened.writerId(0, 'u-b'), await reopened.writerId(1, 'u-a')]).toEqual([1_234_567_890, 987_654_321, undefined])
      await beside.close()
      await reopened.destroy()
    })

    it('forgets kept writer ids by id, whatever their slot and user, and keeps the others', async () => {
      const { store, again } = await fresh()
      expect(await store.claimWriterSlot(4)).toBe(0)
      await store.setWriterId(0, 'u-a', 11)
      await store.setWriterId(0, 'u-b', 22)
      await store.setWriterId(1, 'u-a', 33)
      await store.forgetWriterIds([22, 33, 44])
      expect([await store.writerId(0, 'u-a'), await store.writerId(0, 'u-b'), await store.writerId(1, 'u-a')]).toEqual([11, undefined, undefined])
      await store.close()
      const reopened = await again()
      expect(await reopened.claimWriterSlot(4)).toBe(0)
      expect([await reopened.writerId(0, 'u-a'), await reopened.writerId(0, 'u-b')]).toEqual([11, undefined])
      await reopened.destroy()
    })

    it('holds the records of an initial sync received in one go: listed, indexed and loaded after a reopen', async () => {
      const { store, again, h } = await fresh()
      const n = h.many
      const recs = Array.from({ length: n }, (_, i) => new Rec(`account/r${String(i).padStart(5, '0')}`))
      const writes = recs.map((r, i) => store.receive(r.record, r.set({ name: `Account ${i}`, employees: i, city: 'Oslo' }), r.entry()))
      await store.commit()
      await Promise.all(writes)
      await store.put(recs[n - 1].record, recs[n - 1].set({ city: 'Tromsø' }), recs[n - 1].entry())
      await store.close()
      const reopened = await again()
      expect((await reopened.records()).length).toBe(n)
      const index = await reopened.index('account')
      expect(index.length).toBe(n)
      expect(index[n - 1]).toEqual(recs[n - 1].entry())
      for (const i of [0, Math.floor(n / 2), n - 1]) expect(fieldsOf(await reopened.load(recs[i].record))).toEqual(recs[i].fields())
      await reopened.remove(recs[0].record)
      expect((await reopened.records()).length).toBe(n - 1)
      await reopened.destroy()
    })
  })
}
