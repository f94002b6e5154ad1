// A device restarted between edits (a phone that closes the app, a browser tab reloaded) opens its records
// in new Y.Docs, each with a new random Yjs client id: every session that edits a record binds another
// client id to the user there, and the server accepts at most MAX_CLIENT_IDS_PER_RECORD (1000) per user and
// record. Past that, the device's pending edit of the record closes its /device socket (4413) at every
// connect, so the device syncs nothing, of any record, ever again (and the user's other devices may not
// edit that record either). Here the limit is 3 so that four honest sessions reach it.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { readRecord } from '../../src/docs/record.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { deviceFor, inboxReceipts, serverFor } from '../helpers/device.ts'
import type { TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

/** A device over a store in its own folder that can be closed and opened again over the same store. */
const restartable = async (s: TestServer, login: string): Promise<{ restart: () => Promise<FieldsyncDevice> }> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-restart-'))
  const open = async (): Promise<FieldsyncDevice> => FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token(login), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
  let d: FieldsyncDevice | null = null
  cleanups.push(async () => { await d?.close(); rmSync(dir, { recursive: true, force: true }) })
  return { restart: async () => { await d?.close(); d = null; d = await open(); return d } }
}

/** The sync's outcome, or 'no answer' after 10 s. */
const syncOutcome = (d: FieldsyncDevice): Promise<string> => {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    d.sync().then(() => 'synced', (e: Error) => `failed: ${e.message}`),
    new Promise<string>(resolve => { timer = setTimeout(() => resolve('no answer'), 10_000) })
  ]).finally(() => clearTimeout(timer))
}

describe('a device restarted between edits of one record', () => {
  it('keeps syncing after more restarts than MAX_CLIENT_IDS_PER_RECORD, that record and others', async () => {
    const s = await serverFor(cleanups, { MAX_CLIENT_IDS_PER_RECORD: '3' })
    const device = await restartable(s, 'alice')
    const first = await device.restart()
    expect(await syncOutcome(first)).toBe('synced')
    const [record, other] = (await first.list('account')).filter(r => r.values.ownerid === 'systemuser/u-alice').map(r => r.record)
    const row = (r: string): unknown => s.projection.row('account', r.split('/')[1])?.telephone1
    for (let session = 1; session <= 4; session++) {
      const d = await device.restart()
      await d.update(record, { telephone1: `session ${session}` })
      // (Another record, edited only in the last session: its edit is the device's first there.)
      if (session === 4) await d.update(other, { telephone1: 'another record' })
      expect(await syncOutcome(d), `session ${session}`).toBe('synced')
      expect(row(record)).toBe(`session ${session}`)
    }
    expect(row(other)).toBe('another record')
  })
})

describe('a device restarted between two offline edits of one field, the first refused', () => {
  it('the second edit was made on top of the value the device had seen: it stands, nobody is told of a conflict', async () => {
    // The server's metadata at first lacks the rule 'Website must use https'; account.websiteurl is server-wins.
    const full = JSON.parse(readFileSync('config/metadata.json', 'utf8')) as { businessRules: { name: string }[] }
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-meta-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const conflicts = { default: 'later-edit-wins', attributes: { 'account.websiteurl': 'server-wins' } }
    writeFileSync(join(dir, 'older.json'), JSON.stringify({ ...full, conflicts, businessRules: full.businessRules.filter(r => r.name !== 'Website must use https') }))
    writeFileSync(join(dir, 'newer.json'), JSON.stringify({ ...full, conflicts }))
    const s = await serverFor(cleanups, { METADATA: join(dir, 'older.json') })
    const bob = await deviceFor(cleanups, s, 'bob')
    const device = await restartable(s, 'alice')
    let alice = await device.restart()
    expect(await syncOutcome(alice)).toBe('synced')
    const record = (await alice.list('account')).find(r => r.values.ownerid === 'systemuser/u-alice')!.record
    await bob.sync()
    await bob.update(record, { websiteurl: 'https://bob.example' })
    await bob.sync()
    expect(await syncOutcome(alice)).toBe('synced')
    expect(readRecord(await alice.open(record)).fields.websiteurl).toBe('https://bob.example')
    // Offline, alice writes a website the new rule will refuse; the app restarts; she corrects it.
    alice.disconnect()
    await alice.update(record, { websiteurl: 'http://plain.example' })
    alice = await device.restart()
    alice.disconnect()
    await alice.update(record, { websiteurl: 'https://alice.example' })
    // The server is redeployed with the rule; alice syncs.
    await s.stop()
    const s2 = await serverFor(cleanups, { PORT: String(s.port), METADATA: join(dir, 'newer.json') }, s.dir)
    expect(await syncOutcome(alice)).toBe('synced')
    expect((await inboxReceipts(alice)).map(r => [r.field, r.reason])).toEqual([['websiteurl', 'business-rule']])
    expect(s2.projection.row('account', record.split('/')[1])?.websiteurl).toBe('https://alice.example')
    expect(s2.storage.receipts('u-bob', 0, 1000).filter(r => r.reason === Reason.superseded)).toEqual([])
  })
})
