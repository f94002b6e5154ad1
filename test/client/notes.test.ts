import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { OfflineRefusal } from '../../src/client/offline-rules.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord } from '../../src/docs/record.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { deviceFor, inboxReceipts, serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
const attachmentEntity = buildCatalog().entities.get('attachment')!

const refused = async (p: Promise<unknown>): Promise<OfflineRefusal> => {
  const e = await p.catch((x: unknown) => x)
  expect(e).toBeInstanceOf(OfflineRefusal)
  return e as OfflineRefusal
}

describe('notes offline', () => {
  it('adds, edits and removes notes offline, and refuses up front what the server would drop', async () => {
    const s = await serverFor(cleanups, { MAX_ATTACHMENT_BYTES: '4096' })
    const d = await deviceFor(cleanups, s, 'alice')
    await d.sync()
    d.disconnect()
    const account = (await d.list('account'))[0].record
    const n1 = await d.addNote(account, { subject: 'Visit', text: 'met the buyer' })
    const n2 = await d.addNote(account, { subject: 'Plan', text: 'send offer', attachment: { filename: 'plan.txt', mimetype: 'text/plain', data: new TextEncoder().encode('offer v1') } })
    await d.editNote(account, n1, { text: 'met the buyer and the CFO' })
    await d.removeNote(account, n2)
    expect((await d.notes(account)).map(n => [n.subject, n.text])).toEqual([['Visit', 'met the buyer and the CFO']])
    // Refused before anything is written: too large, empty, on a read-only entity, without metadata.
    await expect(refused(d.addNote(account, { subject: 'Big', text: '', attachment: { filename: 'big.bin', mimetype: 'application/octet-stream', data: new Uint8Array(4097) } })))
      .resolves.toMatchObject({ reason: 'invalid-value', message: expect.stringMatching(/at most 4096/) })
    await expect(refused(d.addNote(account, { subject: 'Empty', text: '', attachment: { filename: 'e.bin', mimetype: 'application/octet-stream', data: new Uint8Array(0) } })))
      .resolves.toMatchObject({ reason: 'invalid-value' })
    const product = (await d.list('product'))[0].record
    await expect(refused(d.addNote(product, { subject: 'x', text: 'y' }))).resolves.toMatchObject({ reason: 'entity-read-only' })
    // the attachment entity is not offline for writes (not in the profile; read-only in the catalog)
    await expect(refused(d.create('attachment', { filename: 'x.png' }))).resolves.toMatchObject({ reason: 'command-not-offline' })
    await expect(d.attachment(account, n1)).rejects.toThrow(/no note .* with an attachment/)
    await d.sync()
    expect(await inboxReceipts(d)).toEqual([])
    // nina reads the notes on a fresh device
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, account, doc, await s.token('nina'))
    cleanups.push(() => p.destroy())
    await synced(p)
    await until(() => doc.getMap('notes').size === 1, 'the note reached nina', [doc])
    expect((doc.getMap<Y.Map<string>>('notes').get(n1))?.get('text')).toBe('met the buyer and the CFO')
  })

  it('keeps the attachment entity read-only: a write from a plain client is dropped with entity-read-only', async () => {
    const s = await serverFor(cleanups)
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, 'attachment/forged1', doc, await s.token('avery'))
    cleanups.push(() => p.destroy())
    await synced(p)
    createRecord(doc, attachmentEntity, { id: 'forged1' as never, ownerid: 'systemuser/u-avery', owningbusinessunit: 'bu-contoso', values: { filename: 'x.png' } }, { by: 'u-avery', at: '2026-11-27T12:00:00.000Z' })
    await until(() => doc.getMap('meta').get('entity') === undefined, 'the create reverted', [doc])
    const res = await fetch(`${s.url}/api/receipts`, { headers: { authorization: `Bearer ${await s.token('avery')}` } })
    const { receipts } = await res.json() as { receipts: { record: string, reason: string }[] }
    expect(receipts.filter(r => r.record === 'attachment/forged1').every(r => r.reason === 'entity-read-only')).toBe(true)
    expect(receipts.some(r => r.record === 'attachment/forged1')).toBe(true)
    expect(s.projection.row('attachment', 'forged1')).toBeUndefined()
  })
})
