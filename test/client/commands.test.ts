import { describe, expect, it } from 'vitest'
import type { FieldsyncDevice } from '../../src/client/device.ts'
import { OfflineRefusal } from '../../src/client/offline-rules.ts'
import { readRecord } from '../../src/docs/record.ts'
import type { TestServer } from '../helpers/server.ts'
import { deviceCloseCode, deviceFor, inboxReceipts, serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame } from '../../src/protocol/device-frames.ts'
import { CloseCode } from '../../src/protocol/codes.ts'

const cleanups = useCleanups()

const start = (env: Record<string, string> = {}, dir?: string): Promise<TestServer> => serverFor(cleanups, env, dir)
const device = (s: TestServer, login: string): Promise<FieldsyncDevice> => deviceFor(cleanups, s, login)

const idOf = (record: string): string => record.split('/')[1]
const state = async (d: FieldsyncDevice, record: string) => readRecord(await d.open(record))
const refusal = async (p: Promise<unknown>): Promise<OfflineRefusal> => {
  const e = await p.catch((x: unknown) => x)
  expect(e).toBeInstanceOf(OfflineRefusal)
  return e as OfflineRefusal
}
const receipts = inboxReceipts

/** A lead owned by the North reps team (alice, nina and bob may all write it), held by both devices. */
const sharedLead = async (s: TestServer, a: FieldsyncDevice, b: FieldsyncDevice): Promise<string> => {
  await a.sync()
  const lead = await a.create('lead', { subject: 'Fleet renewal', companyname: 'Tailspin Toys', firstname: 'Kira', lastname: 'Ito', emailaddress1: 'kira@tailspin.example', budgetamount: 120000 })
  await a.sync()
  const res = await fetch(`${s.url}/api/records/lead/${idOf(lead)}/assign`, { method: 'POST', headers: { authorization: `Bearer ${await s.token('alice')}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerid: 'team/t-north' }) })
  expect(res.status).toBe(200)
  await a.sync()
  await b.sync()
  expect(await b.store.records()).toContain(lead)
  return lead
}

const closeCodeOf = (s: TestServer, frames: Uint8Array[]): Promise<number> => deviceCloseCode(s, 'alice', frames)

describe('commands over several records', () => {
  it('closes a device that sends a malformed command with 4400 and keeps serving others', async () => {
    const s = await start()
    const hello = encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: 'device-of-alice-cmd', cursor: 0, privilegeVersion: 0, metadataDigest: 0 })
    const command = (records: string[]) => encodeDeviceFrame({ type: DeviceMessage.command, command: 'qualify', target: 'lead/l1', parts: records.map((record, i) => ({ record, id: i + 1, update: new Uint8Array([0, 0]) })) })
    expect(await closeCodeOf(s, [hello, command(['lead/l1', 'spaceship/x1'])])).toBe(CloseCode.malformed)
    expect(await closeCodeOf(s, [hello, command(['lead/l1', 'account/a1', 'account/a1'])])).toBe(CloseCode.malformed)
    expect(await closeCodeOf(s, [hello, command(Array.from({ length: 9 }, (_, i) => `account/a${i}`))])).toBe(CloseCode.malformed)
    const d = await device(s, 'alice')
    await d.sync()
    expect((await d.list('lead')).length).toBeGreaterThan(0)
  })

  it('qualifies a lead created offline: account, contact and opportunity linked to it, the lead closed, its flow kept at Qualify', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    expect(d.forms('lead')[0]).toMatchObject({ kind: 'main', fields: expect.arrayContaining(['subject', 'companyname']) })
    expect(() => d.forms('incident')).toThrow(/not in this device's offline profile/)
    d.disconnect()
    const lead = await d.create('lead', { subject: 'Solar roof', companyname: 'Litware Ltd', firstname: 'Mara', lastname: 'Lopez', emailaddress1: 'mara@litware.example', budgetamount: 50000, estimatedclosedate: '2027-01-15' })
    const created = await d.qualify(lead)
    expect(created.map(r => r.split('/')[0]).sort()).toEqual(['account', 'contact', 'opportunity'])
    const [account, contact, opportunity] = ['account', 'contact', 'opportunity'].map(e => created.find(r => r.startsWith(`${e}/`))!)
    expect((await state(d, lead)).meta.statecode).toBe(1)
    expect((await state(d, opportunity)).fields).toMatchObject({ name: 'Solar roof', parentaccountid: account, parentcontactid: contact, originatingleadid: lead, estimatedvalue: 50000 })
    // the lead's create plus the command's four parts wait for the sync
    expect(await d.unsyncedCount()).toBe(5)
    await expect(d.qualify(lead)).rejects.toThrow(/not active/)
    await d.sync()
    expect(await d.unsyncedCount()).toBe(0)
    expect(await receipts(d)).toEqual([])
    expect(s.projection.row('lead', idOf(lead))).toMatchObject({ statecode: 1, activestage: null })
    expect(s.projection.row('account', idOf(account))).toMatchObject({ name: 'Litware Ltd', originatingleadid: lead, ownerid: 'systemuser/u-alice' })
    expect(s.projection.row('contact', idOf(contact))).toMatchObject({ fullname: 'Mara Lopez', parentcustomerid: account, originatingleadid: lead, preferredcontactmethodcode: 1 })
    expect(s.projection.row('opportunity', idOf(opportunity))).toMatchObject({ originatingleadid: lead, parentaccountid: account })
    // The flow stays at Qualify after sync until the user moves it on.
    expect((await d.stage(lead))?.name).toBe('Qualify')
    await d.nextStage(lead)
    await d.sync()
    expect(s.projection.row('lead', idOf(lead))?.activestage).toBe('Develop')
  })

  it('merges a lead qualified offline with a colleague\'s online edit of the same lead', async () => {
    const s = await start()
    const alice = await device(s, 'alice')
    const nina = await device(s, 'nina')
    const lead = await sharedLead(s, alice, nina)
    alice.disconnect()
    const created = await alice.qualify(lead)
    await nina.update(lead, { telephone1: '+47 555 0101', leadqualitycode: 2 })
    await nina.sync()
    await alice.sync()
    expect(await receipts(alice)).toEqual([])
    expect(s.projection.row('lead', idOf(lead))).toMatchObject({ statecode: 1, telephone1: '+47 555 0101', leadqualitycode: 2 })
    for (const r of created) expect(s.projection.row(r.split('/')[0], idOf(r))?.originatingleadid).toBe(lead)
    expect((await state(alice, lead)).fields.telephone1).toBe('+47 555 0101')
    await nina.sync()
    expect((await state(nina, lead)).meta.statecode).toBe(1)
  })

  it('rejects a command as a whole when the colleague disqualified the lead first: every part reverted, each receipt says why', async () => {
    const s = await start()
    const alice = await device(s, 'alice')
    const nina = await device(s, 'nina')
    const lead = await sharedLead(s, alice, nina)
    alice.disconnect()
    const created = await alice.qualify(lead)
    await nina.disqualify(lead)
    await nina.sync()
    expect(s.projection.row('lead', idOf(lead))?.statecode).toBe(2)
    await alice.sync()
    const got = await receipts(alice)
    expect(got.map(r => [r.record, r.change, r.reason]).sort()).toEqual([
      [lead, 'command', 'invalid-value'], ...created.map(r => [r, 'command', 'command-rejected'])
    ].sort())
    expect(got.find(r => r.record === lead)?.message).toMatch(/no longer active \(statecode 2\)/)
    expect(got.find(r => r.record.startsWith('contact/'))?.attempted).toMatchObject({ command: 'qualify', changes: { fullname: 'Kira Ito' } })
    for (const r of created) expect(s.projection.row(r.split('/')[0], idOf(r))).toBeUndefined()
    expect(s.projection.row('lead', idOf(lead))?.statecode).toBe(2)
    // The device converged: the lead is disqualified and the records it created are gone from its lists.
    expect((await state(alice, lead)).meta.statecode).toBe(2)
    for (const r of created) {
      expect((await state(alice, r)).meta.entity).toBeUndefined()
      expect((await alice.list(r.split('/')[0])).map(x => x.record)).not.toContain(r)
    }
    expect(await alice.unsyncedCount()).toBe(0)
  })

  it('rejects the whole command when a part is not allowed now, although the device\'s metadata allowed it', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const lead = await d.create('lead', { subject: 'Wind farm', companyname: 'Fabrikam', firstname: 'Noah', lastname: 'Berg' })
    await d.sync()
    d.disconnect()
    const created = await d.qualify(lead)
    // Meanwhile the Salesperson role loses create on opportunity.
    const avery = await s.token('avery')
    const role = s.security.model.roles.find(r => r.id === 'role-sales')!
    const { create: _, ...rest } = role.privileges.opportunity!
    const res = await fetch(`${s.url}/api/admin/roles`, { method: 'PUT', headers: { authorization: `Bearer ${avery}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...role, privileges: { ...role.privileges, opportunity: rest } }) })
    expect(res.status).toBe(200)
    await d.sync()
    const got = await receipts(d)
    const opportunity = created.find(r => r.startsWith('opportunity/'))!
    expect(got.find(r => r.record === opportunity)?.reason).toBe('privilege-revoked')
    expect(got.filter(r => r.reason === 'command-rejected').map(r => r.record).sort()).toEqual([lead, ...created.filter(r => r !== opportunity)].sort())
    expect(s.projection.row('lead', idOf(lead))?.statecode).toBe(0)
    for (const r of created) expect(s.projection.row(r.split('/')[0], idOf(r))).toBeUndefined()
    // The new metadata now refuses up front.
    await expect(refusal(d.qualify(lead))).resolves.toMatchObject({ reason: 'no-create-privilege' })
  })

  it('disqualifies, converts an appointment to a case, marks custom records complete and converts them to opportunities', async () => {
    const s = await start({ CUSTOM_ENTITIES: 'config/custom-entities.json' })
    const dan = await device(s, 'dan')
    await dan.sync()
    dan.disconnect()
    const appointment = await dan.create('appointment', { subject: 'Boiler inspection', description: 'Pressure drops overnight' })
    const [incident] = await dan.convertToCase(appointment)
    expect(incident).toMatch(/^incident\//)
    expect((await state(dan, appointment)).fields.regardingobjectid).toBe(incident)
    const inspection = await dan.create('fs_inspection', { fs_name: 'Roof check' })
    await dan.markComplete(inspection)
    // dan's profile has no opportunity: refused up front
    const other = await dan.create('fs_inspection', { fs_name: 'Pump check' })
    await expect(refusal(dan.convertToOpportunity(other))).resolves.toMatchObject({ reason: 'command-not-offline' })
    // a lead command on an appointment is not offline for it
    await expect(refusal(dan.runCommand('qualify', appointment))).resolves.toMatchObject({ reason: 'command-not-offline' })
    await dan.sync()
    expect(await receipts(dan)).toEqual([])
    expect(s.projection.row('appointment', idOf(appointment))).toMatchObject({ statecode: 1, regardingobjectid: incident })
    expect(s.projection.row('incident', idOf(incident))).toMatchObject({ title: 'Boiler inspection', ownerid: 'systemuser/u-dan' })
    expect(s.projection.row('fs_inspection', idOf(inspection))?.statecode).toBe(1)
    // Refresh fetches one record's server state now (another device of dan's edited it); offline it cannot.
    const other2 = await device(s, 'dan')
    await other2.sync()
    await other2.update(inspection, { fs_score: 88 })
    await other2.sync()
    await dan.refresh(inspection)
    expect((await state(dan, inspection)).fields.fs_score).toBe(88)
    dan.disconnect()
    await expect(dan.refresh(inspection)).rejects.toThrow(/needs a connection/)

    const alice = await device(s, 'alice')
    await alice.sync()
    const account = (await alice.list('account'))[0].record
    const visit = await alice.create('fs_inspection', { fs_name: 'Site survey', fs_accountid: account })
    const [opportunity] = await alice.convertToOpportunity(visit)
    const lead = await alice.create('lead', { subject: 'Cold call', lastname: 'Hansen' })
    await alice.disqualify(lead)
    await alice.sync()
    expect(await receipts(alice)).toEqual([])
    expect(s.projection.row('opportunity', idOf(opportunity))).toMatchObject({ name: 'Site survey', parentaccountid: account })
    expect(s.projection.row('fs_inspection', idOf(visit))?.statecode).toBe(1)
    expect(s.projection.row('lead', idOf(lead))?.statecode).toBe(2)
  })

  it('lets statecode change only through a command: a plain edit of it is dropped with a reason', async () => {
    const s = await start()
    const d = await device(s, 'alice')
    await d.sync()
    const lead = (await d.list('lead'))[0].record
    const doc = await d.open(lead)
    doc.getMap('meta').set('statecode', 1)
    await d.sync()
    const got = await receipts(d)
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ record: lead, field: 'statecode', reason: 'field-read-only' })
    expect(got[0].message).toMatch(/only through a command/)
    expect(s.projection.row('lead', idOf(lead))?.statecode).toBe(0)
  })
})
