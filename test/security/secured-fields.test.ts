// A secured field's value never leaves the server to a principal without read permission on it: it lives
// in the field's own document (`<entity>/<id>/<attribute>`), synced only to those who may read it, and
// nowhere in the record's document, its stored log, a device's copy or index, or a receipt.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import type { DocName } from '../../src/ids.ts'
import type { TestServer } from '../helpers/server.ts'
import { until } from '../helpers/server.ts'
import { deviceFor, inboxReceipts } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { applyReceived, ownedBy, raw, rawDevice, startServer, TIME } from './support.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

/** Every value any item of these updates ever held, deleted ones included (a document that collects nothing). */
const everyValue = (updates: readonly Uint8Array[]): unknown[] => {
  const doc = new Y.Doc({ gc: false })
  for (const u of updates) Y.applyUpdate(doc, u)
  const out: unknown[] = []
  for (const structs of doc.store.clients.values()) {
    for (const s of structs) if (s instanceof Y.Item && s.content instanceof Y.ContentAny) out.push(...s.content.arr)
  }
  return out
}

const revenueOf = (s: TestServer, name: DocName): unknown => s.projection.row('account', name.split('/')[1])?.revenue

const api = async (s: TestServer, login: string, path: string, method = 'GET', body?: unknown): Promise<Response> =>
  fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${await s.token(login)}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })

describe('secured field values', () => {
  it('are in no byte of the record a user without read permission receives over /sync, nor in its stored log', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const revenue = revenueOf(s, name)
    expect(typeof revenue).toBe('number')
    const alice = await raw(cleanups, s, name, 'alice')
    alice.ws.send(new Uint8Array([0, 0, 1, 0])) // sync step 1 with an empty state vector: send me everything
    await until(() => alice.messages.some(m => m[0] === 0 && m[1] === 1), 'the whole state')
    const got = new Y.Doc()
    applyReceived(got, alice.messages)
    expect(readRecord(got, account).fields.name).toBeDefined()
    const sent: Uint8Array[] = alice.messages.filter(m => m[0] === 0 && m[1] !== 0).map(m => {
      const d = decoding.createDecoder(m)
      decoding.readVarUint(d)
      decoding.readVarUint(d)
      return decoding.readVarUint8Array(d)
    })
    expect(everyValue(sent)).not.toContain(revenue)
    const stored = (await s.storage.load(name)).updates.map(u => u.data)
    expect(everyValue(stored)).not.toContain(revenue)
    // Its own document: 403 for alice; bob (Finance profile) reads it.
    const status = await raw(cleanups, s, `${name}/revenue`, 'alice').then(() => 101, () => 403)
    expect(status).toBe(403)
    const bob = await raw(cleanups, s, `${name}/revenue`, 'bob')
    bob.ws.send(new Uint8Array([0, 0, 1, 0]))
    await until(() => bob.messages.some(m => m[0] === 0 && m[1] === 1), 'bob gets the field')
    const field = new Y.Doc()
    applyReceived(field, bob.messages)
    expect(field.getMap('fields').get('revenue')).toBe(revenue)
    // A field that is not secured has no document of its own.
    expect(await raw(cleanups, s, `${name}/telephone1`, 'bob').then(() => 101, () => 404)).toBe(404)
  })

  it('reach the devices of users who may read them (index included) and no others; an edit on one lands, a refused one leaves no value in the receipt', async () => {
    const s = await startServer(cleanups)
    const alice = await deviceFor(cleanups, s, 'alice')
    const bob = await deviceFor(cleanups, s, 'bob')
    await Promise.all([alice.sync(), bob.sync()])
    // alice may not read revenue: no field document, no value in her index or her copies.
    const mine = ownedBy(s, 'account', 'u-alice')
    expect((await alice.store.records()).filter(r => r.endsWith('/revenue'))).toEqual([])
    expect((await alice.store.records())).toContain(mine)
    expect((await alice.list('account')).every(r => r.values.revenue === undefined)).toBe(true)
    expect(everyValue([Y.encodeStateAsUpdate(await alice.open(mine))])).not.toContain(revenueOf(s, mine))
    // bob (Finance profile) holds the field documents of the accounts in his scope; his index shows them.
    const bobs = (await bob.store.records()).filter(r => r.endsWith('/revenue'))
    expect(bobs.length).toBeGreaterThan(0)
    const name = bobs[0].slice(0, -'/revenue'.length) as DocName
    const revenue = revenueOf(s, name)
    expect((await bob.list('account')).find(r => r.record === name)?.values.revenue).toBe(revenue)
    await bob.update(name, { revenue: 4242.5, telephone1: '+47 bob' })
    await bob.sync()
    expect(revenueOf(s, name)).toBe(4242.5)
    expect((await bob.list('account')).find(r => r.record === name)?.values.revenue).toBe(4242.5)
    // A client that writes revenue into the record's document (old layout): dropped, field-secured, no value kept.
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(s.server.rooms.get(name).doc))
    const w = await raw(cleanups, s, name, 'avery')
    const sv = Y.encodeStateVector(doc)
    doc.transact(() => { setField(doc, account, 'revenue', 1, { by: 'u-avery', at: TIME }); setField(doc, account, 'telephone1', '+47 alice', { by: 'u-avery', at: TIME }) })
    w.update(Y.encodeStateAsUpdate(doc, sv))
    await until(() => w.receipts().length > 0, 'a receipt')
    const r: Receipt = w.receipts()[0]
    expect(r).toMatchObject({ field: 'revenue', reason: 'field-secured', kept: null })
    expect(JSON.stringify(w.receipts())).not.toContain('4242.5')
    await until(() => s.projection.row('account', name.split('/')[1])?.telephone1 === '+47 alice', 'the rest lands')
    expect(revenueOf(s, name)).toBe(4242.5)
    await bob.sync()
    expect(JSON.stringify(await inboxReceipts(bob))).not.toContain('4242.5')
  })

  it('move into the record when a field is no longer secured, and out again (its log merged) when it is', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const revenue = revenueOf(s, name)
    expect((await api(s, 'avery', '/api/admin/secured-fields', 'PUT', { field: 'account.revenue', secured: false })).status).toBe(200)
    await until(() => s.server.rooms.get(name).doc.getMap('fields').get('revenue') === revenue, 'moved into the record')
    expect((await api(s, 'avery', '/api/admin/secured-fields', 'PUT', { field: 'account.revenue', secured: true })).status).toBe(200)
    await until(() => !s.server.rooms.get(name).doc.getMap('fields').has('revenue'), 'moved out again')
    let stored = (await s.storage.load(name)).updates.map(u => u.data)
    for (let i = 0; i < 100 && everyValue(stored).includes(revenue); i++) {
      await new Promise(resolve => setTimeout(resolve, 20)) // polled, within 2 s: the merge follows the move
      stored = (await s.storage.load(name)).updates.map(u => u.data)
    }
    expect(everyValue(stored)).not.toContain(revenue)
    expect(s.server.rooms.get(`${name}/revenue` as DocName).doc.getMap('fields').get('revenue')).toBe(revenue)
    expect(revenueOf(s, name)).toBe(revenue)
  })

  it('cannot be read or written by a device that may not read them, and their document holds the field alone', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const field = `${name}/revenue` as DocName
    const revenue = revenueOf(s, name)
    // alice's device asks for the field's state and pushes a value into it: evicted, no byte of it, nothing kept.
    const device = await rawDevice(cleanups, s, 'alice', 'device-secured-1')
    const { frames } = device
    device.send({ type: DeviceMessage.sync, record: field, step: SyncStep.step1, payload: Y.encodeStateVector(new Y.Doc()) })
    const forged = new Y.Doc()
    forged.getMap('fields').set('revenue', 1)
    device.send({ type: DeviceMessage.push, record: field, id: 7, update: Y.encodeStateAsUpdate(forged) })
    await until(() => frames.some(f => f.type === DeviceMessage.ack && f.id === 7), 'the push answered')
    expect(frames.filter(f => f.type === DeviceMessage.sync && f.record === field)).toEqual([])
    expect(frames.filter(f => f.type === DeviceMessage.evict && f.record === field).length).toBeGreaterThan(0)
    expect(revenueOf(s, name)).toBe(revenue)
    expect(everyValue((await s.storage.load(field)).updates.map(u => u.data))).not.toContain(1)
    // bob may write the field, but only the field: anything else in its document is refused whole.
    const bob = await raw(cleanups, s, field, 'bob')
    const rows = (await s.storage.load(field)).updates.length
    for (const make of [
      (d: Y.Doc) => d.getMap('meta').set('ownerid', 'systemuser/u-bob'),
      (d: Y.Doc) => d.getMap('fields').set('name', 'not this document'),
      (d: Y.Doc) => d.getText('memo:description').insert(0, 'nor this')
    ]) {
      const copy = new Y.Doc()
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(s.server.rooms.get(field).doc))
      const sv = Y.encodeStateVector(copy)
      make(copy)
      const seen = bob.receipts().length
      bob.update(Y.encodeStateAsUpdate(copy, sv))
      await until(() => bob.receipts().length > seen, 'refused')
      expect(bob.receipts()[seen].reason).toBe('invalid-value')
    }
    expect((await s.storage.load(field)).updates.length).toBe(rows)
    expect(s.server.rooms.get(field).doc.getMap('fields').toJSON()).toEqual({ revenue })
  })
})
