// Business rules, flows and clearing fields as they are used (issue 10): a rule's set-value applied on the
// device while editing and by the server for clients that ignore rules, setting a flow's current stage
// again as a no-op, and `update({ x: null })` clearing a field. Devices and plain y-websocket clients
// through a real server.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { FieldsyncDevice } from '../../src/client/device.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { FIELDS, clearField, createRecord, readRecord, setField } from '../../src/docs/record.ts'
import type { RecordId } from '../../src/ids.ts'
import { deviceFor, inboxReceipts, serverFor } from '../helpers/device.ts'
import { provider, synced, until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
const catalog = buildCatalog()
const opportunity = catalog.entities.get('opportunity')!
const lead = catalog.entities.get('lead')!

const start = (): Promise<TestServer> => serverFor(cleanups)
const device = (s: TestServer, login: string): Promise<FieldsyncDevice> => deviceFor(cleanups, s, login)
const idOf = (record: string): string => record.split('/')[1]
const fieldsOf = async (d: FieldsyncDevice, record: string): Promise<Record<string, unknown>> => readRecord(await d.open(record)).fields
const stamp = (by: string): { by: string, at: string } => ({ by, at: new Date().toISOString() })

/** A plain y-websocket client (it knows nothing of business rules) on `record`, synced. */
const rawClient = async (s: TestServer, login: string, record: string): Promise<Y.Doc> => {
  const doc = new Y.Doc()
  const p = provider(s.wsUrl, record, doc, await s.token(login))
  cleanups.push(() => { p.destroy(); doc.destroy() })
  await synced(p)
  return doc
}

/** The Yjs client id that wrote the current value of a field in `doc`. */
const writerOf = (doc: Y.Doc, field: string): number | undefined => doc.getMap(FIELDS)._map.get(field)?.id.client

const serverReceipts = (s: TestServer, userId: string): ReturnType<TestServer['storage']['receipts']> => s.storage.receipts(userId, 0, 1000)

describe('business rule set-value and set-default', () => {
  it('is applied by the device while editing offline, and the server keeps it; the locked field is refused up front', async () => {
    const s = await start()
    const phone = await device(s, 'alice')
    const laptop = await device(s, 'alice')
    await phone.sync()
    const opp = await phone.create('opportunity', { name: 'Fleet deal', salesstagecode: 2, closeprobability: 47 })
    await phone.sync()
    phone.disconnect()
    await phone.update(opp, { salesstagecode: 4 })
    // Offline, at once: the rule's value is in the record, and the field is locked.
    expect(await fieldsOf(phone, opp)).toMatchObject({ salesstagecode: 4, closeprobability: 100 })
    expect([...(await phone.formState(opp)).locked]).toEqual(['closeprobability'])
    await expect(phone.update(opp, { closeprobability: 50 })).rejects.toMatchObject({ reason: 'business-rule', message: expect.stringMatching(/closeprobability is locked/) })
    await phone.sync()
    expect(await inboxReceipts(phone)).toEqual([])
    expect(serverReceipts(s, 'u-alice')).toEqual([])
    expect(s.projection.row('opportunity', idOf(opp))).toMatchObject({ salesstagecode: 4, closeprobability: 100 })
    await laptop.sync()
    expect(await fieldsOf(laptop, opp)).toMatchObject({ salesstagecode: 4, closeprobability: 100 })
  })

  it('is written by the server when a client that ignores rules makes the condition true, and only then', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const opp = await d.create('opportunity', { name: 'Raw deal', salesstagecode: 2, closeprobability: 47 })
    const other = await d.create('opportunity', { name: 'Careful deal', salesstagecode: 2, closeprobability: 47 })
    await d.sync()

    const doc = await rawClient(s, 'alice', opp)
    setField(doc, opportunity, 'salesstagecode', 4, stamp('u-alice'))
    await until(() => doc.getMap(FIELDS).get('closeprobability') === 100, 'the rule value reaches the client', [doc])
    // The server's own write, in the transaction that took the stage move.
    expect(writerOf(doc, 'closeprobability')).not.toBe(doc.clientID)
    expect(s.projection.row('opportunity', idOf(opp))).toMatchObject({ salesstagecode: 4, closeprobability: 100 })

    // A client that wrote the rule's value itself: the server writes nothing of its own, and no receipt.
    const careful = await rawClient(s, 'alice', other)
    careful.transact(() => {
      setField(careful, opportunity, 'salesstagecode', 4, stamp('u-alice'))
      setField(careful, opportunity, 'closeprobability', 100, stamp('u-alice'))
    })
    await until(() => s.projection.row('opportunity', idOf(other))?.salesstagecode === 4, 'the save is projected')
    expect(readRecord(s.server.rooms.get(other as never).doc).fields.closeprobability).toBe(100)
    expect(writerOf(s.server.rooms.get(other as never).doc, 'closeprobability')).toBe(careful.clientID)
    expect(serverReceipts(s, 'u-alice')).toEqual([])
  })

  it('with set-default: the server fills the default into a record a raw client creates without it', async () => {
    const s = await start()
    const record = 'contact/con-raw-1'
    const doc = await rawClient(s, 'alice', record)
    createRecord(doc, catalog.entities.get('contact')!, { id: 'con-raw-1' as RecordId, ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { fullname: 'Raw Person' } }, stamp('u-alice'))
    await until(() => doc.getMap(FIELDS).get('preferredcontactmethodcode') === 1, 'the default reaches the client', [doc])
    expect(s.projection.row('contact', 'con-raw-1')).toMatchObject({ fullname: 'Raw Person', preferredcontactmethodcode: 1 })
    // Only on create: cleared later, it stays cleared.
    clearField(doc, catalog.entities.get('contact')!, 'preferredcontactmethodcode', stamp('u-alice'))
    await until(() => s.projection.row('contact', 'con-raw-1')?.preferredcontactmethodcode === null, 'the clear is projected')
    expect(serverReceipts(s, 'u-alice')).toEqual([])
  })

  it('frees a locked field stuck at another value: the next save by a device or by a raw client writes the rule value', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const stuck = async (name: string): Promise<string> => {
      const opp = await d.create('opportunity', { name, salesstagecode: 2, closeprobability: 47 })
      await d.sync()
      // Written before the rule existed (by the server, past the projection): at Close, locked at 47.
      const room = s.server.rooms.get(opp as never)
      await room.ready
      await room.write(doc => { doc.getMap(FIELDS).set('salesstagecode', 4) })
      await d.sync()
      expect(await fieldsOf(d, opp)).toMatchObject({ salesstagecode: 4, closeprobability: 47 })
      return opp
    }
    const first = await stuck('Old deal')
    d.disconnect()
    await d.update(first, { name: 'Old deal, renamed' })
    expect((await fieldsOf(d, first)).closeprobability).toBe(100)
    await d.sync()
    // The device wrote the locked field with the rule's value: not a write to a locked field, no receipt.
    expect(await inboxReceipts(d)).toEqual([])
    expect(s.projection.row('opportunity', idOf(first))).toMatchObject({ name: 'Old deal, renamed', closeprobability: 100 })

    const second = await stuck('Older deal')
    const doc = await rawClient(s, 'alice', second)
    setField(doc, opportunity, 'name', 'Older deal, renamed', stamp('u-alice'))
    await until(() => doc.getMap(FIELDS).get('closeprobability') === 100, 'the rule value reaches the client', [doc])
    expect(s.projection.row('opportunity', idOf(second))).toMatchObject({ name: 'Older deal, renamed', closeprobability: 100 })
    expect(serverReceipts(s, 'u-alice')).toEqual([])
  })
})

describe('setting a flow\'s current stage again', () => {
  it('is a no-op on the device and on the server: nothing in the inbox', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const l = await d.create('lead', { subject: 'Solar roof', companyname: 'Litware Ltd' })
    await d.nextStage(l)
    await d.sync()
    d.disconnect()
    for (let i = 0; i < 3; i++) await d.setActiveStage(l, 'Develop')
    expect(await d.unsyncedCount()).toBe(0) // nothing to send
    await d.sync()
    expect(await inboxReceipts(d)).toEqual([])
    expect(s.projection.row('lead', idOf(l))?.activestage).toBe('Develop')

    // A plain client saving the same stage (with its modifiedby/modifiedon) is not refused either.
    const doc = await rawClient(s, 'alice', l)
    // (Times no later than the server's clock allows: README, "Security and the authorization projection".)
    const at = new Date().toISOString()
    doc.transact(() => {
      const m = doc.getMap('meta')
      m.set('activestage', 'Develop')
      m.set('modifiedby', 'u-alice')
      m.set('modifiedon', at)
    })
    await until(() => s.projection.row('lead', idOf(l))?.modifiedon === at, 'the save is projected')
    expect(serverReceipts(s, 'u-alice')).toEqual([])
    // Someone who may not write the lead still gets a refusal for the same save.
    const auditor = await rawClient(s, 'erin', l)
    auditor.transact(() => {
      const m = auditor.getMap('meta')
      m.set('activestage', 'Develop')
      m.set('modifiedby', 'u-erin')
      m.set('modifiedon', new Date(Date.parse(at) + 1000).toISOString())
    })
    await until(() => serverReceipts(s, 'u-erin').length > 0, 'the auditor\'s receipt')
    expect(serverReceipts(s, 'u-erin')[0]).toMatchObject({ record: l, reason: 'no-write-privilege' })
    expect(s.projection.row('lead', idOf(l))?.modifiedon).toBe(at)
  })
})

describe('clearing a field', () => {
  it('works through update({ x: null }) on the device; the projection holds NULL and the other device sees it', async () => {
    const s = await start()
    const phone = await device(s, 'alice')
    const laptop = await device(s, 'alice')
    await phone.sync()
    const account = await phone.create('account', { name: 'Wingtip Toys', telephone1: '+47 555 0100', description: 'Big plans' })
    await phone.sync()
    await laptop.sync()
    phone.disconnect()
    await phone.update(account, { telephone1: null, description: null })
    const local = readRecord(await phone.open(account))
    expect(local.fields.telephone1).toBeUndefined()
    expect(local.texts.description ?? '').toBe('')
    await phone.sync()
    expect(await inboxReceipts(phone)).toEqual([])
    expect(s.projection.row('account', idOf(account))).toMatchObject({ name: 'Wingtip Toys', telephone1: null, description: null })
    await laptop.sync()
    expect((await fieldsOf(laptop, account)).telephone1).toBeUndefined()
  })

  it('keeps business rules: a required field is refused up front on the device, and a raw client gets a receipt', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const hot = await d.create('lead', { subject: 'Hot one', companyname: 'Contoso', leadqualitycode: 1, budgetamount: 90000 })
    await d.sync()
    await expect(d.update(hot, { budgetamount: null })).rejects.toMatchObject({ reason: 'business-rule', message: expect.stringMatching(/budgetamount is required/) })
    expect((await fieldsOf(d, hot)).budgetamount).toBe(90000)
    const doc = await rawClient(s, 'alice', hot)
    clearField(doc, lead, 'budgetamount', stamp('u-alice'))
    await until(() => serverReceipts(s, 'u-alice').length > 0, 'the receipt')
    expect(serverReceipts(s, 'u-alice')[0]).toMatchObject({ record: hot, change: 'field-cleared', field: 'budgetamount', reason: 'business-rule', message: 'budgetamount is required' })
    await until(() => doc.getMap(FIELDS).get('budgetamount') === 90000, 'the clear is reverted', [doc])
  })
})
