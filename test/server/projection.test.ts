import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import * as decoding from 'lib0/decoding'
import type { WebsocketProvider } from 'y-websocket'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { deleteRecord, readRecord, setField, type Actor } from '../../src/docs/record.ts'
import * as admin from '../../src/authz/admin.ts'
import { CloseCode, MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const email = catalog.entities.get('email')!
const task = catalog.entities.get('task')!
const cleanups = useCleanups()

const start = async (): Promise<TestServer> => {
  const s = await startTestServer()
  cleanups.push(() => s.dispose())
  return s
}
const open = (s: TestServer, name: string, doc: Y.Doc, token: string, receipts = false): WebsocketProvider => {
  const p = provider(s.wsUrl, name, doc, token, receipts ? { receipts: '1' } : {})
  cleanups.push(() => p.destroy())
  return p
}
const as = (userId: string): Actor => ({ by: userId, at: '2026-11-27T12:00:00.000Z' })
const api = async (s: TestServer, login: string, path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${s.url}${path}`, { ...init, headers: { authorization: `Bearer ${await s.token(login)}`, 'content-type': 'application/json', ...init.headers } })
const receiptsOf = async (s: TestServer, login: string): Promise<Receipt[]> => (await (await api(s, login, '/api/receipts')).json() as { receipts: Receipt[] }).receipts
/** An id of a demo record of `entity` owned by `userId`. */
const ownedBy = (s: TestServer, entity: string, userId: string): string => {
  const row = s.projection.rows(entity, { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0).find(r => r.ownerid === `systemuser/${userId}`)
  if (row === undefined) throw new Error(`no ${entity} owned by ${userId}`)
  return String(row.id)
}
/** Receipts pushed on a raw socket that asked for them. */
const pushed = (ws: WebSocket): Receipt[] => {
  const got: Receipt[] = []
  ws.on('message', (data: Buffer) => {
    const d = decoding.createDecoder(new Uint8Array(data))
    if (decoding.readVarUint(d) === MessageType.receipts) got.push(...JSON.parse(decoding.readVarString(d)) as Receipt[])
  })
  return got
}

describe('the authorization projection, end to end with the y-websocket client', () => {
  it('reverts a read-only user\'s edits to an email and an account on their device, with receipts', async () => {
    const s = await start()
    const token = await s.token('erin')
    const e = new Y.Doc()
    const a = new Y.Doc()
    const pe = open(s, 'email/ema0001', e, token, true)
    const pa = open(s, 'account/acc0001', a, token)
    await Promise.all([synced(pe), synced(pa)])
    const emailBefore = readRecord(e, email)
    const accountBefore = readRecord(a, account)
    const received: Receipt[] = pushed(pe.ws as unknown as WebSocket)
    expect(pe.url).toContain('receipts=1')
    setField(e, email, 'subject', 'erin was here', as('u-erin'))
    setField(a, account, 'name', 'erin renamed it', as('u-erin'))
    expect(readRecord(e, email).fields.subject).toBe('erin was here')
    await until(() => readRecord(e, email).fields.subject === emailBefore.fields.subject, 'email edit reverted on the device', [e])
    await until(() => readRecord(a, account).fields.name === accountBefore.fields.name, 'account edit reverted on the device', [a])
    expect(readRecord(e, email)).toEqual(emailBefore)
    expect(readRecord(a, account)).toEqual(accountBefore)
    const receipts = await receiptsOf(s, 'erin')
    expect(receipts.find(r => r.record === 'email/ema0001' && r.field === 'subject')).toMatchObject({ reason: 'entity-read-only', attempted: 'erin was here', kept: emailBefore.fields.subject, privilegeVersion: s.security.model.version })
    expect(receipts.find(r => r.record === 'account/acc0001' && r.field === 'name')).toMatchObject({ reason: 'no-write-privilege', attempted: 'erin renamed it' })
    await until(() => received.some(r => r.field === 'subject'), 'receipt pushed on the socket that asked')
    // Nothing erin attempted is in the log.
    for (const name of ['email/ema0001', 'account/acc0001']) {
      const { updates } = await s.storage.load(name as never)
      for (const u of updates) expect(Buffer.from(u.data).includes('erin')).toBe(false)
    }
  })

  it('drops edits made offline after write was revoked with privilege-revoked', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-alice')
    const token = await s.token('alice')
    const a = new Y.Doc()
    const pa = open(s, `account/${id}`, a, token)
    await synced(pa)
    setField(a, account, 'telephone1', '+47 allowed', as('u-alice'))
    await until(() => s.projection.row('account', id)?.telephone1 === '+47 allowed', 'allowed edit projected')
    pa.disconnect()
    await until(() => s.security.delivered('u-alice') === s.security.model.version, 'delivered version recorded')
    s.security.change(m => admin.putRole(m, catalog, { id: 'role-sales', name: 'Salesperson', privileges: { account: { read: 'businessUnit' } } }))
    setField(a, account, 'telephone1', '+47 offline after revoke', as('u-alice'))
    pa.connect()
    await until(() => readRecord(a, account).fields.telephone1 === '+47 allowed', 'offline edit reverted', [a])
    const r = (await receiptsOf(s, 'alice')).find(x => x.field === 'telephone1')
    expect(r).toMatchObject({ reason: 'privilege-revoked', attempted: '+47 offline after revoke', kept: '+47 allowed', privilegeVersion: s.security.model.version })
    expect(s.projection.row('account', id)?.telephone1).toBe('+47 allowed')
  })

  it('drops an edit to a secured field while the rest of the same update lands; the value lives in its own document', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-alice')
    const alice = new Y.Doc()
    const bob = new Y.Doc()
    const pa = open(s, `account/${id}`, alice, await s.token('alice'))
    const pb = open(s, `account/${id}`, bob, await s.token('bob'))
    await Promise.all([synced(pa), synced(pb)])
    // The record's document holds no secured value; the projection has it from the field's document.
    const revenue = s.projection.row('account', id)?.revenue
    expect(revenue).not.toBeNull()
    expect(readRecord(bob, account).fields.revenue).toBeUndefined()
    alice.transact(() => {
      setField(alice, account, 'revenue', 999_999, as('u-alice'))
      setField(alice, account, 'websiteurl', 'https://alice.example', as('u-alice'))
    })
    await until(() => readRecord(bob, account).fields.websiteurl === 'https://alice.example', 'bob sees the allowed field', [bob])
    await until(() => readRecord(alice, account).fields.revenue === undefined, 'secured field reverted on alice', [alice])
    expect(readRecord(bob, account).fields.revenue).toBeUndefined()
    expect(s.projection.row('account', id)).toMatchObject({ websiteurl: 'https://alice.example', revenue })
    expect((await receiptsOf(s, 'alice')).filter(r => r.reason === 'field-secured').map(r => r.field)).toEqual(['revenue'])
    // bob has the Finance profile: he reads and writes revenue in its own document; alice may not open it.
    const field = new Y.Doc()
    const pf = open(s, `account/${id}/revenue`, field, await s.token('bob'))
    await synced(pf)
    expect(field.getMap('fields').get('revenue')).toBe(revenue)
    field.getMap('fields').set('revenue', 1234.5)
    await until(() => s.projection.row('account', id)?.revenue === 1234.5, 'bob sets revenue')
    const token = await s.token('alice')
    const status = await new Promise<number>(resolve => {
      const ws = new WebSocket(`${s.wsUrl}/account/${id}/revenue?token=${token}`)
      ws.on('open', () => { resolve(101); ws.terminate() })
      ws.on('error', () => {})
      ws.on('unexpected-response', (_q, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
    })
    expect(status).toBe(403)
    // Over HTTP, alice does not see the secured field; bob does.
    expect(await (await api(s, 'alice', `/api/records/account/${id}`)).json()).not.toHaveProperty('revenue')
    expect(await (await api(s, 'bob', `/api/records/account/${id}`)).json()).toMatchObject({ revenue: 1234.5, websiteurl: 'https://alice.example' })
  })

  it('answers 403 before the upgrade without read access, and closes a socket with 4403 when read access goes', async () => {
    const s = await start()
    const southId = ownedBy(s, 'account', 'u-carol')
    const northId = ownedBy(s, 'account', 'u-alice')
    const status = await new Promise<number>(resolve => {
      s.token('alice').then(t => {
        const ws = new WebSocket(`${s.wsUrl}/account/${southId}?token=${t}`)
        ws.on('error', () => {})
        ws.on('unexpected-response', (_q, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
        ws.on('open', () => { resolve(101); ws.close() })
      })
    })
    expect(status).toBe(403)
    // bob reads alice's record through hierarchy security; disabling it closes his socket.
    const ws = new WebSocket(`${s.wsUrl}/account/${northId}?token=${await s.token('bob')}`)
    cleanups.push(() => ws.terminate())
    await new Promise(resolve => ws.on('open', resolve))
    const closed = new Promise<number>(resolve => ws.on('close', code => resolve(code)))
    s.security.change(m => admin.putRole(admin.setHierarchy(m, { enabled: false }), catalog, { id: 'role-sales-manager', name: 'Sales Manager', privileges: { account: { read: 'user' } } }))
    const code = await Promise.race([closed, new Promise<string>(resolve => setTimeout(() => resolve('still open after 1 s'), 1000))])
    expect(code).toBe(CloseCode.readRevoked)
  })

  it('keeps the projection equal to the document: updates, deletes, and lists only readable rows', async () => {
    const s = await start()
    const id = ownedBy(s, 'task', 'u-alice')
    const t = new Y.Doc()
    const pt = open(s, `task/${id}`, t, await s.token('alice'))
    await synced(pt)
    setField(t, task, 'subject', 'call back Monday', as('u-alice'))
    await until(() => s.projection.row('task', id)?.subject === 'call back Monday', 'projected')
    deleteRecord(t, task, as('u-alice'))
    await until(() => s.projection.row('task', id) === undefined, 'row removed')
    expect((await api(s, 'alice', `/api/records/task/${id}`)).status).toBe(404)
    const list = await (await api(s, 'alice', '/api/records/account?limit=1000')).json() as { rows: { owningbusinessunit: string }[] }
    expect(list.rows.length).toBeGreaterThan(0)
    expect(new Set(list.rows.map(r => r.owningbusinessunit))).toEqual(new Set(['bu-north']))
    const all = await (await api(s, 'avery', '/api/records/account?limit=1000')).json() as { rows: unknown[] }
    expect(all.rows.length).toBe(60)
    expect((await api(s, 'alice', '/api/records/spaceship')).status).toBe(404)
    expect((await api(s, 'alice', `/api/records/account/${ownedBy(s, 'account', 'u-carol')}`)).status).toBe(403)
  })

  it('refuses an update written under a client id bound to another user', async () => {
    const s = await start()
    const id = ownedBy(s, 'account', 'u-alice')
    const alice = new Y.Doc()
    const pa = open(s, `account/${id}`, alice, await s.token('alice'))
    await synced(pa)
    setField(alice, account, 'telephone1', '+47 alice', as('u-alice'))
    await until(() => s.projection.row('account', id)?.telephone1 === '+47 alice', 'alice edit projected')
    // nina writes under alice's client id (never syncing alice's state, as a forger would).
    const forged = new Y.Doc()
    forged.clientID = alice.clientID
    forged.getMap('fields').set('telephone1', '+47 forged')
    const ws = new WebSocket(`${s.wsUrl}/account/${id}?token=${await s.token('nina')}`)
    cleanups.push(() => ws.terminate())
    await new Promise(resolve => ws.on('open', resolve))
    ws.send(encodeSyncUpdate(SyncStep.update, Y.encodeStateAsUpdate(forged)))
    const receipt = await new Promise<Receipt>((resolve, reject) => {
      const deadline = Date.now() + 5000
      const poll = async (): Promise<void> => {
        const r = (await receiptsOf(s, 'nina')).find(x => x.reason === 'foreign-client-id')
        if (r !== undefined) resolve(r); else if (Date.now() > deadline) reject(new Error('no foreign-client-id receipt')); else setTimeout(poll, 20)
      }
      void poll()
    })
    expect(receipt.record).toBe(`account/${id}`)
    expect(s.projection.row('account', id)?.telephone1).toBe('+47 alice')
  })

  it('serves the admin API to administrators only, with 400 naming the bad field', async () => {
    const s = await start()
    expect((await api(s, 'alice', '/api/admin/model')).status).toBe(403)
    const bad = await api(s, 'avery', '/api/admin/users', { method: 'POST', body: JSON.stringify({ login: 'zed', fullName: 'Zed', businessUnitId: 'bu-mars' }) })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ field: 'businessUnitId' })
    const before = s.security.model.version
    const ok = await api(s, 'avery', '/api/admin/users', { method: 'POST', body: JSON.stringify({ login: 'zed', fullName: 'Zed', businessUnitId: 'bu-north' }) })
    expect(ok.status).toBe(201)
    expect((await ok.json()).version).toBe(before + 1)
    const assign = await api(s, 'avery', `/api/records/account/${ownedBy(s, 'account', 'u-alice')}/assign`, { method: 'POST', body: JSON.stringify({ ownerid: 'systemuser/u-carol' }) })
    expect(assign.status).toBe(200)
    expect(await assign.json()).toEqual({ ownerid: 'systemuser/u-carol', owningbusinessunit: 'bu-south' })
  })
})
