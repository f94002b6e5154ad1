// The rejected-changes inbox is per device (issue 10): a device gets the receipts of its own changes; a
// new device of the user is offered the user's open items once, not the whole history; an item
// dismissed on one device is not offered to new devices. Two (and three) devices of one user through a
// real server.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import * as admin from '../../src/authz/admin.ts'
import type { Role } from '../../src/authz/model.ts'
import { setField } from '../../src/docs/record.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import * as decoding from 'lib0/decoding'
import { MessageType } from '../../src/protocol/codes.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { deviceFor, inboxReceipts, serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const cleanups = useCleanups()

type Device = Awaited<ReturnType<typeof deviceFor>>
type Server = Awaited<ReturnType<typeof serverFor>>

/** The values of the telephone1 receipts in an inbox, in seq order. */
const attempts = async (d: Device): Promise<unknown[]> =>
  (await inboxReceipts(d)).filter(r => r.field === 'telephone1').sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)).map(r => r.attempted)


/** alice's role as the demo has it, and the same without write on accounts. */
const salesRoles = (s: Server): { full: Role, noAccountWrite: Role } => {
  const full = s.security.model.roles.find(r => r.id === 'role-sales')!
  return { full, noAccountWrite: { ...full, privileges: { ...full.privileges, account: { read: 'businessUnit', create: 'user' } } } }
}

/** Takes write on accounts from alice's role right after `d` synced with it: its next account edits are dropped (privilege-revoked). */
const revokeAfterSync = async (s: Server, roles: ReturnType<typeof salesRoles>, d: Device): Promise<void> => {
  s.security.change(m => admin.putRole(m, catalog, roles.full))
  await d.sync()
  d.disconnect()
  s.security.change(m => admin.putRole(m, catalog, roles.noAccountWrite))
}

describe('the inbox per device', () => {
  it('gives a device its own rejections and a new device the user\'s open items once', async () => {
    const s = await serverFor(cleanups)
    const roles = salesRoles(s)
    const phone = await deviceFor(cleanups, s, 'alice')
    await phone.sync()
    const [r1, r2] = (await phone.list('account')).filter(r => r.values.ownerid === 'systemuser/u-alice').map(r => r.record)
    await revokeAfterSync(s, roles, phone)
    await phone.update(r1, { telephone1: '+47 first' })
    await phone.update(r2, { telephone1: '+47 second' })
    await phone.sync()
    // (Pushes of two records commit independently, in either order on PostgreSQL: their receipts' seqs too.)
    expect((await attempts(phone)).sort()).toEqual(['+47 first', '+47 second'])
    // Dismissed on the phone while offline: the server is told at the next sync.
    phone.disconnect()
    const second = (await phone.inbox()).find(i => (i.receipt as Receipt).attempted === '+47 second')!
    await phone.discard(second.id)
    await phone.sync()

    // A new tablet of alice's is offered the open item, not the dismissed one.
    const tablet = await deviceFor(cleanups, s, 'alice')
    await tablet.sync()
    expect(await attempts(tablet)).toEqual(['+47 first'])
    await tablet.sync()
    expect(await attempts(tablet)).toEqual(['+47 first'])

    // A later rejection of the phone's reaches the phone only.
    await revokeAfterSync(s, roles, phone)
    await phone.update(r1, { telephone1: '+47 third' })
    await phone.sync()
    await tablet.sync()
    expect(await attempts(phone)).toEqual(['+47 first', '+47 third'])
    expect(await attempts(tablet)).toEqual(['+47 first'])
    // The tablet's own rejection reaches the tablet only.
    await revokeAfterSync(s, roles, tablet)
    await tablet.update(r2, { telephone1: '+47 tablet' })
    await tablet.sync()
    await phone.sync()
    expect(await attempts(tablet)).toEqual(['+47 first', '+47 tablet'])
    expect(await attempts(phone)).toEqual(['+47 first', '+47 third'])

    // Dismissed on the tablet (online, told at once): a third device is not offered it, but the rest that is open.
    const first = (await tablet.inbox()).find(i => (i.receipt as Receipt).attempted === '+47 first')!
    await tablet.discard(first.id)
    await tablet.sync()
    const laptop = await deviceFor(cleanups, s, 'alice')
    await laptop.sync()
    expect(await attempts(laptop)).toEqual(['+47 third', '+47 tablet'])

    // Only the user's own receipts can be dismissed; a malformed body is refused.
    const dismiss = async (login: string, body: unknown): Promise<Response> =>
      fetch(`${s.url}/api/receipts/dismiss`, { method: 'POST', headers: { authorization: `Bearer ${await s.token(login)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const third = (await inboxReceipts(phone)).find(r => r.attempted === '+47 third')!
    expect(await (await dismiss('nina', { seqs: [third.seq] })).json()).toEqual({ dismissed: 0 })
    expect((await dismiss('alice', { seqs: ['x'] })).status).toBe(400)
    expect(s.storage.openReceipts('u-alice', 100).map(r => r.attempted)).toEqual(['+47 third', '+47 tablet'])

    // Integrations still read the user's whole history, each receipt naming its device.
    const res = await fetch(`${s.url}/api/receipts`, { headers: { authorization: `Bearer ${await s.token('alice')}` } })
    const all = (await res.json() as { receipts: Receipt[] }).receipts.filter(r => r.field === 'telephone1')
    const history = all.map(r => [r.attempted, r.device])
    // (The first two were pushed together, to two records: on PostgreSQL they commit in either order.)
    expect(history.slice(0, 2).sort()).toEqual([['+47 first', phone.deviceId], ['+47 second', phone.deviceId]])
    expect(history.slice(2)).toEqual([['+47 third', phone.deviceId], ['+47 tablet', tablet.deviceId]])
  })

  it('still pushes receipts live to a plain y-websocket socket that asks for them, and none to the user\'s devices', async () => {
    const s = await serverFor(cleanups)
    const roles = salesRoles(s)
    const phone = await deviceFor(cleanups, s, 'alice')
    await phone.sync()
    const record = (await phone.list('account')).find(r => r.values.ownerid === 'systemuser/u-alice')!.record
    await revokeAfterSync(s, roles, phone)
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, record, doc, await s.token('alice'), { receipts: '1' })
    cleanups.push(() => p.destroy())
    await synced(p)
    const pushed: Receipt[] = []
    p.ws!.addEventListener('message', (e: MessageEvent) => {
      const d = decoding.createDecoder(new Uint8Array(e.data as ArrayBuffer))
      if (decoding.readVarUint(d) === MessageType.receipts) pushed.push(...JSON.parse(decoding.readVarString(d)) as Receipt[])
    })
    setField(doc, catalog.entities.get('account')!, 'telephone1', '+47 plain', { by: 'u-alice', at: new Date().toISOString() })
    await until(() => pushed.some(r => r.attempted === '+47 plain'), 'the receipt pushed on the plain socket')
    expect(pushed.find(r => r.attempted === '+47 plain')?.device).toBeUndefined()
    await phone.sync()
    expect(await inboxReceipts(phone)).toEqual([])
  })
})
