import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { OfflineRefusal } from '../../src/client/offline-rules.ts'
import { readRecord } from '../../src/docs/record.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import * as admin from '../../src/authz/admin.ts'
import { computeScope } from '../../src/authz/scope.ts'
import { profileOf } from '../../src/server/device-metadata.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import * as Y from 'yjs'
import { clearField, setField } from '../../src/docs/record.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame } from '../../src/protocol/device-frames.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { deviceCloseCode } from '../helpers/device.ts'

const catalog = buildCatalog()
const cleanups = useCleanups()

const start = async (): Promise<TestServer> => {
  const s = await startTestServer()
  cleanups.push(() => s.dispose())
  return s
}

const device = async (s: TestServer, login: string, dir = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))): Promise<FieldsyncDevice> => {
  const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token(login), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
  cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
  return d
}

/** The records the server says a user's device should hold. */
const scopeOf = (s: TestServer, userId: string): string[] => {
  const ix = s.security.index
  return [...computeScope(catalog, profileOf(ix.model, userId)!, ix, userId, e => s.projection.all(e), new Date())].sort()
}

const closeCodeOf = deviceCloseCode

describe('the device over /device', () => {
  it('closes a device socket that sends bad input with 4400, and keeps serving others', async () => {
    const s = await start()
    const hello = (deviceId: string) => encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId, cursor: 0, privilegeVersion: 0, metadataDigest: 0 })
    expect(await closeCodeOf(s, 'alice', [new Uint8Array([250, 1, 2])])).toBe(CloseCode.malformed)
    expect(await closeCodeOf(s, 'alice', [encodeDeviceFrame({ type: DeviceMessage.syncNow, request: 1, count: 0, digest: 0, receiptSeq: 0 })])).toBe(CloseCode.malformed)
    expect(await closeCodeOf(s, 'alice', [hello('bad id!')])).toBe(CloseCode.malformed)
    expect(await closeCodeOf(s, 'alice', [hello('device-of-alice-1'), encodeDeviceFrame({ type: DeviceMessage.push, record: 'spaceship/x1', id: 1, update: new Uint8Array([0, 0]) })])).toBe(CloseCode.malformed)
    // A device id belongs to the user who first used it.
    expect(await closeCodeOf(s, 'nina', [hello('device-of-alice-1')])).toBe(CloseCode.malformed)
    const d = await device(s, 'alice')
    await d.sync()
    expect((await d.store.records()).length).toBeGreaterThan(0)
  })

  it('receives exactly its scope, lists from the index, and pushes offline edits', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    const progress: number[] = []
    d.on('progress', (p: { done: number }) => progress.push(p.done))
    await d.sync()
    expect((await d.store.records()).sort()).toEqual(scopeOf(s, 'u-alice'))
    expect(progress.at(-1)).toBe(scopeOf(s, 'u-alice').length)
    const accounts = await d.list('account')
    expect(accounts.length).toBeGreaterThan(0)
    expect(accounts.map(a => a.record)).toEqual(scopeOf(s, 'u-alice').filter(r => r.startsWith('account/')))
    // Offline: edit and create; the edits wait in the store.
    d.disconnect()
    const target = accounts[0].record
    await d.update(target, { telephone1: '+47 offline' })
    const created = await d.create('task', { subject: 'created offline' })
    expect(await d.unsyncedCount()).toBe(2)
    await d.sync()
    expect(await d.unsyncedCount()).toBe(0)
    expect(s.projection.row('account', target.split('/')[1])?.telephone1).toBe('+47 offline')
    expect(s.projection.row('task', created.split('/')[1])).toMatchObject({ subject: 'created offline', ownerid: 'systemuser/u-alice' })
  })

  it('syncs periodically, reports status and unsynced counts, and lets the user retry or copy a rejected change', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    const statuses: string[] = []
    const unsynced: number[] = []
    d.on('status', (x: string) => statuses.push(x))
    d.on('unsynced', (n: number) => unsynced.push(n))
    d.startPeriodic(50)
    await new Promise<void>(resolve => { const check = (x: string): void => { if (x === 'synced') { d.off('status', check); resolve() } }; d.on('status', check) })
    const record = (await d.list('account'))[0].record
    // A change the server drops (write revoked while the device still has the old metadata).
    s.security.change(m => admin.putRole(m, catalog, { id: 'role-sales', name: 'Salesperson', privileges: { account: { read: 'businessUnit', create: 'user' }, task: { read: 'user', create: 'user', write: 'user' } } }))
    d.stopPeriodic()
    d.disconnect()
    await d.update(record, { telephone1: '+47 rejected' })
    await d.sync()
    const item = (await d.inbox()).find(i => i.receipt.field === 'telephone1')
    expect(item?.receipt).toMatchObject({ reason: 'privilege-revoked', attempted: '+47 rejected' })
    expect(statuses).toEqual(expect.arrayContaining(['syncing', 'synced', 'offline']))
    expect(unsynced).toContain(1)
    expect(unsynced.at(-1)).toBe(0)
    // Copy the rejected value into a new record of the same entity (create on account is still allowed).
    const copy = await d.copyToNew(item!.id)
    expect(copy).toMatch(/^account\//)
    await d.sync()
    expect(s.projection.row('account', copy!.split('/')[1])?.telephone1).toBe('+47 rejected')
    expect((await d.inbox()).some(i => i.id === item!.id)).toBe(false)
    // Retry applies it again as a new edit: the server refuses it again with the current privileges.
    const again = await d.store.addInbox({ receipt: { ...item!.receipt }, serverValue: null, at: new Date().toISOString() })
    await expect(d.retry(again)).rejects.toMatchObject({ reason: 'no-write-privilege' })
  })

  it('runs system views and search on the local index, with the metadata of its profile only', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    d.disconnect() // views and search work offline
    expect(d.views('account').map(v => v.name)).toContain('Active Accounts')
    expect(d.views('incident')).toEqual([]) // not in alice's profile: not sent
    const page = await d.view('account', 'Active Accounts', 1, 5)
    expect(page.total).toBe((await d.list('account')).length)
    const names = page.rows.map(r => String(r.name).toLowerCase())
    expect(names).toEqual([...names].sort())
    await expect(d.view('account', 'My Pinned Accounts')).rejects.toMatchObject({ reason: 'personal-view' })
    await expect(d.view('account', 'Accounts with Open Cases')).rejects.toMatchObject({ reason: 'linked-entity-not-offline' })
    await expect(d.view('account', 'No Such View')).rejects.toMatchObject({ reason: 'unknown-view' })
    const someName = String(page.rows[0].name)
    const hits = await d.search('account', someName.slice(0, 6).toUpperCase())
    expect(hits.some(h => h.record === page.rows[0].record)).toBe(true)
    await expect(d.search('incident', 'x')).rejects.toThrow(/not offline on this device/)
  })

  it('runs business rules while editing and before saving; the server enforces them for devices that do not', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const account = (await d.list('account'))[0].record
    expect((await d.formState(account, { websiteurl: 'http://plain.example' })).errors.map(e => e.message)).toEqual(['Use an https:// website address'])
    await expect(d.update(account, { websiteurl: 'http://plain.example' })).rejects.toMatchObject({ reason: 'business-rule' })
    await d.update(account, { websiteurl: 'https://fine.example' })
    const contact = await d.create('contact', { fullname: 'New Person' })
    expect(readRecord(await d.open(contact)).fields.preferredcontactmethodcode).toBe(1) // a default from a rule
    await d.sync()
    expect(s.projection.row('account', account.split('/')[1])?.websiteurl).toBe('https://fine.example')
    // A plain y-websocket client (no rules on the device) saving a breaking change: dropped whole, with the rule's message.
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, account, doc, await s.token('alice'))
    cleanups.push(() => p.destroy())
    await synced(p)
    const acct = catalog.entities.get('account')!
    doc.transact(() => {
      setField(doc, acct, 'websiteurl', 'http://plain.example', { by: 'u-alice', at: '2026-11-27T12:00:00.000Z' })
      setField(doc, acct, 'telephone1', '+47 same save', { by: 'u-alice', at: '2026-11-27T12:00:00.000Z' })
    })
    await until(() => readRecord(doc, acct).fields.websiteurl === 'https://fine.example', 'the save is reverted', [doc])
    expect(readRecord(doc, acct).fields.telephone1).not.toBe('+47 same save')
    const receipts = s.storage.receipts('u-alice', 0, 1000).filter(r => r.reason === 'business-rule')
    expect(receipts.map(r => r.field).sort()).toEqual(expect.arrayContaining(['telephone1', 'websiteurl']))
    expect(receipts[0].message).toBe('Use an https:// website address')
  })

  it('allows lookups only to offline entities, keeps unresolved ones, and refuses N:N association on the device and the server', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const account = (await d.list('account'))[0].record
    await expect(d.update(account, { primarycontactid: 'lead/lea0001' })).rejects.toMatchObject({ reason: 'invalid-value' }) // wrong entity
    await expect(d.create('opportunity', { name: 'x', originatingleadid: 'lead/unknown1' })).resolves.toMatch(/^opportunity\//) // kept, resolved at sync
    await expect(d.update(account, { parentaccountid: 'account/not-on-this-device' })).resolves.toBeUndefined()
    const service = await device(s, 'dan')
    await service.sync()
    const incident = (await service.list('incident'))[0]?.record
    expect(incident).toBeDefined() // dan's profile (field service) has cases but no contacts
    await expect(service.update(incident!, { primarycontactid: 'contact/con0001' })).rejects.toThrow(/contact, which is not offline on this device/)
    await expect(d.associate('opportunity/opp0004', 'opportunitycompetitors', 'competitor/com0001')).rejects.toMatchObject({ reason: 'relationship-read-only' })
    await expect(d.disassociate('opportunity/opp0004', 'opportunitycompetitors', 'competitor/com0001')).rejects.toMatchObject({ reason: 'relationship-read-only' })
    const r = await fetch(`${s.url}/api/records/opportunity/opp0004/associate`, { method: 'POST', headers: { authorization: `Bearer ${await s.token('alice')}` }, body: JSON.stringify({ relationship: 'opportunitycompetitors', record: 'competitor/com0001' }) })
    expect(r.status).toBe(409)
    expect(await r.json()).toMatchObject({ reason: 'relationship-read-only' })
  })

  it('moves business process flow stages offline, forward only with the required fields; the server checks moves too', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const lead = (await d.list('lead'))[0].record
    const leadDef = catalog.entities.get('lead')!
    expect(await d.stage(lead)).toMatchObject({ name: 'Qualify', index: 0 })
    await d.nextStage(lead) // subject and company name are filled
    expect((await d.stage(lead))?.name).toBe('Develop')
    clearField(await d.open(lead), leadDef, 'estimatedclosedate', { by: 'u-alice', at: '2026-11-27T12:00:00.000Z' })
    await expect(d.nextStage(lead)).rejects.toMatchObject({ reason: 'business-rule', message: expect.stringMatching(/Develop needs estimatedclosedate/) })
    await expect(d.setActiveStage(lead, 'Nowhere')).rejects.toMatchObject({ reason: 'invalid-value' })
    await d.previousStage(lead)
    await d.setActiveStage(lead, 'Develop')
    await d.sync()
    expect(s.projection.row('lead', lead.split('/')[1])?.activestage).toBe('Develop')
    // A plain y-websocket client jumping to Close without the close date: dropped by the server.
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, lead, doc, await s.token('alice'))
    cleanups.push(() => p.destroy())
    await synced(p)
    doc.getMap('meta').set('activestage', 'Close')
    await until(() => doc.getMap('meta').get('activestage') === 'Develop', 'the move is reverted', [doc])
    expect(s.storage.receipts('u-alice', 0, 1000).find(r => r.field === 'activestage')).toMatchObject({ reason: 'business-rule', attempted: 'Close' })
  })

  it('refuses up front what the last metadata forbids, with the server\'s reason codes', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await expect(d.create('account', {})).rejects.toThrow(/no metadata/)
    await d.sync()
    const account = (await d.list('account'))[0].record
    await expect(d.update(account, { revenue: 5 })).rejects.toMatchObject({ reason: 'field-secured' })
    await expect(d.create('product', { name: 'x' })).rejects.toMatchObject({ reason: 'entity-read-only' })
    await expect(d.create('incident', { title: 'x' })).rejects.toBeInstanceOf(OfflineRefusal)
  })

  it('resyncs what changed, evicts what left the scope, and keeps unsynced edits of an evicted record in the inbox', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const first = await d.store.records()
    let bytes = 0
    d.on('progress', (p: { bytes: number }) => { bytes = Math.max(bytes, p.bytes) })
    // Another user changes one of alice's records: the next cycle sends about that record only.
    const other = await device(s, 'avery')
    await other.sync().catch(() => {}) // avery has no profile: an empty scope, but metadata
    const [a1, a2] = (await d.list('account')).map(r => r.record)
    const room = s.server.rooms.get(a1 as never)
    await room.ready
    await room.write(doc => { doc.getMap('fields').set('telephone1', '+47 changed by the server') })
    await d.sync()
    expect(bytes).toBeGreaterThan(0)
    expect(bytes).toBeLessThan(2000)
    expect(readRecord(await d.open(a1)).fields.telephone1).toBe('+47 changed by the server')
    // a2 is reassigned to carol while alice has an unsynced edit on it.
    d.disconnect()
    await d.update(a2, { telephone1: '+47 edit before eviction' })
    s.security.change(m => admin.putRole(m, catalog, { id: 'role-sales', name: 'Salesperson', privileges: { account: { read: 'user', write: 'user', create: 'user', appendTo: 'user' }, contact: { read: 'user' }, task: { read: 'user', write: 'user', create: 'user' }, product: { read: 'organization' } } }))
    const a2room = s.server.rooms.get(a2 as never)
    await a2room.ready
    await a2room.write(doc => { doc.getMap('meta').set('ownerid', 'systemuser/u-carol'); doc.getMap('meta').set('owningbusinessunit', 'bu-south') })
    await d.sync()
    expect(await d.store.records()).not.toContain(a2)
    expect(first).toContain(a2)
    const inbox = await d.inbox()
    expect(inbox.some(i => i.receipt.record === a2)).toBe(true)
  })
})
