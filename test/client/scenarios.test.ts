// Scenarios through a real server with two devices: a note with a picture added offline reaching the
// other device (its upload cut and resumed), and a business rule the server enforces blocking a change
// that the device's older metadata allowed. (Qualifying a lead offline while a colleague edits it
// online is in commands.test.ts.)

import { describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FieldsyncDevice } from '../../src/client/device.ts'
import { OfflineRefusal } from '../../src/client/offline-rules.ts'
import { UPLOAD_CHUNK_BYTES } from '../../src/client/attachments.ts'
import { readRecord } from '../../src/docs/record.ts'
import type { TestServer } from '../helpers/server.ts'
import { deviceFor, inboxReceipts, serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

const start = (env: Record<string, string> = {}, dir?: string): Promise<TestServer> => serverFor(cleanups, env, dir)
const device = (s: TestServer, login: string): Promise<FieldsyncDevice> => deviceFor(cleanups, s, login)

const receipts = inboxReceipts
/** Byte equality (toEqual walks a large array element by element, slowly). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0
const picture = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 9)) & 0xff)

/** Fails the `n`-th attachment chunk upload as a cut connection would, once. */
const cutUploadAt = (n: number): { restore: () => void, cuts: () => number } => {
  const real = globalThis.fetch
  let puts = 0
  let cuts = 0
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    if (init?.method === 'PUT' && String(input).includes('/api/blobs/') && ++puts === n) { cuts++; throw new TypeError('fetch failed: connection reset') }
    return real(input, init)
  }) as typeof fetch
  const restore = (): void => { globalThis.fetch = real }
  cleanups.push(restore)
  return { restore, cuts: () => cuts }
}

describe('two devices through a real server', () => {
  it('brings a note with a picture taken offline to the other device, resuming an upload cut halfway', async () => {
    const s = await start()
    const alice = await device(s, 'alice')
    const nina = await device(s, 'nina')
    await alice.sync()
    const account = await alice.create('account', { name: 'Wingtip Toys' })
    await alice.sync()
    const res = await fetch(`${s.url}/api/records/${account}/assign`, { method: 'POST', headers: { authorization: `Bearer ${await s.token('alice')}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerid: 'team/t-north' }) })
    expect(res.status).toBe(200)
    await nina.sync()
    expect(await nina.store.records()).toContain(account)

    alice.disconnect()
    const photo = picture(3 * UPLOAD_CHUNK_BYTES + 1234)
    const noteId = await alice.addNote(account, { subject: 'Storefront', text: 'sign is damaged', attachment: { filename: 'storefront.jpg', mimetype: 'image/jpeg', data: photo } })
    // Taken and removed offline: the other note never shows anywhere.
    const scrap = await alice.addNote(account, { subject: 'Blurry', text: '', attachment: { filename: 'blurry.jpg', mimetype: 'image/jpeg', data: picture(2000) } })
    await alice.removeNote(account, scrap)
    expect((await alice.notes(account)).map(n => n.id)).toEqual([noteId])
    expect(same(await alice.attachment(account, noteId), photo)).toBe(true)

    const uploads: { from: number, size: number }[] = []
    alice.on('uploaded', (u: { from: number, size: number }) => uploads.push(u))
    const cut = cutUploadAt(2)
    await expect(alice.sync()).rejects.toThrow(/attachment upload failed/)
    expect(cut.cuts()).toBe(1)
    // Nothing pointing at the half-uploaded picture went out.
    expect(readRecord(s.server.rooms.get(account as never).doc).notes[noteId]).toBeUndefined()
    await alice.sync()
    cut.restore()
    expect(uploads.find(u => u.size === photo.length)?.from).toBe(UPLOAD_CHUNK_BYTES)
    expect(await receipts(alice)).toEqual([])

    await nina.sync()
    const notes = await nina.notes(account)
    expect(notes).toHaveLength(1)
    expect(notes[0]).toMatchObject({ id: noteId, subject: 'Storefront', createdby: 'u-alice', attachment: { filename: 'storefront.jpg', mimetype: 'image/jpeg', size: photo.length } })
    expect(same(await nina.attachment(account, noteId), photo)).toBe(true)
    // Downloaded once, it is on nina's device for offline use.
    nina.disconnect()
    expect(same(await nina.attachment(account, noteId), photo)).toBe(true)

    // Removing the attachment offline reaches nina too.
    alice.disconnect()
    await alice.editNote(account, noteId, { attachment: null })
    await alice.sync()
    await nina.sync()
    expect((await nina.notes(account))[0].attachment).toBeNull()
  })

  it('drops, with the rule\'s message, a change the device\'s older metadata allowed, then refuses it up front', async () => {
    const full = JSON.parse(readFileSync('config/metadata.json', 'utf8')) as { businessRules: { name: string }[] }
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-meta-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const older = join(dir, 'metadata.json')
    writeFileSync(older, JSON.stringify({ ...full, businessRules: full.businessRules.filter(r => r.name !== 'Website must use https') }))
    const s = await start({ METADATA: older })
    const d = await device(s, 'alice')
    await d.sync()
    const account = (await d.list('account'))[0].record
    const before = s.projection.row('account', account.split('/')[1])?.websiteurl ?? null
    d.disconnect()
    await d.update(account, { websiteurl: 'http://plain.example' })
    await d.update(account, { telephone1: '+47 22 00 00 00' })

    // The server is redeployed with the rule.
    await s.stop()
    const s2 = await start({ PORT: String(s.port) }, s.dir)
    await d.sync()
    const got = await receipts(d)
    expect(got.map(r => [r.field, r.reason, r.message])).toEqual([['websiteurl', 'business-rule', 'Use an https:// website address']])
    const row = s2.projection.row('account', account.split('/')[1])
    expect(row?.websiteurl ?? null).toBe(before)
    expect(row?.telephone1).toBe('+47 22 00 00 00')
    expect(readRecord(await d.open(account)).fields.websiteurl ?? null).toBe(before)
    // The device now has the rule: the same change is refused before it is made.
    const e = await d.update(account, { websiteurl: 'http://plain.example' }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OfflineRefusal)
    expect((e as OfflineRefusal).reason).toBe('business-rule')
  })
})
