// The device SDK in real headless Chromium with real IndexedDB.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Browser, Page } from 'playwright-core'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, readRecord } from '../../src/docs/record.ts'
import { rowOf } from '../../src/projection/rows.ts'
import { asRecordId, docName } from '../../src/ids.ts'
import type * as Sdk from '../../src/client/index.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { bundleSdk, launchChromium, servePage } from '../helpers/browser.ts'

type Win = typeof globalThis & { fieldsync: typeof Sdk, dev: Sdk.FieldsyncDevice }

const catalog = buildCatalog()
let browser: Browser
let page: { url: string, close: () => Promise<void> }

beforeAll(async () => {
  browser = await launchChromium()
  page = await servePage(await bundleSdk())
})
afterAll(async () => {
  await browser?.close()
  await page?.close()
})

/** Opens the device in the page (same IndexedDB database across reloads). */
const openDevice = (p: Page, wsUrl: string, token: string, db: string): Promise<number> => p.evaluate(async ({ wsUrl, token, db }) => {
  const w = globalThis as unknown as Win
  w.dev = await w.fieldsync.FieldsyncDevice.open({ url: wsUrl, token, store: await w.fieldsync.IndexedDbLocalStore.open(db), WebSocket: WebSocket as never })
  return (await w.dev.store.records()).length
}, { wsUrl, token, db })

describe('the device in headless Chromium', () => {
  it('keeps edits made while the server is down across a reload, and syncs them when it is back', async () => {
    let s: TestServer = await startTestServer()
    try {
      const p = await browser.newPage()
      await p.goto(page.url)
      const wsUrl = `ws://127.0.0.1:${s.port}`
      const token = await s.token('alice')
      await openDevice(p, wsUrl, token, 'reload-test')
      const held = await p.evaluate(async () => { const w = globalThis as unknown as Win; await w.dev.sync(); return (await w.dev.store.records()).length })
      expect(held).toBeGreaterThan(20)
      const record = await p.evaluate(async () => (await (globalThis as unknown as Win).dev.list('account'))[0].record)
      await s.stop() // the server is down
      const unsynced = await p.evaluate(async (record) => {
        const w = globalThis as unknown as Win
        await w.dev.update(record, { telephone1: '+47 from the browser' })
        await w.dev.create('task', { subject: 'created in the browser' })
        return w.dev.unsyncedCount()
      }, record)
      expect(unsynced).toBe(2)
      await p.reload()
      await openDevice(p, wsUrl, token, 'reload-test')
      const afterReload = await p.evaluate(async (record) => {
        const w = globalThis as unknown as Win
        const row = (await w.dev.list('account')).find(r => r.record === record)
        return { phone: row?.values.telephone1, unsynced: await w.dev.unsyncedCount(), tasks: (await w.dev.list('task')).map(t => t.values.subject) }
      }, record)
      expect(afterReload).toMatchObject({ phone: '+47 from the browser', unsynced: 2 })
      expect(afterReload.tasks).toContain('created in the browser')
      s = await s.restart() // back, on the same port
      const left = await p.evaluate(async () => { const w = globalThis as unknown as Win; await w.dev.sync(); return w.dev.unsyncedCount() })
      expect(left).toBe(0)
      expect(s.projection.row('account', record.split('/')[1])?.telephone1).toBe('+47 from the browser')
      const tasks = s.projection.rows('task', { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 10_000, 0)
      expect(tasks.some(t => t.subject === 'created in the browser' && t.ownerid === 'systemuser/u-alice')).toBe(true)
      await p.close()
    } finally {
      await s.dispose()
    }
  })

  it('qualifies a lead and attaches a picture offline; both survive a reload and reach the server', async () => {
    const s = await startTestServer()
    try {
      const p = await browser.newPage()
      await p.goto(page.url)
      const wsUrl = `ws://127.0.0.1:${s.port}`
      const token = await s.token('alice')
      await openDevice(p, wsUrl, token, 'commands-test')
      const made = await p.evaluate(async () => {
        const w = globalThis as unknown as Win
        await w.dev.sync()
        w.dev.disconnect()
        const account = (await w.dev.list('account'))[0].record
        const lead = await w.dev.create('lead', { subject: 'Browser lead', companyname: 'Coho Winery', firstname: 'Eva', lastname: 'Meyer' })
        const created = await w.dev.qualify(lead)
        const photo = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 13) & 0xff)
        const noteId = await w.dev.addNote(account, { subject: 'Cellar', text: 'photo', attachment: { filename: 'cellar.png', mimetype: 'image/png', data: photo } })
        return { account, lead, created, noteId, unsynced: await w.dev.unsyncedCount() }
      })
      expect(made.unsynced).toBe(6) // lead create, four command parts, the note
      await p.reload()
      await openDevice(p, wsUrl, token, 'commands-test')
      const after = await p.evaluate(async ({ account, noteId }) => {
        const w = globalThis as unknown as Win
        const unsynced = await w.dev.unsyncedCount()
        const local = (await w.dev.attachment(account, noteId)).length
        await w.dev.sync()
        return { unsynced, local, left: await w.dev.unsyncedCount(), inbox: (await w.dev.inbox()).length }
      }, made)
      expect(after).toEqual({ unsynced: 6, local: 300_000, left: 0, inbox: 0 })
      expect(s.projection.row('lead', made.lead.split('/')[1])?.statecode).toBe(1)
      for (const r of made.created) expect(s.projection.row(r.split('/')[0], r.split('/')[1])?.originatingleadid).toBe(made.lead)
      const res = await fetch(`${s.url}/api/records/${made.account}/notes/${made.noteId}/attachment`, { headers: { authorization: `Bearer ${token}` } })
      const got = new Uint8Array(await res.arrayBuffer())
      expect(got.length).toBe(300_000)
      expect(got.every((b, i) => b === ((i * 13) & 0xff))).toBe(true)
      await p.close()
    } finally {
      await s.dispose()
    }
  })

  it('syncs 10,000 records into IndexedDB and lists them after a cold start (timings printed)', async () => {
    const s = await startTestServer()
    try {
      const account = catalog.entities.get('account')!
      const writes: Promise<unknown>[] = []
      for (let i = 0; i < 10_000; i++) {
        const doc = new Y.Doc()
        const id = asRecordId(`big${i}`)
        createRecord(doc, account, { id, ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: `Account ${i}`, telephone1: `+47 ${i}`, accountnumber: `A-${i}`, numberofemployees: i % 500, revenue: i * 10, donotemail: i % 2 === 0, industrycode: 1 + (i % 7), emailaddress1: `a${i}@example.com`, address1_city: 'Oslo', websiteurl: `https://a${i}.example` } }, { by: 'u-alice', at: '2026-11-20T00:00:00.000Z' })
        writes.push(s.storage.append(docName('account', id), Y.encodeStateAsUpdate(doc), { row: { entity: 'account', id, values: rowOf(account, readRecord(doc, account)) } }))
      }
      await Promise.all(writes)
      const p = await browser.newPage()
      await p.goto(page.url)
      const wsUrl = `ws://127.0.0.1:${s.port}`
      const token = await s.token('alice')
      await openDevice(p, wsUrl, token, 'big-test')
      const initial = await p.evaluate(async () => {
        const w = globalThis as unknown as Win
        const t0 = performance.now()
        await w.dev.sync()
        return { ms: performance.now() - t0, records: (await w.dev.store.records()).length }
      })
      expect(initial.records).toBeGreaterThan(10_000)
      await p.reload()
      const cold = await p.evaluate(async ({ wsUrl, token }) => {
        const w = globalThis as unknown as Win
        const t0 = performance.now()
        const dev = await w.fieldsync.FieldsyncDevice.open({ url: wsUrl, token, store: await w.fieldsync.IndexedDbLocalStore.open('big-test'), WebSocket: WebSocket as never })
        const accounts = await dev.list('account')
        return { ms: performance.now() - t0, accounts: accounts.length }
      }, { wsUrl, token })
      expect(cold.accounts).toBeGreaterThanOrEqual(10_000)
      console.log(`browser: initial sync of ${initial.records} records into IndexedDB ${(initial.ms / 1000).toFixed(2)} s; cold start listing ${cold.accounts} accounts ${(cold.ms / 1000).toFixed(2)} s`)
      await p.close()
    } finally {
      await s.dispose()
    }
  })
})
