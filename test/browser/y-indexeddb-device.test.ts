// The device SDK over the y-indexeddb store in headless Chromium: the adapter carries a real device
// (initial sync, offline edits kept across a reload, synced when the server is back, sign-out's destroy).

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type * as Sdk from '../../src/client/index.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { bundleSdk, launchChromium, servePage } from '../helpers/browser.ts'

type Win = typeof globalThis & { fieldsync: typeof Sdk, dev: Sdk.FieldsyncDevice }

let browser: Browser
let page: { url: string, close: () => Promise<void> }

beforeAll(async () => {
  browser = await launchChromium()
  page = await servePage(await bundleSdk())
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await page?.close()
})

const openDevice = (p: Page, wsUrl: string, token: string): Promise<number> => p.evaluate(async ({ wsUrl, token }) => {
  const w = globalThis as unknown as Win
  w.dev = await w.fieldsync.FieldsyncDevice.open({ url: wsUrl, token, store: await w.fieldsync.YIndexedDbLocalStore.open('y-device'), WebSocket: WebSocket as never })
  return (await w.dev.store.records()).length
}, { wsUrl, token })

describe('the device on the y-indexeddb store in headless Chromium', () => {
  it('syncs, keeps offline edits across a reload, sends them when the server is back, and signs out to nothing', async () => {
    let s: TestServer = await startTestServer()
    try {
      const p = await browser.newPage()
      await p.goto(page.url)
      const wsUrl = `ws://127.0.0.1:${s.port}`
      const token = await s.token('alice')
      expect(await openDevice(p, wsUrl, token)).toBe(0)
      const first = await p.evaluate(async () => {
        const w = globalThis as unknown as Win
        await w.dev.sync()
        const accounts = await w.dev.list('account')
        return { held: (await w.dev.store.records()).length, record: accounts[0].record, name: accounts[0].values.name }
      })
      expect(first.held).toBeGreaterThan(20)
      await s.stop()
      expect(await p.evaluate(async (record) => {
        const w = globalThis as unknown as Win
        await w.dev.update(record, { telephone1: '+47 y-indexeddb' })
        await w.dev.create('task', { subject: 'made on y-indexeddb' })
        return w.dev.unsyncedCount()
      }, first.record)).toBe(2)
      await p.reload()
      expect(await openDevice(p, wsUrl, token)).toBe(first.held + 1)
      const after = await p.evaluate(async (record) => {
        const w = globalThis as unknown as Win
        const row = (await w.dev.list('account')).find(r => r.record === record)
        return { phone: row?.values.telephone1, name: row?.values.name, unsynced: await w.dev.unsyncedCount(), tasks: (await w.dev.list('task')).map(t => t.values.subject) }
      }, first.record)
      expect(after).toMatchObject({ phone: '+47 y-indexeddb', name: first.name, unsynced: 2 })
      expect(after.tasks).toContain('made on y-indexeddb')
      s = await s.restart()
      expect(await p.evaluate(async () => { const w = globalThis as unknown as Win; await w.dev.sync(); return w.dev.unsyncedCount() })).toBe(0)
      expect(s.projection.row('account', first.record.split('/')[1])?.telephone1).toBe('+47 y-indexeddb')
      const left = await p.evaluate(async () => {
        const w = globalThis as unknown as Win
        await w.dev.close()
        await w.dev.store.destroy()
        return (await indexedDB.databases()).map(d => d.name).filter(n => n?.startsWith('y-device') === true)
      })
      expect(left).toEqual([])
      await p.close()
    } finally {
      await s.dispose()
    }
  })
})
